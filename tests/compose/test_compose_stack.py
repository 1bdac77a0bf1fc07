"""End to end in Docker: two regions, several meter replicas (2 x 1,000 meters by
default), readings reaching each region's Redis and the cloud API. Opt-in and slow:
`make test-compose` starts a Docker engine if none answers, builds the images without a
registry, runs the stack under its own project name and removes it afterwards.

Tunables: NEVOA_E2E_REPLICAS (meter replicas per region, default 4),
NEVOA_E2E_METERS_PER_REPLICA (default 250), NEVOA_E2E_INTERVAL (seconds, default 5),
NEVOA_E2E_WINDOW (measurement window in seconds, default 30), NEVOA_E2E_BUILD=0 to use
images built beforehand, NEVOA_APP_IMAGE / NEVOA_BASE_IMAGE to pick their tags,
NEVOA_METER_MODE=multiplexed for one gateway connection per replica."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.compose

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
REGIONS = ("r1", "r2")
REPLICAS = int(os.environ.get("NEVOA_E2E_REPLICAS", "4"))
METERS_PER_REPLICA = int(os.environ.get("NEVOA_E2E_METERS_PER_REPLICA", "250"))
INTERVAL = float(os.environ.get("NEVOA_E2E_INTERVAL", "5"))
WINDOW = float(os.environ.get("NEVOA_E2E_WINDOW", "30"))
METERS_PER_REGION = REPLICAS * METERS_PER_REPLICA
# Demo directory: maria (10001) has meter r1-e000001, joao (10002) r2-e000001; the
# customer of meter <region k>-e<i> otherwise has registration k * 1,000,000 + i.
FIRST_CUSTOMERS = {"r1": "10001", "r2": "10002"}


def last_customer(region_number: int) -> str:
    return str(region_number * 1_000_000 + METERS_PER_REGION)


@dataclass
class Stack:
    compose: list[str]
    project: str
    env: dict[str, str]
    cloud_url: str
    api_key: str = ""

    def run(self, *args: str, timeout: float = 120, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.compose, "-f", str(COMPOSE_FILE), "-p", self.project,
                               "--env-file", self.env["NEVOA_ACCOUNTS_DIR"] + "/credentials.env",
                               *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def diagnostics(self) -> str:
        ps = self.run("ps", "-a", "--format", "{{.Name}}\t{{.Status}}", check=False).stdout
        logs = self.run("logs", "--no-color", "--tail", "15", check=False).stdout
        return f"--- containers\n{ps}--- last log lines\n{logs[-6000:]}"

    def fog_get(self, region: str, path: str) -> Any:
        """GET on a fog node's API, which is not published: from inside its container."""
        script = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                  f"'http://127.0.0.1:8080{path}', timeout=10).read().decode())")
        return json.loads(self.run("exec", "-T", f"fog-{region}", "python3", "-c", script).stdout)

    def create_api_key(self) -> str:
        """A viewer key for the utility's routes, made the way an operator would."""
        out = self.run("exec", "-T", "cloud", "nevoa-cloud", "--redis-url",
                       "redis://redis-cloud:6379/0", "create-api-key", "--name", "compose-e2e",
                       "--role", "viewer").stdout
        return out.strip().splitlines()[-1]

    def cloud(self, method: str, path: str, body: dict[str, Any] | None = None
              ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        request = urllib.request.Request(self.cloud_url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(what: str, *command: str, timeout: float = 1800) -> None:
    print(f"\n[compose e2e] {what}", flush=True)
    subprocess.run(command, check=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack(compose_cmd: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if os.environ.get("NEVOA_TEST_COMPOSE") != "1":
        pytest.skip("opt-in: run `make test-compose` (sets NEVOA_TEST_COMPOSE=1)")
    step("Docker engine", str(REPO / "compose" / "ensure-docker.sh"), timeout=300)
    if os.environ.get("NEVOA_E2E_BUILD", "1") != "0":
        step("images", str(REPO / "compose" / "build-base-images.sh"))
    accounts = tmp_path_factory.mktemp("compose-accounts")
    step("MQTT accounts", sys.executable, str(REPO / "broker" / "gen_accounts.py"),
         "--regions", ",".join(REGIONS), "--meters-per-region", str(METERS_PER_REGION),
         "--out", str(accounts), timeout=120)
    port = free_port()
    keep = ("NEVOA_APP_IMAGE", "NEVOA_BASE_IMAGE", "NEVOA_METER_MODE", "NEVOA_METER_TENDENCY")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEVOA_") or k in keep}
    env.update(NEVOA_ACCOUNTS_DIR=str(accounts), NEVOA_CLOUD_PORT=str(port),
               NEVOA_METERS_PER_REPLICA=str(METERS_PER_REPLICA),
               NEVOA_METER_REPLICAS=str(REPLICAS), NEVOA_METER_INTERVAL=str(INTERVAL),
               NEVOA_DEMO_METERS_PER_REGION=str(METERS_PER_REGION))
    s = Stack(compose_cmd, f"nevoa-e2e-{os.getpid()}", env, f"http://127.0.0.1:{port}")
    print(f"\n[compose e2e] up: project {s.project}, {len(REGIONS)} regions x {REPLICAS} "
          f"replicas x {METERS_PER_REPLICA} meters, every {INTERVAL:g} s", flush=True)
    try:
        started = time.monotonic()
        up = s.run("up", "-d", "--wait", "--wait-timeout", "300", timeout=420, check=False)
        if up.returncode != 0:
            tail = "\n".join(up.stderr.strip().splitlines()[-5:])
            raise AssertionError(f"compose up failed:\n{tail}\n{s.diagnostics()}")
        print(f"[compose e2e] healthy after {time.monotonic() - started:.0f} s", flush=True)
        s.api_key = s.create_api_key()
        yield s
    except BaseException:
        print(s.diagnostics())
        raise
    finally:
        s.run("down", "--volumes", "--remove-orphans", "--timeout", "30", timeout=300,
              check=False)


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(2)


def test_every_meter_of_both_regions_reaches_redis(stack: Stack) -> None:
    for region in REGIONS:
        wait_for(lambda r=region: stack.fog_get(r, "/api/v1/stats")["meters"] >= METERS_PER_REGION,
                 timeout=6 * INTERVAL + 60, what=f"{METERS_PER_REGION} meters stored in {region}")
    stats = {r: stack.fog_get(r, "/api/v1/stats") for r in REGIONS}
    for region, s in stats.items():
        assert s["meters"] == METERS_PER_REGION, (region, s)  # disjoint replica id ranges
        assert s["rejected_total"] == 0, (region, s)


def cpu_seconds(container_id: str) -> float | None:
    """CPU time a container has used, from its cgroup (v1 or v2); None if unreadable."""
    for path, scale in ((f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage", 1e-9),
                        (f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
                         1e-6)):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        fields = dict(line.split() for line in text.splitlines()) if " " in text else {}
        return float(fields.get("usage_usec", text.strip())) * scale
    return None


def container_usage(ids: list[str]) -> dict[str, tuple[str, float | None, str]]:
    """id -> (name, CPU seconds so far, memory) for the stack's containers."""
    out = subprocess.run(["docker", "inspect", "--format", "{{.Id}} {{.Name}}", *ids],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    names = dict(line.split() for line in out.splitlines())
    memory = dict(line.split("\t") for line in subprocess.run(
        ["docker", "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}\t{{.MemUsage}}",
         *names], capture_output=True, text=True, check=True, timeout=120).stdout.splitlines())
    return {i: (names[i].lstrip("/"), cpu_seconds(i), memory.get(i, "?").split(" /")[0])
            for i in names}


def test_readings_per_second_reaching_redis(stack: Stack) -> None:
    ids = stack.run("ps", "-q").stdout.split()
    before = {r: stack.fog_get(r, "/api/v1/stats")["stored"] for r in REGIONS}
    usage_before = container_usage(ids)
    t0 = time.monotonic()
    time.sleep(WINDOW)
    after = {r: stack.fog_get(r, "/api/v1/stats")["stored"] for r in REGIONS}
    usage_after = container_usage(ids)
    elapsed = time.monotonic() - t0
    rates = {r: (after[r] - before[r]) / elapsed for r in REGIONS}
    offered = METERS_PER_REGION / INTERVAL
    print(f"\n[compose e2e] {len(ids)} containers, {2 * METERS_PER_REGION} meters "
          f"({REPLICAS} replicas x {METERS_PER_REPLICA} per region), one reading per meter "
          f"every {INTERVAL:g} s; offered {offered:.0f}/s per region")
    for region in REGIONS:
        print(f"[compose e2e] {region}: {rates[region]:.1f} readings/s stored in Redis "
              f"({rates[region] / offered:.0%} of offered) over {elapsed:.0f} s")
    print(f"[compose e2e] total: {sum(rates.values()):.1f} readings/s")
    print("[compose e2e] container, CPU cores used over the window, memory:")
    for cid, (name, cpu, memory) in sorted(usage_after.items(), key=lambda kv: kv[1][0]):
        start = usage_before.get(cid, (name, None, ""))[1]
        cores = f"{(cpu - start) / elapsed:.3f}" if cpu is not None and start is not None else "?"
        print(f"[compose e2e]   {name:<36} {cores:>6} {memory}")
    for region in REGIONS:
        # The fog nodes keep up with the fleet: no growing backlog at this load.
        assert rates[region] >= 0.8 * offered, (region, rates[region], offered)


@pytest.mark.parametrize("region", REGIONS)
def test_the_cloud_answers_with_readings_of_both_regions(stack: Stack, region: str) -> None:
    status, body = stack.cloud("POST", "/medicoes/ultima-medicao",
                               {"matricula": FIRST_CUSTOMERS[region]})
    assert status == 200, body
    # The last meter of the last replica: the scaled replicas reach the cloud too.
    registration = last_customer(REGIONS.index(region) + 1)
    status, body = stack.cloud("GET", f"/api/v1/customers/{registration}/latest-reading")
    assert status == 200, body
    assert f"{region}-e{METERS_PER_REGION:06d}" in json.dumps(body)


def test_top_consumers_span_both_regions(stack: Stack) -> None:
    # Each region's fleet has 10 % fast meters (compose default tendency mix), 100 here:
    # the city's top 150 cannot come from one region unless the merge ignores the other.
    n = min(150, METERS_PER_REGION)
    status, body = stack.cloud("GET", f"/api/v1/top?n={n}&kind=electricity")
    assert status == 200, body
    assert not body["partial"], body
    items = body["items"]
    assert len(items) == n
    assert [item["rank"] for item in items] == list(range(1, n + 1))
    assert [i["consumption"] for i in items] == sorted((i["consumption"] for i in items),
                                                       reverse=True)
    regions = {item["region"] for item in items}
    print(f"\n[compose e2e] top {n}: " + ", ".join(
        f"{r} {sum(i['region'] == r for i in items)}" for r in REGIONS))
    assert regions == set(REGIONS), regions
