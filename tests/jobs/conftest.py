"""Lakehouse test fixtures."""

from tests.lakehouse_helpers import interpreted_spark  # noqa: F401  (autouse fixture)
