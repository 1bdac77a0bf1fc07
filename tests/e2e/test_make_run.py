"""``nevoa-stack run`` (what ``make run`` starts): real data within ~30 s, a
machine-readable stack.json, a child killed with -9 restarted, and a clean stop that
leaves no process and no port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nevoa_stack.processes import free_port, port_open
from tests.support import http, wait_until


def descendants(pid: int) -> set[int]:
    children: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            children |= {child} | descendants(child)
    return children


def argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def fog_pid(parent: int, region: str) -> int | None:
    return next((pid for pid in descendants(parent)
                 if argv(pid)[1:5] == ["-m", "fog_node", "--region", region]), None)


def healthy(url: str) -> bool:
    try:
        return http("GET", f"{url}/health", timeout=2)[0] == 200
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_make_run_serves_real_data_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / "nevoa"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nevoa_stack", "run", "--cloud-port", str(port),
         "--meters-per-region", "100", "--interval", "5", "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    started = time.monotonic()
    try:
        stack_json = workdir / "stack.json"
        wait_until(stack_json.exists, timeout=30, what="stack.json")
        stack = json.loads(stack_json.read_text())
        assert stack["cloud_url"] == f"http://127.0.0.1:{port}"
        assert set(stack["regions"]) == {"r1", "r2"}
        for region in stack["regions"].values():
            assert {"broker", "redis_url", "fog_url"} <= set(region)

        def seed_answers() -> bool:
            return all(
                http("POST", f"{stack['cloud_url']}{route}", {"matricula": m})[0] == 200
                for m in ("10001", "10002")
                for route in ("/medicoes/ultima-medicao", "/gerar-fatura", "/alerta-consumo")
            )

        wait_until(seed_answers, timeout=45, every=1.0, what="the seed routes with real data")
        assert time.monotonic() - started < 45
        status, invoice = http("POST", f"{stack['cloud_url']}/gerar-fatura", {"matricula": "10001"})
        assert status == 200 and invoice["valor"] == pytest.approx(invoice["consumo"] * 3, abs=0.01)

        # a child that dies is restarted, on the same port
        killed = fog_pid(proc.pid, "r1")
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: fog_pid(proc.pid, "r1") not in (None, killed), timeout=10,
                   what="a new fog node for r1")
        wait_until(lambda: healthy(stack["regions"]["r1"]["fog_url"]), timeout=15,
                   what="the restarted fog node on its port")

        children = descendants(proc.pid)
        assert len(children) >= 9  # 2 x (mosquitto, redis, fog, meters) + cloud redis + cloud
        ports = [port] + [r["broker"]["port"] for r in stack["regions"].values()] + [
            int(r["fog_url"].rsplit(":", 1)[1]) for r in stack["regions"].values()]
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "nevoa is running" in output and "curl" in output
    assert "fog-r1 exited with signal 9 (SIGKILL); restarting in 1 s (restart 1)" in output
    assert "fog-r1 is running again (restart 1)" in output
    assert not [pid for pid in children if alive(pid)], "orphans left running"
    assert not [p for p in ports if port_open("127.0.0.1", p)], "ports left busy"
    assert not (workdir / "stack.json").exists()
