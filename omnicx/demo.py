"""`make demo` (`omnicx demo`): the platform end to end on embedded defaults.

The demo is a list of named steps (`DEMO_STEPS`) run in order over one `DemoRun`:

1. `start the stack`: `omnicx up` (Kafka, stream workers, Customer API) and the topic registry;
2. `simulate traffic`: a day of native channel payloads (`omnicx.simulate`);
3. `ingest`: every simulated file and the real tweets of `data/samples/twcs_sample.csv` through
   the ingest pipeline, with the simulated business's own addresses;
4. `stream processing`: wait (measured, not slept) until the workers' consumer group has read
   everything: no lag on its input topics;
5. `lakehouse` (`omnicx/demo_lakehouse.py`): bronze -> silver -> gold materialised through
   Dagster into the stack's instance, then the KPI table and the HTML report;
6. `features to Feast`: wait until the feature pusher (`streams.features.pusher`, started by
   `omnicx up`) has pushed every customer's latest features to the Feast online store, and
   read them back;
7. `report`: counts, signals by type, the linked customer's timeline through the Customer API.

A later stage joins with one call, e.g. the lakehouse (issue 6):
`add_step("lakehouse", run_lakehouse, after="stream processing")`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from omnicx.errors import OmnicxError
from omnicx.settings import SAMPLE_TWEETS, Settings
from schemas.topics import ingest_topic

# 1,500 customers: ~8,500 events, which one stream worker takes 1.5-2.5 min for on the shared
# 2-core machine (2,000 customers: 11,400 events, 3.5 min at a load average of 17).
DEMO_CUSTOMERS = 1_500
DEMO_SEED = 7
DEMO_SCOPES = ["read:timeline", "read:features", "read:signals", "read:identity"]
# The journeys whose people should raise each rule's signal (docs/simulator.md).
EXPECTED_SIGNALS = {
    "channel_fallback": "app_chat_phone",
    "repeat_contact": "repeat_contact",
    "unanswered_public_post": "unanswered_public_post",
    "negative_sentiment": "unanswered_public_post",
}


@dataclass
class DemoOptions:
    """What the demo runs on."""

    customers: int = DEMO_CUSTOMERS
    seed: int = DEMO_SEED
    tweets: Path = SAMPLE_TWEETS
    down_after: bool = False
    streams_timeout_s: float = 900.0
    skip: frozenset[str] = frozenset()  # step names not to run (e.g. "lakehouse")


@dataclass
class ChannelCounts:
    """Ingest counts of one source (a channel's simulated files, or the real tweets)."""

    source: str
    channel: str
    files: list[str]
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    events: int = 0
    expected_malformed: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class DemoRun:
    """State shared by the steps; the report (and the test) read it."""

    settings: Settings
    options: DemoOptions
    console: Console
    sim_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    ingested: list[ChannelCounts] = field(default_factory=list)
    stream_stats: dict[str, int] = field(default_factory=dict)
    features_pushed: int = 0
    signals_by_type: Counter[str] = field(default_factory=Counter)
    linked: dict[str, Any] = field(default_factory=dict)
    key_file: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    feast_apply: Future[str] | None = None  # started early: `feast apply` takes a minute

    @property
    def demo_dir(self) -> Path:
        return self.settings.home / "demo"


StepFn = Callable[[DemoRun], None]
DEMO_STEPS: list[tuple[str, StepFn]] = []


def add_step(name: str, fn: StepFn, after: str | None = None) -> None:
    """Add a named step, at the end or right after the step named `after`."""
    names = [n for n, _ in DEMO_STEPS]
    if name in names:
        raise ValueError(f"demo step {name!r} exists already")
    index = len(DEMO_STEPS) if after is None else names.index(after) + 1
    DEMO_STEPS.insert(index, (name, fn))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


# -- 1. the stack ---------------------------------------------------------------------------


def start_stack(run: DemoRun) -> None:
    """`omnicx up`: broker, topics, stream workers, Customer API (already running: kept)."""
    from omnicx.stack import LocalStack

    stack = LocalStack(run.settings)
    with run.console.status("starting the local stack") as status:
        statuses = stack.up(on_start=lambda name: status.update(f"starting {name}"))
    for s in statuses:
        run.console.print(f"  {s.name:8} {s.address:24} {'up' if s.up else '[red]DOWN[/]'}")
    if not all(s.up for s in statuses):
        raise OmnicxError("the stack did not come up: see `omnicx status` and <home>/run/*.log")


# -- 2. traffic -----------------------------------------------------------------------------


def start_feast_apply(run: DemoRun) -> None:
    """`feast apply` in a background thread: it needs nothing of the traffic and takes about a
    minute, so it overlaps ingestion and stream processing; `push_features` waits for it."""
    from feature_store.client import FeatureStoreClient

    def apply() -> str:
        with FeatureStoreClient(run.settings.feature_store) as client:
            return client.apply()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feast-apply")
    run.feast_apply = pool.submit(apply)
    pool.shutdown(wait=False)


def simulate_traffic(run: DemoRun) -> None:
    """A day of simulated traffic into <home>/demo/simulated (seeded: re-runs give the same
    records, hence the same event ids, so the stream state does not double)."""
    start_feast_apply(run)
    from omnicx.simulate.config import Scale, SimulateConfig
    from omnicx.simulate.run import simulate

    out = run.demo_dir / "simulated"
    config = SimulateConfig.for_scale(
        Scale.DEMO,
        customers=run.options.customers,
        days=1,
        seed=run.options.seed,
        out=out,
        # twcs CSV only: the v2 JSON holds the same tweets under other record ids.
        twitter_v2=False,
    )
    with _progress(run.console) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = "simulating customers" if phase == "people" else "writing files"
                tasks[phase] = progress.add_task(label, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        result = simulate(config, progress=on_progress)
    run.sim_dir, run.manifest = out, result.manifest
    journeys = ", ".join(
        f"{k} {v['people']}" for k, v in result.manifest["journeys"].items() if k != "background"
    )
    run.console.print(
        f"  {result.records:,} records for {run.options.customers:,} customers "
        f"({result.manifest['start']} to {result.manifest['end']}); journeys: {journeys}"
    )


# -- 3. ingest ------------------------------------------------------------------------------


def ingest_sources(run: DemoRun) -> list[ChannelCounts]:
    """What the demo ingests: each simulated channel's files, then the real tweets."""
    sources = []
    for channel, info in run.manifest.get("channels", {}).items():
        sources.append(
            ChannelCounts(
                "simulated",
                channel,
                list(info["files"]),
                expected_malformed=int(info["malformed"]),
            )
        )
    if run.options.tweets:
        sources.append(ChannelCounts("real tweets", "social", [str(run.options.tweets)]))
    return sources


def ingest_files(run: DemoRun) -> None:
    """Every file through the ingest pipeline, with the manifest's own addresses."""
    from kafka.errors import KafkaError

    from omnicx.cli_ingest import ingest_config
    from streams.ingest import Ingestor, make_producer
    from streams.ingest.pipeline import IngestError

    business = run.manifest.get("business", {})
    settings = run.settings.model_copy(
        update={
            "own_email_domains": business.get("own_email_domains", []),
            "own_email_addresses": business.get("own_email_addresses", []),
            # The real tweets' brands (AppleSupport, ...) write with inbound=False already.
            "own_social_handles": business.get("own_social_handles", []),
        }
    )
    try:
        producer = make_producer(settings.bootstrap)
    except KafkaError as exc:
        raise OmnicxError(f"Kafka at {settings.bootstrap} does not answer: {exc}") from exc
    ingestor = Ingestor(producer, ingest_config(settings))
    sources = ingest_sources(run)
    try:
        with _progress(run.console) as progress:
            for src in sources:
                paths = [
                    p if Path(p).is_absolute() else str((run.sim_dir or Path()) / p)
                    for p in src.files
                ]
                split = [(p, ingestor.split(src.channel, Path(p).read_bytes(), p)) for p in paths]
                task = progress.add_task(
                    f"{src.channel} ({src.source})", total=sum(len(r) for _, r in split)
                )

                def advance(n: int, task: TaskID = task) -> None:
                    progress.advance(task, n)

                for _path, records in split:
                    result = ingestor.ingest_records(
                        src.channel, records, stage="ingest_file", on_progress=advance
                    )
                    result.check()
                    src.read += result.read
                    src.accepted += result.accepted
                    src.rejected += result.rejected
                    src.events += result.events
                    for reason, n in result.by_reason.items():
                        src.reasons[reason] = src.reasons.get(reason, 0) + n
                run.ingested.append(src)
    except IngestError as exc:
        raise OmnicxError(str(exc)) from exc
    finally:
        producer.close(timeout=10)
    run.console.print(ingest_table(run.ingested))


def ingest_table(rows: list[ChannelCounts]) -> Table:
    table = Table(title="ingested: read = accepted + rejected (rejected records on cx.dlq.v1)")
    for col in ("channel", "source", "read", "accepted", "rejected", "malformed", "events"):
        table.add_column(col, justify="left" if col in ("channel", "source") else "right")
    for r in rows:
        table.add_row(
            r.channel,
            r.source,
            f"{r.read:,}",
            f"[green]{r.accepted:,}[/]",
            f"[red]{r.rejected:,}[/]",
            "-" if r.expected_malformed is None else f"{r.expected_malformed:,}",
            f"{r.events:,}",
        )
    table.add_row(
        "[bold]total",
        "",
        f"{sum(r.read for r in rows):,}",
        f"{sum(r.accepted for r in rows):,}",
        f"{sum(r.rejected for r in rows):,}",
        "",
        f"{sum(r.events for r in rows):,}",
    )
    table.caption = "malformed: broken on purpose by the simulator (its manifest)"
    return table


# -- 4. stream processing -------------------------------------------------------------------


def _group_topics(settings: Settings) -> list[str]:
    from streams.workers.config import first_responses_topic, identity_in_topic, resolved_topic

    app = settings.streams.app_id
    return [
        settings.streams.interactions_topic,
        identity_in_topic(app),
        resolved_topic(app),
        first_responses_topic(app),
    ]


def _group_offsets(
    consumer: KafkaConsumer, group_topics: list[str]
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition of the group's input topics: (offset the group committed, end offset)."""
    partitions = [
        TopicPartition(t, p) for t in group_topics for p in consumer.partitions_for_topic(t) or ()
    ]
    ends = consumer.end_offsets(partitions)
    return {tp: (consumer.committed(tp) or 0, ends[tp]) for tp in partitions}


def group_progress(consumer: KafkaConsumer, group_topics: list[str]) -> tuple[int, int]:
    """(records the workers' group has committed, records in its input topics)."""
    offsets = _group_offsets(consumer, group_topics).values()
    return sum(min(committed, end) for committed, end in offsets), sum(e for _c, e in offsets)


def group_lag(consumer: KafkaConsumer, group_topics: list[str]) -> dict[TopicPartition, int]:
    """The partitions of the group's input topics it has not committed to their end: lag."""
    offsets = _group_offsets(consumer, group_topics)
    return {tp: end - committed for tp, (committed, end) in offsets.items() if end > committed}


def worker_log_tails(settings: Settings, lines: int = 25) -> str:
    """The end of each stream worker's log (what a failure message shows)."""
    from infra.procs import tail
    from omnicx.stack import StreamWorkersComponent

    return "\n".join(
        f"-- the end of {p.logfile}:\n{tail(p.logfile, lines)}"
        for p in StreamWorkersComponent(settings).procs
    )


def topic_size(consumer: KafkaConsumer, topic: str) -> int:
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    return sum(consumer.end_offsets(partitions).values())


def wait_for_streams(run: DemoRun) -> None:
    """Wait until the stream workers' consumer group has no lag on any of its input topics
    (checked twice, 2 s apart, so a stage that has just produced is not missed)."""
    settings = run.settings
    topics = _group_topics(settings)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=settings.streams.app_id,
        enable_auto_commit=False,
    )
    from infra.procs import tail
    from omnicx.stack import StreamWorkersComponent

    deadline = time.monotonic() + run.options.streams_timeout_s
    workers = StreamWorkersComponent(settings)
    try:
        with _progress(run.console) as progress:
            task = progress.add_task("stream workers: records processed", total=None)
            quiet = 0
            while quiet < 2:
                done, total = group_progress(consumer, topics)
                progress.update(task, completed=done, total=total)
                quiet = quiet + 1 if done == total else 0
                dead = [p for p in workers.procs if not p.is_running()]
                if dead:
                    raise OmnicxError(
                        f"{dead[0].name} exited while the workers lag {total - done:,} "
                        f"records; the end of {dead[0].logfile}:\n{tail(dead[0].logfile, 40)}"
                    )
                if time.monotonic() > deadline:
                    lagging = ", ".join(
                        f"{tp.topic}[{tp.partition}] {lag:,}"
                        for tp, lag in group_lag(consumer, topics).items()
                    )
                    raise OmnicxError(
                        f"the stream workers still lag {total - done:,} records after "
                        f"{run.options.streams_timeout_s:.0f}s ({lagging}): see "
                        f"{settings.run_dir}/streams-worker-*.log\n{worker_log_tails(settings)}"
                    )
                time.sleep(2)
        run.stream_stats = {
            "processed": done,
            "customer_events": topic_size(consumer, settings.streams.customer_events_topic),
            "signals": topic_size(consumer, settings.streams.signals_topic),
        }
    finally:
        consumer.close()
    run.console.print(
        "  workers caught up (no lag on the group's input topics: "
        f"{run.stream_stats['processed']:,} records read); "
        f"{settings.streams.customer_events_topic} holds "
        f"{run.stream_stats['customer_events']:,} records, "
        f"{settings.streams.signals_topic} {run.stream_stats['signals']:,}"
    )


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic` now, from the beginning to the current end offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        out: list[Any] = []
        left = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
                out.extend(r for r in records if r.offset < ends[tp])
                if consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        if left:
            raise OmnicxError(f"could not read {topic} to its end within 120 s")
        return out
    finally:
        consumer.close()


# -- 5. features ----------------------------------------------------------------------------


def customer_feature_rows(run: DemoRun) -> list[dict[str, Any]]:
    """The latest real-time features of every customer, from the workers' `customers` table
    changelog (features as of each customer's latest event)."""
    from streams.features.pusher import customer_row
    from streams.workers.config import CUSTOMERS_TABLE, changelog_topic

    topic = changelog_topic(run.settings.streams.app_id, CUSTOMERS_TABLE)
    latest: dict[str, Any] = {}
    for record in read_topic(run.settings.bootstrap, topic):
        if record.key is None:
            continue
        latest[json.loads(record.key)] = json.loads(record.value) if record.value else None
    rows = []
    for cid, value in latest.items():
        row = customer_row(cid, value) if value else None
        if row is not None:
            rows.append(row)
    return rows


def push_features(run: DemoRun, timeout: float = 300.0) -> None:
    """Wait until the feature pusher (started by `omnicx up`) has pushed every customer's
    latest features to the Feast online store, and check they are there."""
    from feature_store.client import FeatureStoreClient
    from streams.features.pusher import LagProbe

    with run.console.status("waiting for feast apply (the feature repo)"):
        if run.feast_apply is not None:
            run.feast_apply.result(timeout=600)
        else:
            with FeatureStoreClient(run.settings.feature_store) as applier:
                applier.apply()
    rows = customer_feature_rows(run)
    deadline = time.monotonic() + timeout
    with (
        _progress(run.console) as progress,
        LagProbe(run.settings.bootstrap, run.settings.streams) as probe,
    ):
        task = progress.add_task("feature pusher catching up (changelog records)", total=None)
        while (behind := probe.lag()) > 0:
            progress.update(task, description=f"feature pusher: {behind:,} records behind")
            if time.monotonic() > deadline:
                log = run.settings.run_dir / "feature-pusher.log"
                raise OmnicxError(
                    f"the feature pusher is still {behind:,} records behind after "
                    f"{timeout:.0f}s; see {log}"
                )
            time.sleep(0.5)
    # Check, not assume: every customer with features can be read back from the online store.
    ids = [row["customer_id"] for row in rows]
    with FeatureStoreClient(run.settings.feature_store) as client:
        found = 0
        for i in range(0, len(ids), 500):
            online = client.online_features(ids[i : i + 500], service="personalisation_v1")
            found += sum(1 for values in online if values.get("contacts_24h") is not None)
    if found < len(ids):
        raise OmnicxError(
            f"only {found:,} of {len(ids):,} customers' features are in the Feast online store"
        )
    run.features_pushed = found


# -- 6. report ------------------------------------------------------------------------------


def count_signals(run: DemoRun) -> None:
    """Signals on cx.signals.v1 by type (distinct signal ids)."""
    seen: dict[str, str] = {}
    for record in read_topic(run.settings.bootstrap, run.settings.streams.signals_topic):
        signal = json.loads(record.value)
        seen[signal["signal_id"]] = signal["type"]
    run.signals_by_type = Counter(seen.values())


def create_demo_key(run: DemoRun) -> str:
    """A read-only API key for the demo; the secret goes to <home>/demo/api_key (0600)."""
    from streams.api.auth import ApiKeyStore

    key = ApiKeyStore(run.settings.api.keys_file).create(DEMO_SCOPES, name="omnicx demo")
    run.demo_dir.mkdir(parents=True, exist_ok=True)
    path = run.demo_dir / "api_key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    run.key_file = path
    return key


def linked_person(manifest: dict[str, Any]) -> dict[str, Any]:
    """The first person of the linked-identity journey (a different identifier per channel
    until one app login links them)."""
    people = manifest.get("people", {}).get("fragmented_identity") or []
    if not people:
        raise OmnicxError("the simulation has no fragmented_identity person: raise --customers")
    return dict(people[0])


def fetch_linked_customer(run: DemoRun, key: str, timeout: float = 60.0) -> None:
    """The linked customer's timeline, features and signals from the Customer API (HTTP)."""
    import httpx

    person = linked_person(run.manifest)
    headers = {"Authorization": f"Bearer {key}"}
    base = run.settings.api.url
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        # The API follows the workers' changelogs: wait until it has the customer.
        while True:
            r = http.get(f"/v1/identities/email/{person['email']}")
            if r.status_code == 200:
                cid = r.json()["customer_id"]
                timeline = http.get(f"/v1/customers/{cid}/timeline", params={"limit": 200})
                if timeline.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise OmnicxError(
                    f"the Customer API at {base} does not know {person['email']} "
                    f"({r.status_code} {r.text[:200]})"
                )
            time.sleep(1)
        features = http.get(f"/v1/customers/{cid}/features", params={"as_of": "last_event"})
        signals = http.get(f"/v1/customers/{cid}/signals", params={"as_of": "last_event"})
    run.linked = {
        "person": person,
        "customer_id": cid,
        "timeline": timeline.json(),
        "features": features.json().get("features", {}),
        "signals": signals.json().get("signals", []),
    }


def report(run: DemoRun) -> None:
    """Signals by type, the linked customer through the API, Feast's copy, where things are."""
    count_signals(run)
    key = create_demo_key(run)
    fetch_linked_customer(run, key)
    console = run.console

    table = Table("signal type", "raised", "journey that should raise it", title="cx.signals.v1")
    for kind, n in sorted(run.signals_by_type.items()):
        table.add_row(kind, f"{n:,}", EXPECTED_SIGNALS.get(kind, "-"))
    console.print(table)

    linked = run.linked
    person = linked["person"]
    events = linked["timeline"].get("events", [])
    channels = sorted({e.get("channel", "?") for e in events})
    console.rule(f"one customer: {person['name']} ({linked['customer_id']})")
    console.print(
        f"  known as email {person['email']}, phone {person['phone']}, twitter "
        f"{person['twitter']}, app user {person['app_user_id']}: "
        f"{linked['timeline'].get('total_events', len(events))} events on "
        f"{len(channels)} channels ({', '.join(channels)})"
    )
    tl = Table("time (UTC)", "channel", "direction", "kind", "text", title="unified timeline")
    for col, width in zip(tl.columns[:4], (11, 7, 9, 12), strict=True):
        col.no_wrap, col.min_width = True, width
    room = max(20, console.width - 62)  # the text gets what the other columns leave
    for e in sorted(events, key=lambda e: e.get("occurred_at", "")):
        attrs = e.get("attributes") or {}
        text = " ".join(str(e.get("text") or attrs.get("event") or "").split())
        if not text and e.get("kind") == "call_ended":
            text = f"waited {attrs.get('wait_s', '?')} s, talked {attrs.get('talk_s', '?')} s"
        tl.add_row(
            str(e.get("occurred_at", ""))[5:16].replace("T", " "),
            e.get("channel", ""),
            e.get("direction", ""),
            e.get("kind", ""),
            text if len(text) <= room else text[: room - 1] + "…",
        )
    console.print(tl)
    ft = Table("feature", "value (as of the last event)", title="features")
    for name, value in linked["features"].items():
        ft.add_row(name, "-" if value is None else str(value))
    console.print(ft)
    if linked["signals"]:
        st = Table("raised at", "signal", "severity", "reason", title="signals")
        for s in linked["signals"]:
            st.add_row(
                s["raised_at"][5:16].replace("T", " "), s["type"], s["severity"], s["reason"]
            )
        console.print(st)
    else:
        console.print("  no open signals for this customer")
    if run.features_pushed:
        from feature_store.client import FeatureStoreClient

        with FeatureStoreClient(run.settings.feature_store) as client:
            online = client.online_features([linked["customer_id"]], service="personalisation_v1")
        values = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in (online[0] if online else {}).items()
            if k != "customer_id" and v is not None
        }
        console.print(
            f"  Feast online store (personalisation_v1; {run.features_pushed:,} customers "
            f"pushed): {values}"
        )
    where(run)


def where(run: DemoRun) -> None:
    s = run.settings
    console = run.console
    console.rule("where things are")
    url = s.api.url
    cid = run.linked.get("customer_id", "<customer_id>")
    console.print(
        f"  Customer API   {url}  (docs: {url}/docs)\n"
        f"  API key        {run.key_file}  (scopes {','.join(DEMO_SCOPES)})\n"
        f"  Kafka          {s.bootstrap}\n"
        f"  simulated data {run.sim_dir}  (manifest.json)\n"
        f"  Feast repo     {s.feature_store.data_dir}/feature_store.yaml\n"
        f"  logs           {s.run_dir}/\n"
        "  query the API (the key is read from its file, so it stays out of your history):"
    )
    c = f"{url}/v1/customers/{cid}"
    email = run.linked.get("person", {}).get("email", "someone@example.com")
    auth = 'curl -s -H "Authorization: Bearer $KEY"'
    # soft_wrap: long lines stay whole, so they can be copied into a shell.
    console.print(
        f"    KEY=$(cat {run.key_file})\n"
        f"    {auth} '{c}/timeline?limit=20'\n"
        f"    {auth} '{c}/features?as_of=last_event'\n"
        f"    {auth} '{c}/signals?as_of=last_event'\n"
        f"    {auth} '{url}/v1/identities/email/{email}'",
        soft_wrap=True,
    )


add_step("start the stack", start_stack)
add_step("simulate traffic", simulate_traffic)
add_step("ingest", ingest_files)
add_step("stream processing", wait_for_streams)
add_step("features to Feast", push_features)
add_step("report", report)
import omnicx.demo_lakehouse  # noqa: E402, F401  (adds the "lakehouse" step)


def run_demo(
    settings: Settings,
    console: Console,
    down_after: bool = False,
    options: DemoOptions | None = None,
) -> DemoRun:
    """Run every step of `DEMO_STEPS` in order; returns what they found."""
    options = options or DemoOptions(down_after=down_after)
    # Feast warns that its Spark source is alpha each time the repo loads (also in the
    # background `feast apply` thread); it says nothing about this run.
    warnings.filterwarnings("ignore", message="The spark data source API")
    run = DemoRun(settings, options, console)
    console.rule("[bold]omnicx demo")
    began = time.monotonic()
    try:
        unknown = set(options.skip) - {name for name, _ in DEMO_STEPS}
        if unknown:
            raise OmnicxError(
                f"no demo step named {', '.join(sorted(unknown))}; the steps are: "
                + ", ".join(name for name, _ in DEMO_STEPS)
            )
        to_run = [(name, step) for name, step in DEMO_STEPS if name not in options.skip]
        for n, (name, step) in enumerate(to_run, start=1):
            console.rule(f"{n}/{len(to_run)} {name}", style="cyan")
            t0 = time.monotonic()
            step(run)
            run.seconds[name] = time.monotonic() - t0
    finally:
        if options.down_after:
            from omnicx.stack import LocalStack

            LocalStack(settings).down()
            console.print("stack stopped (--down)")
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in run.seconds.items())
    console.print(f"demo done in {time.monotonic() - began:.0f}s ({steps})")
    if not options.down_after:
        console.print("the stack keeps running: 'omnicx status' shows it, 'omnicx down' stops it")
    return run


# -- the raw round trip (kept: the broker check the first demo did) ----------------------------


def read_raw_rows(path: Path) -> list[tuple[str, bytes, int]]:
    """(record id, raw CSV record bytes with the header line, source line) per row of a
    twcs-style CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = []
        for row in reader:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(header)
            writer.writerow(row)
            rows.append((row[0], buf.getvalue().encode("utf-8"), reader.line_num))
    return rows


def round_trip(bootstrap: str, path: Path, progress: Progress | None = None) -> dict[str, object]:
    """Produce every row of `path` to cx.ingest.social and consume exactly those back.

    Returns counts and a few consumed records. Raises OmnicxError if anything produced is not
    read back.
    """
    topic = ingest_topic("social")
    rows = read_raw_rows(path)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    sent = []
    task = progress.add_task("producing raw tweets", total=len(rows)) if progress else None
    for record_id, raw, line in rows:
        headers = [
            ("source_file", str(path.name).encode()),
            ("source_line", str(line).encode()),
            ("content-type", b"text/csv"),
        ]
        sent.append(producer.send(topic, key=record_id.encode(), value=raw, headers=headers))
        if progress and task is not None:
            progress.advance(task)
    producer.flush()
    metadata = [future.get(timeout=30) for future in sent]
    producer.close()

    # Read back exactly the offsets we wrote, so earlier demo runs do not count.
    wanted = {(m.partition, m.offset) for m in metadata}
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for m in metadata:
        starts[m.partition] = min(starts.get(m.partition, m.offset), m.offset)
        ends[m.partition] = max(ends.get(m.partition, m.offset), m.offset + 1)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in starts]
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, starts[tp.partition])
    received: list = []
    task = progress.add_task("consuming them back", total=len(wanted)) if progress else None
    deadline = time.monotonic() + 60
    while len(received) < len(wanted) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                if (
                    record.offset < ends[record.partition]
                    and (record.partition, record.offset) in wanted
                ):
                    received.append(record)
                    if progress and task is not None:
                        progress.advance(task)
    consumer.close()
    if len(received) != len(wanted):
        raise OmnicxError(
            f"round trip incomplete: produced {len(wanted)} records to {topic}, read back "
            f"{len(received)} within 60s"
        )
    return {
        "topic": topic,
        "produced": len(metadata),
        "consumed": len(received),
        "partitions": sorted(starts),
        "sample": received[:5],
    }
