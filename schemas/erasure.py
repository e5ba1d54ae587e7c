"""Right to be forgotten: the erasure request every store acts on (cx.erasures.v1).

`omnicx erase` publishes one request per customer. Stream workers delete the customer's state
and tombstone its identity links; ingestion refuses new events carrying any of the hashed
identifiers (the suppression list); batch jobs delete the customer from every Delta table.
The request holds identifier hashes, never the identifiers themselves.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1)
    identifier_hashes: list[str] = Field(
        default_factory=list, description="schemas.identity.identifier_hash of each identifier"
    )
    requested_at: AwareDatetime
    reason: str = "data subject request"
    schema_version: int = 1

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> ErasureRequest:
        return cls.model_validate_json(data)
