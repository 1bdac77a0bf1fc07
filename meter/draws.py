"""Reproducible randomness without per-meter generator state.

A ``random.Random`` holds ~2.5 KB of state; ten thousand meters would spend 25 MB on
them, and a restarted process could not continue their sequences. Instead every reading
draws from a keyed hash of (run seed, meter id, reading time): the same seed and the
same schedule give the same values, in any order, after any restart.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct

_SCALE = 2.0**-53
_WORDS = struct.Struct("<16I")  # a 64-byte digest as 16 uniform 32-bit words
_WORD_SCALE = 2.0**-32
_TAU = 2.0 * math.pi


def new_seed(seed: int | None) -> bytes:
    """The 16-byte key of a run: derived from ``--seed``, or fresh when none is given."""
    if seed is None:
        return os.urandom(16)
    return hashlib.blake2b(str(seed).encode(), digest_size=16).digest()


class Draws:
    """An endless stream of uniform numbers in [0, 1) for one (meter, instant)."""

    __slots__ = ("_block", "_key", "_message", "_next", "_spare", "_values")

    def __init__(self, key: bytes, meter_id: str, instant: float) -> None:
        self._key = key
        self._message = f"{meter_id}@{round(instant * 1000)}".encode()
        self._block = 0
        self._values: tuple[int, ...] = ()
        self._next = 16
        self._spare: float | None = None

    def uniform(self) -> float:
        """A number in [0, 1) (32 random bits)."""
        if self._next >= 16:
            self._values = _WORDS.unpack(hashlib.blake2b(
                self._message + self._block.to_bytes(4, "little"), key=self._key).digest())
            self._block += 1
            self._next = 0
        value = self._values[self._next]
        self._next += 1
        return value * _WORD_SCALE

    def normal(self) -> float:
        """A standard normal deviate (Box-Muller, both values of a pair used)."""
        if self._spare is not None:
            value, self._spare = self._spare, None
            return value
        radius = math.sqrt(-2.0 * math.log(1.0 - self.uniform()))  # log of (0, 1]
        angle = _TAU * self.uniform()
        self._spare = radius * math.sin(angle)
        return radius * math.cos(angle)

    def lognormal_factor(self, sigma: float) -> float:
        """A positive factor with mean 1 and spread ``sigma`` (of its logarithm)."""
        return math.exp(sigma * self.normal() - sigma * sigma / 2.0) if sigma else 1.0

    def poisson(self, mean: float) -> int:
        """How many events happen when ``mean`` are expected."""
        if mean <= 0.0:
            return 0
        if mean > 30.0:
            return max(0, round(mean + math.sqrt(mean) * self.normal()))
        limit = math.exp(-mean)
        count, product = 0, self.uniform()
        while product > limit:
            count += 1
            product *= self.uniform()
        return count

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.uniform())


def stable_fraction(key: bytes, label: str) -> float:
    """A number in [0, 1) fixed for a label and run key (a meter's household size)."""
    digest = hashlib.blake2b(label.encode(), key=key, digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) * _SCALE
