"""Run Apache Kafka locally in KRaft combined mode from the jars in infra/kafka/target/lib.

One node by default; `nodes=3` gives the scale-out shape on loopback (replication factor 3,
min ISR 2) for reliability tests. Every node keeps its properties, data and logs under
`data_dir/node-<id>/`, and the cluster id under `data_dir/cluster.id`, so a restart reuses the
formatted storage and keeps the data.
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from infra.errors import ConfigurationError, ServiceStartError
from infra.maven import resolved_jars
from infra.procs import ManagedProcess, port_answers, port_is_free, require_executable, tail

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_JARS_DIR = PACKAGE_DIR / "target" / "lib"
LOG4J_CONFIG = PACKAGE_DIR / "log4j2.properties"
MAIN_CLASS = "kafka.Kafka"

log = logging.getLogger(__name__)


def new_cluster_id() -> str:
    """A KRaft cluster id: a 22-character URL-safe base64 UUID (a hex GUID is refused).

    Like Kafka's own ``Uuid.randomUuid``, never one that starts with ``-``: kafka-storage's
    argument parser would take ``-t -abc...`` for two options and fail with "expected one
    argument" (this broke one CI run in 64).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


KAFKA_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
)
"""Kafka's own garbage-collector options (`kafka-run-class.sh`)."""

SMALL_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseParallelGC")
"""A broker on a machine of a few cores that it shares with the stream workers.

Measured on the 2-core machine during the stream benchmark's freshness run (1,000 events/s,
2026-12-07), the broker with Kafka's options used 19.7-20.2 CPU seconds in 23 s, most of it
not serving requests: the C2 compiler 8.4-8.5 s (still compiling a minute after start) and
G1's concurrent marking and GC threads 3.6 s, against 5.6-6.0 s for the request handlers.
C1 alone compiles in a fraction of that and the parallel collector's young collections cost
~0.1 s: 9.3-9.6 s in all, and that CPU went to the worker (docs/infra.md has the runs)."""


def jvm_options(profile: str) -> tuple[str, ...]:
    """The JVM options of a broker for `KafkaConfig.jvm`."""
    return SMALL_JVM_OPTIONS if profile == "small" else KAFKA_JVM_OPTIONS


class KafkaConfig(BaseModel):
    """Where and how the local Kafka broker (or cluster) runs."""

    host: str = Field("127.0.0.1", description="Interface the brokers listen on.")
    port: int = Field(19092, description="Client port of node 1; node N listens on port + N - 1.")
    controller_port: int = Field(
        19192, description="KRaft controller port of node 1; node N uses controller_port + N - 1."
    )
    nodes: int = Field(1, ge=1, le=9, description="1 for a single broker, 3 for the cluster shape.")
    data_dir: Path = Field(Path(".omnicx/kafka"), description="Broker storage, configs and logs.")
    heap_mb: int = Field(512, ge=128, description="JVM heap of each broker.")
    jvm: Literal["small", "kafka"] = Field(
        "small",
        description=(
            "JVM options of the brokers. 'small' (a broker sharing a few cores with the stream "
            "workers): the C1 compiler only and the parallel collector; 'kafka': Kafka's own "
            "(kafka-run-class.sh: G1, pauses of 20 ms, both compilers). See docs/infra.md."
        ),
    )
    java: str = Field("java", description="The java executable (Java 17 or newer).")
    jars_dir: Path = Field(DEFAULT_JARS_DIR, description="Where Maven put the broker jars.")
    start_timeout_s: float = Field(90.0, description="How long start() waits for the brokers.")
    default_partitions: int = Field(
        3, ge=1, description="Partitions of topics that clients create without saying how many."
    )

    @property
    def replication_factor(self) -> int:
        return min(3, self.nodes)

    @property
    def min_insync_replicas(self) -> int:
        return 2 if self.nodes >= 3 else 1

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.host}:{self.port + i}" for i in range(self.nodes))


@dataclass(frozen=True)
class NodeStatus:
    """What `LocalKafka.status()` reports for one node."""

    node_id: int
    address: str
    pid: int | None
    answering: bool

    @property
    def up(self) -> bool:
        return self.pid is not None and self.answering


class LocalKafka:
    """Start, stop and inspect a local Kafka broker or cluster.

    Args:
        config: ports, data directory, heap and node count.
    """

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()

    # -- layout -------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.config.bootstrap

    def node_ids(self) -> list[int]:
        return list(range(1, self.config.nodes + 1))

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    def client_port(self, node_id: int) -> int:
        return self.config.port + node_id - 1

    def controller_port(self, node_id: int) -> int:
        return self.config.controller_port + node_id - 1

    def process(self, node_id: int) -> ManagedProcess:
        node_dir = self.node_dir(node_id)
        props = node_dir / "server.properties"
        return ManagedProcess(
            name=f"kafka node {node_id}",
            argv=self._java_argv(node_id, MAIN_CLASS, str(props)),
            pidfile=node_dir / "broker.pid",
            logfile=node_dir / "logs" / "server.out",
            extra_logs=(node_dir / "logs" / "server.log",),
            # The properties path is unique to this node of this data dir.
            marker=str(props),
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every node that is not running and wait until the cluster answers.

        Raises:
            ConfigurationError: java or the jars are missing, or a port is taken by another
                program.
            ServiceStartError: a node exited or did not answer in time (with its log tail).
        """
        self._preflight()
        cluster_id = self._cluster_id()
        started: list[int] = []
        for node_id in self.node_ids():
            proc = self.process(node_id)
            if proc.is_running():
                continue
            self._write_properties(node_id)
            self._format_storage(node_id, cluster_id)
            proc.start()
            started.append(node_id)
        if started:
            log.info("started kafka nodes %s, waiting for the cluster to answer", started)
        try:
            self.wait_ready(self.config.start_timeout_s)
        except BaseException:
            # Leave nothing half-started behind: a failed start stops what it launched.
            for node_id in started:
                self.process(node_id).stop(timeout=10)
            raise

    def wait_ready(self, timeout: float) -> None:
        """Wait until every node is registered with the cluster and answers a metadata request."""
        expected = self.config.nodes
        deadline = time.monotonic() + timeout
        for node_id in self.node_ids():
            proc = self.process(node_id)
            remaining = max(1.0, deadline - time.monotonic())
            proc.wait_until(
                partial(port_answers, self.config.host, self.client_port(node_id)),
                remaining,
                f"port {self.client_port(node_id)} open",
                hint=partial(self._diagnose, node_id),
            )
        proc = self.process(1)
        proc.wait_until(
            lambda: self._registered_brokers() >= expected,
            max(1.0, deadline - time.monotonic()),
            f"{expected} broker(s) answering a metadata request",
            hint=lambda: self._diagnose(1),
        )

    def stop(self, timeout: float = 30.0) -> list[int]:
        """Stop every running node (SIGTERM, controlled shutdown). Returns the stopped ids."""
        procs = [(nid, self.process(nid)) for nid in self.node_ids()]
        running = [(nid, p) for nid, p in procs if p.is_running()]
        # Signal all first: a KRaft quorum that loses its majority one node at a time can leave
        # the last node waiting for controllers that are already gone.
        for _, p in running:
            p.terminate()
        for _, p in running:
            p.stop(timeout=timeout)
        return [nid for nid, _ in running]

    def stop_node(self, node_id: int, timeout: float = 30.0) -> bool:
        """Stop one node (controlled shutdown)."""
        return self.process(node_id).stop(timeout=timeout)

    def kill_node(self, node_id: int) -> bool:
        """SIGKILL one node, as a crash would."""
        return self.process(node_id).kill()

    def start_node(self, node_id: int) -> None:
        """Start one node of an already formatted cluster and wait for its port."""
        self._check_java_and_jars()
        proc = self.process(node_id)
        if not proc.is_running():
            self._write_properties(node_id)
            self._format_storage(node_id, self._cluster_id())
            proc.start()
        proc.wait_until(
            partial(port_answers, self.config.host, self.client_port(node_id)),
            self.config.start_timeout_s,
            f"port {self.client_port(node_id)} open",
            hint=partial(self._diagnose, node_id),
        )

    def purge(self) -> None:
        """Stop the cluster and delete its data directory (all local events are lost)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def status(self) -> list[NodeStatus]:
        """Per node: pid if running, and whether its client port accepts connections."""
        out = []
        for node_id in self.node_ids():
            port = self.client_port(node_id)
            out.append(
                NodeStatus(
                    node_id=node_id,
                    address=f"{self.config.host}:{port}",
                    pid=self.process(node_id).pid(),
                    answering=port_answers(self.config.host, port),
                )
            )
        return out

    def is_up(self) -> bool:
        """True when every node runs and the cluster answers a metadata request."""
        return all(s.up for s in self.status()) and self._registered_brokers() >= self.config.nodes

    # -- internals ----------------------------------------------------------------------------

    def _check_java_and_jars(self) -> list[Path]:
        require_executable(
            self.config.java,
            "Kafka needs Java 17 or newer: install it (apt-get install openjdk-17-jre-headless) "
            "or set OMNICX_KAFKA__JAVA to its path",
        )
        return resolved_jars(self.config.jars_dir, "Kafka")

    def _preflight(self) -> None:
        self._check_java_and_jars()
        for node_id in self.node_ids():
            if self.process(node_id).is_running():
                continue
            for port, what, setting in (
                (self.client_port(node_id), "client", "OMNICX_KAFKA__PORT"),
                (self.controller_port(node_id), "controller", "OMNICX_KAFKA__CONTROLLER_PORT"),
            ):
                if not port_is_free(self.config.host, port):
                    raise ConfigurationError(
                        f"port {port} on {self.config.host} (kafka node {node_id} {what} port) is "
                        f"already in use by another program: stop it or set {setting} to a free "
                        "port"
                    )

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.exists():
            stored = path.read_text().strip()
            # An id starting with "-" is read by kafka-storage as an option and never formatted
            # anything (format is skipped once meta.properties exists), so it is safe to replace.
            if stored and not stored.startswith("-"):
                return stored
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    def _properties(self, node_id: int) -> dict[str, str]:
        c = self.config
        host = c.host
        voters = ",".join(f"{nid}@{host}:{self.controller_port(nid)}" for nid in self.node_ids())
        rf = str(c.replication_factor)
        min_isr = str(c.min_insync_replicas)
        return {
            "process.roles": "broker,controller",
            "node.id": str(node_id),
            "controller.quorum.voters": voters,
            "listeners": (
                f"PLAINTEXT://{host}:{self.client_port(node_id)},"
                f"CONTROLLER://{host}:{self.controller_port(node_id)}"
            ),
            "advertised.listeners": f"PLAINTEXT://{host}:{self.client_port(node_id)}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.node_dir(node_id) / "data"),
            "num.partitions": str(c.default_partitions),
            "default.replication.factor": rf,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.check.interval.ms": "60000",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }

    def _write_properties(self, node_id: int) -> Path:
        node_dir = self.node_dir(node_id)
        (node_dir / "logs").mkdir(parents=True, exist_ok=True)
        path = node_dir / "server.properties"
        body = "".join(f"{k}={v}\n" for k, v in self._properties(node_id).items())
        path.write_text(
            "# written by omnicx (infra/kafka/broker.py); edits are overwritten\n" + body
        )
        return path

    def _java_argv(self, node_id: int, main_class: str, *args: str) -> list[str]:
        jars = self.config.jars_dir.resolve()
        heap = self.config.heap_mb
        return [
            self.config.java,
            f"-Xms{min(heap, 256)}m",
            f"-Xmx{heap}m",
            "-server",
            *jvm_options(self.config.jvm),
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.node_dir(node_id) / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{jars}/*",
            main_class,
            *args,
        ]

    def _format_storage(self, node_id: int, cluster_id: str) -> None:
        node_dir = self.node_dir(node_id)
        if (node_dir / "data" / "meta.properties").exists():
            return
        argv = self._java_argv(
            node_id,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(node_dir / "server.properties"),
            "--ignore-formatted",
        )
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            output = (proc.stdout + proc.stderr).strip()
            last = output.splitlines()[-1] if output else "no output"
            raise ServiceStartError(
                f"formatting the storage of kafka node {node_id} in {node_dir / 'data'} failed: "
                f"{last}; if that directory is damaged, run 'omnicx down --purge' to start empty",
                detail=output[-4000:],
            )

    def _registered_brokers(self) -> int:
        """How many brokers a metadata request reports (0 if the cluster does not answer)."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaConnectionError, KafkaTimeoutError

        # Only "not there yet" errors mean 0; anything else is a bug and must surface.
        not_ready = (KafkaConnectionError, KafkaTimeoutError, OSError)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="omnicx-healthcheck",
                request_timeout_ms=3000,
                bootstrap_timeout_ms=3000,
            )
        except not_ready:
            return 0
        try:
            return len(admin.describe_cluster().get("brokers", []))
        except not_ready:
            return 0
        finally:
            admin.close()

    def _diagnose(self, node_id: int) -> str:
        """Kafka's own reason and what to do, read from the node's logs after a failed start."""
        node_dir = self.node_dir(node_id)
        text = (
            tail(node_dir / "logs" / "server.out", 300)
            + "\n"
            + tail(node_dir / "logs" / "server.log", 300)
        )
        reason = _fatal_reason(text)
        data = node_dir / "data"
        if re.search(
            rf"{re.escape(str(data))}|meta\.properties|InconsistentClusterId|"
            r"CorruptRecordException|KafkaStorageException|Invalid cluster",
            reason or text,
        ):
            advice = (
                f"its data directory {data} is damaged or belongs to another cluster: "
                "run 'omnicx down --purge' to delete it and start empty"
            )
        elif "Address already in use" in text:
            advice = "a port it needs is taken by another program: change OMNICX_KAFKA__PORT"
        elif "UnsupportedClassVersionError" in text:
            advice = "Kafka 4 needs Java 17 or newer"
        else:
            advice = ""
        return "; ".join(
            part for part in (f"Kafka says: {reason}" if reason else "", advice) if part
        )


def _fatal_reason(log_text: str) -> str:
    """The exception line that follows Kafka's "fatal exception" line, or the last ERROR."""
    lines = log_text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if "fatal exception" in lines[i].lower() and i + 1 < len(lines):
            return lines[i + 1].strip()
    errors = [line for line in lines if " ERROR " in line or "Exception:" in line]
    return errors[-1].strip()[:300] if errors else ""
