// parley.fcgi on REDIS_URL next to two parleyd nodes: its writes wake the
// daemons through Redis, and its long-polls count for presence once (not
// once per daemon).  Run as CGI, the simplest way to start it.
import { existsSync } from "node:fs";
import path from "node:path";
import { cgiParams, cgiRun } from "../fcgi/fcgi.mjs";
import { wsClient } from "../integration/clients.mjs";
import { ROOT, SECRET, api, eq, run, sleep, test, until } from "../integration/lib.mjs";
import { GRACE, REDIS_URL, redis, startNode, statuses, users } from "./lib.mjs";

const FCGI = process.env.PARLEY_FCGI || path.join(ROOT, "parley.fcgi");
const A = await startNode();
const B = await startNode();
const tok = await users(A, ["pat", "quinn", "watch"]);
const status = async (srv, user) => (await api(srv, "GET", `/v1/users/${user}/status`, { tok: tok.watch })).body;

const cgi = (method, target, tk, body) => {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const params = cgiParams(method, target, {
    tok: tk,
    contentType: body === undefined ? undefined : "application/json",
    bodyLength: Buffer.byteLength(payload),
  });
  return cgiRun(FCGI, params, payload, {
    env: {
      PARLEY_JWT_SECRET: SECRET,
      PARLEY_DATA: A.data,
      REDIS_URL,
      PARLEY_PRESENCE_GRACE: String(GRACE),
    },
  });
};

const probe = existsSync(FCGI) ? await cgi("GET", "/v1/health").catch(() => null) : null;
if (!probe || probe.status !== 200) {
  console.log(`skip: no working parley.fcgi at ${FCGI}`);
} else {
  test("a message posted through parley.fcgi reaches WebSockets on both nodes", async () => {
    const a = wsClient(A, tok.quinn);
    const b = wsClient(B, tok.quinn);
    await Promise.all([a.ready(), b.ready()]);
    const r = await cgi("POST", "/v1/rooms/general/messages", tok.pat, { text: "from fcgi" });
    eq(r.status, 201, "post through CGI");
    await until(() => a.events("message.created").some((e) => e.data.text === "from fcgi"), "on node A");
    await until(() => b.events("message.created").some((e) => e.data.text === "from fcgi"), "on node B");
    await a.close();
    await b.close();
  });

  test("a long-poll through parley.fcgi counts once across both daemons", async () => {
    const wA = wsClient(A, tok.watch, "presence=pat");
    const wB = wsClient(B, tok.watch, "presence=pat");
    await Promise.all([wA.ready(), wB.ready()]);
    const polling = cgi("GET", "/v1/poll?timeout=3", tok.pat);
    await until(async () => (await status(A, "pat")).connections === 1, "the poll counted");
    await sleep(500);
    eq((await status(B, "pat")).connections, 1, "counted once, seen from B");
    eq(redis("hget", "parley:count", "pat"), "1", "the global count");
    const r = await polling;
    eq(r.status, 200, "the poll's answer");
    await until(() => statuses(wA, "pat").includes("offline"), "offline after the poll and the grace", 15000);
    await sleep(GRACE * 1000 + 5500);
    eq(statuses(wA, "pat"), ["online", "offline"], "one transition each way (A)");
    eq(statuses(wB, "pat"), ["online", "offline"], "one transition each way (B)");
    eq(redis("hexists", "parley:count", "pat"), "0");
    eq(redis("zcard", "parley:polltouch"), "0", "no poll left behind");
    await wA.close();
    await wB.close();
  });
}

await run("redis fcgi");
