"""Child processes that stop with their parent, and ports that are free."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Ports come from below the kernel's ephemeral range when there is room: outgoing
# connections and bind(0) never take those, so a port probed free stays free until
# the service binds it unless another program asks for that very port.
_QUIET_PORTS_FROM = 20000
_handed_out: set[int] = set()  # never the same port twice from one process
_BIND_FAILED = b"address already in use"
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp

log = logging.getLogger("nevoa.stack")


def _quiet_ports() -> range | None:
    """Ports outside the ephemeral range (``ip_local_port_range``), if there are enough."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    if low - _QUIET_PORTS_FROM >= 1000:
        return range(_QUIET_PORTS_FROM, low)
    if 65535 - high >= 1000:
        return range(high + 1, 65536)
    return None


def _bindable(host: str, port: int) -> bool:
    # No SO_REUSEADDR: a connection of this port still in TIME_WAIT also counts as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing holds now, preferably outside the ephemeral range, never handed out
    twice by this process. Another program may still take it before the caller binds it:
    :func:`start_on_port` moves a service that loses that race."""
    quiet = _quiet_ports() or range(0)
    for _ in range(200 if quiet else 0):
        port = random.choice(quiet)
        if port not in _handed_out and _bindable(host, port):
            _handed_out.add(port)
            return port
    for _ in range(100):  # no quiet range (or none of it free): let the kernel pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise OSError(errno.EADDRINUSE, "no free port found")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _listening_inodes(port: int) -> set[int] | None:
    """Inodes of the sockets listening on ``port`` (any address), None without /proc."""
    found: set[int] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for row in rows:
            f = row.split()
            if len(f) > 9 and f[3] == _LISTEN and int(f[1].rsplit(":", 1)[1], 16) == port:
                found.add(int(f[9]))
    return found if readable else None


def _group_sockets(pgid: int) -> set[int]:
    """Inodes of the sockets the processes of group ``pgid`` hold."""
    inodes: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for fd in (stat.parent / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except (OSError, ValueError, IndexError):  # gone, or not ours to read
            continue
    return inodes


def _die_with_parent() -> None:
    # Linux: SIGTERM the child when the process that started it dies, even by kill -9.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class ServiceFailed(RuntimeError):
    pass


class PortTaken(ServiceFailed):
    """Another program holds the port a child was to listen on."""


class ChildProcess:
    """A program started in its own process group, logging to a file.

    ``listens``: the address it serves once ready (:meth:`start_and_wait` waits for it).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        listens: tuple[str, int] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.listens = listens
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # time.monotonic() of the last start
        self.stopped = False  # stopped on purpose: not to be restarted
        self._log_offset = 0  # where this start's output begins in the log

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self._log_offset = log_file.tell()
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # safe: no threads hold locks at fork here
            )
        self.started_at = time.monotonic()
        self.stopped = False

    def start_and_wait(self, timeout: float = 20.0) -> None:
        """Start, and return once it listens on ``listens`` (if it serves anything)."""
        if self.proc is not None:  # a previous run: gone, with whatever it left behind
            self.kill()
            self._signal_group(signal.SIGKILL)
        self.start()
        if self.listens is not None:
            self.wait_port(*self.listens, timeout=timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> str:
        """How the program ended: ``code 1``, ``signal 9 (SIGKILL)``, or ``running``."""
        code = self.proc.poll() if self.proc is not None else None
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                return f"signal {-code}"
        return f"code {code}"

    def _bind_failed(self) -> bool:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return _BIND_FAILED in f.read().lower()
        except OSError:
            return False

    def _holds_port(self, port: int) -> bool:
        """Whether the listener on ``port`` is this program's (not another's that won it)."""
        listening = _listening_inodes(port)
        if listening is None or self.proc is None:
            return True  # no /proc to tell: take the open port for ours
        return bool(listening & _group_sockets(self.proc.pid))

    def wait_port(self, host: str, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._bind_failed():
                raise PortTaken(f"{self.name} could not listen on {host}:{port}: "
                                f"address already in use")
            if not self.running:
                raise ServiceFailed(f"{self.name} exited; see {self.log_path}:\n{self.tail()}")
            if port_open(host, port) and self._holds_port(port):
                return
            time.sleep(0.05)
        raise ServiceFailed(f"{self.name} did not open {host}:{port} in {timeout}s; "
                            f"see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after ``timeout``."""
        self.stopped = True
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        self._signal_group(signal.SIGKILL)  # anything the program left behind in its group

    def kill(self) -> None:
        """kill -9: no chance to save or clean up (fault-injection tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()


def start_on_port(child: ChildProcess, host: str, port: int,
                  argv_for: Callable[[int], list[str]], movable: bool,
                  attempts: int = 5) -> int:
    """Start ``child`` serving ``host:port`` and return the port it serves. When another
    program holds the port (listening before the start, or winning the bind) and the
    port is ``movable``, the child is started again on another free port."""
    for attempt in range(attempts):
        if port_open(host, port):
            failure: PortTaken = PortTaken(f"{child.name}: port {port} is already in use")
        else:
            child.argv = argv_for(port)
            child.listens = (host, port)
            try:
                child.start_and_wait()
                return port
            except PortTaken as exc:
                child.stop()
                failure = exc
        if not movable or attempt == attempts - 1:
            raise failure
        taken, port = port, free_port(host)
        log.warning("%s: port %d is taken; trying port %d", child.name, taken, port)
    raise AssertionError("unreachable")
