// tests/integration/cors.test.mjs: --cors-origin (API.md "Socket.IO"; README
// "Additions to the contract"): answers to a listed origin carry
// Access-Control-Allow-Origin (the origin, with -Credentials; "*" without),
// preflights are answered 204 with the methods and headers the API uses,
// for REST, SSE, long-poll and Socket.IO polling alike; other origins and a
// server without the flag get no CORS headers (same origin only).
// Requests go through node:http, which sends the Origin header as given
// (a browser's page does the same; tests/e2e/socketio.test.mjs drives one).
import http from "node:http";
import { assert, eq, run, startServer, test, token } from "./lib.mjs";

const APP = "http://app.example:3000";
const OTHER = "https://evil.example";

/** One request; resolves with status, headers and body once the head is in
 * (and the body, unless stream: a stream's socket is closed after the head). */
function req(srv, method, path, headers = {}, { body, stream = false } = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request(`${srv.url}${path}`, { method, headers, agent: false }, (res) => {
      if (stream) {
        resolve({ status: res.statusCode, headers: res.headers, body: "" });
        res.destroy();
        return;
      }
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    r.on("error", reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

const preflight = (srv, path, origin, method = "POST", hdrs = "authorization,content-type") =>
  req(srv, "OPTIONS", path, {
    Origin: origin,
    "Access-Control-Request-Method": method,
    "Access-Control-Request-Headers": hdrs,
  });

function allowed(r, origin, what) {
  eq(r.headers["access-control-allow-origin"], origin, `${what}: Allow-Origin`);
  eq(r.headers["access-control-allow-credentials"], "true", `${what}: Allow-Credentials`);
  assert(/Origin/.test(r.headers.vary || ""), `${what}: Vary: Origin (${r.headers.vary})`);
}
function none(r, what) {
  for (const h of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods"])
    eq(r.headers[h], undefined, `${what}: no ${h}`);
}

let shared;
const server = () => (shared ||= startServer({ args: ["--cors-origin", APP, "--cors-origin", "https://b.example"] }));
const tok = token("corsa");

test("REST: a listed origin's answers carry Allow-Origin and -Credentials, errors too; others get none", async () => {
  const srv = await server();
  const auth = { Authorization: `Bearer ${tok}` };
  allowed(await req(srv, "GET", "/v1/health", { Origin: APP }), APP, "health");
  allowed(await req(srv, "GET", "/v1/health", { Origin: "https://b.example" }), "https://b.example", "second origin");
  const post = await req(srv, "POST", "/v1/rooms/general/messages",
    { Origin: APP, ...auth, "Content-Type": "application/json" }, { body: JSON.stringify({ text: "across origins" }) });
  eq(post.status, 201, "post");
  allowed(post, APP, "post");
  eq(post.headers["access-control-expose-headers"], "Retry-After", "Retry-After readable");
  const bad = await req(srv, "GET", "/v1/rooms", { Origin: APP, Authorization: "Bearer nope" });
  eq(bad.status, 401, "bad token");
  allowed(bad, APP, "401");
  eq(JSON.parse(bad.body).error.code, "unauthenticated", "the JSON error is readable");
  const other = await req(srv, "GET", "/v1/rooms", { Origin: OTHER, ...auth });
  eq(other.status, 200, "same answer");
  none(other, "unlisted origin");
  assert(/Origin/.test(other.headers.vary || ""), "Vary: Origin for an unlisted one too");
  // exact origins: another port, scheme or a suffix is another origin
  for (const o of ["http://app.example:3001", "https://app.example:3000", "http://app.example:3000.evil.example", "null"])
    none(await req(srv, "GET", "/v1/health", { Origin: o }), o);
  none(await req(srv, "GET", "/v1/health"), "no Origin (same origin)");
});

test("preflight: 204 with methods and headers for a listed origin; others answered as before", async () => {
  const srv = await server();
  const p = await preflight(srv, "/v1/rooms/general/messages", APP);
  eq(p.status, 204, "preflight status");
  allowed(p, APP, "preflight");
  const methods = p.headers["access-control-allow-methods"].split(/,\s*/);
  for (const m of ["GET", "POST", "PATCH", "DELETE"]) assert(methods.includes(m), `method ${m}: ${methods}`);
  const heads = p.headers["access-control-allow-headers"].toLowerCase().split(/,\s*/);
  for (const h of ["authorization", "content-type", "last-event-id"]) assert(heads.includes(h), `header ${h}: ${heads}`);
  assert(Number(p.headers["access-control-max-age"]) > 0, "max age");
  eq(p.body, "", "no body");
  for (const path of ["/v1/poll", "/v1/events", "/socket.io/?EIO=4&transport=polling"]) {
    const q = await preflight(srv, path, APP, "GET", "authorization");
    eq(q.status, 204, `preflight ${path}`);
    allowed(q, APP, path);
  }
  const o = await preflight(srv, "/v1/rooms/general/messages", OTHER);
  assert(o.status !== 204, `unlisted origin's preflight: ${o.status}`);
  none(o, "unlisted preflight");
  // a plain OPTIONS (no Access-Control-Request-Method) is no preflight
  const plain = await req(srv, "OPTIONS", "/v1/rooms", { Origin: APP });
  assert(plain.status !== 204, `plain OPTIONS: ${plain.status}`);
});

test("SSE and long-poll answers carry the CORS headers for a listed origin", async () => {
  const srv = await server();
  const sse = await req(srv, "GET", `/v1/events?token=${tok}`, { Origin: APP, Accept: "text/event-stream" }, { stream: true });
  eq(sse.status, 200, "stream");
  eq(sse.headers["content-type"], "text/event-stream", "an event stream");
  allowed(sse, APP, "SSE");
  none(await req(srv, "GET", `/v1/events?token=${tok}`, { Origin: OTHER }, { stream: true }), "SSE, unlisted");
  const poll = await req(srv, "GET", "/v1/poll?timeout=0", { Origin: APP, Authorization: `Bearer ${tok}` });
  eq(poll.status, 200, `poll: ${poll.body}`);
  allowed(poll, APP, "long-poll");
});

test("Socket.IO polling: handshake, POST and GET carry the CORS headers", async () => {
  const srv = await server();
  const h = await req(srv, "GET", "/socket.io/?EIO=4&transport=polling", { Origin: APP });
  eq(h.status, 200, "handshake");
  allowed(h, APP, "handshake");
  const { sid } = JSON.parse(h.body.slice(1));
  const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  const p = await req(srv, "POST", q, { Origin: APP, "Content-Type": "text/plain;charset=UTF-8" },
    { body: `40${JSON.stringify({ token: tok })}` });
  eq([p.status, p.body], [200, "ok"], "CONNECT over POST");
  allowed(p, APP, "POST");
  const g = await req(srv, "GET", q, { Origin: APP });
  assert(g.status === 200 && g.body.startsWith("40{"), `CONNECT answer: ${g.status} ${g.body}`);
  allowed(g, APP, "GET");
  const bad = await req(srv, "GET", "/socket.io/?EIO=3&transport=polling", { Origin: APP });
  eq(bad.status, 400, "bad EIO");
  allowed(bad, APP, "400");
});

test("no --cors-origin: no CORS headers anywhere, preflights are not answered 204", async () => {
  const srv = await startServer();
  none(await req(srv, "GET", "/v1/health", { Origin: APP }), "REST");
  const v = (await req(srv, "GET", "/v1/health", { Origin: APP })).headers.vary;
  assert(!/Origin/.test(v || ""), `no Vary: ${v}`);
  none(await req(srv, "GET", "/socket.io/?EIO=4&transport=polling", { Origin: APP }), "Socket.IO");
  none(await req(srv, "GET", `/v1/events?token=${tok}`, { Origin: APP }, { stream: true }), "SSE");
  const p = await preflight(srv, "/v1/rooms/general/messages", APP);
  assert(p.status !== 204, `preflight: ${p.status}`);
  none(p, "preflight");
  await srv.stop();
});

test("--cors-origin '*' (or PARLEY_CORS_ORIGIN): Allow-Origin * and never credentials", async () => {
  const any = await startServer({ env: { PARLEY_CORS_ORIGIN: "*" } });
  for (const r of [await req(any, "GET", "/v1/health", { Origin: OTHER }),
    await preflight(any, "/v1/rooms/general/messages", OTHER),
    await req(any, "GET", `/v1/events?token=${tok}`, { Origin: OTHER }, { stream: true })]) {
    eq(r.headers["access-control-allow-origin"], "*", "any origin");
    eq(r.headers["access-control-allow-credentials"], undefined, "no credentials with *");
  }
  await any.stop();
  const listed = await startServer({ env: { PARLEY_CORS_ORIGIN: `${APP},https://b.example` } });
  allowed(await req(listed, "GET", "/v1/health", { Origin: "https://b.example" }), "https://b.example", "env list");
  await listed.stop();
});

await run("cors");
