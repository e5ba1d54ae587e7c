"""A local SparkSession with Delta Lake, from Maven-resolved jars."""

from infra.spark.session import SparkConfig, build_spark_session, spark_conf, spark_jars

__all__ = ["SparkConfig", "build_spark_session", "spark_conf", "spark_jars"]
