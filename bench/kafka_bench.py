"""Kafka throughput through kafka-python and aiokafka against the local broker, and the
broker's cold-start time.

Cold start: `kafka_broker_cold_start_s` is `LocalKafka.start()` on a fresh data dir (our
wrapper: preflight, cluster id, properties, storage format, the JVM, waiting until a metadata
request lists the broker). Its peer, `kafka_bare_cold_start_s`, is Kafka without the wrapper:
`kafka.tools.StorageTool format` then `kafka.Kafka` straight from the same jars with a minimal
KRaft config, the JVM options of Kafka's own start scripts and our heap and log4j config, and
the same readiness check at the same 0.2 s poll; measured once before ours and once after the
throughput runs (ours stopped), and the mean reported, so neither side alone pays for a cold
page cache. `kafka_cold_start_vs_bare` is the wrapper's cost as a ratio.

Messages are 300-byte JSON documents, keyed, produced with acks=all and idempotence (what the
omnicx SDK uses), consumed from the beginning by a fresh consumer.

Size: OMNICX_BENCH_KAFKA_MESSAGES (default 100,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from bench.common import local_broker, ratio, report
from infra.kafka import KafkaConfig
from infra.kafka.broker import LOG4J_CONFIG, new_cluster_id
from infra.procs import free_port, port_answers

N = int(os.environ.get("OMNICX_BENCH_KAFKA_MESSAGES", "100000"))
PARTITIONS = 3


def _payloads(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        doc = {
            "event_id": f"evt-{i:012d}",
            "channel": "chat",
            "customer": f"c-{i % 5000}",
            "text": "",
        }
        raw = json.dumps(doc)
        doc["text"] = "x" * (300 - len(raw))
        value = json.dumps(doc).encode()
        assert len(value) == 300
        out.append((f"c-{i % 5000}".encode(), value))
    return out


def _create(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        {topic: {"num_partitions": PARTITIONS, "replication_factor": 1}}, wait_for_metadata=True
    )
    admin.close()


def kafka_python_produce(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes]]) -> float:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=128 * 1024,
    )
    t0 = time.perf_counter()
    for key, value in msgs:
        producer.send(topic, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    return len(msgs) / elapsed


def kafka_python_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    count = 0
    t0 = time.perf_counter()
    while count < n:
        for records in consumer.poll(timeout_ms=1000).values():
            count += len(records)
    elapsed = time.perf_counter() - t0
    consumer.close()
    return count / elapsed


async def _aiokafka_produce(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=128 * 1024,
    )
    await producer.start()
    t0 = time.perf_counter()
    futures = []
    for key, value in msgs:
        futures.append(await producer.send(topic, key=key, value=value))
    await producer.flush()
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - t0
    await producer.stop()
    return len(msgs) / elapsed


async def _aiokafka_consume(bootstrap: str, topic: str, n: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    count = 0
    t0 = time.perf_counter()
    while count < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        count += sum(len(r) for r in batch.values())
    elapsed = time.perf_counter() - t0
    await consumer.stop()
    return count / elapsed


def _brokers(bootstrap: str) -> int:
    """Brokers a metadata request lists (0 while the broker does not answer)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=3000
        )
    except (KafkaConnectionError, KafkaTimeoutError, OSError):
        return 0
    try:
        return len(admin.describe_cluster().get("brokers", []))
    except (KafkaConnectionError, KafkaTimeoutError, OSError):
        return 0
    finally:
        admin.close()


def bare_cold_start(work: Path, timeout: float = 180.0) -> float:
    """Seconds from nothing to a broker answering metadata, with Kafka's own main classes."""
    port, controller = free_port(), free_port()
    config = KafkaConfig()  # what local_broker runs: its java, jars and heap
    work.mkdir(parents=True)
    props = work / "server.properties"
    props.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        f"controller.quorum.voters=1@127.0.0.1:{controller}\n"
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        f"log.dirs={work / 'data'}\n"
        "offsets.topic.replication.factor=1\n"
        "transaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
    )
    # kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS, with our heap and log4j config.
    java = [
        config.java, f"-Xms{min(config.heap_mb, 256)}m", f"-Xmx{config.heap_mb}m", "-server",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={work}", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp", f"{config.jars_dir.resolve()}/*",
    ]  # fmt: skip
    bootstrap = f"127.0.0.1:{port}"
    t0 = time.perf_counter()
    subprocess.run(
        [*java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(props)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    with open(work / "server.out", "wb") as out:
        proc = subprocess.Popen([*java, "kafka.Kafka", str(props)], stdout=out, stderr=out)
    try:
        while not (port_answers("127.0.0.1", port) and _brokers(bootstrap) >= 1):
            if proc.poll() is not None:
                raise RuntimeError(f"bare kafka.Kafka exited ({work / 'server.out'})")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"bare kafka.Kafka did not answer in {timeout:.0f} s")
            time.sleep(0.2)
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    msgs = _payloads(N)
    with tempfile.TemporaryDirectory() as bare_tmp:
        bare = [bare_cold_start(Path(bare_tmp) / "before")]
    with tempfile.TemporaryDirectory() as tmp, local_broker(Path(tmp) / "kafka") as (kafka, cold):
        report("kafka_broker_cold_start_s", cold, "s")
        bootstrap = kafka.bootstrap
        _create(bootstrap, "bench-kp")
        _create(bootstrap, "bench-aio")
        kp_prod = kafka_python_produce(bootstrap, "bench-kp", msgs)
        report("kafka_produce_msgs_per_s.kafka_python", kp_prod, "msgs/s")
        aio_prod = asyncio.run(_aiokafka_produce(bootstrap, "bench-aio", msgs))
        report("kafka_produce_msgs_per_s.aiokafka", aio_prod, "msgs/s")
        ratio("kafka_produce_aiokafka_vs_kafka_python", aio_prod, kp_prod, "kafka-python")
        kp_cons = kafka_python_consume(bootstrap, "bench-kp", N)
        report("kafka_consume_msgs_per_s.kafka_python", kp_cons, "msgs/s")
        aio_cons = asyncio.run(_aiokafka_consume(bootstrap, "bench-aio", N))
        report("kafka_consume_msgs_per_s.aiokafka", aio_cons, "msgs/s")
        ratio("kafka_consume_aiokafka_vs_kafka_python", aio_cons, kp_cons, "kafka-python")
    with tempfile.TemporaryDirectory() as bare_tmp:
        bare.append(bare_cold_start(Path(bare_tmp) / "after"))
    print(f"bare kafka.Kafka cold starts: {', '.join(f'{s:.2f}' for s in bare)} s", flush=True)
    report("kafka_bare_cold_start_s", sum(bare) / len(bare), "s")
    ratio(
        "kafka_cold_start_vs_bare",
        cold,
        sum(bare) / len(bare),
        "kafka_bare_cold_start_s",
        ours_name="kafka_broker_cold_start_s",
    )


if __name__ == "__main__":
    main()
