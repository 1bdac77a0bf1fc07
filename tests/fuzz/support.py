"""What the fuzz tests share: their profile, the count of inputs, hostile tokens."""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st

PROFILE = "nevoa-fuzz"
# the @FUZZ tests of tests/fuzz: each runs NEVOA_FUZZ_EXAMPLES / FUZZ_TESTS examples
FUZZ_TESTS = 18
INPUTS: Counter[str] = Counter()

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(test: F) -> F:
    """Apply the fuzz profile (registered by conftest.py) and count the inputs that run.

    Use it outermost, above ``@given`` and ``@example``.
    """
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        INPUTS[f"{test.__module__}.{test.__name__}"] += 1
        return inner(*args, **kwargs)

    test.hypothesis.inner_test = counted  # type: ignore[attr-defined]
    return settings(settings.get_profile(PROFILE))(test)


# bytes that break parsers: non-finite and huge numbers, odd unicode, structure
HOSTILE_TOKENS: tuple[bytes, ...] = (
    b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"1e999", b"-1e999",
    b"1E+308", b"2e308", b"5e-324", b"1e-400", b"-0", b"-0.0", b"0.0", b"00", b"01", b"1.",
    b".5", b"+1", b"0x10", b"1_000", b"1" + b"0" * 400, b"-1" + b"0" * 400, b"9" * 4301,
    b"1" + b"0" * 20 + b".5", b"9007199254740991", b"9007199254740992", b"9007199254740993",
    b"100000", b"99999.99999999999", b"946684800", b"946684799.9", b"4102444800",
    b"4102444800.0001", b"true", b"false", b"null", b"[]", b"{}", b'""', b'"\\u0000"',
    b'"\\ud800"', b'"\\udfff\\ud800"', b'"\\"', b"\\", b'"', b",", b":", b"[", b"]", b"{", b"}",
    b"\x00", b"\x7f", b"\x80", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf",
    b"\xf4\x90\x80\x80", "é".encode(), "\u2028".encode(), "\U0001f4a9".encode(),
    "\u00a0".encode(), b" ", b"\t", b"\n", b"\r\n",
)

_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")


def mutate(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` after 1-4 mutations: bit flips, bytes set, truncation, spans deleted
    or duplicated (a field, a record), hostile tokens inserted or put in place of a
    number, deep nesting, unicode (lone surrogates too, encoded as they are)."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "delete", "duplicate",
                                   "insert", "number", "nest", "unicode"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from(b'0123456789.-+eE,:"{}[] \\x\x00\x80\xff'))
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif op == "duplicate":
            span = bytes(data[at:at + draw(st.integers(1, 60))])
            to = draw(st.integers(0, len(data)))
            data[to:to] = span
        elif op == "insert":
            to = draw(st.integers(0, len(data)))
            data[to:to] = draw(st.sampled_from(HOSTILE_TOKENS))
        elif op == "number":
            numbers = list(_NUMBER.finditer(bytes(data)))
            if numbers:
                m = draw(st.sampled_from(numbers))
                data[m.start():m.end()] = draw(st.sampled_from(HOSTILE_TOKENS))
        elif op == "nest":
            depth = draw(st.sampled_from([2, 17, 50, 1_000, 100_000]))
            if draw(st.booleans()):
                data[:] = b"[" * depth + data + b"]" * depth
            else:
                to = draw(st.integers(0, len(data)))
                data[to:to] = b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
        elif op == "unicode":
            to = draw(st.integers(0, len(data)))
            data[to:to] = draw(st.text(min_size=1, max_size=8)).encode("utf-8", "surrogatepass")
    return bytes(data)


huge_ints = st.integers(-(10**400), 10**400)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), huge_ints, st.floats(),  # NaN, inf included
    st.text(max_size=20),  # lone surrogates included
)


def json_values(scalars: st.SearchStrategy[Any] = json_scalars) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                      max_size=4),
        max_leaves=8)


def render(value: Any, sep: tuple[str, str] = (",", ":"), pairs: bool = False) -> str:
    """JSON text; ``pairs``: a list of (key, value) written as one object, duplicate keys
    kept. Non-finite floats come out as NaN / Infinity tokens, huge ints in full."""
    if pairs:
        return "{" + sep[0].join(json.dumps(k) + sep[1] + render(v, sep) for k, v in value) + "}"
    if isinstance(value, dict):
        return render(list(value.items()), sep, pairs=True)
    if isinstance(value, list):
        return "[" + sep[0].join(render(v, sep) for v in value) + "]"
    return json.dumps(value)
