"""ASGI middleware (FastAPI, Starlette) and a FastAPI dependency."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional, Sequence

from starlette.requests import Request

from ._core import Identity, Requirements, SessionGatewayError, Unauthenticated, error_body, http_status, token_from
from .client import Client

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


async def _validate(client: Any, headers: Any, require: Optional[Requirements]) -> Identity:
    t = token_from(headers, client.cookie_name)
    if t is None:
        raise Unauthenticated(401, "missing_token", "no session token")
    if isinstance(client, Client):  # blocking: off the event loop
        import anyio.to_thread

        return await anyio.to_thread.run_sync(lambda: client._auth(t[0], t[1], require))
    return await client._auth(t[0], t[1], require)


class SessionGatewayMiddleware:
    """Validates the session of every request to the paths it protects and
    puts the Identity in ``request.state.identity``; otherwise answers 401,
    403 or 503 (with Retry-After) in the gateway's JSON error shape.

    ``app.add_middleware(SessionGatewayMiddleware, client=client, paths=["/api/"], exclude=["/api/login"])``

    ``client`` is a Client or an AsyncClient; ``paths`` are the protected
    path prefixes (default: everything), ``exclude`` prefixes left alone,
    ``require`` Requirements every protected request must also meet.
    """

    def __init__(self, app: Callable, client: Any, paths: Sequence[str] = ("/",), exclude: Sequence[str] = (),
                 require: Optional[Requirements] = None) -> None:
        self.app = app
        self.client = client
        self.paths = tuple(paths)
        self.exclude = tuple(exclude)
        self.require = require

    def protects(self, path: str) -> bool:
        return path.startswith(self.paths) and not (self.exclude and path.startswith(self.exclude))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.protects(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        try:
            identity = await _validate(self.client, scope.get("headers", []), self.require)
        except SessionGatewayError as err:
            status = http_status(err)
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            if status == 503:
                headers.append((b"retry-after", b"1"))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": error_body(err)})
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


def require_identity_with(require: Optional[Requirements] = None) -> Callable[[Request], Awaitable[Identity]]:
    """A FastAPI dependency like require_identity that also checks require
    (a role, a fresh sign-in)::

        admin = require_identity_with(Requirements(roles=["admin"]))

        @app.post("/admin/reindex")
        async def reindex(identity: Identity = Depends(admin)): ...
    """

    async def dependency(request: Request) -> Identity:
        return await _require(request, require)

    return dependency


async def require_identity(request: Request) -> Identity:
    """A FastAPI dependency: the request's Identity, or an HTTPException
    (401, 403, or 503 with Retry-After) whose detail is {"code", "message"}.
    It uses ``request.state.identity`` when SessionGatewayMiddleware set it,
    else validates with ``app.state.sessiongw`` (a Client or AsyncClient)::

        @app.get("/me")
        async def me(identity: Identity = Depends(require_identity)): ...
    """
    return await _require(request, None)


async def _require(request: Request, require: Optional[Requirements]) -> Identity:
    if require is None:
        identity = getattr(request.state, "identity", None)
        if isinstance(identity, Identity):
            return identity
    client = getattr(request.app.state, "sessiongw", None)
    if client is None:
        raise RuntimeError("sessiongw: set app.state.sessiongw to a Client or AsyncClient (or add SessionGatewayMiddleware)")
    try:
        identity = await _validate(client, request.headers.raw, require)
    except SessionGatewayError as err:
        from fastapi import HTTPException

        status = http_status(err)
        headers = {"Retry-After": "1"} if status == 503 else None
        raise HTTPException(status_code=status, detail={"code": err.code, "message": err.message}, headers=headers) from err
    request.state.identity = identity
    return identity
