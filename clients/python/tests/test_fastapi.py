import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from examples.fastapi_app import create_app, demo_user, provision
from sessiongw import Client, Identity, Requirements, SessionGatewayMiddleware, require_identity, require_identity_with


@pytest.fixture()
def client(gateway_url, admin_token):
    return Client(gateway_url, admin_token=admin_token)


def test_login_protected_logout_refused(client, uid):
    users = [demo_user(uid, uid + "-alice", "wonderland", ("admin",))]
    provision(client, users)
    browser = TestClient(create_app(client, users), base_url="https://testserver")  # the cookie is Secure

    r = browser.get("/account")
    assert r.status_code == 401 and r.json() == {"error": {"code": "missing_token", "message": "no session token"}}
    r = browser.post("/login", data={"username": users[0].username, "password": "guess"}, follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers

    r = browser.post("/login", data={"username": users[0].username, "password": "wonderland"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    cookie = r.headers["set-cookie"]
    for attr in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attr in cookie, f"{cookie} lacks {attr}"
    token = cookie.split(";")[0].split("=", 1)[1]

    r = browser.get("/account")
    assert r.status_code == 200 and r.json()["hello"] == users[0].username and r.json()["roles"] == ["admin"]

    r = browser.post("/logout", follow_redirects=False)
    assert r.status_code == 303
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert browser.get("/account").status_code == 401

    replay = TestClient(create_app(client, users), base_url="https://testserver")
    r = replay.get("/account", headers={"cookie": f"session_id={token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_session"


def test_middleware_and_dependency_answers(client, uid):
    client.put_user(uid, uid, roles=["dev"])
    s = client.create_session(uid)
    app = FastAPI()
    app.state.sessiongw = client
    app.add_middleware(SessionGatewayMiddleware, client=client, paths=["/mw/"], exclude=["/mw/public"])

    @app.get("/mw/me")
    def mw_me(identity: Identity = Depends(require_identity)):
        return {"user": identity.user_id}

    @app.get("/mw/public")
    def public():
        return {"ok": True}

    @app.get("/dep/admin")
    def admin(identity: Identity = Depends(require_identity_with(Requirements(roles=["admin"])))):
        return {"user": identity.user_id}

    down = Client("http://127.0.0.1:1", timeout=1)
    down_app = FastAPI()
    down_app.add_middleware(SessionGatewayMiddleware, client=down)

    @down_app.get("/x")
    def x():
        return {}

    t = TestClient(app)
    assert t.get("/mw/me", headers={"authorization": f"Bearer {s.token}"}).json() == {"user": uid}
    assert t.get("/mw/public").json() == {"ok": True}
    r = t.get("/mw/me", headers={"cookie": f"session_id={s.token}; session_id=0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"  # the cookie twice: refused
    r = t.get("/dep/admin", headers={"authorization": f"Bearer {s.token}"})
    assert r.status_code == 403 and r.json()["detail"]["code"] == "missing_role"
    r = TestClient(down_app).get("/x", headers={"cookie": f"session_id={s.token}"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
