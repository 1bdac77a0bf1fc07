"""Small helpers the tests share."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from nevoa_core.calendar import DEFAULT_TIMEZONE
from nevoa_core.clock import ShiftedClock, shifted_spec
from nevoa_stack.processes import free_port
from nevoa_stack.stack import LocalStack

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 15.0, every: float = 0.1,
               what: str = "condition") -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0) -> tuple[int, Any]:
    """(status, decoded JSON body) of an HTTP call; error statuses are returned, not raised."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def publish_qos1(host: str, port: int, messages: Iterable[tuple[str, bytes]],
                 client_id: str = "nevoa-test-publisher", timeout: float = 10.0) -> None:
    """Publish each (topic, payload) at QoS 1 and return once the broker acknowledged all."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published(), "the broker did not acknowledge a reading"
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def two_region_stack(workdir: Path, demo_meters_per_region: int,
                     clock: ShiftedClock | None = None, timezone: str = DEFAULT_TIMEZONE
                     ) -> Iterator[LocalStack]:
    """Regions r1 and r2 (Mosquitto, Redis, fog node each) and the cloud, with demo
    customers but no meter fleet: the test publishes the readings it needs. ``clock``
    pins every process's clock (the test reads the same one)."""
    stack = LocalStack(workdir, ["r1", "r2"], cloud_port=free_port(), timezone=timezone,
                       clock_start=shifted_spec(clock.start, clock.anchor) if clock else None)
    try:
        for region in stack.regions:
            stack.start_region(region)
        stack.start_cloud(demo_meters_per_region=demo_meters_per_region)
        yield stack
    finally:
        stack.stop()
