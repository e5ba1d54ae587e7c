"""The one settings object: environment variables with the OMNICX_ prefix (or `omnicx.env`).

Each component defines the typed config it needs (`infra.kafka.KafkaConfig`,
`infra.spark.SparkConfig`, ...); this module composes them and hands each part down.
Nested fields use a double underscore: `OMNICX_KAFKA__PORT=29092`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from feature_store.config import FeatureStoreConfig
from infra.kafka import KafkaConfig
from infra.redis import RedisConfig
from infra.spark import SparkConfig
from streams.api import ApiConfig
from streams.rules.config import RulesConfig
from streams.workers.config import StreamsConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TWEETS = REPO_ROOT / "data" / "samples" / "twcs_sample.csv"

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Everything omnicx can be told; every default works on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="OMNICX_",
        env_nested_delimiter="__",
        env_file="omnicx.env",
        extra="ignore",
    )

    home: Path = Field(
        Path(".omnicx"),
        description="Local state: broker data, lake, Dagster home, logs. Git-ignored.",
    )
    kafka: KafkaConfig = Field(
        default_factory=lambda: KafkaConfig(),
        description="The local broker (ports, nodes, heap); data under <home>/kafka by default.",
    )
    kafka_bootstrap: str | None = Field(
        None,
        description=(
            "Bootstrap servers of an existing Kafka cluster. Unset: omnicx runs its own broker "
            "and uses its address."
        ),
    )
    spark: SparkConfig = Field(
        default_factory=lambda: SparkConfig(), description="The local SparkSession."
    )
    api: ApiConfig = Field(
        default_factory=lambda: ApiConfig(),
        description="The Customer API (host, port); keys under <home>/api_keys.json.",
    )
    streams: StreamsConfig = Field(
        default_factory=lambda: StreamsConfig(),
        description="The faust stream workers (count, ports, timeline retention).",
    )
    lake_dir: Path | None = Field(
        None, description="Root of the Delta tables (default <home>/lake)."
    )
    online_store: Literal["sqlite", "redis"] = Field(
        "sqlite", description="Feast online store: embedded SQLite, or Redis when scaling out."
    )
    redis: RedisConfig = Field(
        default_factory=lambda: RedisConfig(),
        description="The local Redis server, run when online_store is redis; data in <home>/redis.",
    )
    feature_store: FeatureStoreConfig = Field(
        default_factory=lambda: FeatureStoreConfig(),
        description=(
            "The Feast repo's state (registry, SQLite store, push logs in <home>/feature_store) "
            "and `omnicx features serve`; its online store and lake follow online_store/lake_dir."
        ),
    )
    own_email_domains: CommaList = Field(
        default_factory=list, description="Mail from these domains is outbound (comma-separated)."
    )
    own_email_addresses: CommaList = Field(
        default_factory=list, description="Mail from these addresses is outbound (comma-separated)."
    )
    own_social_handles: CommaList = Field(
        default_factory=list,
        description="Brand accounts: posts by these are outbound (comma-separated).",
    )
    sla_minutes: int = Field(60, ge=1, description="First-response SLA in minutes.")
    dlq_alert_threshold: int = Field(
        100,
        ge=0,
        description=(
            "Dagster's WARN check on bronze/rejections fails above this many records rejected "
            "within dlq_alert_window_minutes."
        ),
    )
    dlq_alert_window_minutes: int = Field(
        60, ge=1, description="The window of dlq_alert_threshold, in minutes."
    )
    rules: RulesConfig = Field(
        default_factory=lambda: RulesConfig(),
        description="Outreach rules: thresholds, cooldowns, severity, recommended actions.",
    )
    dagster_port: int = Field(
        3000, description="Dagster webserver port (omnicx up --with-dagster)."
    )

    @field_validator(
        "own_email_domains", "own_email_addresses", "own_social_handles", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if "data_dir" not in self.kafka.model_fields_set:
            self.kafka = self.kafka.model_copy(update={"data_dir": self.home / "kafka"})
        if self.spark.local_dir is None:
            self.spark = self.spark.model_copy(update={"local_dir": self.home / "spark-tmp"})
        if "keys_file" not in self.api.model_fields_set:
            self.api = self.api.model_copy(update={"keys_file": self.home / "api_keys.json"})
        if "data_dir" not in self.streams.model_fields_set:
            self.streams = self.streams.model_copy(update={"data_dir": self.home / "streams"})
        if "topic_replication_factor" not in self.streams.model_fields_set and self.manages_kafka:
            # The workers' changelogs get the local cluster's replication (3 on 3 brokers).
            self.streams = self.streams.model_copy(
                update={"topic_replication_factor": self.kafka.replication_factor}
            )
        self.lake_dir = (self.lake_dir or self.home / "lake").expanduser().resolve()
        if "data_dir" not in self.redis.model_fields_set:
            self.redis = self.redis.model_copy(update={"data_dir": self.home / "redis"})
        fs_paths = (
            {}
            if "data_dir" in self.feature_store.model_fields_set
            else {"data_dir": self.home / "feature_store"}
        )
        self.feature_store = self.feature_store.model_copy(
            update={
                **fs_paths,
                "lake_dir": self.lake_dir,
                "online_store": self.online_store,
                "redis_address": self.redis.address,
            }
        )
        return self

    @property
    def bootstrap(self) -> str:
        """Where Kafka clients connect: the configured cluster, or the local broker."""
        return self.kafka_bootstrap or self.kafka.bootstrap

    @property
    def manages_kafka(self) -> bool:
        """True when omnicx runs the broker itself (no external cluster configured)."""
        return self.kafka_bootstrap is None

    @property
    def run_dir(self) -> Path:
        """Pid files and logs of the processes `omnicx up` starts."""
        return self.home / "run"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and `omnicx.env`), with keyword overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
