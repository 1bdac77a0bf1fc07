"""Identifiers of regions and meters, and what makes one valid.

A meter id travels in MQTT topic levels and in the SenML base name, so it may not
contain the MQTT separators or wildcards (``/``, ``+``, ``#``) nor the base-name
separator ``:``.
"""

from __future__ import annotations

import re

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class InvalidId(ValueError):
    """An id that cannot name a region or a meter."""


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(value: object, what: str = "id") -> str:
    if not is_valid_id(value):
        raise InvalidId(
            f"invalid {what} {value!r}: 1-64 characters of letters, digits, '_', '.', '-'"
        )
    assert isinstance(value, str)
    return value


def meter_id(region: str, kind_letter: str, index: int) -> str:
    """The id of the ``index``-th simulated meter of a kind in a region: ``r1-e000042``."""
    return f"{region}-{kind_letter}{index:06d}"
