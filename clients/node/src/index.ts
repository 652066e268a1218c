/**
 * The Node client of sessiongw, the session gateway: validate the session of
 * every request, log users in and out with the gateway's hardened cookie, and
 * an Express middleware. No runtime dependency beyond Node 20's fetch.
 *
 * ```ts
 * import { SessionGateway } from "@sessiongw/client";
 * const gw = new SessionGateway({ url: "http://127.0.0.1:8080", adminToken: process.env.SESSIONGW_ADMIN_TOKEN });
 * app.get("/account", gw.middleware(), (req, res) => res.send(`hello ${req.identity!.username}`));
 * ```
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { components } from "./openapi.js";

type Schemas = components["schemas"];

/** A session as the gateway describes it (generated from api/openapi.yaml). */
export type Session = Schemas["Session"];
/** One of the holder's own sessions, with its device and whether it is the current one. */
export type OwnSession = Schemas["OwnSession"];
/** A user (generated from api/openapi.yaml). */
export type User = Schemas["User"];
/** A new session: its token exists only in this answer. */
export type Created = Schemas["Created"];
/** A summary of a user's active sessions. */
export type Stats = Schemas["Stats"];

/** Who a valid session belongs to: the answer of {@link SessionGateway.validate}. */
export interface Identity {
  userId: string;
  username: string;
  email: string;
  roles: string[];
  /** The session's public, non-secret id. */
  sessionId: string;
  /** When the user last proved who they are (null if the gateway did not say). */
  authenticatedAt: Date | null;
  /** A named API token's name ("" for a session). */
  tokenName: string;
}

/** What a check may ask beyond a valid session (maps to /v1/auth's query). */
export interface Requirements {
  /** Any of these roles (all of them with allRoles). */
  roles?: string[];
  allRoles?: boolean;
  /** Authenticated at most this many seconds ago. */
  maxAgeSeconds?: number;
  /** Every one of these authentication methods. */
  amr?: string[];
}

/**
 * A refusal or failure. Match with `instanceof`: {@link Unauthenticated}
 * (401: sign in again), {@link Forbidden} (403, or a requirement such as a
 * fresh sign-in not met), {@link Unavailable} (503, a timeout, a refused
 * connection: the answer could not be determined, never "logged out").
 */
export class SessionGatewayError extends Error {
  /** The HTTP status (0 when the gateway was not reached). */
  readonly status: number;
  /** The gateway's error code ("invalid_session", "missing_role", …). */
  readonly code: string;
  /** The gateway's X-Auth-Reason, when a valid session was refused. */
  readonly reason: string;
  constructor(status: number, code: string, message: string, reason = "", options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}
/** 401: no token, or an unknown, expired, revoked or malformed one. */
export class Unauthenticated extends SessionGatewayError {}
/** 403: a valid session that is not allowed (inactive user, missing role), or one that must authenticate again. */
export class Forbidden extends SessionGatewayError {}
/** The answer could not be determined: never treat it as "logged out". */
export class Unavailable extends SessionGatewayError {}

function errorFor(status: number, code: string, message: string, reason: string): SessionGatewayError {
  if (reason === "reauthentication_required") return new Forbidden(status, code, message, reason);
  if (status === 401) return new Unauthenticated(status, code, message, reason);
  if (status === 403) return new Forbidden(status, code, message, reason);
  if (status === 503 || status === 502 || status === 504) return new Unavailable(status, code, message, reason);
  return new SessionGatewayError(status, code, message, reason);
}

/** Options of {@link SessionGateway}. */
export interface Options {
  /** The gateway's base URL, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** SESSIONGW_ADMIN_TOKEN: needed by login and the admin methods. */
  adminToken?: string;
  /** SESSIONGW_COOKIE_NAME (default "session_id"). */
  cookieName?: string;
  /** Per-request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
}

/** Options of {@link SessionGateway.middleware}. */
export interface MiddlewareOptions {
  /** Also require these (a role, a fresh sign-in); unmet: 403. */
  require?: Requirements;
  /**
   * Called instead of answering a refused or undetermined request (a web page
   * may redirect to its login form on Unauthenticated; answer 503 on Unavailable).
   */
  onError?: (err: SessionGatewayError, req: IncomingMessage, res: ServerResponse) => void;
}

/** Options of {@link SessionGateway.login}. */
export interface LoginOptions {
  rememberMe?: boolean;
  /** How the user authenticated ("pwd", "otp", …). */
  amr?: string[];
  /** The client's address (default: the request's peer, when a request is given). */
  ipAddress?: string;
  userAgent?: string;
  /** The OpenID Connect references of the session, for back-channel logout. */
  oidc?: { iss: string; sub: string; sid?: string };
}

declare module "node:http" {
  interface IncomingMessage {
    /** Set by {@link SessionGateway.middleware} for a valid session. */
    identity?: Identity;
  }
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

type Source = "cookie" | "bearer";

/** A client of one gateway. Make one and share it: it holds no per-request state. */
export class SessionGateway {
  readonly #base: string;
  readonly #admin: string | undefined;
  readonly #cookie: string;
  readonly #timeout: number;
  readonly #fetch: typeof fetch;

  constructor(options: Options) {
    const u = new URL(options.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`sessiongw: ${options.url} is not an http(s) URL`);
    this.#base = options.url.replace(/\/+$/, "");
    this.#admin = options.adminToken;
    this.#cookie = options.cookieName ?? "session_id";
    this.#timeout = options.timeoutMs ?? 5000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Is this session (or API token) valid, and whose is it? */
  async validate(token: string, requirements?: Requirements): Promise<Identity> {
    return this.#auth(token, "bearer", requirements);
  }

  /** The token of a request, as the gateway reads it: the cookie, else Authorization: Bearer, else X-Session-Token. */
  tokenFrom(req: IncomingMessage): { token: string; source: Source } | undefined {
    const cookies = parseCookies(req.headers.cookie).filter(([k]) => k === this.#cookie);
    if (cookies.length > 0) {
      // As the gateway: the cookie twice with different values names no session.
      const first = cookies[0]![1];
      return { token: cookies.every(([, v]) => v === first) ? first : "", source: "cookie" };
    }
    const auth = req.headers.authorization;
    if (auth && /^bearer /i.test(auth)) return { token: auth.slice(7).trim(), source: "bearer" };
    const x = req.headers["x-session-token"];
    if (typeof x === "string" && x !== "") return { token: x.trim(), source: "bearer" };
    return undefined;
  }

  /**
   * Express (or plain node:http) middleware: validates the session of every
   * request and sets `req.identity`; otherwise answers 401, 403 or 503 (with
   * Retry-After) itself, in the gateway's JSON error shape.
   */
  middleware(options: MiddlewareOptions = {}) {
    const onError = options.onError ?? ((err: SessionGatewayError, _req: IncomingMessage, res: ServerResponse) => writeError(res, err));
    return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
      const t = this.tokenFrom(req);
      if (!t) {
        onError(new Unauthenticated(401, "missing_token", "no session token"), req, res);
        return;
      }
      this.#auth(t.token, t.source, options.require).then(
        (id) => {
          req.identity = id;
          next();
        },
        (err: unknown) => {
          if (err instanceof SessionGatewayError) onError(err, req, res);
          else next(err);
        },
      );
    };
  }

  /**
   * Starts a session for userId after your own check of who the user is, sets
   * the session cookie on res exactly as the gateway's cookie settings say
   * (HttpOnly, Secure, SameSite, Domain), and returns the new session's
   * identity. Needs the admin token.
   */
  async login(res: ServerResponse, userId: string, options: LoginOptions = {}, req?: IncomingMessage): Promise<Identity> {
    const created = await this.createSession(userId, {
      ...options,
      ipAddress: options.ipAddress ?? req?.socket.remoteAddress,
      userAgent: options.userAgent ?? req?.headers["user-agent"],
    });
    appendSetCookie(res, created.set_cookie);
    const id = await this.#auth(created.token, "bearer");
    return id;
  }

  /**
   * Ends the request's session at the gateway (on every replica) and clears
   * the cookie when it came in one. A request without a session is not an
   * error. If the gateway cannot be reached the session is not ended, the
   * cookie is left alone, and the promise rejects with Unavailable.
   */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t = this.tokenFrom(req);
    if (!t) return;
    if (!UUID_V4.test(t.token)) {
      if (t.source === "cookie") appendSetCookie(res, this.#clearCookie());
      return;
    }
    try {
      const resp = await this.#request("DELETE", "/v1/session", undefined, this.#credential(t.token, t.source));
      for (const c of resp.headers.getSetCookie()) appendSetCookie(res, c);
    } catch (err) {
      if (err instanceof Unauthenticated) {
        if (t.source === "cookie") appendSetCookie(res, this.#clearCookie());
        return;
      }
      throw err;
    }
  }

  // --- typed methods (the holder's own: the token is the credential) ---

  /** The session and its user. */
  async session(token: string): Promise<{ session: Session; user: User }> {
    return (await this.#json("GET", "/v1/session", undefined, bearer(token))) as { session: Session; user: User };
  }
  /** The holder's sessions, newest first. */
  async sessions(token: string): Promise<OwnSession[]> {
    return ((await this.#json("GET", "/v1/session/all", undefined, bearer(token))) as { sessions: OwnSession[] }).sessions;
  }
  /** Revokes every other session of the holder; returns how many. */
  async revokeOtherSessions(token: string): Promise<number> {
    return ((await this.#json("DELETE", "/v1/session/others", undefined, bearer(token))) as { revoked: number }).revoked;
  }

  // --- typed methods (your backend: they need the admin token) ---

  /** Creates or replaces a user. */
  async putUser(user: { id: string; username: string; email?: string; is_active?: boolean; roles?: string[]; max_sessions?: number | null }): Promise<User> {
    const { id, ...body } = user;
    return (await this.#json("PUT", `/v1/admin/users/${encodeURIComponent(id)}`, body, this.#asAdmin())) as User;
  }
  /** A user; rejects with a 404 SessionGatewayError when unknown. */
  async getUser(id: string): Promise<User> {
    return (await this.#json("GET", `/v1/admin/users/${encodeURIComponent(id)}`, undefined, this.#asAdmin())) as User;
  }
  /** Deletes a user and their sessions. */
  async deleteUser(id: string): Promise<void> {
    await this.#request("DELETE", `/v1/admin/users/${encodeURIComponent(id)}`, undefined, this.#asAdmin());
  }
  /** Creates a session (what login does, without the cookie). */
  async createSession(userId: string, options: LoginOptions = {}): Promise<Created> {
    const body: Record<string, unknown> = { user_id: userId, remember_me: options.rememberMe ?? false };
    if (options.amr) body.amr = options.amr;
    if (options.ipAddress) body.ip_address = normalizeIP(options.ipAddress);
    if (options.userAgent) body.user_agent = options.userAgent.slice(0, 512);
    if (options.oidc) body.oidc = options.oidc;
    return (await this.#json("POST", "/v1/admin/sessions", body, this.#asAdmin())) as Created;
  }
  /** Revokes a session by its public id, everywhere, before resolving. */
  async revokeSessionById(id: string): Promise<void> {
    await this.#request("DELETE", `/v1/admin/sessions/${encodeURIComponent(id)}`, undefined, this.#asAdmin());
  }
  /** Revokes all of a user's sessions (but the one of exceptToken); returns how many. */
  async revokeUserSessions(userId: string, exceptToken?: string): Promise<number> {
    const body = exceptToken ? { except_token: exceptToken } : {};
    return ((await this.#json("POST", `/v1/admin/users/${encodeURIComponent(userId)}/sessions/revoke`, body, this.#asAdmin())) as { revoked: number }).revoked;
  }
  /** A user's active sessions. */
  async userSessions(userId: string): Promise<Session[]> {
    return ((await this.#json("GET", `/v1/admin/users/${encodeURIComponent(userId)}/sessions`, undefined, this.#asAdmin())) as { sessions: Session[] }).sessions;
  }
  /** A summary of a user's active sessions. */
  async userStats(userId: string): Promise<Stats> {
    return (await this.#json("GET", `/v1/admin/users/${encodeURIComponent(userId)}/stats`, undefined, this.#asAdmin())) as Stats;
  }

  // --- internals ---

  async #auth(token: string, source: Source, q?: Requirements): Promise<Identity> {
    if (!UUID_V4.test(token)) throw new Unauthenticated(401, "invalid_token", "malformed session token");
    const query = requirementsQuery(q);
    const resp = await this.#request("GET", "/v1/auth" + (query ? "?" + query : ""), undefined, this.#credential(token, source), true);
    const h = resp.headers;
    const userId = h.get("x-auth-user-id");
    if (!userId) throw new SessionGatewayError(resp.status, "no_identity", "the gateway sent no X-Auth-User-Id: the client needs SESSIONGW_AUTH_HEADERS=sessiongw (the default)");
    const roles = h.get("x-auth-roles") ?? "";
    const at = h.get("x-auth-authenticated-at");
    return {
      userId,
      username: h.get("x-auth-username") ?? "",
      email: h.get("x-auth-email") ?? "",
      roles: roles === "" ? [] : roles.split(","),
      sessionId: h.get("x-auth-session-id") ?? "",
      authenticatedAt: at ? new Date(at) : null,
      tokenName: h.get("x-auth-token-name") ?? "",
    };
  }

  #credential(token: string, source: Source): Record<string, string> {
    return source === "cookie" ? { cookie: `${this.#cookie}=${token}` } : bearer(token);
  }

  #asAdmin(): Record<string, string> {
    if (!this.#admin) throw new TypeError("sessiongw: this method needs the admin token (options.adminToken)");
    return bearer(this.#admin);
  }

  #clearCookie(): string {
    const secure = this.#cookie.startsWith("__Host-") || this.#cookie.startsWith("__Secure-") ? "; Secure" : "";
    return `${this.#cookie}=; Path=/; Max-Age=0; HttpOnly${secure}`;
  }

  async #json(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<unknown> {
    const resp = await this.#request(method, path, body, headers);
    const text = await resp.text();
    return text === "" ? undefined : JSON.parse(text);
  }

  async #request(method: string, path: string, body: unknown, headers: Record<string, string>, auth = false): Promise<Response> {
    let resp: Response;
    try {
      resp = await this.#fetch(this.#base + path, {
        method,
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeout),
        redirect: "manual",
      });
    } catch (err) {
      throw new Unavailable(0, "unavailable", `the session gateway could not be reached: ${(err as Error).message}`, "", { cause: err });
    }
    if (resp.status < 300) return resp;
    const reason = resp.headers.get("x-auth-reason") ?? "";
    let code = "";
    let message = "";
    try {
      const e = (await resp.json()) as { error?: { code?: string; message?: string } };
      code = e.error?.code ?? "";
      message = e.error?.message ?? "";
    } catch {
      // /v1/auth answers have no body
    }
    if (!code) {
      code = reason || (auth ? authCode(resp.status) : `http_${resp.status}`);
      message = message || code.replaceAll("_", " ");
    }
    throw errorFor(resp.status, code, message, reason);
  }
}

/** The meaning of a bodiless /v1/auth status for a well-formed token. */
function authCode(status: number): string {
  switch (status) {
    case 401:
      return "invalid_session";
    case 403:
      return "user_inactive";
    case 503:
      return "unavailable";
  }
  return `http_${status}`;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function requirementsQuery(q?: Requirements): string {
  if (!q) return "";
  const p = new URLSearchParams();
  if (q.roles?.length) {
    p.set("roles", q.roles.join(","));
    if (q.allRoles) p.set("roles_match", "all");
  }
  if (q.maxAgeSeconds && q.maxAgeSeconds > 0) p.set("max_age", String(Math.floor(q.maxAgeSeconds)));
  if (q.amr?.length) p.set("amr", q.amr.join(","));
  return p.toString();
}

function parseCookies(header: string | undefined): [string, string][] {
  if (!header) return [];
  const out: [string, string][] = [];
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    out.push([part.slice(0, i).trim(), part.slice(i + 1).trim()]);
  }
  return out;
}

function appendSetCookie(res: ServerResponse, cookie: string): void {
  const prev = res.getHeader("set-cookie");
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader("set-cookie", [...list, cookie]);
}

/** IPv4-mapped IPv6 ("::ffff:127.0.0.1", as Node reports IPv4 peers on dual-stack sockets) as IPv4. */
function normalizeIP(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/**
 * Answers err as the middleware does: its status and code in the gateway's
 * JSON error shape (403 for a required re-authentication; 503 with
 * Retry-After when the gateway could not tell).
 */
export function writeError(res: ServerResponse, err: SessionGatewayError): void {
  let status = err.status;
  if (err instanceof Forbidden) status = 403;
  else if (err instanceof Unavailable) status = 503;
  else if (status < 400) status = 500;
  if (status === 503) res.setHeader("retry-after", "1");
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify({ error: { code: err.code, message: err.message } }));
}
