// tests/integration/clients.mjs: push clients for the tests.
//
// wsClient: the `ws` npm client, collecting JSON frames.
// sseClient: the `eventsource` npm client, collecting events.
// rawWs: a hand-driven RFC 6455 client on a plain socket, for protocol
//   edge cases a library would refuse to produce.
import crypto from "node:crypto";
import net from "node:net";
import { requireNode as req } from "./lib.mjs";
import { requireNode, until } from "./lib.mjs";

const WebSocket = requireNode("ws");
const { EventSource } = req("eventsource");

export function wsClient(srv, tok, query = "") {
  const ws = new WebSocket(`${srv.ws}/v1/ws?token=${tok}${query ? "&" + query : ""}`);
  const c = { ws, frames: [], closed: null, opened: false };
  ws.on("open", () => (c.opened = true));
  ws.on("message", (d) => c.frames.push(JSON.parse(d.toString())));
  ws.on("close", (code, reason) => (c.closed = { code, reason: reason.toString() }));
  ws.on("error", () => {});
  c.events = (type) => c.frames.filter((f) => f.type === type);
  c.ready = () => until(() => c.frames.some((f) => f.type === "hello"), "ws hello");
  c.send = (o) => ws.send(JSON.stringify(o));
  c.close = () => {
    ws.close();
    return until(() => c.closed, "ws close");
  };
  return c;
}

export function sseClient(srv, tok, query = "", headers = {}) {
  const url = `${srv.url}/v1/events?token=${tok}${query ? "&" + query : ""}`;
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
  });
  const c = { es, events: [], errors: 0 };
  const types = ["hello", "message.created", "message.updated", "message.deleted", "member.joined",
    "member.left", "presence", "typing", "receipt"];
  for (const t of types)
    es.addEventListener(t, (e) => c.events.push({ sse_id: e.lastEventId, ...JSON.parse(e.data) }));
  es.onerror = () => c.errors++;
  c.of = (type) => c.events.filter((e) => e.type === type);
  c.ready = () => until(() => c.events.some((e) => e.type === "hello"), "sse hello");
  c.close = () => es.close();
  return c;
}

export async function poll(srv, tok, query) {
  const r = await fetch(`${srv.url}/v1/poll?token=${tok}&${query}`);
  return { status: r.status, body: await r.json() };
}

/* ---- raw WebSocket ---- */

export function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const data = Buffer.from(payload);
  const len = data.length;
  let head;
  if (len < 126) head = Buffer.from([(fin ? 0x80 : 0) | rsv | opcode, (mask ? 0x80 : 0) | len]);
  else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | rsv | opcode;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | rsv | opcode;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] ^= key[i & 3];
  return Buffer.concat([head, key, out]);
}

/* Parses server frames (unmasked) from a growing buffer. */
function parseFrames(state) {
  const out = [];
  for (;;) {
    const b = state.buf;
    if (b.length < 2) break;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) break;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) break;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    if (b.length < off + len) break;
    out.push({ fin: !!(b[0] & 0x80), opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) });
    state.buf = b.subarray(off + len);
  }
  return out;
}

/* halfOpen: the socket stays open for writing after the server's FIN, as
 * a client that never answers would (node answers a FIN with its own). */
export function rawWs(srv, tok, query = "", { halfOpen = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: srv.port, host: "127.0.0.1", allowHalfOpen: halfOpen });
    const key = crypto.randomBytes(16).toString("base64");
    const c = { sock, frames: [], ended: false, state: { buf: Buffer.alloc(0) }, upgraded: false };
    let head = Buffer.alloc(0);
    sock.on("connect", () => {
      sock.write(
        `GET /v1/ws?token=${tok}${query ? "&" + query : ""} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on("data", (d) => {
      if (!c.upgraded) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const status = head.subarray(0, end).toString();
        if (!status.startsWith("HTTP/1.1 101")) return reject(new Error(status));
        c.upgraded = true;
        d = head.subarray(end + 4);
        resolve(c);
      }
      c.state.buf = Buffer.concat([c.state.buf, d]);
      for (const f of parseFrames(c.state)) c.frames.push(f);
    });
    sock.on("end", () => (c.ended = true));
    sock.on("close", () => (c.ended = c.gone = true));
    sock.on("error", () => (c.ended = true));
    c.write = (buf) => sock.write(buf);
    c.closeFrame = () => c.frames.find((f) => f.opcode === 8);
    c.closeCode = () => {
      const f = c.closeFrame();
      return f && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    };
    c.texts = () => c.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString()));
  });
}
