"""Bearer API keys with scopes.

A key looks like `ocx_<key_id>_<secret>`. The store keeps only the SHA-256 of the secret, the
scopes and a name, in a JSON file that `omnicx apikey create` writes; the API re-reads the file
when it changes, so a key created while the API runs works at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

SCOPES: dict[str, str] = {
    "write:events": "send channel payloads to POST /v1/events/{channel}",
    "read:timeline": "read a customer's unified timeline",
    "read:features": "read a customer's online features",
    "read:signals": "read a customer's open outreach signals",
    "read:identity": "resolve identifiers and read channel reply-time estimates",
    "admin:erase": "erase a customer (right to be forgotten)",
}

PREFIX = "ocx"


class UnknownScope(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: str


class ApiKeyStore:
    """API keys in a JSON file (hashes only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._keys: dict[str, tuple[str, ApiKey]] = {}

    def create(self, scopes: Iterable[str], name: str = "") -> str:
        """Store a new key with `scopes` and return it in plain text (shown once)."""
        scopes = frozenset(scopes)
        unknown = scopes - SCOPES.keys()
        if unknown or not scopes:
            raise UnknownScope(
                f"unknown scope(s) {', '.join(sorted(unknown)) or '(none given)'}; "
                f"known scopes: {', '.join(SCOPES)}"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24).replace("_", "-")
        with self._lock:
            data = self._read_file()
            data[key_id] = {
                "sha256": _digest(secret),
                "name": name,
                "scopes": sorted(scopes),
                "created_at": datetime.now(UTC).isoformat(),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)
        return f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        self._refresh()
        return [key for _, key in self._keys.values()]

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            data = self._read_file()
            if data.pop(key_id, None) is None:
                return False
            self.path.write_text(json.dumps(data, indent=2))
        return True

    def authenticate(self, token: str) -> ApiKey | None:
        """The key a bearer token stands for, or None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        self._refresh()
        entry = self._keys.get(parts[1])
        if entry is None or not hmac.compare_digest(entry[0], _digest(parts[2])):
            return None
        return entry[1]

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._keys, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        with self._lock:
            data = self._read_file()
            self._keys = {
                key_id: (
                    entry["sha256"],
                    ApiKey(
                        key_id,
                        entry.get("name", ""),
                        frozenset(entry["scopes"]),
                        entry.get("created_at", ""),
                    ),
                )
                for key_id, entry in data.items()
            }
            self._mtime = mtime

    def _read_file(self) -> dict[str, dict]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_bearer = HTTPBearer(auto_error=False, description="An omnicx API key: `omnicx apikey create`")


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A FastAPI dependency: 401 without a valid key, 403 if the key lacks `scope`.

    It is a coroutine so FastAPI runs it on the event loop: a sync dependency costs a
    thread-pool hop per request (it only looks up a hash in memory and stats the keys file).
    """
    if scope not in SCOPES:
        raise UnknownScope(scope)

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> ApiKey:
        store: ApiKeyStore = request.app.state.api_keys
        key = store.authenticate(credentials.credentials) if credentials else None
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or invalid API key (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in key.scopes:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this API key lacks the '{scope}' scope"
            )
        return key

    return dependency
