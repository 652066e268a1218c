import asyncio
import dataclasses
import json
import os
import socket
import urllib.request

import jwt
import pytest

from sessiongw import (
    AsyncClient,
    Client,
    Created,
    Forbidden,
    Requirements,
    Session,
    SessionGatewayError,
    Unauthenticated,
    Unavailable,
    User,
)

UNKNOWN = "0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f"


@pytest.fixture()
def client(gateway_url, admin_token):
    c = Client(gateway_url, admin_token=admin_token)
    yield c
    c.close()


def test_validate(client, uid):
    client.put_user(uid, uid, email=f"{uid}@example.com", roles=["admin", "dev"])
    s = client.create_session(uid, amr=["pwd"])
    who = client.validate(s.token)
    assert (who.user_id, who.username, who.email, who.roles, who.session_id) == (uid, uid, f"{uid}@example.com", ("admin", "dev"), s.session.id)
    assert who.authenticated_at is not None and who.authenticated_at.tzinfo is not None

    with pytest.raises(Forbidden) as e:
        client.validate(s.token, Requirements(roles=["ops"]))
    assert e.value.reason == "missing_role" and e.value.status == 403
    assert client.validate(s.token, Requirements(roles=["ops", "dev"], max_age_seconds=3600)).user_id == uid
    with pytest.raises(Forbidden):  # a method not used: authenticate again
        client.validate(s.token, Requirements(amr=["otp"]))
    with pytest.raises(Unauthenticated) as e:
        client.validate("nope")
    assert e.value.code == "invalid_token"
    with pytest.raises(Unauthenticated) as e:
        client.validate(UNKNOWN)
    assert e.value.code == "invalid_session"
    client.put_user(uid, uid, is_active=False)
    with pytest.raises(Forbidden):
        client.validate(s.token)
    # A gateway that does not answer is unavailable, never "logged out".
    with pytest.raises(Unavailable) as e:
        Client("http://127.0.0.1:1", timeout=1).validate(s.token)
    assert not isinstance(e.value, Unauthenticated)
    with pytest.raises(SessionGatewayError) as e:
        client.get_user(uid + "-none")
    assert (e.value.status, e.value.code) == (404, "user_not_found")


def test_keep_alive_survives_a_closed_connection(client, uid):
    client.put_user(uid, uid)
    s = client.create_session(uid)
    client.validate(s.token)
    client._conn().sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped the idle connection
    assert client.validate(s.token).user_id == uid


def test_async_client(gateway_url, admin_token, uid):
    async def run():
        c = AsyncClient(gateway_url, admin_token=admin_token)
        try:
            await c.put_user(uid, uid, roles=["dev"])
            s = await c.create_session(uid)
            who = await c.validate(s.token)
            assert who.user_id == uid and who.roles == ("dev",)
            await c.revoke_session(s.session.id)
            with pytest.raises(Unauthenticated):
                await c.validate(s.token)
            down = AsyncClient("http://127.0.0.1:1", timeout=1)
            with pytest.raises(Unavailable):
                await down.validate(s.token)
            await down.aclose()
        finally:
            await c.aclose()

    asyncio.run(run())


def test_types_match_the_openapi_document(client, gateway_url, uid):
    doc = json.load(urllib.request.urlopen(gateway_url + "/v1/openapi.json"))
    schemas = doc["components"]["schemas"]
    for cls, name in ((Session, "Session"), (User, "User"), (Created, "Created")):
        fields = {f.name for f in dataclasses.fields(cls)}
        props = set(schemas[name]["properties"])
        assert fields == props, f"{cls.__name__}: fields {sorted(fields ^ props)} differ from the document's {name}"
    # And the wire: every answer carries exactly the documented fields.
    user = client.put_user(uid, uid)
    created = client.create_session(uid)
    raw = client.session(created.token)
    for value, name in ((raw["session"], "Session"), (raw["user"], "User"), (dataclasses.asdict(user), "User")):
        assert set(schemas[name]["required"]) <= set(value) <= set(schemas[name]["properties"]), name


def test_identity_jwt_verifies_as_the_docs_show(client, gateway_url, uid):
    """docs/events.md's PyJWT snippet, against the gateway's own keys."""
    client.put_user(uid, uid, email=f"{uid}@example.com", roles=["dev"])
    s = client.create_session(uid)
    req = urllib.request.Request(gateway_url + "/v1/auth", headers={"Authorization": f"Bearer {s.token}"})
    token = urllib.request.urlopen(req).headers["X-Auth-Jwt"]
    issuer = os.environ["SESSIONGW_TEST_ISSUER"]
    jwks = jwt.PyJWKClient(gateway_url + "/.well-known/jwks.json", cache_keys=True)
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], issuer=issuer, options={"require": ["exp", "iat", "sub"]})
    assert (claims["sub"], claims["sid"], claims["email"], claims["roles"]) == (uid, s.session.id, f"{uid}@example.com", ["dev"])
    assert claims["exp"] - claims["iat"] == 60
    head, body, sig = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "roles": ["admin"]}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged}.{sig}", key.key, algorithms=["ES256", "EdDSA"], issuer=issuer)
