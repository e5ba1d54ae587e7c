"""The typed configuration every batch job receives (composed by `omnicx.settings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from schemas.topics import DLQ, ERASURES, IDENTITY, INTERACTIONS


class LakehouseConfig(BaseModel):
    """Where the lake is, where its sources are, and the KPI definitions' parameters.

    The KPI parameters match the stream side's real-time features (`schemas/features.py`): a
    repeat contact is 3+ contacts in 24 h, a channel fallback is a phone contact within 60 min of
    a digital one.
    """

    lake_dir: Path = Field(Path(".omnicx/lake"), description="Root of the Delta tables.")
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers.")
    interactions_topic: str = Field(INTERACTIONS, description="Canonical events to ingest.")
    dlq_topic: str = Field(DLQ, description="Dead-letter topic ingested as bronze.rejections.")
    erasures_topic: str = Field(
        ERASURES, description="Erasure requests; their identifier hashes are suppressed."
    )
    identity_topic: str = Field(
        IDENTITY, description="Compacted identity links; erasure tombstones their identifiers."
    )
    max_offsets_per_partition: int | None = Field(
        None,
        ge=1,
        description="Cap on records read per Kafka partition in one bronze run (None: all).",
    )
    sla_minutes: int = Field(60, ge=1, description="First-response SLA in minutes.")
    fallback_window_minutes: int = Field(
        60, ge=1, description="A phone contact this soon after a digital one is a fallback."
    )
    repeat_contacts: int = Field(3, ge=2, description="Contacts in the window that make a repeat.")
    repeat_window_hours: int = Field(24, ge=1, description="Window of the repeat-contact rule.")
    identity_max_iterations: int = Field(
        60, ge=1, description="Label-propagation rounds before the identity graph gives up."
    )

    def table_path(self, name: str) -> Path:
        """The folder of lake table `name` (`bronze/interactions`, ...)."""
        return self.lake_dir / name
