// These tests run against a real gateway: `go test ./clients/` (make test)
// starts one and passes its address in SESSIONGW_TEST_URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { SessionGateway, Unauthenticated, Forbidden, Unavailable, SessionGatewayError } from "../src/index.js";
import { createApp, demoUser, provision } from "../examples/express-app.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests with \`go test ./clients/\` (make test), which starts a gateway`);
  return v;
}
const url = env("SESSIONGW_TEST_URL");
const adminToken = env("SESSIONGW_TEST_ADMIN_TOKEN");
const gw = new SessionGateway({ url, adminToken });
let n = 0;
const uid = (p: string) => `node-${p}-${process.pid}-${++n}`;

async function serve(app: import("express").Express): Promise<{ base: string; close: () => Promise<void> }> {
  const srv: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = srv.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

test("validate answers who the session belongs to, or a typed error", async () => {
  const id = uid("v");
  await gw.putUser({ id, username: id, email: `${id}@example.com`, roles: ["admin", "dev"] });
  const s = await gw.createSession(id, { amr: ["pwd"] });
  const who = await gw.validate(s.token);
  assert.equal(who.userId, id);
  assert.equal(who.email, `${id}@example.com`);
  assert.deepEqual(who.roles, ["admin", "dev"]);
  assert.equal(who.sessionId, s.session.id);
  assert.ok(who.authenticatedAt instanceof Date && !Number.isNaN(who.authenticatedAt.getTime()));

  await assert.rejects(gw.validate(s.token, { roles: ["ops"] }), (e: unknown) => e instanceof Forbidden && e.reason === "missing_role");
  assert.equal((await gw.validate(s.token, { roles: ["ops", "dev"], maxAgeSeconds: 3600 })).userId, id);
  await assert.rejects(gw.validate(s.token, { amr: ["otp"] }), (e: unknown) => e instanceof Forbidden && !(e instanceof Unauthenticated));
  await assert.rejects(gw.validate("nope"), (e: unknown) => e instanceof Unauthenticated && e.code === "invalid_token");
  await assert.rejects(gw.validate("0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f"), (e: unknown) => e instanceof Unauthenticated && e.code === "invalid_session");
  await gw.putUser({ id, username: id, is_active: false });
  await assert.rejects(gw.validate(s.token), (e: unknown) => e instanceof Forbidden && e.status === 403);
  // A gateway that does not answer is unavailable, never "logged out".
  const down = new SessionGateway({ url: "http://127.0.0.1:1", timeoutMs: 1000 });
  await assert.rejects(down.validate(s.token), (e: unknown) => e instanceof Unavailable && !(e instanceof Unauthenticated));
  await assert.rejects(gw.getUser(uid("none")), (e: unknown) => e instanceof SessionGatewayError && e.status === 404 && e.code === "user_not_found");
});

test("an Express app: login, a protected page, logout, and the old cookie refused", async () => {
  const users = [demoUser(uid("alice"), "alice-" + process.pid, "wonderland", ["admin"])];
  await provision(gw, users);
  const { base, close } = await serve(createApp(gw, users));
  try {
    let r = await fetch(base + "/account", { redirect: "manual" });
    assert.equal(r.status, 303, "before login: to the login form");
    r = await fetch(base + "/login", { method: "POST", body: new URLSearchParams({ username: users[0]!.username, password: "guess" }), redirect: "manual" });
    assert.equal(r.status, 401);
    assert.equal(r.headers.getSetCookie().length, 0, "a failed sign-in set a cookie");

    r = await fetch(base + "/login", { method: "POST", body: new URLSearchParams({ username: users[0]!.username, password: "wonderland" }), redirect: "manual" });
    assert.equal(r.status, 303);
    const set = r.headers.getSetCookie();
    assert.equal(set.length, 1);
    const cookie = set[0]!;
    for (const attr of ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"]) assert.ok(cookie.includes(attr), `cookie ${cookie} lacks ${attr}`);
    const pair = cookie.split(";")[0]!;

    r = await fetch(base + "/account", { headers: { cookie: pair }, redirect: "manual" });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /Hello alice-/);

    // The cookie twice with different values names no session.
    r = await fetch(base + "/account", { headers: { cookie: `${pair}; session_id=0b4f1c2e-8d3a-4b5c-9e6f-7a8b9c0d1e2f` }, redirect: "manual" });
    assert.equal(r.status, 303);

    r = await fetch(base + "/logout", { method: "POST", headers: { cookie: pair }, redirect: "manual" });
    assert.equal(r.status, 303);
    assert.ok(r.headers.getSetCookie().some((c) => c.startsWith("session_id=;") && c.includes("Max-Age=0")), "logout did not clear the cookie");

    r = await fetch(base + "/account", { headers: { cookie: pair }, redirect: "manual" });
    assert.equal(r.status, 303, "the old cookie after logout");
    await assert.rejects(gw.validate(pair.split("=")[1]!), Unauthenticated);
  } finally {
    await close();
  }
});

test("the middleware answers 401, 403 and 503 in the gateway's JSON shape", async () => {
  const express = (await import("express")).default;
  const id = uid("mw");
  await gw.putUser({ id, username: id });
  const s = await gw.createSession(id);
  const app = express();
  app.get("/admin", gw.middleware({ require: { roles: ["admin"] } }), (_req, res) => res.send("admin"));
  const down = new SessionGateway({ url: "http://127.0.0.1:1", timeoutMs: 1000 });
  app.get("/down", down.middleware(), (_req, res) => res.send("never"));
  const { base, close } = await serve(app);
  try {
    let r = await fetch(base + "/admin");
    assert.equal(r.status, 401);
    assert.deepEqual(((await r.json()) as { error: { code: string } }).error.code, "missing_token");
    r = await fetch(base + "/admin", { headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, "missing_role");
    r = await fetch(base + "/down", { headers: { cookie: `session_id=${s.token}` } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
  } finally {
    await close();
  }
});

test("the types are generated from the OpenAPI document, and the wire format matches it", async () => {
  // Regenerating src/openapi.ts from api/openapi.yaml changes nothing.
  const out = join(mkdtempSync(join(tmpdir(), "sgw-")), "openapi.ts");
  execFileSync(process.execPath, [join("node_modules", "openapi-typescript", "bin", "cli.js"), "../../api/openapi.yaml", "-o", out], { stdio: "pipe" });
  assert.equal(readFileSync(out, "utf8"), readFileSync("src/openapi.ts", "utf8"), "src/openapi.ts is stale: npm run generate");

  const doc = (await (await fetch(url + "/v1/openapi.json")).json()) as { components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> } };
  const check = (name: string, value: object) => {
    const schema = doc.components.schemas[name]!;
    for (const k of schema.required ?? []) assert.ok(k in value, `${name}: the answer lacks ${k}`);
    for (const k of Object.keys(value)) assert.ok(k in (schema.properties ?? {}), `${name}: the answer has ${k}, which the document does not`);
  };
  const id = uid("wire");
  check("User", await gw.putUser({ id, username: id, roles: ["dev"] }));
  const created = await gw.createSession(id);
  check("Created", created);
  check("Session", created.session);
  const own = await gw.session(created.token);
  check("Session", own.session);
  check("User", own.user);
  check("Stats", await gw.userStats(id));
});

test("webhook deliveries verify with the Standard Webhooks library", async () => {
  const log = env("SESSIONGW_TEST_WEBHOOK_LOG");
  const wh = new Webhook(env("SESSIONGW_TEST_WEBHOOK_SECRET"));
  const id = uid("hook");
  await gw.putUser({ id, username: id });
  const s = await gw.createSession(id);
  await gw.revokeSessionById(s.session.id);
  type Raw = { headers: Record<string, string>; body: string };
  let mine: Raw[] = [];
  for (let i = 0; i < 100 && mine.length < 2; i++) {
    const all = (await (await fetch(log)).json()) as Raw[];
    mine = all.filter((d) => d.body.includes(s.session.id));
    if (mine.length < 2) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(mine.length, 2, "session.created and session.revoked were not delivered");
  const types = mine.map((d) => (wh.verify(d.body, d.headers) as { type: string }).type).sort();
  assert.deepEqual(types, ["session.created", "session.revoked"]);
  const forged = mine[0]!.body.replace(s.session.id, "00000000-0000-4000-8000-000000000000");
  assert.throws(() => wh.verify(forged, mine[0]!.headers));
  assert.throws(() => new Webhook("whsec_" + Buffer.from("another-secret-of-24-bytes!!").toString("base64")).verify(mine[0]!.body, mine[0]!.headers));
});
