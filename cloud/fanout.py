"""Asking every region at once, within one deadline.

The requests go out together from the calling thread and are awaited on their sockets
(:meth:`cloud.fog_http.KeepAliveTransport.get_many`). Whatever has not answered when
the deadline passes is named in ``missing`` (with the reason) and the answer is built
from the regions that did answer: the caller says ``partial: true`` instead of failing
or hanging.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cloud.fog_client import FogClient, RegionUnavailable

T = TypeVar("T")
log = logging.getLogger("nevoa.cloud.fanout")


@dataclass(frozen=True, slots=True)
class Gathered(Generic[T]):
    answers: dict[str, T]
    missing: dict[str, str] = field(default_factory=dict)  # region -> why

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    @property
    def missing_regions(self) -> list[str]:
        return sorted(self.missing)


def gather(fogs: FogClient, regions: Iterable[str], path: str,
           pick: Callable[[dict[str, Any]], T], **query: object) -> Gathered[T]:
    """GET ``path`` from every region at once; ``pick`` reads what is needed from each
    answer. Answers within the fog client's timeout, whatever the regions do."""
    answers: dict[str, T] = {}
    missing: dict[str, str] = {}
    for region, got in fogs.get_many(list(regions), path, **query).items():
        if isinstance(got, RegionUnavailable):
            missing[region] = got.why
        elif isinstance(got, Exception):
            missing[region] = str(got)
        else:
            try:
                answers[region] = pick(got)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("region %s gave an answer the cloud cannot read: %r", region, exc)
                missing[region] = f"unreadable answer ({type(exc).__name__})"
    return Gathered(answers, missing)
