"""Build a SparkSession with Delta Lake (and Spark's Kafka source) from local jars.

The jars come from infra/spark/pom.xml via `make setup` and are passed as `spark.jars`, so no
Ivy resolution happens at run time (`spark.jars.packages` would download).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from infra.maven import resolved_jars
from infra.procs import require_executable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_JARS_DIR = Path(__file__).resolve().parent / "target" / "lib"


class SparkConfig(BaseModel):
    """How the local SparkSession is built."""

    master: str = Field("local[2]", description="Spark master URL; local[2] fits this machine.")
    app_name: str = Field("omnicx", description="Application name shown in the Spark UI.")
    shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions.")
    driver_memory: str = Field("2g", description="spark.driver.memory.")
    ui_enabled: bool = Field(False, description="Start the Spark web UI.")
    jars_dir: Path = Field(DEFAULT_JARS_DIR, description="Where Maven put the Delta/Kafka jars.")
    local_dir: Path | None = Field(
        None, description="Scratch space for shuffles (spark.local.dir)."
    )
    log_level: str = Field("WARN", description="Spark's log level after start-up.")
    extra_conf: dict[str, str] = Field(default_factory=dict, description="Any other Spark conf.")


def spark_jars(config: SparkConfig) -> list[Path]:
    """The local jars handed to Spark (raises ResolutionError if `make setup` has not run)."""
    return resolved_jars(config.jars_dir, "Spark/Delta")


def spark_conf(config: SparkConfig) -> dict[str, str]:
    """The Spark configuration `build_spark_session` applies, as plain key/value pairs.

    For tools that build their own session from a conf map: Feast's Spark offline store reads
    `spark_conf` from feature_store.yaml, so `feast materialize` gets the same jars and settings.

    Raises:
        ResolutionError: the Delta jars were not resolved.
    """
    conf = {
        "spark.master": config.master,
        "spark.app.name": config.app_name,
        "spark.jars": ",".join(str(j) for j in spark_jars(config)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(config.shuffle_partitions),
        "spark.driver.memory": config.driver_memory,
        "spark.ui.enabled": str(config.ui_enabled).lower(),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    }
    if config.local_dir is not None:
        conf["spark.local.dir"] = str(config.local_dir)
    conf.update(config.extra_conf)
    return conf


def build_spark_session(config: SparkConfig) -> SparkSession:
    """Return the process's SparkSession, creating it with Delta configured if needed.

    Spark allows one active session per JVM; if one exists already it is returned as is, so
    callers share one session (tests use one per test session).

    Raises:
        ConfigurationError: java is missing.
        ResolutionError: the Delta jars were not resolved.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    require_executable(
        "java", "Spark needs Java 17 or newer: install it (apt-get install openjdk-17-jre-headless)"
    )
    jars = spark_jars(config)
    # pyspark reads PYSPARK_PYTHON for its workers; pin them to this interpreter (the venv).
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    builder = (
        SparkSession.builder.master(config.master)
        .appName(config.app_name)
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .config("spark.default.parallelism", str(config.shuffle_partitions))
        .config("spark.driver.memory", config.driver_memory)
        .config("spark.ui.enabled", str(config.ui_enabled).lower())
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        # Retention checks guard against vacuuming files that readers still use; erasure
        # (right to be forgotten) lowers the retention deliberately and says so.
        .config("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    )
    if config.local_dir is not None:
        builder = builder.config("spark.local.dir", str(config.local_dir))
    for key, value in config.extra_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(config.log_level)
    return spark


def _python() -> str:
    import sys

    return sys.executable
