"""A small FastAPI app that signs users in with a password and keeps their
sessions in sessiongw: the drop-in for an old ``session_middleware`` that
called ``is_session_valid(session_id)`` on every request.

    PYTHONPATH=src SESSIONGW_ADMIN_TOKEN=... python3 -m uvicorn examples.fastapi_app:app --port 3000

then open http://127.0.0.1:3000 (alice / wonderland). The demo users live in
memory; the app tells the gateway about them at start.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sessiongw import Client, Identity, SessionGatewayMiddleware, require_identity


@dataclass(frozen=True)
class DemoUser:
    id: str
    username: str
    email: str
    roles: tuple[str, ...]
    salt: bytes
    hash: bytes  # scrypt


def demo_user(id: str, username: str, password: str, roles: tuple[str, ...] = ()) -> DemoUser:
    salt = secrets.token_bytes(16)
    return DemoUser(id, username, f"{username}@example.com", roles, salt, _scrypt(password, salt))


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def check_password(user: DemoUser | None, password: str) -> bool:
    got = _scrypt(password, user.salt if user else bytes(16))  # the same work for an unknown user
    return user is not None and hmac.compare_digest(got, user.hash)


def provision(client: Client, users: list[DemoUser]) -> None:
    for u in users:
        client.put_user(u.id, u.username, email=u.email, roles=u.roles)


def create_app(client: Client, users: list[DemoUser]) -> FastAPI:
    by_name = {u.username: u for u in users}
    app = FastAPI()
    app.state.sessiongw = client
    # Every /account page needs a valid session; the rest is public.
    app.add_middleware(SessionGatewayMiddleware, client=client, paths=["/account"])

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return ('<form method="post" action="/login"><input name="username"> '
                '<input name="password" type="password"> <button>Sign in</button></form>')

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""), remember: str = Form("")) -> Response:
        user = by_name.get(username)
        if not check_password(user, password):
            return HTMLResponse("Wrong user name or password.", status_code=401)
        response = RedirectResponse("/account", status_code=303)
        client.login(response, user.id, remember_me=remember == "1", request=request, amr=["pwd"])
        return response

    @app.get("/account")
    def account(identity: Identity = Depends(require_identity)) -> dict:
        return {"hello": identity.username, "user_id": identity.user_id, "roles": list(identity.roles)}

    @app.post("/logout")
    def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        client.logout(request, response)  # Unavailable propagates: the session was not ended
        return response

    return app


if os.environ.get("SESSIONGW_ADMIN_TOKEN"):  # run by uvicorn
    _client = Client(os.environ.get("SESSIONGW_URL", "http://127.0.0.1:8080"), admin_token=os.environ["SESSIONGW_ADMIN_TOKEN"])
    _users = [demo_user("1", "alice", "wonderland", ("admin",))]
    provision(_client, _users)
    app = create_app(_client, _users)
