// tests/integration/receiver.mjs: a real HTTP webhook receiver for the tests.
//
// receiver(secret) listens on a free 127.0.0.1 port and records every POST:
// {body (parsed), raw, sig (the Parley-Signature header), t (its time),
// valid (the signature checks out with the secret), at, status, ok}.  r.answer = (delivery) => status decides each answer
// (200 by default; a promise delays it).  r.close() stops it.
import crypto from "node:crypto";
import http from "node:http";

export function signatureOk(secret, header, raw) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header || "");
  if (!m) return false;
  const want = crypto.createHmac("sha256", secret).update(`${m[1]}.${raw}`).digest("hex");
  return crypto.timingSafeEqual(Buffer.from(want), Buffer.from(m[2]));
}

export async function receiver(secret) {
  const r = { got: [], answer: () => 200 };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString();
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const header = req.headers["parley-signature"];
      const t = /t=(\d+)/.exec(header || "");
      const d = {
        body,
        raw,
        method: req.method,
        type: req.headers["content-type"],
        sig: header,
        t: t ? Number(t[1]) : 0,
        valid: signatureOk(secret, header, raw),
        at: Date.now(),
      };
      r.got.push(d);
      const status = await r.answer(d);
      d.status = status;
      d.ok = status >= 200 && status < 300;
      res.writeHead(status, { "Content-Type": "text/plain", Connection: "close" });
      res.end("ok");
    });
  });
  await new Promise((ok) => r.server.listen(0, "127.0.0.1", ok));
  r.url = `http://127.0.0.1:${r.server.address().port}/hook`;
  r.of = (type) => r.got.filter((d) => d.body && d.body.type === type);
  // Each delivery once, by delivery id, the last attempt's body.
  r.delivered = (pred = () => true) => {
    const seen = new Map();
    for (const d of r.got) if (d.ok && d.body && pred(d.body)) seen.set(d.body.id, d.body);
    return [...seen.values()];
  };
  r.close = () => {
    r.server.closeAllConnections?.();
    return new Promise((ok) => r.server.close(ok));
  };
  return r;
}
