"""What the sync and async clients share: types, errors, the wire format."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlencode

# --- errors -----------------------------------------------------------------


class SessionGatewayError(Exception):
    """A refusal or failure: ``status`` (0 when the gateway was not reached),
    the gateway's ``code`` ("invalid_session", "missing_role", ...) and
    ``reason`` (its X-Auth-Reason, when a valid session was refused)."""

    def __init__(self, status: int, code: str, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class Unauthenticated(SessionGatewayError):
    """401: no token, or an unknown, expired, revoked or malformed one: sign in again."""


class Forbidden(SessionGatewayError):
    """403: a valid session that is not allowed (an inactive user, a missing
    role), or one that must authenticate again."""


class Unavailable(SessionGatewayError):
    """503, a timeout or a connection error: the answer could not be
    determined. Never treat it as "logged out"."""


def error_for(status: int, code: str, message: str, reason: str = "") -> SessionGatewayError:
    if reason == "reauthentication_required":
        return Forbidden(status, code, message, reason)
    if status == 401:
        return Unauthenticated(status, code, message, reason)
    if status == 403:
        return Forbidden(status, code, message, reason)
    if status in (502, 503, 504):
        return Unavailable(status, code, message, reason)
    return SessionGatewayError(status, code, message, reason)


def http_status(err: SessionGatewayError) -> int:
    """The status an app answers for err (what the middleware answers)."""
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, Unavailable):
        return 503
    return err.status if err.status >= 400 else 500


def error_body(err: SessionGatewayError) -> bytes:
    """The gateway's JSON error shape."""
    return json.dumps({"error": {"code": err.code, "message": err.message}}).encode()


# --- types ------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a valid session belongs to."""

    user_id: str
    username: str
    email: str
    roles: tuple[str, ...]
    session_id: str  # the public, non-secret id
    authenticated_at: Optional[datetime] = None
    token_name: str = ""  # a named API token's name

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Requirements:
    """What a check may ask beyond a valid session (/v1/auth's query)."""

    roles: Sequence[str] = ()
    all_roles: bool = False
    max_age_seconds: int = 0
    amr: Sequence[str] = ()

    def query(self) -> str:
        q: dict[str, str] = {}
        if self.roles:
            q["roles"] = ",".join(self.roles)
            if self.all_roles:
                q["roles_match"] = "all"
        if self.max_age_seconds > 0:
            q["max_age"] = str(int(self.max_age_seconds))
        if self.amr:
            q["amr"] = ",".join(self.amr)
        return urlencode(q)


@dataclass(frozen=True)
class Session:
    """A session as the gateway describes it (api/openapi.yaml: Session)."""

    id: str
    user_id: str
    created_at: str
    expires_at: str
    last_activity_at: str
    ip_address: str
    last_ip_address: str
    user_agent: str
    remember_me: bool
    new_device: bool
    authenticated_at: str
    amr: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class User:
    """A user (api/openapi.yaml: User)."""

    id: str
    username: str
    email: str
    is_active: bool
    roles: list[str]
    max_sessions: Optional[int] = None


@dataclass(frozen=True)
class Created:
    """A new session; the token exists only here (api/openapi.yaml: Created)."""

    token: str
    session: Session
    evicted: list[str]
    set_cookie: str


def from_json(cls: type, data: Mapping[str, Any]) -> Any:
    """Builds a dataclass from an answer, ignoring fields it does not know
    (a newer gateway may add some)."""
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {k: v for k, v in data.items() if k in names}
    if cls is Created:
        kw["session"] = from_json(Session, data["session"])
    return cls(**kw)


# --- the wire ---------------------------------------------------------------

_UUID_V4 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")


def well_formed(token: str) -> bool:
    """Whether token looks like a session token (a UUID v4): a malformed one
    costs no request."""
    return bool(_UUID_V4.match(token))


def token_from(headers: Mapping[str, str] | Sequence[tuple[bytes, bytes]], cookie_name: str) -> Optional[tuple[str, str]]:
    """The token of a request and where it came from ("cookie" or "bearer"),
    as the gateway reads it: the cookie, else Authorization: Bearer, else
    X-Session-Token. The cookie sent twice with different values names no
    session (its token is "")."""
    cookie_headers: list[str] = []
    auth = x = ""
    if isinstance(headers, Mapping):
        items = [(k.lower(), v) for k, v in headers.items()]
    else:
        items = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers]
    for k, v in items:
        if k == "cookie":
            cookie_headers.append(v)
        elif k == "authorization" and not auth:
            auth = v
        elif k == "x-session-token" and not x:
            x = v
    values = []
    for h in cookie_headers:
        for part in h.split(";"):
            name, sep, value = part.partition("=")
            if sep and name.strip() == cookie_name:
                values.append(value.strip())
    if values:
        return (values[0] if all(v == values[0] for v in values) else "", "cookie")
    if auth[:7].lower() == "bearer ":
        return (auth[7:].strip(), "bearer")
    if x:
        return (x.strip(), "bearer")
    return None


def credential(token: str, source: str, cookie_name: str) -> dict[str, str]:
    if source == "cookie":
        return {"Cookie": f"{cookie_name}={token}"}
    return {"Authorization": f"Bearer {token}"}


def identity_from(headers: Mapping[str, str]) -> Identity:
    """The identity of a 200 from /v1/auth (header names in any case)."""
    h = {k.lower(): v for k, v in headers.items()}
    user_id = h.get("x-auth-user-id", "")
    if not user_id:
        raise SessionGatewayError(200, "no_identity", "the gateway sent no X-Auth-User-Id: the client needs SESSIONGW_AUTH_HEADERS=sessiongw (the default)")
    roles = h.get("x-auth-roles", "")
    at = h.get("x-auth-authenticated-at", "")
    return Identity(
        user_id=user_id,
        username=h.get("x-auth-username", ""),
        email=h.get("x-auth-email", ""),
        roles=tuple(roles.split(",")) if roles else (),
        session_id=h.get("x-auth-session-id", ""),
        authenticated_at=datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None,
        token_name=h.get("x-auth-token-name", ""),
    )


def refusal(status: int, headers: Mapping[str, str], body: bytes, from_auth: bool) -> SessionGatewayError:
    """The error of a non-2xx answer."""
    h = {k.lower(): v for k, v in headers.items()}
    reason = h.get("x-auth-reason", "")
    code = message = ""
    try:
        e = json.loads(body)["error"]
        code, message = e.get("code", ""), e.get("message", "")
    except (ValueError, KeyError, TypeError):
        pass  # /v1/auth answers have no body
    if not code:
        if reason:
            code = reason
        elif from_auth:
            code = {401: "invalid_session", 403: "user_inactive", 503: "unavailable"}.get(status, f"http_{status}")
        else:
            code = f"http_{status}"
        message = message or code.replace("_", " ")
    return error_for(status, code, message, reason)


def clear_cookie(cookie_name: str) -> str:
    """A Set-Cookie value that clears the session cookie."""
    secure = "; Secure" if cookie_name.startswith(("__Host-", "__Secure-")) else ""
    return f"{cookie_name}=; Path=/; Max-Age=0; HttpOnly{secure}"


def session_body(user_id: str, remember_me: bool, ip_address: str, user_agent: str, amr: Optional[Sequence[str]], oidc: Optional[Mapping[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "remember_me": remember_me}
    try:  # a test client's peer ("testclient") or a Unix socket is no address
        ip = ipaddress.ip_address(ip_address)
        body["ip_address"] = str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    except ValueError:
        pass
    if user_agent:
        body["user_agent"] = user_agent[:512]
    if amr:
        body["amr"] = list(amr)
    if oidc:
        body["oidc"] = dict(oidc)
    return body
