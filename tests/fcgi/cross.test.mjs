// tests/fcgi/cross.test.mjs: parley.fcgi and parleyd on one store and one
// bus, through real web servers.
//
// - live: a message POSTed through lighttpd reaches parleyd's SSE and
//   WebSocket subscribers (the delay is printed, not asserted); one POSTed
//   to parleyd is in the history read through Apache;
// - 8 parallel writers through FastCGI (lighttpd and Apache, two processes
//   each) plus parleyd writing at once: every acknowledged message is stored
//   exactly once, and no request fails;
// - long-poll through FastCGI: woken by a parleyd write, bounded by its
//   timeout, counted as a presence connection by parleyd, and limited to
//   --max-polls per process (503 with Retry-After: 1 over it), half of
//   them per user (429 with Retry-After over it);
// - CGI: the same request as a CGI program (environment and stdin, as
//   Apache's mod_cgi starts it, and through Apache's mod_cgi itself) gives
//   the very answer FastCGI gives;
// - parley.fcgi alone with --socket (TCP and Unix), FCGI_KEEP_CONN, push
//   routes answered 404, and SIGTERM: stop accepting, answer the long-poll
//   in flight, exit 0.
//
// Environment (set by tests/fcgi/run.sh): DIRECT_URL, LIGHTTPD_URL,
// APACHE_URL, APACHE_CGI_URL (optional), FCGI_ADDR (HOST:PORT of the
// spawn-fcgi workers), FCGI_MAX_POLLS, FCGI_PROCS, PARLEY_FCGI, PARLEY_DATA,
// PARLEYD; CROSS_ONLY, CROSS_SUITE.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SECRET, api, assert, eq, freePort, requireNode, run, sleep, test as libTest, token, until } from "../integration/lib.mjs";
import { sseClient, wsClient } from "../integration/clients.mjs";
import { cgiParams, cgiRun, fcgiConnect, fcgiRequest } from "./fcgi.mjs";

const env = process.env;
// CROSS_ONLY=a,b: only the tests whose names contain one of these (the
// Redis pass of run.sh runs the live ones again).
const only = env.CROSS_ONLY ? env.CROSS_ONLY.split(",") : null;
const test = (name, fn) => (!only || only.some((s) => name.includes(s))) && libTest(name, fn);
const DIRECT = { url: env.DIRECT_URL, ws: env.DIRECT_URL.replace(/^http/, "ws") };
const LIGHTTPD = { url: env.LIGHTTPD_URL };
const APACHE = { url: env.APACHE_URL };
const APACHE_CGI = env.APACHE_CGI_URL ? { url: env.APACHE_CGI_URL } : null;
const [fHost, fPort] = (env.FCGI_ADDR || "127.0.0.1:0").split(":");
const FCGI = { host: fHost, port: Number(fPort) };
const MAX_POLLS = Number(env.FCGI_MAX_POLLS || 1);
const PROCS = Number(env.FCGI_PROCS || 2);
const BIN = env.PARLEY_FCGI;
const DATA = env.PARLEY_DATA;

const tag = crypto.randomBytes(3).toString("hex");
const tokens = new Map();
function tok(user) {
  if (!tokens.has(user)) tokens.set(user, token(user));
  return tokens.get(user);
}
const as = (srv, user, method, p, body, opts = {}) => api(srv, method, p, { tok: tok(user), body, ...opts });
const ms = (t) => `${t.toFixed(1)} ms`;
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** A room of this run with the given members (all joined). */
async function room(name, users) {
  const id = `x${tag}-${name}`;
  const r = await as(DIRECT, users[0], "POST", "/v1/rooms", { id, name });
  eq(r.status, 201, `create ${id}: ${r.text}`);
  for (const u of users.slice(1)) eq((await as(DIRECT, u, "POST", `/v1/rooms/${id}/join`)).status, 200, "join");
  return id;
}

// ---- live: FastCGI writes reach parleyd's subscribers ----

test("a message POSTed through lighttpd reaches parleyd's SSE and WebSocket subscribers", async () => {
  const rid = await room("live", [`lw${tag}`, `ls${tag}`]);
  const sse = sseClient(DIRECT, tok(`ls${tag}`), `rooms=${rid}`);
  const ws = wsClient(DIRECT, tok(`ls${tag}`), `rooms=${rid}`);
  try {
    await sse.ready();
    await ws.ready();
    // Arrival times, taken as the events come in.
    const seen = { sse: new Map(), ws: new Map() };
    sse.es.addEventListener("message.created", (e) => seen.sse.set(JSON.parse(e.data).data.id, now()));
    ws.ws.on("message", (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === "message.created") seen.ws.set(f.data.id, now());
    });
    const sseDelay = [];
    const wsDelay = [];
    const postTook = [];
    for (let i = 0; i < 10; i++) {
      const t0 = now();
      const r = await as(LIGHTTPD, `lw${tag}`, "POST", `/v1/rooms/${rid}/messages`, { text: `live ${i}` });
      const t1 = now();
      eq(r.status, 201, `post: ${r.text}`);
      const id = r.body.id;
      await until(() => seen.sse.has(id) && seen.ws.has(id), "the event on SSE and WebSocket", 5000);
      postTook.push(t1 - t0);
      sseDelay.push(seen.sse.get(id) - t0);
      wsDelay.push(seen.ws.get(id) - t0);
    }
    const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    console.log(`     POST sent to lighttpd -> event at parleyd's subscriber: SSE median ${ms(med(sseDelay))} ` +
      `max ${ms(Math.max(...sseDelay))}, WebSocket median ${ms(med(wsDelay))} max ${ms(Math.max(...wsDelay))} ` +
      `(the POST's own answer: median ${ms(med(postTook))})`);
    // Stored events carry the same id on every transport.
    const ids = sse.of("message.created").map((e) => e.id);
    eq(ws.events("message.created").map((e) => e.id), ids, "same event ids on SSE and WebSocket");
  } finally {
    sse.close();
    await ws.close();
  }
});

test("the web servers pass push streams to parleyd: SSE and WebSocket through each front", async () => {
  const fronts = [["lighttpd", LIGHTTPD], ["apache", APACHE]];
  if (env.NGINX_URL) fronts.push(["nginx", { url: env.NGINX_URL }]);
  const u = `f${tag}`;
  const rid = await room("fronts", [u]);
  for (const [name, f] of fronts) {
    const srv = { url: f.url, ws: f.url.replace(/^http/, "ws") };
    const sse = sseClient(srv, tok(u), `rooms=${rid}`);
    const ws = wsClient(srv, tok(u), `rooms=${rid}`);
    try {
      await sse.ready();
      await ws.ready();
      const r = await as(srv, u, "POST", `/v1/rooms/${rid}/messages`, { text: `via ${name}` });
      eq(r.status, 201, `${name}: post ${r.text}`);
      await until(() => sse.of("message.created").some((e) => e.data.id === r.body.id), `${name}: SSE event`, 5000);
      await until(() => ws.events("message.created").some((e) => e.data.id === r.body.id), `${name}: WebSocket event`, 5000);
    } finally {
      sse.close();
      await ws.close();
    }
  }
});

test("the web servers pass /socket.io/ to parleyd: socket.io-client polls, upgrades and gets messages through each front", async () => {
  const { io } = requireNode("socket.io-client");
  const fronts = [["lighttpd", LIGHTTPD], ["apache", APACHE]];
  if (env.NGINX_URL) fronts.push(["nginx", { url: env.NGINX_URL }]);
  const u = `sio${tag}`;
  const rid = await room("siofronts", [u]);
  for (const [name, f] of fronts) {
    const s = io(f.url, { auth: { token: tok(u) }, reconnection: false, forceNew: true });
    try {
      await new Promise((res, rej) => (s.once("connect", res), s.once("connect_error", rej)));
      await until(() => s.io.engine.transport.name === "websocket", `${name}: upgrade to WebSocket`, 5000);
      const got = [];
      s.on("receive_message", (m) => got.push(m));
      const ack = await s.timeout(5000).emitWithAck("send_message", { chatId: rid, content: `sio via ${name}` });
      assert(ack.id > 0, `${name}: ack ${JSON.stringify(ack)}`);
      await until(() => got.some((m) => m.id === ack.id), `${name}: receive_message`, 5000);
    } finally {
      s.close();
    }
  }
});

test("a message POSTed to parleyd is in the history read through Apache (and nginx)", async () => {
  const rid = await room("hist", [`ha${tag}`]);
  const r = await as(DIRECT, `ha${tag}`, "POST", `/v1/rooms/${rid}/messages`, { text: "from parleyd", client_id: "h1" });
  eq(r.status, 201, r.text);
  const h = await as(APACHE, `ha${tag}`, "GET", `/v1/rooms/${rid}/messages`);
  eq(h.status, 200, h.text);
  eq(h.body.messages, [r.body], "history through Apache");
  if (env.NGINX_URL) {
    const n = await as({ url: env.NGINX_URL }, `ha${tag}`, "GET", `/v1/rooms/${rid}/messages`);
    eq(n.body.messages, [r.body], "history through nginx");
  }
  // A client_id retry through another front answers the first message.
  const again = await as(LIGHTTPD, `ha${tag}`, "POST", `/v1/rooms/${rid}/messages`, { text: "dup", client_id: "h1" });
  eq(again.status, 200, again.text);
  eq(again.body, r.body, "the first message");
});

// ---- concurrent writers ----

test("8 writers through FastCGI plus parleyd at once: every acknowledged message stored exactly once", async () => {
  const PER = Number(env.WRITES_PER_WRITER || 40);
  const writers = [];
  for (let i = 0; i < 8; i++) writers.push({ user: `w${i}${tag}`, srv: i < 4 ? LIGHTTPD : APACHE, via: i < 4 ? "lighttpd" : "apache" });
  for (let i = 0; i < 2; i++) writers.push({ user: `d${i}${tag}`, srv: DIRECT, via: "parleyd" });
  const rid = await room("many", writers.map((w) => w.user));
  const acked = [];
  const failures = [];
  const t0 = now();
  await Promise.all(
    writers.map(async (w) => {
      for (let j = 0; j < PER; j++) {
        const cid = `${w.user}-${j}`;
        const r = await as(w.srv, w.user, "POST", `/v1/rooms/${rid}/messages`, { text: `${w.via} ${j}`, client_id: cid });
        if (r.status === 201) acked.push(r.body);
        else failures.push(`${w.via} ${cid}: ${r.status} ${r.text.slice(0, 120)}`);
      }
    }),
  );
  const took = now() - t0;
  assert(failures.length === 0, `requests failed (none may, and never "database is locked"): ${failures.slice(0, 5).join("; ")}`);
  eq(acked.length, writers.length * PER, "acknowledged");
  // The whole room, read back through parleyd, page by page (newest first).
  const stored = [];
  let before = 0;
  for (;;) {
    const p = await as(DIRECT, writers[0].user, "GET", `/v1/rooms/${rid}/messages?limit=200${before ? `&before=${before}` : ""}`);
    eq(p.status, 200, p.text);
    stored.unshift(...p.body.messages);
    if (!p.body.has_more || !p.body.messages.length) break;
    before = p.body.messages[0].id;
  }
  const byId = new Map();
  for (const m of stored) byId.set(m.id, (byId.get(m.id) || 0) + 1);
  const byCid = new Map();
  for (const m of stored) byCid.set(`${m.sender}/${m.client_id}`, (byCid.get(`${m.sender}/${m.client_id}`) || 0) + 1);
  for (const m of acked) {
    eq(byId.get(m.id), 1, `message ${m.id} stored once`);
    eq(byCid.get(`${m.sender}/${m.client_id}`), 1, `client_id ${m.client_id} stored once`);
    const s = stored.find((x) => x.id === m.id);
    eq(s, m, "stored as acknowledged");
  }
  eq(stored.length, acked.length, "nothing stored that was not acknowledged");
  const ids = stored.map((m) => m.id);
  eq(ids, [...ids].sort((a, b) => a - b), "history in id order");
  console.log(`     ${acked.length} messages from ${writers.length} writers (8 through FastCGI, 2 on parleyd) in ${ms(took)}`);
  // Retries of acknowledged messages through another front: 200, nothing new.
  const w = writers[0];
  const again = await as(APACHE, w.user, "POST", `/v1/rooms/${rid}/messages`, { text: "retry", client_id: `${w.user}-3` });
  eq(again.status, 200, again.text);
  eq(again.body.id, acked.find((m) => m.client_id === `${w.user}-3`).id, "retry answers the first");
});

// ---- long-poll through FastCGI ----

test("long-poll through lighttpd: woken by a parleyd write; the user counts as connected meanwhile", async () => {
  const u = `p${tag}`;
  const rid = await room("poll", [u, `pw${tag}`]);
  const first = await as(LIGHTTPD, u, "GET", `/v1/poll?timeout=0&rooms=${rid}`);
  eq(first.status, 200, first.text);
  eq(first.body.events, [], "nothing new yet");
  const t0 = now();
  const pending = as(LIGHTTPD, u, "GET", `/v1/poll?cursor=${first.body.cursor}&timeout=20&rooms=${rid}`).then((r) => ({ r, t: now() }));
  // While the poll waits, parleyd's presence counts it (the 'C' bus message).
  await until(async () => {
    const s = await as(DIRECT, `pw${tag}`, "GET", `/v1/users/${u}/status`);
    return s.body && s.body.connections >= 1 && s.body.status === "online";
  }, "parleyd to count the FastCGI long-poll as a connection", 5000);
  await sleep(300);
  const t1 = now();
  const m = await as(DIRECT, `pw${tag}`, "POST", `/v1/rooms/${rid}/messages`, { text: "wake up" });
  eq(m.status, 201, m.text);
  const { r, t } = await pending;
  eq(r.status, 200, r.text);
  eq(r.body.events.map((e) => [e.type, e.data.id]), [["message.created", m.body.id]], "the event");
  assert(r.body.cursor >= r.body.events[0].id, "cursor at or past the event");
  assert(t - t0 < 10000, "answered before its timeout");
  console.log(`     parleyd write -> FastCGI long-poll answer: ${ms(t - t1)} (the poll looks at the store every 100 ms)`);
  // The next poll from that cursor has nothing (no repeat).
  const next = await as(LIGHTTPD, u, "GET", `/v1/poll?cursor=${r.body.cursor}&timeout=0&rooms=${rid}`);
  eq(next.body.events, [], "no repeat");
});

test("long-poll through FastCGI is bounded by its timeout", async () => {
  const u = `pt${tag}`;
  const t0 = now();
  const r = await as(LIGHTTPD, u, "GET", "/v1/poll?timeout=1");
  const took = now() - t0;
  eq(r.status, 200, r.text);
  eq(r.body.events, [], "no events");
  assert(typeof r.body.cursor === "number", "a cursor");
  assert(took >= 900 && took < 4000, `answered at the timeout (${ms(took)})`);
});

test("a long-poll through FastCGI ends at its token's exp", async () => {
  const u = `px${tag}`;
  await as(LIGHTTPD, u, "GET", "/v1/rooms"); // signed up with a long token
  const short = token(u, 2);
  const t0 = now();
  const r = await api(LIGHTTPD, "GET", "/v1/poll?timeout=30", { tok: short });
  const took = now() - t0;
  assert(r.status === 200 || r.status === 401, `answered ${r.status}`);
  assert(took < 20000, `answered at exp, not at the 30 s timeout (${ms(took)})`);
  await sleep(1000);
  eq((await api(LIGHTTPD, "GET", "/v1/poll?timeout=0", { tok: short })).status, 401, "expired");
});

test(`long-polls held at once are limited by --max-polls (${MAX_POLLS} per process, ${PROCS} processes): 503 + Retry-After over it, REST still served`, async () => {
  const n = MAX_POLLS * PROCS + 2;
  const polls = [];
  for (let i = 0; i < n; i++) {
    polls.push(fcgiRequest(FCGI, "GET", "/v1/poll?timeout=3", { tok: tok(`pm${i}${tag}`) }));
    await sleep(20);
  }
  await sleep(300);
  const t0 = now();
  const h = await fcgiRequest(FCGI, "GET", "/v1/rooms", { tok: tok(`pm0${tag}`) });
  const restTook = now() - t0;
  eq(h.status, 200, "REST answered while polls wait");
  assert(restTook < 1500, `REST not held up by long-polls (${ms(restTook)})`);
  const rs = await Promise.all(polls);
  const busy = rs.filter((r) => r.status === 503);
  const held = rs.filter((r) => r.status === 200);
  eq(busy.length + held.length, n, `every poll answered 200 or 503: ${rs.map((r) => r.status)}`);
  assert(held.length >= 1 && held.length <= MAX_POLLS * PROCS, `held ${held.length} (at most ${MAX_POLLS * PROCS})`);
  assert(busy.length >= n - MAX_POLLS * PROCS, `refused ${busy.length}`);
  for (const b of busy) {
    eq(b.headers["retry-after"], "1", "Retry-After: 1");
    eq(b.body.error.code, "unavailable", "error code");
  }
  // Through Apache too: the limit is the workers', whatever the front.
  const a = await as(APACHE, `pm0${tag}`, "GET", "/v1/poll?timeout=0");
  eq(a.status, 200, "a poll that does not wait is never refused");
});

// One user may hold at most half a process's long-poll places (at least
// one): beyond, 429 rate_limited with Retry-After, while other users still
// get theirs. A parley.fcgi of its own with --max-polls 4: 2 per user.
test("long-polls per user: at most half the --max-polls places (2 of 4), beyond 429 + Retry-After; others still served", async () => {
  const port = await freePort();
  const child = spawn(BIN, ["--socket", `127.0.0.1:${port}`, "--data", DATA, "--threads", "8", "--max-polls", "4"], {
    env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
  const addr = { host: "127.0.0.1", port };
  try {
    await until(async () => (await fcgiRequest(addr, "GET", "/v1/health").catch(() => null))?.status === 200, "parley.fcgi up", 5000);
    const hog = `ph${tag}`;
    // Three at once: two wait (up to 30 s), the third is refused at once.
    const polls = [0, 1, 2].map((k) =>
      fcgiRequest(addr, "GET", "/v1/poll?timeout=30", { tok: tok(hog) }).then((r) => ({ k, r })));
    const first = await Promise.race([...polls, sleep(15000).then(() => null)]);
    assert(first, "no poll of the three was refused: one user held 3 of 4 places for 15 s");
    const third = first.r;
    eq(third.status, 429, `the poll answered first: ${third.text}`);
    const held = polls.filter((_, k) => k !== first.k).map((p) => p.then((x) => x.r));
    eq(third.body.error.code, "rate_limited", "error code");
    assert(/long-poll/.test(third.body.error.message), `message: ${third.body.error.message}`);
    assert(Number(third.headers["retry-after"]) >= 1, `Retry-After: ${third.headers["retry-after"]}`);
    assert((third.headers["content-type"] || "").startsWith("application/json"), "JSON");
    eq((await fcgiRequest(addr, "GET", "/v1/poll?timeout=0", { tok: tok(hog) })).status, 200, "a poll that does not wait is never refused");
    // Another user still gets a place.
    const other = await fcgiRequest(addr, "GET", "/v1/poll?timeout=1", { tok: tok(`po${tag}`) });
    eq(other.status, 200, `another user's poll: ${other.text}`);
    child.kill("SIGTERM");
    for (const r of await Promise.all(held)) eq(r.status, 200, `the held polls are answered: ${r.text}`);
    eq((await exited).code, 0, `exit status (${log})`);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

// ---- CGI ----

const cgiEnv = { PARLEY_DATA: DATA, PARLEY_JWT_SECRET: SECRET };

/** The request as Apache's mod_cgi hands it to /parley.cgi. */
function cgiRequest(method, target, { user, body, raw, contentType, headers, args } = {}) {
  const payload = raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : "";
  const q = target.indexOf("?");
  const pathInfo = q < 0 ? target : target.slice(0, q);
  const params = cgiParams(method, "/parley.cgi" + target, {
    tok: user ? tok(user) : undefined,
    headers,
    contentType: contentType || (body !== undefined ? "application/json" : undefined),
    bodyLength: payload.length ? Buffer.byteLength(payload) : undefined,
  });
  params.SCRIPT_NAME = "/parley.cgi";
  params.PATH_INFO = pathInfo;
  params.SCRIPT_FILENAME = BIN;
  return cgiRun(BIN, params, payload, { env: cgiEnv, args });
}

test("CGI: the same requests as a CGI program answer exactly as through FastCGI", async () => {
  const u = `c${tag}`;
  const rid = await room("cgi", [u]);
  for (let i = 0; i < 3; i++) await as(DIRECT, u, "POST", `/v1/rooms/${rid}/messages`, { text: `c${i}` });
  const cases = [
    ["GET", `/v1/rooms/${rid}/messages?limit=2`, { user: u }],
    ["GET", `/v1/rooms/${rid}`, { user: u }],
    ["GET", "/v1/health", {}],
    ["GET", "/v1/nope", {}],
    ["GET", "/v1/rooms", {}],
    ["PUT", "/v1/rooms", { user: u }],
    ["POST", "/v1/rooms", { user: u, raw: "{", contentType: "application/json" }],
    ["POST", "/v1/rooms", { user: u, raw: JSON.stringify({ name: "z".repeat(70000) }), contentType: "application/json" }],
    ["POST", `/v1/rooms/${rid}/messages`, { user: `other${tag}`, body: { text: "x" } }],
    ["GET", `/v1/presence?users=${u}%2Cnobody${tag}`, { user: u }],
  ];
  for (const [method, target, o] of cases) {
    const c = await cgiRequest(method, target, o);
    const payload = o.raw !== undefined ? o.raw : o.body !== undefined ? JSON.stringify(o.body) : undefined;
    const f = await api(LIGHTTPD, method, target, {
      tok: o.user ? tok(o.user) : undefined,
      raw: payload,
      headers: o.contentType || o.body ? { "Content-Type": o.contentType || "application/json" } : {},
    });
    eq(c.status, f.status, `${method} ${target}: CGI status (stderr: ${c.stderr.slice(0, 200)})`);
    eq(c.text, f.text, `${method} ${target}: CGI body`);
    eq(c.headers["content-type"], f.headers.get("content-type"), `${method} ${target}: Content-Type`);
    eq(c.code, 0, `CGI exit status (stderr: ${c.stderr.slice(0, 300)})`);
  }
  // A message posted as CGI is the one FastCGI then finds by its client_id.
  const c = await cgiRequest("POST", `/v1/rooms/${rid}/messages`, { user: u, body: { text: "by cgi", client_id: "cg1" } });
  eq(c.status, 201, c.text);
  const f = await as(LIGHTTPD, u, "POST", `/v1/rooms/${rid}/messages`, { text: "again", client_id: "cg1" });
  eq(f.status, 200, f.text);
  eq(f.text, c.text, "the same message");
});

test("CGI: arguments from the query string (ISINDEX) are never taken as flags", async () => {
  const r = await cgiRequest("POST", "/v1/dev/login?--dev", { body: { user: "x" }, args: ["--dev"] });
  eq(r.status, 404, `dev login must stay off: ${r.text}`);
});

test("CGI: a settings error answers 500 JSON and says why on stderr", async () => {
  const params = cgiParams("GET", "/v1/health");
  const r = await cgiRun(BIN, params, "", { env: { PARLEY_DATA: DATA, PARLEY_JWT_SECRET: "" } });
  eq(r.status, 500, r.raw);
  eq(r.body && r.body.error && r.body.error.code, "internal", "JSON error");
  assert(/secret/i.test(r.stderr), `stderr says why: ${r.stderr}`);
  eq(r.code, 2, "exit status");
});

if (APACHE_CGI) {
  test("CGI through Apache's mod_cgi: the same answers as FastCGI", async () => {
    const u = `ac${tag}`;
    const rid = await room("acgi", [u]);
    await as(DIRECT, u, "POST", `/v1/rooms/${rid}/messages`, { text: "one" });
    const base = { url: APACHE_CGI.url + "/parley.cgi" };
    for (const p of [`/v1/rooms/${rid}/messages`, "/v1/health", "/v1/nope", `/v1/users/${u}/status`]) {
      const a = await as(base, u, "GET", p);
      const f = await as(LIGHTTPD, u, "GET", p);
      eq(a.status, f.status, `${p}: status (${a.text.slice(0, 200)})`);
      eq(a.text, f.text, `${p}: body`);
    }
    const none = await api(base, "GET", `/v1/rooms/${rid}/messages`);
    eq(none.status, 401, "no token: 401 (Authorization passed with CGIPassAuth)");
    const p = await as(base, u, "POST", `/v1/rooms/${rid}/messages`, { text: "via mod_cgi", client_id: "m1" });
    eq(p.status, 201, p.text);
    const h = await as(LIGHTTPD, u, "GET", `/v1/rooms/${rid}/messages?limit=1`);
    eq(h.body.messages[0].id, p.body.id, "stored in the same store");
  });
}

// ---- FastCGI directly ----

test("FastCGI directly: push streams answer 404 JSON pointing at parleyd; FCGI_KEEP_CONN serves several requests", async () => {
  for (const p of ["/v1/events", "/v1/ws", "/ws-online-status"]) {
    const r = await fcgiRequest(FCGI, "GET", p, { tok: tok(`k${tag}`) });
    eq(r.status, 404, `${p}: ${r.text}`);
    eq(r.body.error.code, "not_found", "code");
    assert(/parleyd/.test(r.body.error.message), `message names parleyd: ${r.body.error.message}`);
  }
  const c = fcgiConnect(FCGI);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await c.request(cgiParams("GET", "/v1/health"), "", { keepConn: true, id: i + 1 });
      eq(r.status, 200, `request ${i + 1} on one connection`);
    }
    assert(!c.closed, "connection kept");
  } finally {
    c.close();
  }
  // HEAD: headers, no body.
  const h = await fcgiRequest(FCGI, "HEAD", "/v1/health");
  eq(h.text, "", "no body for HEAD");
});

test("parley.fcgi --socket alone (TCP and Unix); SIGTERM answers the long-poll in flight and exits 0", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-fcgi-sock-"));
  try {
    for (const spec of [`127.0.0.1:${await freePort()}`, path.join(dir, "fcgi.sock")]) {
      const child = spawn(BIN, ["--socket", spec, "--data", DATA, "--threads", "2"], {
        env: { ...process.env, PARLEY_JWT_SECRET: SECRET },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let log = "";
      child.stderr.on("data", (d) => (log += d));
      const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
      const addr = spec.includes("/") ? { path: spec } : { host: "127.0.0.1", port: Number(spec.split(":")[1]) };
      await until(async () => (await fcgiRequest(addr, "GET", "/v1/health").catch(() => null))?.status === 200, `parley.fcgi on ${spec}`, 5000);
      const u = `s${tag}`;
      // A write in the same process wakes its long-polls at once.
      const w0 = await fcgiRequest(addr, "GET", "/v1/poll?timeout=0&rooms=general", { tok: tok(u) });
      const woken = fcgiRequest(addr, "GET", `/v1/poll?timeout=20&rooms=general&cursor=${w0.body.cursor}`, { tok: tok(u) });
      await sleep(300);
      const tw = now();
      const posted = await fcgiRequest(addr, "POST", "/v1/rooms/general/messages", { tok: tok(u), body: { text: "same process" } });
      eq(posted.status, 201, posted.text);
      const got = await woken;
      eq(got.body.events.map((e) => e.data.id), [posted.body.id], "the poll got the message");
      if (spec.includes("/")) console.log(`     same-process write -> long-poll answer: ${ms(now() - tw)}`);
      const t0 = now();
      const poll = fcgiRequest(addr, "GET", "/v1/poll?timeout=30", { tok: tok(u) });
      await sleep(400);
      child.kill("SIGTERM");
      const r = await poll;
      const took = now() - t0;
      eq(r.status, 200, `the poll in flight is answered: ${r.text}`);
      eq(r.body.events, [], "with what there is");
      assert(took < 5000, `at once, not at its timeout (${ms(took)})`);
      const e = await exited;
      eq(e.code, 0, `exit status (${log})`);
      assert(/stopped/.test(log), "logs its stop");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await run(env.CROSS_SUITE || "fcgi-cross");
