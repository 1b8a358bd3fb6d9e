/**
 * parley.js — the reference JavaScript client for the Parley chat server.
 *
 * An ES module with no dependencies. Import it straight from any parleyd:
 *
 *     import { Parley } from "/parley.js";
 *     const p = new Parley({ token });
 *     p.on("message.created", (ev) => console.log(ev.data.sender, ev.data.text));
 *     await p.connect();
 *     await p.send("general", "hello");
 *
 * Transports are tried in order (WebSocket, then Server-Sent Events with REST
 * posts, then long-polling); a dropped connection is re-established with
 * exponential backoff and resumed from the last stored event id, so that no
 * stored event is lost or delivered twice. Messages carry a `client_id`; a send
 * that was not acknowledged before a connection dropped is sent again with the
 * same `client_id`, which the server answers with the first message, so a retry
 * never duplicates a message.
 *
 * @module parley
 */

/** @typedef {"ws"|"sse"|"poll"} Transport */
/** @typedef {"idle"|"connecting"|"open"|"reconnecting"|"closed"} ConnectionState */

/**
 * @typedef {object} Message
 * @property {number} id
 * @property {string} room
 * @property {string} sender
 * @property {string|null} text
 * @property {string|null} client_id
 * @property {string} created_at
 * @property {string|null} edited_at
 * @property {boolean} deleted
 */

/**
 * @typedef {object} ParleyEvent  A pushed event, the same on every transport.
 * @property {number} [id]  present on stored events (messages, membership) only
 * @property {string} type  e.g. "message.created", "presence", "typing", "receipt"
 * @property {string} [room]
 * @property {string} ts
 * @property {any} data
 */

/**
 * @typedef {object} ParleyOptions
 * @property {string} token  the JWT (see `Parley.devLogin` for dev servers)
 * @property {string} [url]  server base URL; default: the page's origin
 * @property {Transport[]} [transports]  order of transports to try; default ["ws","sse","poll"]
 * @property {string[]} [rooms]  only receive events of these rooms (default: all of the user's rooms)
 * @property {string[]} [presence]  users whose presence to follow
 * @property {number|null} [lastEventId]  resume after this stored event id
 * @property {number} [minBackoff]  first reconnect delay in ms (default 500)
 * @property {number} [maxBackoff]  longest reconnect delay in ms (default 15000)
 * @property {number} [connectTimeout]  ms a transport may take to open before the next is tried (default 8000)
 * @property {number} [pollTimeout]  long-poll timeout in seconds (default 25)
 * @property {string} [wsUrl]  override the WebSocket endpoint (default derived from url)
 */

const ALL_TRANSPORTS = ["ws", "sse", "poll"];
const TYPING_INTERVAL = 3000;

/** An error answered by the server (or a network failure, with status 0). */
export class ParleyError extends Error {
  /**
   * @param {number} status HTTP status, 0 for a network failure
   * @param {string} code the contract's error code, e.g. "not_found"
   * @param {string} message
   * @param {number|null} [retryAfter] seconds, for rate_limited
   */
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = "ParleyError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** A new random client_id (UUID v4 where available). */
export function newClientId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Decodes a JWT's payload without checking it (the server checks).
 * @param {string} token
 * @returns {{sub?: string, name?: string, exp?: number}|null}
 */
export function decodeToken(token) {
  try {
    const part = String(token).split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function defaultBase() {
  return typeof location !== "undefined" && /^https?:$/.test(location.protocol) ? location.origin : "";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A connection to a Parley server: REST calls, pushed events, sending with
 * acknowledgement, typing, read receipts and presence.
 *
 * Events (subscribe with `on(name, fn)`):
 * - every push event type: "message.created", "message.updated", "message.deleted",
 *   "member.joined", "member.left", "presence", "typing", "receipt" — `fn(event)`
 * - "event": every push event — `fn(event)`
 * - "open": a transport is connected — `fn({transport, user, lastEventId})`
 * - "state": connection state changed — `fn({state, transport, attempt, retryIn})`
 * - "ack": a sent message was stored — `fn(message)`
 * - "error": a server error frame or a fatal error — `fn(ParleyError)`
 */
export class Parley {
  /** @param {ParleyOptions} options */
  constructor(options) {
    const o = options || {};
    if (!o.token) throw new TypeError("Parley: token is required");
    /** Server base URL without a trailing slash. */
    this.url = String(o.url ?? defaultBase()).replace(/\/+$/, "");
    /** The JWT in use. */
    this.token = o.token;
    /** @type {Transport[]} */
    this.transports = (o.transports && o.transports.length ? o.transports : ALL_TRANSPORTS).filter((t) =>
      ALL_TRANSPORTS.includes(t)
    );
    if (!this.transports.length) this.transports = ALL_TRANSPORTS.slice();
    this.rooms = o.rooms ? o.rooms.slice() : null;
    /** Newest stored event id seen; connections resume after it. @type {number|null} */
    this.lastEventId = o.lastEventId ?? null;
    /** @type {ConnectionState} */
    this.state = "idle";
    /** The transport in use, or null. @type {Transport|null} */
    this.transport = null;
    /** The signed-in user's id (from the token, confirmed by the server's hello). */
    this.user = decodeToken(o.token)?.sub ?? null;
    this.minBackoff = o.minBackoff ?? 500;
    this.maxBackoff = o.maxBackoff ?? 15000;
    this.connectTimeout = o.connectTimeout ?? 8000;
    this.pollTimeout = o.pollTimeout ?? 25;
    this.wsUrl = o.wsUrl || null;

    this._presence = (o.presence || []).slice(0, 500);
    this._handlers = new Map();
    this._pending = new Map(); // client_id -> pending send
    this._typingSent = new Map(); // room -> ms of last typing:true
    this._readSent = new Map(); // room -> last up_to sent
    this._conn = null;
    this._gen = 0;
    this._attempt = 0;
    this._timer = null;
    this._ready = null;
    this._onOnline = () => {
      if (this.state === "reconnecting") this._reconnectNow();
    };
  }

  // ---------------------------------------------------------------- events

  /**
   * Adds a listener.
   * @param {string} type an event type (see the class description)
   * @param {(arg: any) => void} fn
   * @returns {() => void} a function that removes the listener
   */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  /** Removes a listener added with `on`. */
  off(type, fn) {
    this._handlers.get(type)?.delete(fn);
  }

  _emit(type, arg) {
    for (const fn of [...(this._handlers.get(type) || [])]) {
      try {
        fn(arg);
      } catch (e) {
        console.error("parley: listener for", type, "failed:", e);
      }
    }
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, transport: this.transport, attempt: this._attempt, ...extra });
  }

  // ------------------------------------------------------------ connection

  /**
   * Connects (WebSocket first, then SSE, then long-poll) and keeps the
   * connection up until `close()`. Resolves once the first transport is open.
   * @returns {Promise<{transport: Transport, user: string|null, lastEventId: number|null}>}
   */
  connect() {
    if (this._ready && this.state !== "closed") return this._ready;
    this._ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this._ready.catch(() => {});
    if (typeof addEventListener === "function") addEventListener("online", this._onOnline);
    this._attempt = 0;
    this._setState("connecting");
    this._tryTransport(0);
    return this._ready;
  }

  /** Closes the connection for good; pending sends are rejected. */
  close() {
    this._gen++;
    clearTimeout(this._timer);
    this._conn?.close();
    this._conn = null;
    this.transport = null;
    if (typeof removeEventListener === "function") removeEventListener("online", this._onOnline);
    for (const p of this._pending.values()) p.reject(new ParleyError(0, "closed", "connection closed"));
    this._pending.clear();
    this._rejectReady?.(new ParleyError(0, "closed", "connection closed"));
    this._setState("closed");
  }

  /** Drops the current connection and reconnects at once (resuming, no gap). */
  reconnect() {
    if (this.state === "closed" || this.state === "idle") return;
    this._reconnectNow();
  }

  /**
   * Re-opens the connection without a visible disconnect, resuming from
   * `lastEventId`. Use it after creating or being added to a room: a server
   * subscribes a connection to the user's rooms when it opens.
   */
  refresh() {
    if (this.state !== "open") return;
    if (this._conn?.kind === "poll") this._conn.restart();
    else this._silentRestart();
  }

  _reconnectNow() {
    clearTimeout(this._timer);
    this._gen++;
    this._conn?.close();
    this._conn = null;
    this._setState("connecting");
    this._tryTransport(Math.max(0, this.transports.indexOf(this.transport)));
  }

  /** Re-opens the same transport without showing a disconnect (new query parameters). */
  _silentRestart() {
    clearTimeout(this._timer);
    this._gen++;
    this._conn?.close();
    this._conn = null;
    this._tryTransport(Math.max(0, this.transports.indexOf(this.transport)), true);
  }

  _tryTransport(index, silent = false) {
    const transport = this.transports[index];
    const gen = ++this._gen;
    this.transport = transport;
    let opened = false;
    let openedAt = 0;
    let done = false;
    const cb = {
      open: (hello) => {
        if (gen !== this._gen || done || opened) return;
        opened = true;
        openedAt = Date.now();
        clearTimeout(timeout);
        if (hello && hello.user) this.user = hello.user;
        if (this.lastEventId == null && hello && typeof hello.last_event_id === "number") {
          this.lastEventId = hello.last_event_id;
        }
        const info = { transport, user: this.user, lastEventId: this.lastEventId };
        if (!(silent && this.state === "open")) {
          this._setState("open");
          this._emit("open", info);
        }
        this._resolveReady?.(info);
        this._flushPending();
      },
      event: (ev) => {
        if (gen !== this._gen || done) return;
        if (!opened) cb.open(null);
        this._dispatch(ev);
      },
      frame: (f) => {
        if (gen !== this._gen || done) return;
        this._onFrame(f);
      },
      fail: (err) => {
        if (gen !== this._gen || done) return;
        done = true;
        clearTimeout(timeout);
        conn?.close();
        if (this._conn === conn) this._conn = null;
        if (err && err.status === 401) {
          const e = new ParleyError(401, "unauthenticated", err.message || "the token was refused");
          this._emit("error", e);
          this._rejectReady?.(e);
          this.close();
          return;
        }
        // a connection that stayed up a while starts the backoff afresh;
        // one that keeps dropping right after opening backs off further
        if (opened && Date.now() - openedAt > 5000) this._attempt = 0;
        if (!opened && index + 1 < this.transports.length) {
          this._tryTransport(index + 1); // fall back to the next transport
        } else {
          this._scheduleReconnect(opened ? index : 0, !opened);
        }
      },
      isCurrent: () => gen === this._gen && !done,
    };
    const timeout = setTimeout(() => {
      if (!opened) cb.fail(new ParleyError(0, "timeout", transport + " did not open in time"));
    }, this.connectTimeout);
    let conn = null;
    try {
      if (transport === "ws") conn = this._openWs(cb);
      else if (transport === "sse") conn = this._openSse(cb);
      else conn = this._openPoll(cb);
    } catch (e) {
      cb.fail(e);
      return;
    }
    this._conn = conn;
  }

  _scheduleReconnect(index, countAttempt) {
    const attempt = this._attempt++;
    const base = countAttempt || attempt > 0 ? Math.min(this.maxBackoff, this.minBackoff * 2 ** attempt) : this.minBackoff;
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this._setState("reconnecting", { retryIn: delay, retryAt: Date.now() + delay });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._setState("reconnecting", { retryIn: 0 });
      this._tryTransport(index);
    }, delay);
  }

  _query() {
    const q = new URLSearchParams();
    if (this.lastEventId != null) q.set("last_event_id", String(this.lastEventId));
    if (this.rooms) q.set("rooms", this.rooms.join(","));
    if (this._presence.length) q.set("presence", this._presence.join(","));
    return q;
  }

  _openWs(cb) {
    const q = this._query();
    q.set("token", this.token);
    let base = this.wsUrl;
    if (!base) {
      const http = this.url || defaultBase();
      base = http.replace(/^http/, "ws") + "/v1/ws";
    }
    const ws = new WebSocket(base + (base.includes("?") ? "&" : "?") + q.toString());
    let quietTimer = null;
    ws.onopen = () => {
      // The server greets with a hello frame; open without it only if the
      // socket stays up for a while (a server that does not send hello).
      quietTimer = setTimeout(() => ws.readyState === 1 && cb.open(null), 3000);
    };
    ws.onmessage = (e) => {
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return;
      }
      if (f.type === "hello") {
        clearTimeout(quietTimer);
        cb.open(f);
      } else if (f.type === "ack" || (f.type === "error" && !("ts" in f && "data" in f))) {
        cb.frame(f);
      } else {
        cb.event(f);
      }
    };
    ws.onerror = () => {};
    ws.onclose = (e) => {
      clearTimeout(quietTimer);
      cb.fail(new ParleyError(0, "closed", `WebSocket closed (${e.code})`));
    };
    return {
      kind: "ws",
      send(obj) {
        if (ws.readyState !== 1) return false;
        ws.send(JSON.stringify(obj));
        return true;
      },
      close() {
        clearTimeout(quietTimer);
        ws.onclose = ws.onmessage = ws.onopen = null;
        try {
          ws.close(1000);
        } catch {}
      },
    };
  }

  _openSse(cb) {
    const ctrl = new AbortController();
    const q = this._query();
    const url = this.url + "/v1/events?" + q.toString();
    let watchdog = null;
    const kick = () => {
      clearTimeout(watchdog);
      // the server sends a keep-alive comment every 15 s
      watchdog = setTimeout(() => cb.fail(new ParleyError(0, "timeout", "event stream went quiet")), 45000);
    };
    (async () => {
      let res;
      try {
        res = await fetch(url, {
          headers: { Accept: "text/event-stream", Authorization: "Bearer " + this.token },
          cache: "no-store",
          signal: ctrl.signal,
        });
      } catch (e) {
        return cb.fail(new ParleyError(0, "network", String(e && e.message)));
      }
      if (!res.ok || !res.body) {
        return cb.fail(await errorFrom(res));
      }
      kick();
      // A stream that answered but sent no hello yet is still a working stream.
      const helloWait = setTimeout(() => cb.open(null), 3000);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      let ev = { event: "", data: [], id: null };
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (!cb.isCurrent()) return;
          kick();
          buf += value;
          const lines = buf.split(/\r\n|\r|\n/);
          buf = lines.pop();
          for (const line of lines) {
            if (line === "") {
              if (ev.data.length) {
                clearTimeout(helloWait);
                this._sseRecord(ev, cb);
              }
              ev = { event: "", data: [], id: null };
              continue;
            }
            if (line[0] === ":") continue;
            const i = line.indexOf(":");
            const field = i < 0 ? line : line.slice(0, i);
            let v = i < 0 ? "" : line.slice(i + 1);
            if (v[0] === " ") v = v.slice(1);
            if (field === "data") ev.data.push(v);
            else if (field === "event") ev.event = v;
            else if (field === "id") ev.id = v;
          }
        }
      } catch (e) {
        clearTimeout(helloWait);
        clearTimeout(watchdog);
        return cb.fail(new ParleyError(0, "network", String(e && e.message)));
      }
      clearTimeout(helloWait);
      clearTimeout(watchdog);
      cb.fail(new ParleyError(0, "closed", "event stream ended"));
    })();
    return {
      kind: "sse",
      send: () => false,
      close() {
        clearTimeout(watchdog);
        ctrl.abort();
      },
    };
  }

  _sseRecord(rec, cb) {
    let data;
    try {
      data = JSON.parse(rec.data.join("\n"));
    } catch {
      return;
    }
    if (rec.event === "hello" || (data && data.type === "hello")) return cb.open(data);
    if (data && typeof data === "object" && "type" in data && "data" in data) {
      cb.event(data);
    } else {
      // tolerate servers that send only the payload as data
      const ev = { type: rec.event || "message", data };
      if (rec.id != null && /^\d+$/.test(rec.id)) ev.id = Number(rec.id);
      if (data && data.room) ev.room = data.room;
      cb.event(ev);
    }
  }

  _openPoll(cb) {
    let ctrl = null;
    let stopped = false;
    let cursor = this.lastEventId;
    let first = true;
    // The server's long-poll session keeps typing, presence and receipts
    // that come between one answer and the next poll (parley.fcgi has none).
    let session = null;
    const loop = async () => {
      while (!stopped && cb.isCurrent()) {
        const q = this._query();
        q.delete("last_event_id");
        if (cursor != null) q.set("cursor", String(cursor));
        if (session) q.set("session", session);
        const timeout = first ? 1 : this.pollTimeout;
        q.set("timeout", String(timeout));
        ctrl = new AbortController();
        const timer = setTimeout(() => ctrl.abort(), (timeout + 20) * 1000);
        let res, body;
        try {
          res = await fetch(this.url + "/v1/poll?" + q.toString(), {
            headers: { Authorization: "Bearer " + this.token },
            cache: "no-store",
            signal: ctrl.signal,
          });
          if (!res.ok) {
            clearTimeout(timer);
            if (ctrl.restart) continue;
            return cb.fail(await errorFrom(res));
          }
          body = await res.json();
        } catch (e) {
          clearTimeout(timer);
          if (stopped || !cb.isCurrent()) return;
          if (ctrl.restart) continue; // presence list changed: poll again at once
          return cb.fail(new ParleyError(0, "network", String(e && e.message)));
        }
        clearTimeout(timer);
        if (stopped || !cb.isCurrent()) return;
        if (first) {
          // the cursor is adopted below, after this answer's events (it
          // covers them, so adopting it first would drop them as seen)
          first = false;
          cb.open(null);
        }
        for (const ev of body.events || []) cb.event(ev);
        session = typeof body.session === "string" ? body.session : null;
        if (body.cursor != null) {
          cursor = body.cursor;
          if (typeof cursor === "number" && (this.lastEventId == null || cursor > this.lastEventId)) {
            this.lastEventId = cursor;
          }
        } else if (this.lastEventId != null) cursor = this.lastEventId;
      }
    };
    loop();
    return {
      kind: "poll",
      send: () => false,
      restart() {
        if (ctrl) {
          ctrl.restart = true;
          ctrl.abort();
        }
      },
      close() {
        stopped = true;
        ctrl?.abort();
      },
    };
  }

  _dispatch(ev) {
    if (!ev || typeof ev !== "object") return;
    if (typeof ev.id === "number") {
      if (this.lastEventId != null && ev.id <= this.lastEventId) return; // already seen
      this.lastEventId = ev.id;
    }
    if (ev.type === "message.created" && ev.data && ev.data.client_id && ev.data.sender === this.user) {
      const p = this._pending.get(ev.data.client_id);
      if (p) this._settle(p, ev.data);
    }
    this._emit("event", ev);
    this._emit(ev.type, ev);
  }

  _onFrame(f) {
    if (f.type === "ack") {
      const p = this._pending.get(f.client_id);
      if (p && f.message) this._settle(p, f.message);
    } else if (f.type === "error") {
      const err = f.error || {};
      const e = new ParleyError(400, err.code || "error", err.message || "error");
      const p = f.client_id != null ? this._pending.get(f.client_id) : null;
      if (p) {
        if (retryable(e)) return this._retryLater(p, e.retryAfter);
        this._pending.delete(p.client_id);
        clearTimeout(p.timer);
        p.reject(e);
      } else this._emit("error", e);
    }
  }

  _settle(p, message) {
    this._pending.delete(p.client_id);
    clearTimeout(p.timer);
    p.resolve(message);
    this._emit("ack", message);
  }

  // ------------------------------------------------------------- messaging

  /**
   * Sends a message. Over WebSocket it is a `send` frame answered by an ack;
   * otherwise a REST post. Until it is acknowledged it is retried across
   * reconnects with the same client_id, so it is stored at most once.
   * The returned promise has a `clientId` property.
   * @param {string} room
   * @param {string} text
   * @param {{clientId?: string}} [opts]
   * @returns {Promise<Message> & {clientId: string}}
   */
  send(room, text, opts = {}) {
    const client_id = opts.clientId || newClientId();
    let p;
    const promise = new Promise((resolve, reject) => {
      p = { room, text, client_id, resolve, reject, timer: null, busy: false };
    });
    this._pending.set(client_id, p);
    this._typingSent.delete(room);
    this._flushOne(p);
    promise.clientId = client_id;
    return promise;
  }

  /** Sends not yet acknowledged, oldest first. @returns {{room: string, text: string, client_id: string}[]} */
  get pending() {
    return [...this._pending.values()].map(({ room, text, client_id }) => ({ room, text, client_id }));
  }

  _flushPending() {
    for (const p of this._pending.values()) this._flushOne(p);
  }

  _flushOne(p) {
    if (p.busy) return;
    if (this.state === "open") {
      if (this._conn?.kind === "ws") {
        if (this._conn.send({ type: "send", room: p.room, text: p.text, client_id: p.client_id })) {
          clearTimeout(p.timer);
          // no ack in time: the connection is probably dead; reconnect and resend
          p.timer = setTimeout(() => {
            if (this._pending.has(p.client_id) && this._conn?.kind === "ws") this.reconnect();
          }, 20000);
        }
      } else {
        this._restSend(p);
      }
    } else if (this.state === "idle" || this.state === "closed") {
      this._restSend(p); // not connected at all: a plain REST post
    }
    // connecting or reconnecting: sent (again, same client_id) once open
  }

  async _restSend(p) {
    p.busy = true;
    try {
      const msg = await this.request("POST", `/v1/rooms/${enc(p.room)}/messages`, {
        text: p.text,
        client_id: p.client_id,
      });
      p.busy = false;
      if (this._pending.has(p.client_id)) this._settle(p, msg);
    } catch (e) {
      p.busy = false;
      if (!this._pending.has(p.client_id)) return;
      if (retryable(e)) this._retryLater(p, e.retryAfter);
      else {
        this._pending.delete(p.client_id);
        p.reject(e);
      }
    }
  }

  _retryLater(p, retryAfter) {
    clearTimeout(p.timer);
    p.tries = (p.tries || 0) + 1;
    const delay = retryAfter ? retryAfter * 1000 : Math.min(10000, 500 * 2 ** p.tries);
    p.timer = setTimeout(() => {
      if (this._pending.has(p.client_id) && this.state !== "closed") this._flushOne(p);
    }, delay);
  }

  /**
   * Tells the room that the user is typing (true) or stopped (false).
   * `true` is sent at most once every 3 s per room; call it on every keystroke.
   * @param {string} room
   * @param {boolean} [typing=true]
   */
  typing(room, typing = true) {
    const now = Date.now();
    const last = this._typingSent.get(room);
    if (typing) {
      if (last && now - last < TYPING_INTERVAL) return;
      this._typingSent.set(room, now);
    } else {
      if (!last) return;
      this._typingSent.delete(room);
    }
    if (!this._frame({ type: "typing", room, typing })) {
      this.request("POST", `/v1/rooms/${enc(room)}/typing`, { typing }).catch(() => {});
    }
  }

  /**
   * Marks messages of a room as read up to (and including) a message id.
   * Ids not above the last one sent for the room are ignored.
   * @param {string} room
   * @param {number} upTo
   */
  read(room, upTo) {
    if (typeof upTo !== "number") return;
    if ((this._readSent.get(room) ?? -1) >= upTo) return;
    this._readSent.set(room, upTo);
    if (!this._frame({ type: "read", room, up_to: upTo })) {
      this.request("POST", `/v1/rooms/${enc(room)}/read`, { up_to: upTo }).catch(() => {
        if (this._readSent.get(room) === upTo) this._readSent.delete(room);
      });
    }
  }

  /**
   * Sets the users whose presence events this connection receives (replaces
   * the list; at most 500). Members of small rooms come unasked.
   * @param {string[]} users
   */
  watchPresence(users) {
    const list = [...new Set(users)].slice(0, 500);
    if (list.join(",") === this._presence.join(",")) return;
    this._presence = list;
    if (this._frame({ type: "presence", users: list })) return;
    this._softRestart();
  }

  /**
   * Limits events to these rooms (WebSocket: a subscribe frame; other
   * transports reconnect with the new list, resuming without a gap).
   * @param {string[]} rooms
   */
  subscribe(rooms) {
    if (!this.rooms) return; // already receiving every room of the user
    this.rooms = [...new Set([...this.rooms, ...rooms])];
    if (!this._frame({ type: "subscribe", rooms })) this._softRestart();
  }

  /** Stops receiving events of these rooms. @param {string[]} rooms */
  unsubscribe(rooms) {
    this.rooms = (this.rooms || []).filter((r) => !rooms.includes(r));
    if (!this._frame({ type: "unsubscribe", rooms })) this._softRestart();
  }

  // the query of an open SSE or long-poll connection changed: apply it
  // without a visible disconnect (the new stream resumes from lastEventId)
  _softRestart() {
    if (this.state !== "open") return;
    if (this._conn?.kind === "poll") this._conn.restart();
    else if (this._conn?.kind === "sse") this._silentRestart();
  }

  _frame(obj) {
    return this.state === "open" && this._conn?.kind === "ws" ? this._conn.send(obj) : false;
  }

  // ------------------------------------------------------------------ REST

  /**
   * A REST call with the token. Resolves to the JSON answer (null for 204).
   * @param {string} method
   * @param {string} path e.g. "/v1/rooms"
   * @param {any} [body]
   * @returns {Promise<any>}
   * @throws {ParleyError}
   */
  async request(method, path, body) {
    return rest(this.url, method, path, body, this.token);
  }

  /** Server health (no auth). */
  health() {
    return rest(this.url, "GET", "/v1/health");
  }
  /**
   * A page of the public rooms and the caller's rooms, in id order (the
   * server answers at most `limit`, 1-500, default 100; `has_more` tells
   * whether to ask again with `after` set to the last id).
   * @param {{q?: string, limit?: number, after?: string}} [opts] q: part of the name
   * @returns {Promise<object[]>}
   */
  async listRooms(opts = {}) {
    const qs = new URLSearchParams();
    for (const k of ["q", "limit", "after"]) if (opts[k] != null) qs.set(k, String(opts[k]));
    const s = qs.toString();
    return (await this.request("GET", `/v1/rooms${s ? "?" + s : ""}`)).rooms;
  }
  /** @param {string} room */
  getRoom(room) {
    return this.request("GET", `/v1/rooms/${enc(room)}`);
  }
  /** @param {{name: string, private?: boolean, id?: string}} spec */
  createRoom(spec) {
    return this.request("POST", "/v1/rooms", spec);
  }
  /** @param {string} room */
  join(room) {
    return this.request("POST", `/v1/rooms/${enc(room)}/join`);
  }
  /** @param {string} room */
  leave(room) {
    return this.request("POST", `/v1/rooms/${enc(room)}/leave`);
  }
  /** @param {string} room @returns {Promise<{user: string, status: string}[]>} */
  async members(room) {
    return (await this.request("GET", `/v1/rooms/${enc(room)}/members`)).members;
  }
  /** Adds a user to a (private) room. */
  addMember(room, user) {
    return this.request("POST", `/v1/rooms/${enc(room)}/members`, { user });
  }
  /** Opens (or creates) the direct-message room with a user. @param {string} user */
  dm(user) {
    return this.request("POST", "/v1/dms", { user });
  }
  /**
   * Message history, oldest first.
   * @param {string} room
   * @param {{limit?: number, before?: number, after?: number, since?: string}} [q]
   * @returns {Promise<{messages: Message[], has_more: boolean}>}
   */
  history(room, q = {}) {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v != null) s.set(k, String(v));
    const qs = s.toString();
    return this.request("GET", `/v1/rooms/${enc(room)}/messages${qs ? "?" + qs : ""}`);
  }
  /** Edits one's own message. */
  editMessage(room, id, text) {
    return this.request("PATCH", `/v1/rooms/${enc(room)}/messages/${id}`, { text });
  }
  /** Deletes one's own message. */
  deleteMessage(room, id) {
    return this.request("DELETE", `/v1/rooms/${enc(room)}/messages/${id}`);
  }
  /** @returns {Promise<{user: string, delivered_up_to: number|null, read_up_to: number|null}[]>} */
  async receipts(room) {
    return (await this.request("GET", `/v1/rooms/${enc(room)}/receipts`)).receipts;
  }
  /** @param {string[]} users @returns {Promise<object[]>} status objects */
  async presence(users) {
    if (!users.length) return [];
    return (await this.request("GET", `/v1/presence?users=${users.map(enc).join(",")}`)).users;
  }
  /** @param {"online"|"away"|"busy"|"invisible"} status */
  setStatus(status) {
    return this.request("POST", "/v1/me/status", { status });
  }

  /**
   * Dev-mode sign-in (servers started with --dev only).
   * @param {string} user
   * @param {string} [url] server base URL
   * @returns {Promise<string>} a token
   */
  static async devLogin(user, url = defaultBase()) {
    const r = await rest(String(url).replace(/\/+$/, ""), "POST", "/v1/dev/login", { user });
    return r.token;
  }
}

Parley.newClientId = newClientId;
Parley.decodeToken = decodeToken;

function enc(s) {
  return encodeURIComponent(s);
}

function retryable(e) {
  return e.status === 0 || e.status === 429 || e.status >= 500 || e.code === "rate_limited" || e.code === "unavailable";
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {}
  const err = (body && body.error) || {};
  const ra = Number(res.headers.get("Retry-After")) || null;
  return new ParleyError(res.status, err.code || "http_" + res.status, err.message || res.statusText || "request failed", ra);
}

async function rest(base, method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(base + path, {
      method,
      headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
  } catch (e) {
    throw new ParleyError(0, "network", "network error: " + (e && e.message));
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export default Parley;
