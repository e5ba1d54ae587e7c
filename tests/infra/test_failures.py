"""Bad set-ups give one clear error line that says what to do: a taken port, a missing java,
a failed Maven resolution, unresolved jars, a damaged data directory."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.errors import ConfigurationError, ResolutionError, ServiceStartError
from infra.kafka import LocalKafka
from infra.maven import resolve
from tests.conftest import REPO_ROOT, free_kafka_config

pytestmark = pytest.mark.integration


def _omnicx(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omnicx", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _assert_one_clear_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("error: ")
    for needle in needles:
        assert needle in first, first


def test_port_taken_by_another_program(tmp_path: Path, omnicx_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = free_kafka_config(tmp_path / "k").model_copy(update={"port": port})
        with pytest.raises(ConfigurationError, match=f"port {port} .* already in use"):
            LocalKafka(config).start()
        proc = _omnicx(["up"], {**omnicx_env, "OMNICX_KAFKA__PORT": str(port)}, tmp_path)
    _assert_one_clear_line(proc, f"port {port}", "already in use", "OMNICX_KAFKA__PORT")


def test_missing_java(tmp_path: Path, omnicx_env: dict[str, str]) -> None:
    config = free_kafka_config(tmp_path / "k").model_copy(update={"java": "/nonexistent/java"})
    with pytest.raises(ConfigurationError, match="not found"):
        LocalKafka(config).start()
    proc = _omnicx(["up"], {**omnicx_env, "OMNICX_KAFKA__JAVA": "/nonexistent/java"}, tmp_path)
    _assert_one_clear_line(proc, "/nonexistent/java", "Java 17")


def test_unresolved_jars(tmp_path: Path, omnicx_env: dict[str, str]) -> None:
    empty = tmp_path / "no-jars"
    empty.mkdir()
    proc = _omnicx(["up"], {**omnicx_env, "OMNICX_KAFKA__JARS_DIR": str(empty)}, tmp_path)
    _assert_one_clear_line(proc, "make setup")


def test_failed_maven_resolution(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text(
        (REPO_ROOT / "infra" / "kafka" / "pom.xml")
        .read_text()
        .replace(
            "<artifactId>kafka_2.13</artifactId>",
            "<artifactId>kafka_2.13-does-not-exist</artifactId>",
        )
    )
    with pytest.raises(ResolutionError, match="Maven could not resolve"):
        resolve(pom, tmp_path / "jars")
    proc = subprocess.run(
        [sys.executable, "-m", "infra.maven", str(pom), str(tmp_path / "j")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert (
        first.startswith("error: Maven could not resolve") and "kafka_2.13-does-not-exist" in first
    )
    assert not (tmp_path / "j").exists()


def test_damaged_data_directory(tmp_path: Path) -> None:
    kafka = LocalKafka(free_kafka_config(tmp_path / "k"))
    kafka.start()
    kafka.stop()
    (kafka.node_dir(1) / "data" / "meta.properties").write_text("garbage\n")
    with pytest.raises(ServiceStartError) as info:
        kafka.start()
    message = info.value.message
    assert "damaged" in message and "omnicx down --purge" in message
    assert "\n" not in message
    assert not kafka.process(1).is_running()
    kafka.purge()
    assert not kafka.data_dir.exists()
