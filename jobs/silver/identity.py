"""silver.identity_graph: connected components over identifiers seen together.

Two identifiers are linked when one event carries both. A component's anchor is the identifier
first seen earliest in event time, ties broken by the identifier key, and its customer_id is
`schemas.identity.customer_id_for(anchor_key)`: the same rule the stream side applies, so both
name every customer alike. The graph depends only on the set of events (never on their arrival
order), so it is recomputed from bronze and replaced whole on each run.

Components are found by min-label propagation where the label *is* the anchor candidate
(first_seen, key): after convergence every node carries its component's minimum, i.e. the anchor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.config import LakehouseConfig
from jobs.errors import IdentityNotConverged
from jobs.tables import SILVER_IDENTITY_GRAPH_SPEC, conform, ensure_table
from schemas.identity import CUSTOMER_ID_PREFIX

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def identifier_key(identifier: Column) -> Column:
    """`type:value`, as `schemas.events.Identifier.key`."""
    return F.concat(identifier["type"], F.lit(":"), identifier["value"])


def customer_id_col(anchor_key: Column) -> Column:
    """`schemas.identity.customer_id_for` as a Spark expression."""
    return F.concat(F.lit(CUSTOMER_ID_PREFIX), F.substring(F.sha2(anchor_key, 256), 1, 20))


def identifier_nodes(events: DataFrame) -> DataFrame:
    """One row per identifier: key, type, value, first/last seen, event count."""
    exploded = events.select("event_id", "occurred_at", F.explode("identifiers").alias("i")).select(
        "event_id",
        "occurred_at",
        identifier_key(F.col("i")).alias("identifier_key"),
        F.col("i")["type"].alias("identifier_type"),
        F.col("i")["value"].alias("identifier_value"),
    )
    return exploded.groupBy("identifier_key", "identifier_type", "identifier_value").agg(
        F.min("occurred_at").alias("first_seen_at"),
        F.max("occurred_at").alias("last_seen_at"),
        F.countDistinct("event_id").alias("event_count"),
    )


def identifier_edges(events: DataFrame) -> DataFrame:
    """Undirected links (src, dst) between identifiers carried by one event (a star from each
    event's first identifier is enough to connect them all)."""
    with_keys = events.select(F.transform("identifiers", identifier_key).alias("keys"))
    star = with_keys.select(
        F.element_at("keys", 1).alias("src"), F.explode("keys").alias("dst")
    ).where(F.col("src") != F.col("dst"))
    both = star.unionByName(star.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
    return both.distinct()


def connected_components(nodes: DataFrame, edges: DataFrame, max_iterations: int = 60) -> DataFrame:
    """(identifier_key, anchor_first_seen, anchor_key) for every node.

    Raises:
        IdentityNotConverged: labels still changed after `max_iterations` rounds.
    """
    label = F.struct(F.col("first_seen_at").alias("t"), F.col("identifier_key").alias("k"))
    labels = nodes.select("identifier_key", label.alias("label")).localCheckpoint()
    for _ in range(max_iterations):
        offered = (
            edges.join(labels.withColumnRenamed("identifier_key", "src"), "src")
            .groupBy(F.col("dst").alias("identifier_key"))
            .agg(F.min("label").alias("offer"))
        )
        updated = (
            labels.join(offered, "identifier_key", "left")
            .select(
                "identifier_key",
                F.when(
                    F.col("offer").isNotNull() & (F.col("offer") < F.col("label")), F.col("offer")
                )
                .otherwise(F.col("label"))
                .alias("label"),
                (F.col("offer").isNotNull() & (F.col("offer") < F.col("label"))).alias("changed"),
            )
            .localCheckpoint()
        )
        changed = updated.where("changed").limit(1).count()
        labels = updated.drop("changed")
        if not changed:
            return labels.select(
                "identifier_key",
                F.col("label")["t"].alias("anchor_first_seen"),
                F.col("label")["k"].alias("anchor_key"),
            )
    raise IdentityNotConverged(
        f"identity graph did not converge in {max_iterations} rounds; raise identity_max_iterations"
    )


def build_identity_graph(events: DataFrame, max_iterations: int = 60) -> DataFrame:
    """silver.identity_graph rows from bronze.interactions rows."""
    nodes = identifier_nodes(events)
    components = connected_components(nodes, identifier_edges(events), max_iterations)
    rows = nodes.join(components, "identifier_key").select(
        "identifier_key",
        "identifier_type",
        "identifier_value",
        customer_id_col(F.col("anchor_key")).alias("customer_id"),
        "anchor_key",
        "first_seen_at",
        "last_seen_at",
        "event_count",
        F.current_timestamp().alias("updated_at"),
    )
    return conform(rows, SILVER_IDENTITY_GRAPH_SPEC)


def refresh_identity_graph(spark: SparkSession, config: LakehouseConfig) -> int:
    """Recompute silver.identity_graph from bronze.interactions; returns identifier count."""
    from jobs.tables import BRONZE_INTERACTIONS_SPEC

    ensure_table(spark, config, BRONZE_INTERACTIONS_SPEC)
    path = ensure_table(spark, config, SILVER_IDENTITY_GRAPH_SPEC)
    bronze = spark.read.format("delta").load(BRONZE_INTERACTIONS_SPEC.path(config))
    graph = build_identity_graph(bronze, config.identity_max_iterations).localCheckpoint()
    graph.write.format("delta").mode("overwrite").save(path)
    return graph.count()
