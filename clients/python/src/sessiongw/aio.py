"""The asynchronous client (httpx)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote, urlsplit

try:
    import httpx
except ImportError as e:  # pragma: no cover
    raise ImportError("sessiongw.AsyncClient needs httpx: pip install 'sessiongw[async]' (Debian: apt install python3-httpx)") from e

from ._core import (
    Created,
    Identity,
    Requirements,
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
from .client import _client_of, raw_headers


class AsyncClient:
    """The same methods as Client, awaitable, on one pooled httpx.AsyncClient.

    ``AsyncClient("http://127.0.0.1:8080", admin_token=..., cookie_name="session_id")``
    """

    def __init__(self, url: str, admin_token: Optional[str] = None, cookie_name: str = "session_id", timeout: float = 5.0,
                 http: Optional["httpx.AsyncClient"] = None) -> None:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"sessiongw: {url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.cookie_name = cookie_name
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def validate(self, token: str, requirements: Optional[Requirements] = None) -> Identity:
        return await self._auth(token, "bearer", requirements)

    async def validate_request(self, headers: Any, requirements: Optional[Requirements] = None) -> Identity:
        t = token_from(headers, self.cookie_name)
        if t is None:
            raise Unauthenticated(401, "missing_token", "no session token")
        return await self._auth(t[0], t[1], requirements)

    async def _auth(self, token: str, source: str, q: Optional[Requirements] = None) -> Identity:
        if not well_formed(token):
            raise Unauthenticated(401, "invalid_token", "malformed session token")
        query = q.query() if q else ""
        r = await self._do("GET", "/v1/auth" + ("?" + query if query else ""), None, credential(token, source, self.cookie_name), from_auth=True)
        return identity_from(r.headers)

    async def login(self, response: Any, user_id: str, remember_me: bool = False, *, request: Any = None,
                    amr: Optional[Sequence[str]] = None, oidc: Optional[Mapping[str, str]] = None) -> Identity:
        ip, ua = _client_of(request)
        created = await self.create_session(user_id, remember_me, ip_address=ip, user_agent=ua, amr=amr, oidc=oidc)
        response.headers.append("set-cookie", created.set_cookie)
        return await self._auth(created.token, "bearer")

    async def logout(self, request: Any, response: Any) -> None:
        t = token_from(raw_headers(request), self.cookie_name)
        if t is None:
            return
        token, source = t
        if not well_formed(token):
            if source == "cookie":
                response.headers.append("set-cookie", clear_cookie(self.cookie_name))
            return
        try:
            r = await self._do("DELETE", "/v1/session", None, credential(token, source, self.cookie_name))
        except Unauthenticated:
            if source == "cookie":
                response.headers.append("set-cookie", clear_cookie(self.cookie_name))
            return
        for c in r.headers.get_list("set-cookie"):
            response.headers.append("set-cookie", c)

    async def session(self, token: str) -> dict[str, Any]:
        return await self._json("GET", "/v1/session", None, {"Authorization": f"Bearer {token}"})

    async def put_user(self, user_id: str, username: str, email: str = "", is_active: bool = True,
                       roles: Sequence[str] = (), max_sessions: Optional[int] = None) -> User:
        body = {"username": username, "email": email, "is_active": is_active, "roles": list(roles), "max_sessions": max_sessions}
        return from_json(User, await self._json("PUT", f"/v1/admin/users/{quote(user_id, safe='')}", body, self._admin()))

    async def create_session(self, user_id: str, remember_me: bool = False, *, ip_address: str = "", user_agent: str = "",
                             amr: Optional[Sequence[str]] = None, oidc: Optional[Mapping[str, str]] = None) -> Created:
        body = session_body(user_id, remember_me, ip_address, user_agent, amr, oidc)
        return from_json(Created, await self._json("POST", "/v1/admin/sessions", body, self._admin()))

    async def revoke_session(self, session_id: str) -> None:
        await self._do("DELETE", f"/v1/admin/sessions/{quote(session_id, safe='')}", None, self._admin())

    def _admin(self) -> dict[str, str]:
        if not self.admin_token:
            raise TypeError("sessiongw: this method needs the admin token (admin_token=...)")
        return {"Authorization": f"Bearer {self.admin_token}"}

    async def _json(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        r = await self._do(method, path, body, headers)
        return json.loads(r.content) if r.content else None

    async def _do(self, method: str, path: str, body: Any, headers: dict[str, str], from_auth: bool = False) -> "httpx.Response":
        try:
            r = await self._http.request(method, self.url + path, json=body, headers=headers)
        except httpx.HTTPError as e:
            raise Unavailable(0, "unavailable", f"the session gateway could not be reached: {e}") from e
        if r.status_code >= 300:
            raise refusal(r.status_code, dict(r.headers), r.content, from_auth)
        return r

    async def aclose(self) -> None:
        await self._http.aclose()
