// A small Express app that signs users in with a password and keeps their
// sessions in sessiongw:
//
//   npm run build && SESSIONGW_ADMIN_TOKEN=... node dist/examples/express-app.js
//
// then open http://127.0.0.1:3000 (alice / wonderland). The demo users live
// in memory here; the app tells the gateway about them at start.
import { scryptSync, timingSafeEqual, randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import express from "express";
import { SessionGateway, Unauthenticated, writeError } from "../src/index.js";

export interface DemoUser {
  id: string;
  username: string;
  email: string;
  roles: string[];
  salt: Buffer;
  hash: Buffer; // scrypt
}

export function demoUser(id: string, username: string, password: string, roles: string[] = []): DemoUser {
  const salt = randomBytes(16);
  return { id, username, email: `${username}@example.com`, roles, salt, hash: scryptSync(password, salt, 32) };
}

function checkPassword(u: DemoUser | undefined, password: string): boolean {
  const salt = u?.salt ?? Buffer.alloc(16);
  const got = scryptSync(password, salt, 32); // the same work for an unknown user
  return u !== undefined && timingSafeEqual(got, u.hash);
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createApp(gw: SessionGateway, users: DemoUser[]) {
  const byName = new Map(users.map((u) => [u.username, u]));
  const app = express();
  app.use(express.urlencoded({ extended: false }));

  app.get("/", (_req, res) => {
    res.type("html").send(`<form method="post" action="/login">
<input name="username"> <input name="password" type="password"> <button>Sign in</button></form>`);
  });

  app.post("/login", async (req, res, next) => {
    try {
      const u = byName.get(String(req.body.username ?? ""));
      if (!checkPassword(u, String(req.body.password ?? ""))) {
        res.status(401).type("html").send("Wrong user name or password.");
        return;
      }
      await gw.login(res, u!.id, { rememberMe: req.body.remember === "1", amr: ["pwd"] }, req);
      res.redirect(303, "/account");
    } catch (err) {
      next(err);
    }
  });

  const signedIn = gw.middleware({
    onError: (err, req, res) => {
      if (err instanceof Unauthenticated) {
        res.statusCode = 303;
        res.setHeader("location", "/");
        res.end();
        return;
      }
      writeError(res, err); // 403, or 503: the gateway could not tell
    },
  });
  app.get("/account", signedIn, (req, res) => {
    const id = req.identity!;
    res.type("html").send(`<h1>Hello ${escape(id.username)}</h1><p>user ${escape(id.userId)}</p>
<form method="post" action="/logout"><button>Sign out</button></form>`);
  });

  app.post("/logout", async (req, res, next) => {
    try {
      await gw.logout(req, res);
      res.redirect(303, "/");
    } catch (err) {
      next(err); // Unavailable: the session was not ended; say so
    }
  });
  return app;
}

/** Tells the gateway about the demo users. */
export async function provision(gw: SessionGateway, users: DemoUser[]): Promise<void> {
  for (const u of users) await gw.putUser({ id: u.id, username: u.username, email: u.email, roles: u.roles });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const gw = new SessionGateway({ url: process.env.SESSIONGW_URL ?? "http://127.0.0.1:8080", adminToken: process.env.SESSIONGW_ADMIN_TOKEN });
  const users = [demoUser("1", "alice", "wonderland", ["admin"])];
  await provision(gw, users);
  createApp(gw, users).listen(3000, "127.0.0.1", () => console.log("http://127.0.0.1:3000"));
}
