"""The Customer API: one FastAPI app, one OpenAPI document, bearer API keys with scopes.

Feature areas contribute an `ApiExtension` (a router plus optional start-up/shut-down work);
`create_app` mounts them next to /healthz and /metrics.
"""

from streams.api.app import ApiConfig, ApiExtension, create_app
from streams.api.auth import SCOPES, ApiKeyStore, require_scope

__all__ = ["SCOPES", "ApiConfig", "ApiExtension", "ApiKeyStore", "create_app", "require_scope"]
