"""Lakehouse test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The lake tests handle a few rows per query: compiling generated Java for every projection
# costs far more than interpreting it (minutes per test on two busy cores). The session is
# shared with other areas' tests, so the settings are restored afterwards.
_FAST_SMALL_DATA = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(autouse=True)
def _interpreted_spark(request: pytest.FixtureRequest) -> Iterator[None]:
    if "spark" not in request.fixturenames:
        yield
        return
    spark = request.getfixturevalue("spark")
    before = {key: spark.conf.get(key, None) for key in _FAST_SMALL_DATA}
    for key, value in _FAST_SMALL_DATA.items():
        spark.conf.set(key, value)
    yield
    for key, value in before.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
