"""The local stack that `omnicx up | down | status` manages.

Each component starts, stops and reports itself; the stack starts them in order and stops them
in reverse. Later components (stream workers, Customer API, Redis, Dagster) join the list in
`build_components`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.kafka import LocalKafka
from infra.procs import ManagedProcess, port_answers
from infra.redis import LocalRedis
from omnicx.errors import OmnicxError
from omnicx.settings import Settings
from omnicx.topics import apply_topics
from streams.workers.config import worker_argv


@dataclass
class ComponentStatus:
    """One component's state as `omnicx status` shows it."""

    name: str
    up: bool
    address: str
    info: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"up": self.up, **self.info}


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, purge: bool = False) -> None: ...

    def status(self) -> ComponentStatus: ...


class KafkaComponent:
    """The Kafka broker(s): run locally unless OMNICX_KAFKA_BOOTSTRAP names a cluster."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.local = LocalKafka(settings.kafka) if settings.manages_kafka else None

    def start(self) -> None:
        if self.local is not None:
            self.local.start()
        # Topics are part of "up": a stack without its topics is not usable.
        apply_topics(self.settings.bootstrap)

    def stop(self, purge: bool = False) -> None:
        if self.local is None:
            return
        if purge:
            self.local.purge()
        else:
            self.local.stop()

    def status(self) -> ComponentStatus:
        bootstrap = self.settings.bootstrap
        if self.local is None:
            from omnicx.topics import admin_client

            try:
                admin_client(bootstrap).close()
                up = True
            except OmnicxError:
                up = False
            return ComponentStatus(
                self.name, up, bootstrap, {"bootstrap": bootstrap, "managed": False}
            )
        nodes = self.local.status()
        up = all(n.up for n in nodes)
        return ComponentStatus(
            self.name,
            up,
            bootstrap,
            {
                "bootstrap": bootstrap,
                "managed": True,
                "nodes": [
                    {"node_id": n.node_id, "address": n.address, "pid": n.pid, "up": n.up}
                    for n in nodes
                ],
                "data_dir": str(self.local.data_dir),
            },
        )


class RedisComponent:
    """The Redis server of the feature store's online store (only when online_store=redis)."""

    name = "redis"

    def __init__(self, settings: Settings) -> None:
        self.local = LocalRedis(settings.redis)

    def start(self) -> None:
        self.local.start()

    def stop(self, purge: bool = False) -> None:
        if purge:
            self.local.purge()
        else:
            self.local.stop()

    def status(self) -> ComponentStatus:
        return ComponentStatus(
            self.name,
            self.local.is_up(),
            self.local.address,
            {"pid": self.local.pid(), "data_dir": str(self.local.data_dir)},
        )


class StreamWorkersComponent:
    """The faust stream workers (`settings.streams.workers` of them, sharing the partitions)."""

    name = "streams"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.streams
        self.procs = [
            ManagedProcess(
                name=f"stream worker {n}",
                argv=worker_argv(
                    sys.executable, cfg, settings.bootstrap, n, settings.rules.model_dump_json()
                ),
                pidfile=settings.run_dir / f"streams-worker-{n}.pid",
                logfile=settings.run_dir / f"streams-worker-{n}.log",
                marker="streams.workers",
            )
            for n in range(1, cfg.workers + 1)
        ]

    def start(self) -> None:
        for n, proc in enumerate(self.procs, start=1):
            proc.start()
            port = self.settings.streams.web_port_of(n)
            proc.wait_until(
                lambda port=port: port_answers(self.settings.streams.web_host, port),  # type: ignore[misc]
                90,
                f"faust web on port {port}",
            )

    def stop(self, purge: bool = False) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def status(self) -> ComponentStatus:
        workers = [
            {"worker": n, "pid": p.pid(), "web_port": self.settings.streams.web_port_of(n)}
            for n, p in enumerate(self.procs, start=1)
        ]
        up = all(w["pid"] is not None for w in workers)
        return ComponentStatus(self.name, up, f"{len(workers)} worker(s)", {"workers": workers})


class FeaturePusherComponent:
    """Pushes the workers' features to the Feast online store (`streams.features.pusher`)."""

    name = "feature-pusher"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready_file = settings.run_dir / "feature-pusher.ready"
        self.proc = ManagedProcess(
            name="feature pusher",
            argv=[
                sys.executable,
                "-m",
                "streams.features.pusher",
                "--bootstrap",
                settings.bootstrap,
                "--streams",
                settings.streams.model_dump_json(),
                "--feature-store",
                settings.feature_store.model_dump_json(),
                "--ready-file",
                str(self.ready_file),
            ],
            pidfile=settings.run_dir / "feature-pusher.pid",
            logfile=settings.run_dir / "feature-pusher.log",
            marker="streams.features.pusher",
        )

    def start(self) -> None:
        if self.proc.is_running():
            return  # `omnicx up` twice: the running pusher already wrote its ready file
        self.ready_file.unlink(missing_ok=True)
        self.proc.start()
        self.proc.wait_until(self.ready_file.exists, 60, "the feature pusher subscribed")

    def stop(self, purge: bool = False) -> None:
        self.proc.stop()

    def status(self) -> ComponentStatus:
        pid = self.proc.pid()
        target = f"feast online store ({self.settings.online_store})"
        return ComponentStatus(self.name, pid is not None, target, {"pid": pid})


class ApiComponent:
    """The Customer API (uvicorn), with every area's routes (`omnicx.api_server`)."""

    name = "api"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc = ManagedProcess(
            name="customer api",
            argv=[
                sys.executable,
                "-m",
                "omnicx.api_server",
                "--settings",
                settings.model_dump_json(),
            ],
            pidfile=settings.run_dir / "api.pid",
            logfile=settings.run_dir / "api.log",
            marker="omnicx.api_server",
        )

    def start(self) -> None:
        self.proc.start()
        api = self.settings.api
        self.proc.wait_until(lambda: port_answers(api.host, api.port), 60, f"HTTP on {api.url}")

    def stop(self, purge: bool = False) -> None:
        self.proc.stop()

    def status(self) -> ComponentStatus:
        pid = self.proc.pid()
        url = self.settings.api.url
        return ComponentStatus(self.name, pid is not None, url, {"url": url, "pid": pid})


class DagsterComponent:
    """Dagster webserver and daemon over the lakehouse definitions (`omnicx.dagster_defs`),
    with DAGSTER_HOME under <home>/dagster (the repo's dagster.yaml written there)."""

    name = "dagster"

    def __init__(self, settings: Settings, port: int = 3000) -> None:
        import sys
        from pathlib import Path

        from infra.procs import ManagedProcess

        self.settings = settings
        self.port = port
        self.home = settings.home / "dagster"
        bin_dir = Path(sys.executable).parent
        env = {"DAGSTER_HOME": str(self.home)}
        run = settings.run_dir
        self.procs = [
            ManagedProcess(
                name="dagster webserver",
                argv=[
                    str(bin_dir / "dagster-webserver"),
                    "-m",
                    "omnicx.dagster_defs",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                pidfile=run / "dagster-webserver.pid",
                logfile=run / "dagster-webserver.log",
                marker="dagster-webserver",
                cwd=settings.home.parent,
                env=env,
            ),
            ManagedProcess(
                name="dagster daemon",
                argv=[str(bin_dir / "dagster-daemon"), "run", "-m", "omnicx.dagster_defs"],
                pidfile=run / "dagster-daemon.pid",
                logfile=run / "dagster-daemon.log",
                marker="dagster-daemon",
                cwd=settings.home.parent,
                env=env,
            ),
        ]

    def start(self) -> None:
        from infra.procs import port_is_free
        from omnicx.lake_dagster import dagster_home

        dagster_home(self.settings)  # <home>/dagster/dagster.yaml, storage there
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        for proc in self.procs:
            if not proc.is_running():
                proc.start()
        self.procs[0].wait_until(
            lambda: not port_is_free("127.0.0.1", self.port), 180, f"port {self.port}"
        )

    def stop(self, purge: bool = False) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def status(self) -> ComponentStatus:
        up = all(p.is_running() for p in self.procs)
        address = f"http://127.0.0.1:{self.port}"
        return ComponentStatus(self.name, up, address, {"url": address, "home": str(self.home)})


def build_components(settings: Settings, with_dagster: bool = False) -> list[Component]:
    """The stack's components in start order."""
    components: list[Component] = [KafkaComponent(settings)]
    if settings.online_store == "redis":
        components.append(RedisComponent(settings))
    components += [
        StreamWorkersComponent(settings),
        FeaturePusherComponent(settings),
        ApiComponent(settings),
    ]
    if with_dagster:
        components.append(DagsterComponent(settings, settings.dagster_port))
    return components


class LocalStack:
    """Start, stop and report the local stack."""

    def __init__(self, settings: Settings, with_dagster: bool = False) -> None:
        self.settings = settings
        self.components = build_components(settings, with_dagster=with_dagster)

    def up(self, on_start: Callable[[str], None] | None = None) -> list[ComponentStatus]:
        for component in self.components:
            if on_start:
                on_start(component.name)
            component.start()
        return self.status()

    def down(self, purge: bool = False) -> None:
        for component in reversed(self.components):
            component.stop(purge=purge)

    def status(self) -> list[ComponentStatus]:
        return [component.status() for component in self.components]
