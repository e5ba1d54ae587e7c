"""Spark with Delta from the Maven-resolved jars: write, read back, append, time travel."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_delta_write_read_and_time_travel(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "events")
    first = spark.createDataFrame(
        [("e1", "email", 1), ("e2", "chat", 2)], "event_id string, channel string, n int"
    )
    first.write.format("delta").save(path)
    spark.createDataFrame([("e3", "phone", 3)], first.schema).write.format("delta").mode(
        "append"
    ).save(path)

    latest = spark.read.format("delta").load(path)
    assert sorted(r.event_id for r in latest.collect()) == ["e1", "e2", "e3"]

    v0 = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assert sorted(r.event_id for r in v0.collect()) == ["e1", "e2"]

    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    assert [h.operation for h in history] == ["WRITE", "WRITE"]
    assert (Path(path) / "_delta_log" / "00000000000000000001.json").exists()


def test_spark_uses_local_jars_not_ivy(spark) -> None:  # type: ignore[no-untyped-def]
    conf = spark.sparkContext.getConf()
    jars = conf.get("spark.jars")
    assert "delta-spark_4.2_2.13" in jars and "spark-sql-kafka-0-10" in jars
    assert conf.get("spark.jars.packages", None) is None
