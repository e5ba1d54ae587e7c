"""Run Debian's `redis-server` locally: one process, its config, data and log under `data_dir`.

Redis is the scale-out online store of the feature store. `make setup` installs the Debian
package; this module writes a config file, starts the server detached through
`ManagedProcess`, and waits until it answers PING.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from pydantic import BaseModel, Field

from infra.errors import ConfigurationError
from infra.procs import ManagedProcess, port_is_free, require_executable, tail


class RedisConfig(BaseModel):
    """Where and how the local Redis server runs."""

    host: str = Field("127.0.0.1", description="Interface Redis binds.")
    port: int = Field(16379, description="Port Redis listens on.")
    data_dir: Path = Field(
        Path(".omnicx/redis"), description="Config, append-only file, snapshots, pid and log."
    )
    executable: str = Field("redis-server", description="The redis-server executable.")
    appendonly: bool = Field(
        True, description="Keep an append-only file so the online store survives a restart."
    )
    maxmemory_mb: int = Field(0, ge=0, description="Memory cap in MB (0: no cap).")
    start_timeout_s: float = Field(20.0, description="How long start() waits for PING.")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class LocalRedis:
    """Start, stop and inspect a local Redis server.

    Args:
        config: port, data directory and persistence settings.
    """

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.expanduser().resolve()

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def config_file(self) -> Path:
        return self.data_dir / "redis.conf"

    def process(self) -> ManagedProcess:
        return ManagedProcess(
            name="redis server",
            argv=[self.config.executable, str(self.config_file)],
            pidfile=self.data_dir / "redis.pid",
            logfile=self.data_dir / "redis.log",
            # redis-server rewrites its process title; the template in the config keeps the
            # config file's path in it, so the marker still identifies this server.
            marker=str(self.config_file),
            cwd=self.data_dir,
        )

    def start(self) -> None:
        """Start the server unless it runs, and wait until it answers PING.

        Raises:
            ConfigurationError: redis-server is not installed, or the port is taken by another
                program.
            ServiceStartError: the server exited or did not answer in time (with its log tail).
        """
        proc = self.process()
        if not proc.is_running():
            require_executable(
                self.config.executable,
                "the Redis online store needs Debian's redis-server: run 'make setup' "
                "(or apt-get install redis-server), or set OMNICX_REDIS__EXECUTABLE",
            )
            if not port_is_free(self.config.host, self.config.port):
                raise ConfigurationError(
                    f"port {self.config.port} on {self.config.host} (redis) is already in use by "
                    "another program: stop it or set OMNICX_REDIS__PORT to a free port"
                )
            self._write_config()
            proc.start()
        try:
            proc.wait_until(
                lambda: ping(self.config.host, self.config.port),
                self.config.start_timeout_s,
                f"PING on {self.address}",
                hint=self._diagnose,
            )
        except BaseException:
            proc.stop(timeout=10)
            raise

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server (SIGTERM: Redis flushes its append-only file). True if it ran."""
        return self.process().stop(timeout=timeout)

    def purge(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def is_up(self) -> bool:
        """True when our process runs and answers PING."""
        return self.process().is_running() and ping(self.config.host, self.config.port)

    def pid(self) -> int | None:
        return self.process().pid()

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        c = self.config
        lines = {
            "bind": c.host,
            "port": str(c.port),
            "dir": str(self.data_dir),
            "daemonize": "no",
            # Logs go to stdout, which ManagedProcess appends to redis.log.
            "logfile": '""',
            "protected-mode": "yes",
            "appendonly": "yes" if c.appendonly else "no",
            "appendfsync": "everysec",
            "save": '"3600 1 300 100 60 10000"' if c.appendonly else '""',
            "proc-title-template": '"{title} {listen-addr} {config-file}"',
        }
        if c.maxmemory_mb:
            lines["maxmemory"] = f"{c.maxmemory_mb}mb"
        body = "".join(f"{k} {v}\n" for k, v in lines.items())
        self.config_file.write_text(
            "# written by omnicx (infra/redis/server.py); edits are overwritten\n" + body
        )
        return self.config_file

    def _diagnose(self) -> str:
        text = tail(self.data_dir / "redis.log", 50)
        for line in reversed(text.splitlines()):
            if "#" in line and ("Error" in line or "FATAL" in line or "Can't" in line):
                return "redis said: " + line.split("#", 1)[1].strip()
        return ""
