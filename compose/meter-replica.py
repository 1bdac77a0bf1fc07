#!/usr/bin/env python3
"""Start one replica of a scaled meter service with its own range of meter ids.

`docker compose up --scale meter-r1=4` starts four identical containers; each must
simulate different meters. This launcher finds its replica number N (1, 2, ...) and runs

    <command> --replica-index N [--state-dir DIR/replica-N]

and nevoa-meter simulates indexes first-index + (N-1) x count onwards. N comes from
NEVOA_REPLICA_INDEX when set, otherwise from the container's own name,
"<project>-<service>-N", which Docker's embedded DNS (127.0.0.11) returns for a reverse
lookup of the container's address. Standard library only; runs inside the app image.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import struct
import sys

EMBEDDED_DNS = ("127.0.0.11", 53)


def read_name(packet: bytes, offset: int) -> tuple[list[str], int]:
    """A DNS name at offset (with compression pointers) and the offset after it."""
    labels: list[str] = []
    end = None
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            end = end if end is not None else offset + 2
            offset = struct.unpack_from("!H", packet, offset)[0] & 0x3FFF
        elif length == 0:
            return labels, end if end is not None else offset + 1
        else:
            labels.append(packet[offset + 1 : offset + 1 + length].decode())
            offset += 1 + length


def reverse_lookup(ip: str, server: tuple[str, int] = EMBEDDED_DNS) -> str:
    """The PTR name of an IPv4 address, asked of one DNS server directly (not /etc/hosts)."""
    query_id = random.randrange(1 << 16)
    qname = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
    question = b"".join(bytes([len(p)]) + p.encode() for p in qname.split(".")) + b"\0"
    header = struct.pack("!6H", query_id, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    request = header + question + struct.pack("!2H", 12, 1)  # type PTR, class IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        for _attempt in range(5):
            sock.sendto(request, server)
            try:
                packet = sock.recv(4096)
            except TimeoutError:
                continue
            rid, flags, _qd, answers, _ns, _ar = struct.unpack_from("!6H", packet)
            if rid != query_id or flags & 0xF or answers == 0:
                break
            offset = 12 + len(question) + 4
            for _ in range(answers):
                _name, offset = read_name(packet, offset)
                rtype, _cls, _ttl, rdlength = struct.unpack_from("!2HIH", packet, offset)
                offset += 10
                if rtype == 12:
                    return ".".join(read_name(packet, offset)[0])
                offset += rdlength
            break
    raise LookupError(f"no PTR record for {ip} from {server[0]}")


def replica_index() -> int:
    if os.environ.get("NEVOA_REPLICA_INDEX"):
        return int(os.environ["NEVOA_REPLICA_INDEX"])
    own_ip = socket.gethostbyname(socket.gethostname())
    name = reverse_lookup(own_ip).split(".", 1)[0]
    match = re.search(r"[-_](\d+)$", name)
    if not match:
        raise LookupError(f"container name {name!r} does not end in a replica number")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a meter simulator replica with its own range of meter ids.",
        usage="%(prog)s [--state-dir DIR] -- nevoa-meter [meter options]")
    parser.add_argument("--state-dir", default=os.environ.get("NEVOA_METER_STATE_DIR"),
                        help="parent of the per-replica state directories (replica-N)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the simulator's command after --")
    try:
        replica = replica_index()
    except (LookupError, OSError, ValueError) as exc:
        print(f"meter-replica: cannot tell which replica this is ({exc}); "
              "set NEVOA_REPLICA_INDEX", file=sys.stderr)
        return 2
    command += ["--replica-index", str(replica)]
    if args.state_dir:
        command += ["--state-dir", os.path.join(args.state_dir, f"replica-{replica}")]
    print(f"meter-replica: replica {replica}: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)
    return 127  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
