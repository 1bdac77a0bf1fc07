"""The suite's results: a table for people, JSON for the record."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nevoa_chaos.drill import DrillResult

COLUMNS = ("drill", "readings", "acknowledged", "lost", "duplicated", "recovery s",
           "consumption ≠", "result", "note")


def _number(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def row(r: DrillResult) -> list[str]:
    recovery = "—" if r.recovery_s is None else f"{r.recovery_s:.1f}"
    return [r.drill, _number(r.readings), _number(r.acknowledged), _number(r.lost),
            _number(r.duplicated), recovery, _number(r.consumption_mismatches),
            "pass" if r.passed else "FAIL", r.note]


def table(results: Sequence[DrillResult]) -> str:
    """A Markdown table, one row per drill."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row(r)) + " |" for r in results]
    return "\n".join(lines)


def document(results: Sequence[DrillResult], started: datetime, seconds: float,
             command: Sequence[str], options: dict[str, Any]) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "command": list(command),
        "options": options,
        "host": {"cpus": os.cpu_count(), "load": list(os.getloadavg()),
                 "python": platform.python_version()},
        "passed": all(r.passed for r in results),
        "drills": [r.as_dict() for r in results],
    }


def write(body: dict[str, Any], directory: Path, started: datetime) -> Path:
    """``<directory>/<timestamp>.json`` and ``latest.json`` beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    text = json.dumps(body, indent=2, default=str) + "\n"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
