"""The Python client of sessiongw, the session gateway.

Validate the session of every request, log users in and out with the
gateway's hardened cookie, and an ASGI middleware and FastAPI dependency::

    from fastapi import Depends, FastAPI
    from sessiongw import Client, Identity, SessionGatewayMiddleware, require_identity

    client = Client("http://127.0.0.1:8080", admin_token=ADMIN_TOKEN)
    app = FastAPI()
    app.state.sessiongw = client
    app.add_middleware(SessionGatewayMiddleware, client=client, paths=["/account"])

    @app.get("/account")
    def account(identity: Identity = Depends(require_identity)):
        return {"hello": identity.username}

Errors: Unauthenticated (401: sign in again), Forbidden (403), Unavailable
(the gateway could not tell: never treat it as logged out); all are
SessionGatewayError.
"""

from ._core import (
    Created,
    Forbidden,
    Identity,
    Requirements,
    Session,
    SessionGatewayError,
    Unauthenticated,
    Unavailable,
    User,
)
from .client import Client

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "Created",
    "Forbidden",
    "Identity",
    "Requirements",
    "Session",
    "SessionGatewayError",
    "SessionGatewayMiddleware",
    "Unauthenticated",
    "Unavailable",
    "User",
    "require_identity",
    "require_identity_with",
]


def __getattr__(name: str):  # the optional parts import their dependencies on first use
    if name == "AsyncClient":
        from .aio import AsyncClient

        return AsyncClient
    if name in ("SessionGatewayMiddleware", "require_identity", "require_identity_with"):
        from . import asgi

        return getattr(asgi, name)
    raise AttributeError(f"module 'sessiongw' has no attribute {name!r}")
