// tests/fcgi/fcgi.mjs: what the FastCGI tests need besides lib.mjs.
//
// - fcgiConnect()/fcgiRequest(): a small FastCGI client (the web server's
//   side of the protocol), to talk to `parley.fcgi --socket` directly, with
//   or without FCGI_KEEP_CONN.
// - cgiRun(): runs parley.fcgi as a CGI program, the way Apache's mod_cgi
//   does: the request in environment variables and stdin.
// - parseCgi(): a CGI response ("Status: ..", headers, body) as
//   {status, headers, text, body}.
// - compare helpers for "same status and same body shape".
import { spawn } from "node:child_process";
import net from "node:net";

const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;

function record(type, id, content = Buffer.alloc(0)) {
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.alloc(8);
  h.writeUInt8(1, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(id, 2);
  h.writeUInt16BE(content.length, 4);
  h.writeUInt8(pad, 6);
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

function nvLen(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0, 0);
  return b;
}

function encodeParams(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const kb = Buffer.from(k);
    const vb = Buffer.from(String(v));
    parts.push(nvLen(kb.length), nvLen(vb.length), kb, vb);
  }
  return Buffer.concat(parts);
}

/** A CGI response as {status, headers (lower-case names), text, body}. */
export function parseCgi(buf) {
  const s = Buffer.isBuffer(buf) ? buf.toString("utf8") : buf;
  let cut = s.indexOf("\r\n\r\n");
  let sep = 4;
  if (cut < 0) {
    cut = s.indexOf("\n\n");
    sep = 2;
  }
  if (cut < 0) return { status: 0, headers: {}, text: s, body: null, raw: s };
  const headers = {};
  for (const line of s.slice(0, cut).split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const text = s.slice(cut + sep);
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const status = headers.status ? parseInt(headers.status, 10) : 200;
  return { status, headers, text, body, raw: s };
}

/** The CGI/FastCGI parameters of an HTTP request, as a web server sets them. */
export function cgiParams(method, target, { tok, headers = {}, contentType, bodyLength } = {}) {
  const q = target.indexOf("?");
  const p = {
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE: "parley-tests",
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: "80",
    REMOTE_ADDR: "127.0.0.1",
    REQUEST_METHOD: method,
    REQUEST_URI: target,
    SCRIPT_NAME: q < 0 ? target : target.slice(0, q),
    QUERY_STRING: q < 0 ? "" : target.slice(q + 1),
  };
  if (bodyLength !== undefined) p.CONTENT_LENGTH = String(bodyLength);
  if (contentType) p.CONTENT_TYPE = contentType;
  if (tok) p.HTTP_AUTHORIZATION = `Bearer ${tok}`;
  for (const [k, v] of Object.entries(headers)) p["HTTP_" + k.toUpperCase().replace(/-/g, "_")] = v;
  return p;
}

/** A FastCGI connection; request() may be called again while keepConn. */
export function fcgiConnect(addr) {
  const sock = addr.path ? net.connect(addr.path) : net.connect(addr.port, addr.host || "127.0.0.1");
  let buf = Buffer.alloc(0);
  let pending = null;
  let out = [];
  let closed = false;
  const opened = new Promise((res, rej) => {
    sock.once("connect", res);
    sock.once("error", rej);
  });
  sock.on("error", (e) => pending && pending.reject(e));
  sock.on("close", () => {
    closed = true;
    if (pending) pending.reject(new Error("connection closed before END_REQUEST"));
  });
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const type = buf.readUInt8(1);
      const len = buf.readUInt16BE(4);
      const pad = buf.readUInt8(6);
      if (buf.length < 8 + len + pad) break;
      const content = buf.subarray(8, 8 + len);
      buf = buf.subarray(8 + len + pad);
      if (type === STDOUT) out.push(Buffer.from(content));
      else if (type === STDERR) process.stderr.write(content);
      else if (type === END_REQUEST && pending) {
        const p = pending;
        pending = null;
        const raw = Buffer.concat(out);
        out = [];
        p.resolve(raw);
      }
    }
  });
  return {
    sock,
    get closed() {
      return closed;
    },
    async request(params, body = Buffer.alloc(0), { keepConn = false, id = 1 } = {}) {
      await opened;
      const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
      const begin = Buffer.alloc(8);
      begin.writeUInt16BE(1, 0); // FCGI_RESPONDER
      begin.writeUInt8(keepConn ? 1 : 0, 2);
      const chunks = [record(BEGIN_REQUEST, id, begin)];
      const pb = encodeParams(params);
      for (let i = 0; i < pb.length; i += 65535) chunks.push(record(PARAMS, id, pb.subarray(i, i + 65535)));
      chunks.push(record(PARAMS, id));
      for (let i = 0; i < b.length; i += 65535) chunks.push(record(STDIN, id, b.subarray(i, i + 65535)));
      chunks.push(record(STDIN, id));
      const done = new Promise((resolve, reject) => (pending = { resolve, reject }));
      sock.write(Buffer.concat(chunks));
      return parseCgi(await done);
    },
    close() {
      sock.destroy();
    },
  };
}

/** One request on a connection of its own. */
export async function fcgiRequest(addr, method, target, { tok, body, raw, headers, contentType } = {}) {
  let payload = raw !== undefined ? Buffer.from(raw) : body !== undefined ? Buffer.from(JSON.stringify(body)) : Buffer.alloc(0);
  if (body !== undefined && !contentType) contentType = "application/json";
  const c = fcgiConnect(addr);
  try {
    return await c.request(cgiParams(method, target, { tok, headers, contentType, bodyLength: payload.length }), payload);
  } finally {
    c.close();
  }
}

/** Runs bin as a CGI program: params in the environment, body on stdin. */
export function cgiRun(bin, params, body = "", { env = {}, args = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: { PATH: process.env.PATH, ...env, ...params },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    let err = "";
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.stdin.on("error", () => {}); // it may answer before reading all
    child.on("close", (code) => {
      const r = parseCgi(Buffer.concat(out));
      r.code = code;
      r.stderr = err;
      resolve(r);
    });
    child.stdin.end(body);
  });
}

/** The shape of an answer: what must not differ between two servers once
 * run-specific values (ids, times, the run's tag) are blanked. */
export function shape(v, tag, key = "") {
  if (Array.isArray(v)) return v.map((x) => shape(x, tag));
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = shape(v[k], tag, k);
    return o;
  }
  if (typeof v === "number" && /^(id|cursor|delivered_up_to|read_up_to|up_to|timestamp|messageId)$/.test(key)) return "<n>";
  if (typeof v === "string") {
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v)) return "<time>";
    let s = tag ? v.split(tag).join("<T>") : v;
    if (/^(message)$/.test(key)) s = s.replace(/\d+/g, "#");
    return s;
  }
  return v;
}
