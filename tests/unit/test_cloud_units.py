"""Cloud pieces that need no server: customer tokens, import rows, the policy check, the
answer cache."""

from __future__ import annotations

import pytest

from cloud.auth import NotAuthenticated, TokenSigner
from cloud.bulk_import import UnreadableImport, read_rows
from cloud.utility import check_policy

SIGNER = TokenSigner(b"k" * 32, ttl=60)


def test_a_token_names_its_registration_until_it_expires() -> None:
    token, expires = SIGNER.issue("10001", now=1000)
    assert expires == 1060
    assert SIGNER.verify(token, now=1059) == "10001"
    with pytest.raises(NotAuthenticated, match="expired"):
        SIGNER.verify(token, now=1060)


def test_a_token_signed_with_another_secret_or_edited_is_refused() -> None:
    token, _ = SIGNER.issue("10001", now=1000)
    other, _ = TokenSigner(b"x" * 32, ttl=60).issue("10001", now=1000)
    prefix, reg, exp, sig = token.split(".")
    for bad in (other, f"{prefix}.10002.{exp}.{sig}", f"{prefix}.{reg}.9999999999.{sig}",
                f"c2.{reg}.{exp}.{sig}", token + "x", ""):
        with pytest.raises(NotAuthenticated):
            SIGNER.verify(bad, now=1000)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner(b"short", ttl=60)


def test_import_rows_from_csv_and_json() -> None:
    assert read_rows(b"\xef\xbb\xbfregistration,username\n1,a\n", "text/csv") == [
        {"registration": "1", "username": "a"}]
    assert read_rows(b'[{"a": 1}]', "application/json") == [{"a": 1}]
    assert read_rows(b'{"meters": [{"a": 1}]}', "application/json") == [{"a": 1}]
    for body, ctype in ((b"", "text/csv"), (b"[", "application/json"), (b"1", "application/json"),
                        (b"x", "application/xml")):
        with pytest.raises(UnreadableImport):
            read_rows(body, ctype)


def test_policy_fields_are_checked() -> None:
    assert check_policy({"rationing_cap": 10, "cut_above_mean": True}) == {
        "rationing_cap": 10, "cut_above_mean": True}
    assert check_policy({"rationing_cap": None, "mean_factor": 1.5}) == {
        "rationing_cap": None, "mean_factor": 1.5}
    for bad in ({}, {"rationing_cap": -1}, {"rationing_cap": True}, {"cap_period": "year"},
                {"cut_above_cap": 1}, {"other": 1}, {"mean_factor": 0}):
        with pytest.raises(ValueError):
            check_policy(bad)


def test_the_answer_cache_expires_refreshes_and_stays_bounded() -> None:
    from cloud.ttl_cache import TtlCache

    cache: TtlCache[int] = TtlCache(max_entries=2)
    cache.put("a", 1, ttl=10, now=0)
    assert cache.get("a", now=5) == (1, 5)
    assert cache.get("a", now=10) is None
    cache.put("b", 2, ttl=0, now=0)  # never stored
    assert cache.get("b", now=0) is None
    calls = []
    value, age = cache.get_or_compute("c", lambda: calls.append(1) or 3, lambda v: 60)
    assert (value, age) == (3, None)
    assert cache.get_or_compute("c", lambda: 4, lambda v: 60)[0] == 3
    assert cache.get_or_compute("c", lambda: 4, lambda v: 60, fresh=True) == (4, None)
    for key in "defg":
        cache.put(key, 0, ttl=60)
    assert len(cache._entries) <= 2


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_bodies_are_parsed_strictly() -> None:
    from nevoa_adapters.jsonapi import MAX_JSON_INT, InvalidJson, parse_json

    assert parse_json(nested(32)) == parse_json(nested(32).encode())
    assert parse_json('{"a": "[[[[" , "b": "\\"{{{{"}') == {"a": "[[[[", "b": '"{{{{'}
    assert parse_json(b"\xef\xbb\xbf[1.5, -2]") == [1.5, -2]  # a UTF-8 BOM is fine
    assert parse_json(f"[{MAX_JSON_INT}, -{MAX_JSON_INT}]") == [MAX_JSON_INT, -MAX_JSON_INT]
    for bad in (nested(33), nested(100_000), '{"a":' * 33 + "1" + "}" * 33,
                f"[{MAX_JSON_INT + 1}]", "[" + "9" * 400 + "]", "[-" + "9" * 5000 + "]",
                "[NaN]", "[Infinity]", "[-Infinity]", "[1e400]", "[-1e400]", "[", "",
                b"\xff\xfe\xfd"):
        with pytest.raises(InvalidJson) as refused:
            parse_json(bad)
        assert len(str(refused.value)) < 200


def test_the_json_encoder_refuses_non_finite_numbers() -> None:
    from flask import Flask

    from nevoa_adapters.jsonapi import json_api

    app = Flask("t")
    json_api(app)
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.json.dumps({"a": 1.5}) == '{"a": 1.5}'
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError):
            app.json.dumps({"a": value})


def test_an_error_quotes_little_of_the_input() -> None:
    from nevoa_adapters.jsonapi import quoted

    assert quoted("w1") == "'w1'"
    assert len(quoted("x" * 1_000_000)) <= 41


def test_absurd_policy_numbers_are_refused() -> None:
    for bad in ({"rationing_cap": 10**400}, {"rationing_cap": -(10**400)},
                {"rationing_cap": 1e300}, {"rationing_cap": float("nan")},
                {"rationing_cap": float("inf")}, {"mean_factor": 10**400},
                {"mean_factor": 1e300}, {"mean_factor": float("nan")},
                {"cap_period": ["day"]}, {"x" * 100_000: 1}):
        with pytest.raises(ValueError) as refused:
            check_policy(bad)
        assert len(str(refused.value)) < 300
    assert check_policy({"rationing_cap": 1_000_000, "mean_factor": 1000}) == {
        "rationing_cap": 1_000_000, "mean_factor": 1000}


def test_login_limits_are_settings_checked_at_start() -> None:
    from cloud.settings import DEFAULTS, CloudSettings

    settings = CloudSettings.from_config({**DEFAULTS, "SECRET_KEY": "k" * 32})
    assert (settings.login_rate_limit, settings.login_rate_limit_per_ip) == (
        "10/minute", "30/minute")
    assert settings.import_max_bytes == 32 * 1024 * 1024 > DEFAULTS["MAX_CONTENT_LENGTH"]
    small = CloudSettings.from_config({**DEFAULTS, "SECRET_KEY": "k" * 32,
                                       "LOGIN_RATE_LIMIT": "3/minute;20/hour"})
    assert small.login_rate_limit == "3/minute;20/hour"
    with pytest.raises(ValueError, match="LOGIN_RATE_LIMIT_PER_IP"):
        CloudSettings.from_config({**DEFAULTS, "SECRET_KEY": "k" * 32,
                                   "LOGIN_RATE_LIMIT_PER_IP": "lots"})
