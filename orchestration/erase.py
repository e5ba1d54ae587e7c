"""The erase job: right to be forgotten from Dagster (config: the customer id).

`erase_customer_job` runs two ops: the lake (publish the request on cx.erasures.v1, tombstone
cx.identity.v1, DELETE + REORG PURGE + VACUUM every Delta table; `jobs.erase`), then the Feast
online store. The stream workers and ingestion act on the published request themselves
(`streams.workers.erasure`, `streams.ingest.suppression`). `omnicx erase` does the same and
also reads the stream workers' identity graph, so it can erase a customer the lake has not
seen yet; this job needs the customer in silver.identity_graph.

Launch from the UI (Launchpad) or `dagster job execute -m omnicx.dagster_defs -j
erase_customer_job -c run.yaml` with
`ops: {erase_from_lake: {config: {customer_id: cus_...}}, erase_from_online_store: {config:
{customer_id: cus_...}}}`.
"""

from typing import Any

from dagster import Config, OpExecutionContext, job, op

from orchestration.definitions import LakehouseResource
from orchestration.feast import FeatureStoreResource

__all__ = ["EraseConfig", "FeatureStoreResource", "erase_customer_job"]


class EraseConfig(Config):  # type: ignore[misc]
    """Who to erase."""

    customer_id: str
    reason: str = "data subject request"


@op
def erase_from_lake(
    context: OpExecutionContext, config: EraseConfig, lakehouse: LakehouseResource
) -> dict[str, Any]:
    """Publish the erasure request and remove the customer from every Delta table and file."""
    from jobs.erase import erase_customer

    result = erase_customer(
        lakehouse.spark(), lakehouse.config(), config.customer_id, config.reason, context.log.info
    )
    out = {
        "customer_id": result.customer_id,
        "identifiers": len(result.identifier_keys),
        "tombstones": result.tombstones,
        "deleted_rows": result.deleted_rows,
        "files_removed": result.files_removed,
    }
    context.log.info(f"lake erasure: {out}")
    return out


@op
def erase_from_online_store(
    context: OpExecutionContext,
    config: EraseConfig,
    feature_store: FeatureStoreResource,
    lake: dict[str, Any],
) -> int:
    """Remove the customer from the Feast online store and the real-time push log (after the
    lake, so a materialisation racing the erasure finds nothing left to load)."""
    from feature_store.client import FeatureStoreClient

    fs = feature_store.config().resolved()
    if fs.online_store == "sqlite" and not fs.sqlite_path.exists():
        context.log.info(f"no online store at {fs.sqlite_path}: nothing to erase")
        return 0
    with FeatureStoreClient(fs) as client:
        found = client.delete_customers([config.customer_id])
    context.log.info(f"online store ({fs.online_store}): {found} customer(s) removed")
    return found


@job(description="Right to be forgotten: lake, Feast online store; streams follow the request.")
def erase_customer_job() -> None:
    erase_from_online_store(erase_from_lake())
