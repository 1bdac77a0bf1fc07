"""FogClient: the cloud's HTTP adapter to the regions' fog nodes."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading


class RegionUnavailable(RuntimeError):
    """The region's fog node did not answer, or is not configured."""

    def __init__(self, region: str, why: str) -> None:
        super().__init__(f"region {region!r} is not answering: {why}")
        self.region = region


class NotFoundInRegion(LookupError):
    pass


def reading_from_json(body: Mapping[str, Any]) -> Reading:
    return Reading(
        meter=body["meter"],
        seq=int(body["seq"]),
        time=float(body["time"]),
        kind=Kind.from_label(body["kind"]),
        register=float(body["register"]),
        rate=None if body.get("rate") is None else float(body["rate"]),
    )


class FogClient:
    def __init__(self, urls: Mapping[str, str], timeout: float = 2.0) -> None:
        self.urls = dict(urls)
        self.timeout = timeout

    def _get(self, region: str, path: str, **query: object) -> dict[str, Any]:
        base = self.urls.get(region)
        if base is None:
            raise RegionUnavailable(region, "no fog node is configured for it")
        url = base.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotFoundInRegion(path) from None
            raise RegionUnavailable(region, f"HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:  # URLError, timeouts, bad JSON
            raise RegionUnavailable(region, str(exc)) from None

    def latest(self, region: str, meter: str) -> Reading | None:
        try:
            body = self._get(region, f"/api/v1/meters/{urllib.parse.quote(meter)}/latest")
        except NotFoundInRegion:
            return None
        return reading_from_json(body["reading"])

    def history(self, region: str, meter: str, limit: int) -> list[Reading]:
        """The meter's ``limit`` latest readings, oldest first."""
        try:
            body = self._get(region, f"/api/v1/meters/{urllib.parse.quote(meter)}/readings",
                             limit=limit)
        except NotFoundInRegion:
            return []
        return [reading_from_json(r) for r in body["readings"]]
