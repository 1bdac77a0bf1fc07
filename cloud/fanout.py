"""Asking every region at once, within one deadline.

The calls go out concurrently on a shared thread pool. Whatever has not answered when
the deadline passes is named in ``missing`` (with the reason) and the answer is built
from the regions that did answer: the caller says ``partial: true`` instead of failing
or hanging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cloud.fog_client import FogRejected, NotFoundInRegion, RegionUnavailable, UnknownRegion

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


class FanOut:
    def __init__(self, timeout: float, max_workers: int = 64) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fanout")

    def gather(self, regions: Iterable[str], call: Callable[[str], T]) -> Gathered[T]:
        """``call(region)`` for every region at once; answers within ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        futures: dict[Future[T], str] = {self._pool.submit(call, r): r for r in regions}
        wait(futures, timeout=max(deadline - time.monotonic(), 0))
        answers: dict[str, T] = {}
        missing: dict[str, str] = {}
        for future, region in futures.items():
            if not future.done():
                future.cancel()
                missing[region] = f"no answer within {self.timeout:g} s"
                continue
            exc = future.exception()
            if exc is None:
                answers[region] = future.result()
            elif isinstance(exc, RegionUnavailable):
                missing[region] = exc.why
            elif isinstance(exc, (FogRejected, NotFoundInRegion, UnknownRegion)):
                missing[region] = str(exc)
            else:
                log.error("region %s gave an answer the cloud cannot read", region,
                          exc_info=exc)
                missing[region] = f"unreadable answer ({type(exc).__name__})"
        return Gathered(answers, missing)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
