"""`load_json`: orjson's fast path gives the values and errors json gave (pure)."""

from __future__ import annotations

import json

import pytest

from streams.adapters.base import load_json
from streams.adapters.errors import InvalidEncoding, MalformedPayload

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [1, 2.5, true, null], "b": "Jos\xc3\xa9 \xf0\x9f\x98\x80"}',
        b'{"a":1,"a":2}',  # last duplicate wins
        b'{"id": 18446744073709551616}',  # beyond 64 bits: stays an int
        b'{"id": 1234567890123456789}',
        b'"\\ud800"',  # a lone surrogate escape (orjson refuses it; json keeps it)
        b"\xef\xbb\xbf[1]",  # a UTF-8 BOM
    ],
)
def test_same_values_as_json(data: bytes) -> None:
    assert load_json(data, "x") == json.loads(data.decode("utf-8").lstrip("\ufeff"))


def test_big_integer_keeps_its_type() -> None:
    assert load_json(b'{"id": 18446744073709551616}', "x")["id"] == 2**64


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    # Not JSON (RFC 8259), and an event holding one would not survive its own JSON round trip
    # (hypothesis found `"Version": Infinity` in a chat transcript).
    with pytest.raises(MalformedPayload, match=f"{constant} is not a JSON value"):
        load_json(b'{"v": %s}' % constant.encode(), "x")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b'{"a":"\xff"}', InvalidEncoding, "invalid UTF-8 at byte 6"),
        (b'{"a": [1,', MalformedPayload, "truncated JSON"),
        (b'{"a": "abc', MalformedPayload, "truncated JSON"),
        (b'{"a" 1}', MalformedPayload, "line 1, column 6: Expecting ':' delimiter"),
        (b"  ", MalformedPayload, "empty payload"),
    ],
)
def test_errors_unchanged(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load_json(data, "x")
