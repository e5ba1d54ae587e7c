"""Start, find and stop long-running local processes (brokers, workers, servers).

Processes run in their own session so they outlive the command that started them
(`omnicx up` returns while the broker keeps running). A pid file records each one; before
acting on a pid we check its command line, because pids are reused after a reboot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import ConfigurationError, ServiceStartError


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_executable(name: str, hint: str) -> str:
    """Return the absolute path of `name` on PATH, or raise a ConfigurationError with `hint`."""
    path = shutil.which(name)
    if path is None:
        raise ConfigurationError(f"'{name}' was not found on PATH: {hint}")
    return path


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a text file, or an empty string if it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """A detached child process identified by a pid file.

    Args:
        name: human name used in messages ("kafka broker 1").
        argv: the command line.
        pidfile: where the pid is recorded.
        logfile: stdout and stderr go here (appended).
        marker: a string that must appear in /proc/<pid>/cmdline for the pid to count as ours.
        cwd: working directory.
        env: extra environment variables.
    """

    name: str
    argv: Sequence[str]
    pidfile: Path
    logfile: Path
    marker: str
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # Other logs the program writes itself (e.g. log4j files), tailed in error details.
    extra_logs: Sequence[Path] = ()

    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        child = _CHILDREN.get(pid)
        if child is not None:
            # Started by this interpreter: trust the handle. Between fork and exec the child's
            # command line is still ours, so the marker check below would misjudge it.
            if child.poll() is None:
                return pid
        elif self.marker in (_cmdline(pid) or ""):
            return pid
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> int:
        """Launch the process (no-op if already running) and return its pid."""
        running = self.pid()
        if running is not None:
            return running
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with self.logfile.open("ab") as log:
            proc = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        # Keep a handle so the exit status is reaped if we are still around when it dies.
        _CHILDREN[proc.pid] = proc
        return proc.pid

    def exited(self) -> bool:
        """True when a process we started in this interpreter has already exited."""
        pid = self.pid()
        if pid is None:
            return True
        proc = _CHILDREN.get(pid)
        return proc is not None and proc.poll() is not None

    def terminate(self) -> None:
        """Send SIGTERM without waiting (stop() waits)."""
        pid = self.pid()
        if pid is not None:
            _signal(pid, signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the process: SIGTERM, then SIGKILL after `timeout`. True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            _signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        return True

    def kill(self) -> bool:
        """SIGKILL the process at once (crash tests). True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        return True

    def wait_until(
        self,
        ready: Callable[[], bool],
        timeout: float,
        what: str,
        hint: Callable[[], str] | None = None,
    ) -> None:
        """Poll `ready` until it returns True.

        Raises:
            ServiceStartError: the process died or `timeout` passed first; the message ends with
                `hint()` (read only on failure, e.g. from the log) and `detail` holds the log tail.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.exited():
                problem = f"{self.name} exited during start-up (waiting for: {what})"
            elif ready():
                return
            elif time.monotonic() > deadline:
                problem = (
                    f"{self.name} did not become ready within {timeout:.0f}s (waiting for: {what})"
                )
            else:
                time.sleep(0.2)
                continue
            advice = hint() if hint else ""
            raise ServiceStartError(
                f"{problem}; {advice + '; ' if advice else ''}log: {self.newest_log()}",
                detail=self.log_tail(),
            )

    def newest_log(self) -> Path:
        """The most recently written non-empty log of this process (stdout log if none)."""
        logs = [p for p in (self.logfile, *self.extra_logs) if p.exists() and p.stat().st_size]
        return max(logs, key=lambda p: p.stat().st_mtime) if logs else self.logfile

    def log_tail(self, lines: int = 30) -> str:
        """The tail of the newest non-empty log this process writes."""
        return tail(self.newest_log(), lines)


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:
        return None  # a zombie has an empty command line
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def _alive(pid: int) -> bool:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    return _cmdline(pid) is not None


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
