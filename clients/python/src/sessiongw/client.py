"""The synchronous client (standard library only)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote, urlsplit

from ._core import (
    Created,
    Identity,
    Requirements,
    SessionGatewayError,
    Unauthenticated,
    Unavailable,
    User,
    clear_cookie,
    credential,
    from_json,
    identity_from,
    refusal,
    session_body,
    token_from,
    well_formed,
)


class _Response:
    __slots__ = ("status", "headers", "body", "set_cookies")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, set_cookies: list[str]) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.set_cookies = set_cookies


class Client:
    """A client of one gateway, safe to share between threads (each thread
    keeps its own keep-alive connection).

    ``Client("http://127.0.0.1:8080", admin_token=..., cookie_name="session_id")``
    """

    def __init__(self, url: str, admin_token: Optional[str] = None, cookie_name: str = "session_id", timeout: float = 5.0) -> None:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"sessiongw: {url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self._scheme, self._host, self._port = u.scheme, u.hostname, u.port
        self._prefix = u.path.rstrip("/")
        self.admin_token = admin_token
        self.cookie_name = cookie_name
        self.timeout = timeout
        self._local = threading.local()

    # --- validation ---

    def validate(self, token: str, requirements: Optional[Requirements] = None) -> Identity:
        """Is this session (or API token) valid, and whose is it? Raises
        Unauthenticated, Forbidden or Unavailable."""
        return self._auth(token, "bearer", requirements)

    def validate_request(self, headers: Mapping[str, str], requirements: Optional[Requirements] = None) -> Identity:
        """Validates the token of a request (its headers), read as the
        gateway reads it."""
        t = token_from(headers, self.cookie_name)
        if t is None:
            raise Unauthenticated(401, "missing_token", "no session token")
        return self._auth(t[0], t[1], requirements)

    def _auth(self, token: str, source: str, q: Optional[Requirements] = None) -> Identity:
        if not well_formed(token):
            raise Unauthenticated(401, "invalid_token", "malformed session token")
        query = q.query() if q else ""
        r = self._do("GET", "/v1/auth" + ("?" + query if query else ""), None, credential(token, source, self.cookie_name), from_auth=True)
        return identity_from(r.headers)

    # --- login and logout (Starlette/FastAPI responses) ---

    def login(self, response: Any, user_id: str, remember_me: bool = False, *, request: Any = None,
              amr: Optional[Sequence[str]] = None, oidc: Optional[Mapping[str, str]] = None) -> Identity:
        """Starts a session for user_id after your own check of who the user
        is, sets the cookie on a Starlette/FastAPI response exactly as the
        gateway's cookie settings say, and returns the identity. Needs the
        admin token."""
        ip, ua = _client_of(request)
        created = self.create_session(user_id, remember_me, ip_address=ip, user_agent=ua, amr=amr, oidc=oidc)
        response.headers.append("set-cookie", created.set_cookie)
        return self._auth(created.token, "bearer")

    def logout(self, request: Any, response: Any) -> None:
        """Ends the request's session on every replica and clears the cookie
        when it came in one. A request without a session is not an error; if
        the gateway cannot be reached, Unavailable is raised and the cookie is
        left alone."""
        t = token_from(raw_headers(request), self.cookie_name)
        if t is None:
            return
        token, source = t
        if not well_formed(token):
            if source == "cookie":
                response.headers.append("set-cookie", clear_cookie(self.cookie_name))
            return
        try:
            r = self._do("DELETE", "/v1/session", None, credential(token, source, self.cookie_name))
        except Unauthenticated:
            if source == "cookie":
                response.headers.append("set-cookie", clear_cookie(self.cookie_name))
            return
        for c in r.set_cookies:
            response.headers.append("set-cookie", c)

    # --- typed methods ---

    def session(self, token: str) -> dict[str, Any]:
        """The holder's session and user ({"session": ..., "user": ...})."""
        return self._json("GET", "/v1/session", None, {"Authorization": f"Bearer {token}"})

    def revoke_other_sessions(self, token: str) -> int:
        return int(self._json("DELETE", "/v1/session/others", None, {"Authorization": f"Bearer {token}"})["revoked"])

    def put_user(self, user_id: str, username: str, email: str = "", is_active: bool = True,
                 roles: Sequence[str] = (), max_sessions: Optional[int] = None) -> User:
        body = {"username": username, "email": email, "is_active": is_active, "roles": list(roles), "max_sessions": max_sessions}
        return from_json(User, self._json("PUT", f"/v1/admin/users/{quote(user_id, safe='')}", body, self._admin()))

    def get_user(self, user_id: str) -> User:
        return from_json(User, self._json("GET", f"/v1/admin/users/{quote(user_id, safe='')}", None, self._admin()))

    def delete_user(self, user_id: str) -> None:
        self._do("DELETE", f"/v1/admin/users/{quote(user_id, safe='')}", None, self._admin())

    def create_session(self, user_id: str, remember_me: bool = False, *, ip_address: str = "", user_agent: str = "",
                       amr: Optional[Sequence[str]] = None, oidc: Optional[Mapping[str, str]] = None) -> Created:
        body = session_body(user_id, remember_me, ip_address, user_agent, amr, oidc)
        return from_json(Created, self._json("POST", "/v1/admin/sessions", body, self._admin()))

    def revoke_session(self, session_id: str) -> None:
        """Revokes a session by its public id, everywhere, before returning."""
        self._do("DELETE", f"/v1/admin/sessions/{quote(session_id, safe='')}", None, self._admin())

    def revoke_user_sessions(self, user_id: str, except_token: str = "") -> int:
        body = {"except_token": except_token} if except_token else {}
        return int(self._json("POST", f"/v1/admin/users/{quote(user_id, safe='')}/sessions/revoke", body, self._admin())["revoked"])

    def user_stats(self, user_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/admin/users/{quote(user_id, safe='')}/stats", None, self._admin())

    # --- transport ---

    def _admin(self) -> dict[str, str]:
        if not self.admin_token:
            raise TypeError("sessiongw: this method needs the admin token (admin_token=...)")
        return {"Authorization": f"Bearer {self.admin_token}"}

    def _json(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        r = self._do(method, path, body, headers)
        return json.loads(r.body) if r.body else None

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            c = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = c
        return c

    def _do(self, method: str, path: str, body: Any, headers: dict[str, str], from_auth: bool = False) -> _Response:
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        # A kept-alive connection the server closed fails at once: try again
        # on a new one (every call here is safe to repeat: a second logout or
        # revoke of the same session is harmless).
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, self._prefix + path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest) as e:
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    raise Unavailable(0, "unavailable", f"the session gateway could not be reached: {e}") from e
            except (OSError, socket.timeout, http.client.HTTPException) as e:
                conn.close()
                self._local.conn = None
                raise Unavailable(0, "unavailable", f"the session gateway could not be reached: {e}") from e
        hdrs = {k.lower(): v for k, v in resp.getheaders() if k.lower() != "set-cookie"}
        r = _Response(resp.status, hdrs, payload, resp.headers.get_all("Set-Cookie") or [])
        if resp.status >= 300:
            raise refusal(resp.status, r.headers, payload, from_auth)
        return r

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None


def raw_headers(request: Any) -> Any:
    """A Starlette request's headers as (name, value) byte pairs (every
    Cookie header kept), or a plain mapping's."""
    h = request.headers
    return h.raw if hasattr(h, "raw") else dict(h)


def _client_of(request: Any) -> tuple[str, str]:
    """The address and user agent of a Starlette request (or none)."""
    if request is None:
        return "", ""
    ip = getattr(getattr(request, "client", None), "host", "") or ""
    ua = request.headers.get("user-agent", "") if hasattr(request, "headers") else ""
    return ip, ua


__all__ = ["Client", "SessionGatewayError"]
