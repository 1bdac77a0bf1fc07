"""``python -m nevoa_chaos``: run the fault drills and count every reading."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from nevoa_chaos import report
from nevoa_chaos.drill import DrillOptions
from nevoa_chaos.drills import DRILLS, quick, run_drills

EPILOG = """\
Each drill starts a fresh region (Mosquitto, Redis with AOF everysec, a fog node process),
publishes a known workload with a publisher that records every PUBACK, injects one fault
while readings flow, and counts by (meter, seq): lost = acknowledged by the broker but
not stored; duplicated = stored more than once; consumption = (meter, day or month)
pairs whose ranked consumption differs from the one recomputed from the stored readings;
recovery = seconds from the end of the fault until every acknowledged reading is stored
(and none waits more than 1 s from then on); the worst fault of the drill. Exit status 1
if any drill loses, duplicates, miscounts consumption or breaks.

drills:
""" + "\n".join(f"  {d.name:<28} {d.summary}" for d in DRILLS.values())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nevoa_chaos", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The counted fault suite: every drill counts its readings.")
    p.add_argument("--drill", action="append", default=[], metavar="NAME",
                   help="run this drill (repeatable, or comma-separated; default: all)")
    p.add_argument("--readings", type=int, default=20_000, metavar="N",
                   help="readings per drill, distinct (meter, seq) (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="fewer and shorter faults: 2 kills, 10 s of OOM or SIGSTOP")
    p.add_argument("--meters", type=int, default=200,
                   help="meters of the workload (default %(default)s; the storm has 5,000)")
    p.add_argument("--rate", type=float, default=1_000.0,
                   help="readings published per second (default %(default)s; 0 = at once)")
    p.add_argument("--replay-window", type=float, default=30.0, metavar="SECONDS",
                   help="after a reconnect the publisher sends again what the broker "
                   "acknowledged in the last SECONDS (default %(default)s)")
    p.add_argument("--kills", type=int, default=None,
                   help="kills per kill drill (default: 5 for fog and Redis, 3 for brokers)")
    p.add_argument("--fault-seconds", type=float, default=None,
                   help="length of the OOM and SIGSTOP faults (default: as the drill's name)")
    p.add_argument("--settle-timeout", type=float, default=120.0,
                   help="seconds to wait for every acknowledged reading (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path(".nevoa/chaos"),
                   help="results (<timestamp>.json, latest.json) and each drill's logs "
                   "(default %(default)s)")
    p.add_argument("--list", action="store_true", help="list the drills and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.list:
        print("\n".join(f"{d.name:<28} {d.summary}" for d in DRILLS.values()))
        return 0
    names = [n.strip() for arg in a.drill for n in arg.split(",") if n.strip()] or [
        d.name for d in DRILLS.values() if d.default]
    unknown = [n for n in names if n not in DRILLS]
    if unknown:
        p.error(f"unknown drill(s) {', '.join(unknown)}; --list shows them")
    if a.readings < 1 or a.meters < 1 or a.rate < 0 or a.replay_window < 0:
        p.error("--readings and --meters must be >= 1, --rate and --replay-window >= 0")
    if a.kills is not None and a.kills < 1:
        p.error("--kills must be >= 1")
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    options = DrillOptions(readings=a.readings, meters=a.meters, rate=a.rate,
                           replay_window=a.replay_window, kills=a.kills,
                           fault_seconds=a.fault_seconds, settle_timeout=a.settle_timeout,
                           workdir=a.out / f"run-{stamp}")
    if a.quick:
        options = quick(options)
    began = time.monotonic()
    results = run_drills(names, options)
    seconds = time.monotonic() - began
    described = {f.name: str(v) if isinstance(v := getattr(options, f.name), Path) else v
                 for f in fields(options) if f.name != "report"}
    body = report.document(results, started, seconds, ["python", "-m", "nevoa_chaos",
                                                       *(argv if argv is not None
                                                         else sys.argv[1:])], described)
    path = report.write(body, a.out, started)
    print()
    print(report.table(results))
    print(f"\n{len(results)} drills in {seconds:.0f}s; "
          f"{sum(1 for r in results if not r.passed)} failed; results in {path} "
          f"(logs in {options.workdir})")
    return 0 if body["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
