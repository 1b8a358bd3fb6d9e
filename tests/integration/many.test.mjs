// A few thousand concurrent push connections on loopback (several
// 127.0.0.x source addresses), half SSE and half WebSocket: every one
// receives every event, and stopping the server closes WebSockets with 1001.
import net from "node:net";
import { api, assert, eq, requireNode, run, startServer, test, token, until } from "./lib.mjs";

const WebSocket = requireNode("ws");
const N = Number(process.env.MANY_CONNECTIONS || 3000);
const MESSAGES = 5;
// Some 60 connections per user from 8 addresses: beyond the default caps.
const srv = await startServer({ args: ["--max-user-connections", "0", "--max-ip-connections", "0"] });
const alice = token("alice");
const users = Array.from({ length: 50 }, (_, i) => token(`u${i}`));
for (const t of [alice, ...users]) await api(srv, "GET", "/v1/rooms", { tok: t });

function sseRaw(tok, i) {
  const c = { ids: new Set(), hello: false, buf: "" };
  const sock = net.connect({ port: srv.port, host: "127.0.0.1", localAddress: `127.0.0.${2 + (i % 8)}` });
  sock.setEncoding("utf8");
  sock.on("connect", () =>
    sock.write(`GET /v1/events?token=${tok} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`),
  );
  sock.on("data", (d) => {
    c.buf += d;
    let k;
    while ((k = c.buf.indexOf("\n\n")) >= 0) {
      const rec = c.buf.slice(0, k);
      c.buf = c.buf.slice(k + 2);
      if (rec.includes("event: hello")) c.hello = true;
      const m = /^id: (\d+)$/m.exec(rec);
      if (m && rec.includes("event: message.created")) c.ids.add(Number(m[1]));
    }
  });
  sock.on("error", () => {});
  c.sock = sock;
  return c;
}

function wsRaw(tok, i) {
  const c = { ids: new Set(), hello: false, closeCode: null };
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tok}`, { localAddress: `127.0.0.${2 + (i % 8)}` });
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === "hello") c.hello = true;
    if (f.type === "message.created") c.ids.add(f.id);
  });
  ws.on("close", (code) => (c.closeCode = code));
  ws.on("error", () => {});
  c.ws = ws;
  return c;
}

const sse = [];
const wss = [];

test(`${N} connections each receive every event`, async () => {
  for (let i = 0; i < N; i++) {
    const tok = users[i % users.length];
    if (i % 2) wss.push(wsRaw(tok, i));
    else sse.push(sseRaw(tok, i));
    if (i % 200 === 199) await until(() => [...sse, ...wss].every((c) => c.hello), "hellos", 60000);
  }
  await until(() => [...sse, ...wss].every((c) => c.hello), "all hellos", 60000);
  const ids = [];
  for (let m = 0; m < MESSAGES; m++) {
    const r = await api(srv, "POST", "/v1/rooms/general/messages", { tok: alice, body: { text: `all ${m}` } });
    eq(r.status, 201);
  }
  await until(() => [...sse, ...wss].every((c) => c.ids.size >= MESSAGES), "every delivery", 60000);
  for (const c of [...sse, ...wss]) ids.push(c.ids.size);
  assert(ids.every((n) => n === MESSAGES), "exactly the messages, once each");
});

test("SIGTERM closes WebSockets with 1001 and exits 0", async () => {
  const r = await srv.stop("SIGTERM");
  eq(r.code, 0, "exit status");
  await until(() => wss.every((c) => c.closeCode !== null), "closes", 30000);
  const codes = new Set(wss.map((c) => c.closeCode));
  assert(codes.has(1001) && codes.size === 1, `close codes ${[...codes]}`);
  for (const c of sse) c.sock.destroy();
});

await run("many");
