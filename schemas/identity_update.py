"""IdentityUpdate v1: the records on cx.identity.v1 (compacted).

Two kinds share the topic:

- `link`: key = identifier key (`type:value`); "this identifier now belongs to `customer_id`".
  The latest link per identifier survives compaction, so the topic is a lookup table.
- `merge`: key = the merged customer_id; "`merged_customer_id` now lives on as `customer_id`".
  Anyone holding the old id follows it to the survivor (chains are possible: follow until an id
  has no merge record).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class IdentityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["link", "merge"]
    customer_id: str = Field(min_length=1, description="the (surviving) customer")
    identifier: str | None = Field(None, description="link: the identifier key")
    merged_customer_id: str | None = Field(None, description="merge: the id that was merged")
    event_id: str = Field(min_length=1, description="the event that caused the update")
    occurred_at: AwareDatetime = Field(description="event time of that event")
    schema_version: Literal[1] = 1

    @property
    def key(self) -> str:
        """The Kafka key on cx.identity.v1."""
        return str(self.identifier if self.kind == "link" else self.merged_customer_id)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> IdentityUpdate:
        return cls.model_validate_json(data)
