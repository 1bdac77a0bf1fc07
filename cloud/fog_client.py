"""FogClient: the cloud's HTTP adapter to the regions' fog nodes (README.md, "Fog node HTTP API").

Connections are kept alive (:mod:`cloud.fog_http`): a request to a fog node costs one
round trip, not a TCP handshake, and a busy cloud does not run out of ephemeral ports.
Every call has a timeout; a fog node that does not answer in time, answers 5xx, or
answers something that is not JSON (NaN and Infinity are not) raises
:class:`RegionUnavailable`.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Hashable, Mapping
from typing import Any

from cloud.fog_http import KeepAliveTransport, TransportError
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading


class RegionUnavailable(RuntimeError):
    """The region's fog node did not answer, or is not configured."""

    def __init__(self, region: str, why: str) -> None:
        super().__init__(f"region {region!r} is not answering: {why}")
        self.region = region
        self.why = why


class UnknownRegion(LookupError):
    def __init__(self, region: str) -> None:
        super().__init__(f"no fog node is configured for region {region!r}")
        self.region = region


class NotFoundInRegion(LookupError):
    """The fog node answered 404: no such meter, alert or command there."""

    def __init__(self, region: str, message: str) -> None:
        super().__init__(message)
        self.region = region


class FogRejected(ValueError):
    """The fog node refused the request (4xx other than 404), with its reason."""

    def __init__(self, region: str, status: int, message: str) -> None:
        super().__init__(message)
        self.region = region
        self.status = status


def reading_from_json(body: Mapping[str, Any]) -> Reading:
    return Reading(
        meter=body["meter"],
        seq=int(body["seq"]),
        time=float(body["time"]),
        kind=Kind.from_label(body["kind"]),
        register=float(body["register"]),
        rate=None if body.get("rate") is None else float(body["rate"]),
    )


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class FogClient:
    def __init__(self, urls: Mapping[str, str], timeout: float = 2.0) -> None:
        self.urls = {region: url.rstrip("/") for region, url in urls.items()}
        self.timeout = timeout
        self._http = KeepAliveTransport(timeout)

    @property
    def regions(self) -> list[str]:
        return sorted(self.urls)

    def check_region(self, region: str) -> str:
        if region not in self.urls:
            raise UnknownRegion(region)
        return region

    @staticmethod
    def _target(path: str, query: dict[str, object]) -> str:
        params = {k: v for k, v in query.items() if v is not None}
        return path + ("?" + urllib.parse.urlencode(params) if params else "")

    def request(self, region: str, method: str, path: str, body: Any = None,
                **query: object) -> dict[str, Any]:
        base = self.urls.get(region)
        if base is None:
            raise UnknownRegion(region)
        try:
            status, data = self._http.request(
                method, base, self._target(path, query),
                body=None if body is None else json.dumps(body, allow_nan=False).encode(),
                headers={"Content-Type": "application/json"} if body is not None else None)
        except TransportError as exc:  # timeouts, refused connections
            raise RegionUnavailable(region, str(exc)) from None
        return self._answer(region, path, status, data)

    @staticmethod
    def _answer(region: str, path: str, status: int, data: bytes) -> dict[str, Any]:
        try:
            answer: Any = json.loads(data, parse_constant=_refuse_constant) if data else {}
        except (ValueError, RecursionError):
            answer = None
        why = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        if status == 404:
            raise NotFoundInRegion(region, why or f"{path}: not found in region {region}")
        if 400 <= status < 500:
            raise FogRejected(region, status, why or f"HTTP {status}")
        if status >= 300:
            raise RegionUnavailable(region, f"HTTP {status}")
        if not isinstance(answer, dict):
            raise RegionUnavailable(region, "the answer is not a JSON object")
        return answer

    def get_many(self, regions: list[str], path: str, **query: object
                 ) -> dict[str, dict[str, Any] | Exception]:
        """GET ``path`` from each region at once, within ``timeout`` in all: each region's
        answer, or the exception that stands for it."""
        results: dict[str, dict[str, Any] | Exception] = {}
        target = self._target(path, query)
        gets: dict[Hashable, tuple[str, str]] = {}
        for region in regions:
            if region in self.urls:
                gets[region] = (self.urls[region], target)
            else:
                results[region] = UnknownRegion(region)
        got = self._http.get_many(gets, time.monotonic() + self.timeout)
        for key, outcome in got.items():
            region = str(key)
            if isinstance(outcome, TransportError):
                why = (f"no answer within {self.timeout:g} s" if "deadline" in str(outcome)
                       else str(outcome))
                results[region] = RegionUnavailable(region, why)
                continue
            try:
                results[region] = self._answer(region, path, *outcome)
            except (RegionUnavailable, NotFoundInRegion, FogRejected) as exc:
                results[region] = exc
        return results

    def get(self, region: str, path: str, **query: object) -> dict[str, Any]:
        return self.request(region, "GET", path, **query)

    # -- meters ------------------------------------------------------------------------

    def latest(self, region: str, meter: str) -> Reading | None:
        try:
            body = self.get(region, f"/api/v1/meters/{_quote(meter)}/latest")
        except NotFoundInRegion:
            return None
        return reading_from_json(body["reading"])

    def history(self, region: str, meter: str, limit: int) -> list[Reading]:
        """The meter's ``limit`` latest readings, oldest first."""
        try:
            body = self.get(region, f"/api/v1/meters/{_quote(meter)}/readings", limit=limit)
        except NotFoundInRegion:
            return []
        return [reading_from_json(r) for r in body["readings"]]

    def readings_between(self, region: str, meter: str, start: float,
                         end: float) -> list[Reading]:
        """Raw readings with time in [start, end), oldest first."""
        try:
            body = self.get(region, f"/api/v1/meters/{_quote(meter)}/readings",
                            **{"from": start, "to": end})
        except NotFoundInRegion:
            return []
        return [reading_from_json(r) for r in body["readings"]]

    def rollups(self, region: str, meter: str, step: str, start: float,
                end: float) -> list[dict[str, Any]]:
        """``[{"start": t, "consumption": x, "register": r}]`` per hour or day, oldest first."""
        try:
            body = self.get(region, f"/api/v1/meters/{_quote(meter)}/rollups",
                            step=step, **{"from": start, "to": end})
        except NotFoundInRegion:
            return []
        points: list[dict[str, Any]] = body.get("points", [])
        return points

    def send_command(self, region: str, meter: str, command: Mapping[str, Any]
                     ) -> dict[str, Any]:
        return self.request(region, "POST", f"/api/v1/meters/{_quote(meter)}/commands",
                            dict(command))

    def command(self, region: str, command_id: str) -> dict[str, Any]:
        return self.get(region, f"/api/v1/commands/{_quote(command_id)}")

    # -- the region --------------------------------------------------------------------

    def alerts(self, region: str, **filters: object) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.get(region, "/api/v1/alerts", **filters)["alerts"]
        return alerts

    def acknowledge_alert(self, region: str, alert_id: str, by: str) -> dict[str, Any]:
        return self.request(region, "POST", f"/api/v1/alerts/{_quote(alert_id)}/ack",
                            {"by": by})

    def policy(self, region: str) -> dict[str, Any]:
        return self.get(region, "/api/v1/policy")

    def set_policy(self, region: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        return self.request(region, "PUT", "/api/v1/policy", dict(policy))

    def close(self) -> None:
        self._http.close()
