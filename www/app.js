// Parley web client: the page's UI on top of parley.js (the transport SDK).
// All user-supplied text goes into the page with textContent, never as HTML.
import { Parley, ParleyError, decodeToken, newClientId } from "./parley.js";
import { renderMessage, pickerEmoji } from "./format.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "parley.token";
const ROOM_KEY = "parley.room";
const GROUP_MS = 5 * 60 * 1000;
const MAX_TEXT = 4000;

/** Everything the page knows. */
const S = {
  client: null,
  me: null,
  rooms: new Map(), // id -> room model
  current: null,
  presence: new Map(), // user -> status object
  editing: null, // message id being edited
  drafts: new Map(),
  known: new Set(), // users seen in rooms, presence and messages (DM search, switcher)
};
const THEME_KEY = "parley.theme";
const SOUND_KEY = "parley.sound";
const ASKED_KEY = "parley.notify-asked";
window.parleyApp = S; // handy in the console

// ------------------------------------------------------------------ helpers

function el(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k === "style") n.style.cssText = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null && c !== false) n.append(c);
  return n;
}

const ICONS = {
  plus: ["M12 5v14", "M5 12h14"],
  search: ["M4 11a7 7 0 1 0 14 0a7 7 0 1 0-14 0", "M20 20l-4-4"],
  users: ["M5.5 8a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0", "M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6", "M16 4.6a3.5 3.5 0 0 1 0 6.8", "M18 14.2c2.1.7 3.5 2.8 3.5 5.8"],
  menu: ["M4 6h16", "M4 12h16", "M4 18h16"],
  close: ["M6 6l12 12", "M18 6 6 18"],
  logout: ["M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3", "M10 17l5-5-5-5", "M15 12H3"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
  lock: ["M6 11h12a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-7a1 1 0 0 1 1-1z", "M8 11V8a4 4 0 0 1 8 0v3"],
  clock: ["M3 12a9 9 0 1 0 18 0a9 9 0 1 0-18 0", "M12 7v5l3 2"],
  alert: ["M3 12a9 9 0 1 0 18 0a9 9 0 1 0-18 0", "M12 7v6", "M12 16.5v.5"],
  settings: ["M4 6h10", "M18 6h2", "M4 12h4", "M12 12h8", "M4 18h12", "M20 18h0", "M14 4v4", "M8 10v4", "M16 16v4"],
  keyboard: ["M3 7h18v10H3z", "M7 11h0", "M11 11h0", "M15 11h0", "M8 14h8"],
  smile: ["M3 12a9 9 0 1 0 18 0a9 9 0 1 0-18 0", "M8.5 14.5c1.8 2 5.2 2 7 0", "M9 9.5v.5", "M15 9.5v.5"],
};

/** An inline SVG icon (no icon font, nothing fetched). */
function icon(name, size = 18) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(NS, "path");
    p.setAttribute("d", d);
    svg.append(p);
  }
  return svg;
}

function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

function avatar(user, { small = false, dot = false } = {}) {
  const a = el("span", { class: "avatar" + (small ? " sm" : ""), "aria-hidden": "true" });
  a.style.setProperty("--c", `hsl(${hue(user)} 55% 47%)`);
  a.textContent = [...String(user)][0] || "?";
  if (dot) a.append(presenceDot(user));
  return a;
}

function presenceDot(user) {
  const d = el("span", { class: "dot", dataset: { user } });
  d.dataset.status = statusOf(user);
  return d;
}

function statusOf(user) {
  if (user === S.me && S.client) {
    // one's own dot follows one's own connection and chosen status
    const chosen = $("status-select").value;
    return S.client.state !== "open" || chosen === "invisible" ? "offline" : chosen;
  }
  return S.presence.get(user)?.status || "offline";
}

function refreshOwnPresence() {
  if (!S.me) return;
  for (const d of document.querySelectorAll(`.dot[data-user="${CSS.escape(S.me)}"]`)) d.dataset.status = statusOf(S.me);
  for (const n of document.querySelectorAll(`.ustatus[data-user="${CSS.escape(S.me)}"]`)) n.textContent = statusText(S.me);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const relShort = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** A message's time as shown: relative within the hour, the clock today,
 * the date before (the full time is the element's title). */
function shortTime(d) {
  const s = (Date.now() - d.getTime()) / 1000;
  if (s < 45) return "now";
  if (s < 3600) return relShort.format(-Math.round(s / 60), "minute");
  return dayKey(d) === dayKey(new Date()) ? timeFmt.format(d) : dateTimeFmt.format(d);
}
function timeNode(iso) {
  const d = new Date(iso);
  return el("time", { class: "rel", datetime: d.toISOString(), title: fullFmt.format(d), text: shortTime(d) });
}

function dayKey(d) {
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}
function dayLabel(d) {
  const today = new Date();
  const y = new Date(today);
  y.setDate(today.getDate() - 1);
  if (dayKey(d) === dayKey(today)) return "Today";
  if (dayKey(d) === dayKey(y)) return "Yesterday";
  return (d.getFullYear() === today.getFullYear() ? dayFmt : dayYearFmt).format(d);
}
function ago(iso) {
  const t = Date.parse(iso);
  if (!t) return "";
  const s = Math.round((t - Date.now()) / 1000);
  if (s > -60) return "just now";
  if (s > -3600) return rel.format(Math.round(s / 60), "minute");
  if (s > -86400) return rel.format(Math.round(s / 3600), "hour");
  return rel.format(Math.round(s / 86400), "day");
}
function statusText(user) {
  if (user === S.me && S.client) {
    if (S.client.state !== "open") return "Not connected";
    return { online: "Online", away: "Away", busy: "Busy", invisible: "Invisible" }[$("status-select").value] || "Online";
  }
  const st = S.presence.get(user);
  const s = st?.status || "offline";
  if (s === "online") return "Online";
  if (s === "away") return "Away";
  if (s === "busy") return "Busy";
  return st?.last_seen ? `Last seen ${ago(st.last_seen)}` : "Offline";
}

function memberIds(room) {
  if (!Array.isArray(room.members)) return null;
  return room.members.map((m) => (typeof m === "string" ? m : m.user));
}

function dmPartner(id) {
  const rest = id.slice(3);
  if (rest.startsWith(S.me + ":")) return rest.slice(S.me.length + 1);
  if (rest.endsWith(":" + S.me)) return rest.slice(0, -(S.me.length + 1));
  return rest.split(":").find((u) => u !== S.me) || rest;
}

function roomLabel(r) {
  return r.isDm ? r.other : r.name || r.id;
}

function errText(e) {
  if (e instanceof ParleyError) return e.status === 0 ? "The server cannot be reached. Try again." : e.message;
  return String(e?.message || e);
}

function readParams() {
  const q = new URLSearchParams(location.search);
  const h = new URLSearchParams(location.hash.replace(/^#/, ""));
  const t = h.get("transports") || q.get("transports");
  return { transports: t ? t.split(",").map((s) => s.trim()).filter(Boolean) : undefined, token: h.get("token") || h.get("access_token") };
}

// ------------------------------------------------------------------ sign-in

/** The user a stored token signs in, or null (none, unreadable, expired). */
function signedInAs(token) {
  const c = token ? decodeToken(token) : null;
  if (!c?.sub || (c.exp && c.exp * 1000 <= Date.now())) return null;
  return c.sub;
}

/** Asks, in the page's own dialog, whether to leave account `was` for
 * `next`; closing it any other way (Escape) is staying. */
async function askSwitch(was, next) {
  const dlg = $("switch-dialog");
  $("switch-text").textContent = `You are signed in as “${was}”. This link signs in as “${next || "another account"}”.`;
  $("switch-stay").textContent = `Stay as ${was}`;
  $("switch-ok").textContent = next ? `Switch to ${next}` : "Switch";
  dlg.returnValue = "";
  dlg.showModal();
  $("switch-stay").focus();
  await new Promise((res) => dlg.addEventListener("close", res, { once: true }));
  return dlg.returnValue === "switch";
}

/** A token handed in the URL fragment (a sign-in link) leaves the address
 * bar at once. It replaces the stored one only when nobody else is signed
 * in here or the user says so: a link must never switch accounts silently.
 * True when the stored token changed. */
async function takeLinkToken(params) {
  if (!params.token) return false;
  const h = new URLSearchParams(location.hash.replace(/^#/, ""));
  h.delete("token");
  h.delete("access_token");
  const rest = h.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  const current = sessionStorage.getItem(TOKEN_KEY);
  if (current === params.token) return false;
  const was = signedInAs(current);
  const next = decodeToken(params.token)?.sub;
  if (was && was !== next && !(await askSwitch(was, next))) return false;
  sessionStorage.setItem(TOKEN_KEY, params.token);
  return true;
}

/** system / light / dark, remembered in this browser. */
function applyTheme(t) {
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}

async function boot() {
  applyTheme(localStorage.getItem(THEME_KEY));
  for (const i of document.querySelectorAll("i[data-icon]")) i.replaceWith(icon(i.dataset.icon));
  const params = readParams();
  await takeLinkToken(params);
  // A link pasted into this tab changes only the fragment: no reload.
  addEventListener("hashchange", async () => {
    if (await takeLinkToken(readParams())) location.reload();
  });
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start(token, params);
  else showSignin(params);
}

async function showSignin(params, message = "") {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  // Is this a dev server? GET /v1/health says so ("dev"); a server that
  // does not say gets both forms. (No probe that fails: a first load makes
  // no failing request.)
  let dev = true;
  try {
    const r = await fetch("/v1/health", { cache: "no-store" });
    const h = r.ok ? await r.json() : {};
    if (h.dev === false) dev = false;
  } catch {}
  $("dev-form").hidden = !dev;
  $("or").hidden = !dev;
  (dev ? $("dev-name") : $("token-input")).focus();

  $("dev-form").onsubmit = async (e) => {
    e.preventDefault();
    const user = $("dev-name").value.trim();
    if (!user) return;
    $("signin-error").textContent = "";
    try {
      const token = await Parley.devLogin(user);
      sessionStorage.setItem(TOKEN_KEY, token);
      start(token, params);
    } catch (err) {
      $("signin-error").textContent =
        err.status === 404 || err.status === 403 || err.status === 405
          ? "Sign-in by name is off on this server (it is not in dev mode). Paste a token instead."
          : errText(err);
    }
  };
  $("token-form").onsubmit = (e) => {
    e.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    if (!decodeToken(token)?.sub) {
      $("signin-error").textContent = "That does not look like a Parley token.";
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token, params);
  };
}

// ------------------------------------------------------------------ start

async function start(token, params) {
  const client = new Parley({ token, transports: params.transports });
  let rooms;
  try {
    rooms = await client.listRooms();
  } catch (e) {
    if (e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignin(params, "That token was refused or has expired. Sign in again.");
    }
    return showSignin(params, errText(e));
  }
  S.client = client;
  if (new URLSearchParams(location.search).has("debug")) {
    client.on("state", (s) => console.log("parley state", s.state, s.transport || "", s.retryIn ?? ""));
    client.on("event", (e) => console.log("parley event", e.id ?? "-", e.type, e.room ?? "", JSON.stringify(e.data).slice(0, 120)));
  }
  S.me = client.user;
  window.parley = client;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = decodeToken(token)?.name || S.me;
  $("me-avatar").replaceWith(Object.assign(avatar(S.me, { dot: true }), { id: "me-avatar" }));
  $("members").hidden = !matchMedia("(min-width: 1100px)").matches;
  $("members-btn").setAttribute("aria-expanded", String(!$("members").hidden));

  wireClient(client);
  wireUi();
  client.connect().catch(() => {});

  await addRooms(rooms);
  const saved = sessionStorage.getItem(ROOM_KEY);
  const first =
    (saved && S.rooms.has(saved) && saved) ||
    (S.rooms.has("general") && "general") ||
    [...S.rooms.keys()][0];
  if (first) openRoom(first);
  else renderEmpty("You are not in any room yet. Create one or browse public rooms.");
  loadUnread();
  client
    .request("GET", `/v1/users/${encodeURIComponent(S.me)}/status`)
    .then((st) => {
      setPresence(st);
      if (st.status && st.status !== "offline") $("status-select").value = st.status;
    })
    .catch(() => {});
  setInterval(refreshRelativeTimes, 60000);
  setInterval(discoverRooms, 60000);
  setInterval(reconcilePoll, 5000);
}

function roomModel(r) {
  const old = S.rooms.get(r.id);
  const isDm = r.id.startsWith("dm:");
  const m = old || {
    id: r.id,
    msgs: new Map(),
    pend: new Map(),
    receipts: new Map(),
    typers: new Map(),
    members: null,
    unread: 0,
    hasMore: true,
    loaded: false,
    loading: false,
    member: false,
  };
  Object.assign(m, {
    name: r.name || m.name || r.id,
    private: !!r.private,
    isDm,
    other: isDm ? dmPartner(r.id) : null,
    raw: r,
  });
  const ids = memberIds(r);
  if (ids) m.members = ids;
  return m;
}

/** Adds rooms from GET /v1/rooms (public ones too), working out membership. */
async function addRooms(list) {
  const unknown = [];
  for (const r of list) {
    const m = roomModel(r);
    const ids = memberIds(r);
    if (ids) m.member = ids.includes(S.me);
    else if (r.private || m.isDm || r.id === "general") m.member = true;
    else unknown.push(m);
    S.rooms.set(m.id, m);
  }
  // rooms whose member list was not included: ask (bounded)
  await Promise.all(
    unknown.slice(0, 60).map(async (m) => {
      try {
        const mem = await S.client.members(m.id);
        m.members = mem.map((x) => x.user);
        m.member = m.members.includes(S.me);
        for (const x of mem) if (x.status && !S.presence.has(x.user)) S.presence.set(x.user, x);
      } catch {
        m.member = false;
      }
    })
  );
  renderSidebar();
  refreshWatch();
}

async function ensureRoom(id) {
  if (S.rooms.has(id) && S.rooms.get(id).member) return S.rooms.get(id);
  try {
    const r = await S.client.getRoom(id);
    const m = roomModel(r);
    m.member = true;
    S.rooms.set(id, m);
    renderSidebar();
    refreshWatch();
    return m;
  } catch {
    return null;
  }
}

/** Unread counts at start: messages from others after my read receipt. */
async function loadUnread() {
  const rooms = [...S.rooms.values()].filter((r) => r.member && r.id !== S.current).slice(0, 30);
  await Promise.all(
    rooms.map(async (r) => {
      try {
        const rec = await S.client.receipts(r.id);
        for (const x of rec) r.receipts.set(x.user, x);
        const mine = r.receipts.get(S.me)?.read_up_to ?? -1;
        const h = await S.client.history(r.id, { limit: 100 });
        noteActivity(r, h.messages);
        if (r.id === S.current) return;
        r.unread = h.messages.filter((m) => m.id > mine && m.sender !== S.me && !m.deleted).length;
      } catch {}
    })
  );
  renderSidebar();
}

// ------------------------------------------------------------------ push

function wireClient(client) {
  const conn = $("conn");
  let countdown = null;
  client.on("state", ({ state, transport, retryIn }) => {
    clearInterval(countdown);
    conn.dataset.state = state;
    conn.dataset.transport = transport || "";
    const name = { ws: "WebSocket", sse: "SSE", poll: "Long-poll" }[transport] || "";
    const text = conn.querySelector(".conn-text");
    if (state === "open") text.textContent = `Live · ${name}`;
    else if (state === "connecting") text.textContent = "Connecting…";
    else if (state === "reconnecting" && retryIn) {
      const until = Date.now() + retryIn;
      const tick = () => {
        const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        text.textContent = s > 0 ? `Offline · retrying in ${s}s` : "Reconnecting…";
      };
      tick();
      countdown = setInterval(tick, 1000);
    } else if (state === "reconnecting") text.textContent = "Reconnecting…";
    else if (state === "closed") text.textContent = "Disconnected";
    conn.title = state === "open" ? `Connected with ${name}` : text.textContent;
    refreshOwnPresence();
  });
  let opens = 0;
  client.on("open", ({ user }) => {
    if (user && user !== S.me) S.me = user;
    if (opens++ > 0) resync();
  });
  client.on("error", (e) => {
    if (e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignin(readParams(), "Your session has expired. Sign in again.");
    }
  });
  client.on("message.created", (ev) => onMessage(ev.data, true));
  client.on("message.updated", (ev) => onMessage(ev.data, false));
  client.on("message.deleted", (ev) => onMessage(ev.data, false));
  client.on("member.joined", (ev) => onMember(ev.room, ev.data.user, true));
  client.on("member.left", (ev) => onMember(ev.room, ev.data.user, false));
  client.on("presence", (ev) => setPresence(ev.data));
  client.on("typing", (ev) => onTyping(ev.room, ev.data));
  client.on("receipt", (ev) => onReceipt(ev.room, ev.data));
}

/**
 * Finds rooms the user was put in without an event reaching this page (a DM
 * someone else started, say) and makes the connection pick them up.
 */
async function discoverRooms() {
  let list;
  try {
    list = await S.client.listRooms();
  } catch {
    return;
  }
  let found = false;
  for (const r of list) {
    const known = S.rooms.get(r.id);
    if (known?.member) continue;
    if (r.private || r.id.startsWith("dm:")) {
      const m = roomModel(r);
      m.member = true;
      S.rooms.set(m.id, m);
      found = true;
    } else if (!known) S.rooms.set(r.id, roomModel(r));
  }
  if (found) {
    S.client.refresh();
    renderSidebar();
    refreshWatch();
  }
}

/**
 * Long-polling has gaps between polls in which ephemeral events (receipts,
 * presence, typing) cannot reach the page, and they are not replayed. While on
 * long-poll, re-read the open room's receipts when an own message is not yet
 * shown as read, and everyone's presence now and then.
 */
let reconcileTicks = 0;
function reconcilePoll() {
  if (S.client?.transport !== "poll" || S.client.state !== "open" || document.visibilityState !== "visible") return;
  const r = S.rooms.get(S.current);
  if (r && r.loaded) {
    const mine = sortedMessages(r).filter((m) => m.sender === S.me && !m.deleted).pop();
    const recent = mine && Date.now() - Date.parse(mine.created_at) < 10 * 60 * 1000;
    if (recent && receiptState(r, mine.id).state !== "read") loadReceipts(r);
  }
  if (++reconcileTicks % 6 === 0) refreshWatch(true);
}

/** After a reconnect: refresh what is not replayed (presence, receipts) and top up history. */
async function resync() {
  discoverRooms();
  refreshWatch(true);
  const r = S.rooms.get(S.current);
  if (!r || !r.loaded) return;
  loadReceipts(r);
  const newest = Math.max(0, ...r.msgs.keys());
  try {
    const h = await S.client.history(r.id, newest ? { after: newest, limit: 200 } : { limit: 50 });
    for (const m of h.messages) onMessage(m, false);
  } catch {}
}

async function onMessage(msg, isNew) {
  if (!msg || !msg.room) return;
  let r = S.rooms.get(msg.room);
  if (!r || !r.member) r = await ensureRoom(msg.room);
  if (!r) return;
  const known = r.msgs.has(msg.id);
  const prev = r.msgs.get(msg.id);
  // an older copy must not overwrite a newer one (edit before create, say)
  if (prev && prev.edited_at && msg.edited_at && prev.edited_at > msg.edited_at && !msg.deleted) return;
  if (prev && prev.deleted && !msg.deleted) return;
  r.msgs.set(msg.id, msg);
  let wasPending = false;
  if (msg.client_id && msg.sender === S.me && r.pend.has(msg.client_id)) {
    r.pend.delete(msg.client_id);
    wasPending = true;
    if (r.id === S.current) $("message-list").querySelector(`[data-key="c:${CSS.escape(msg.client_id)}"]`)?.remove();
  }
  if (r.id === S.current) {
    if (known) replaceItem(r, msg);
    else insertItem(r, msg);
  }
  if (!known) {
    S.known.add(msg.sender);
    if (noteActivity(r, [msg])) renderSidebar();
  }
  if (isNew && !known && msg.sender !== S.me) {
    // counted unread until it is shown on screen (see markSeen)
    if (msg.id > (r.myRead ?? -1)) {
      r.unread++;
      renderSidebar();
    }
    if (r.id === S.current && !atBottom()) $("jump-btn").hidden = false;
    // the open room's list is itself a live region
    if (r.id !== S.current) announce(`New message in ${roomLabel(r)} from ${msg.sender}`);
    // a DM while the tab is hidden: a desktop notification (mentions come later)
    if (r.isDm && document.visibilityState !== "visible") notify(r, msg);
    // a message ends its sender's typing
    clearTyper(r, msg.sender);
  }
  if (!wasPending && r.id === S.current) maybeMarkRead();
}

/** Remembers a room's latest activity (the sidebar's order); true when it moved. */
function noteActivity(r, msgs) {
  let moved = false;
  for (const m of msgs) {
    const t = Date.parse(m.created_at) || 0;
    if (t > (r.last || 0)) {
      r.last = t;
      moved = true;
    }
  }
  return moved;
}

// ------------------------------------------------------------------ notifications

let audioCtx = null;
function beep() {
  try {
    audioCtx = audioCtx || new AudioContext();
    const o = audioCtx.createOscillator();
    const g = audioCtx.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.08, audioCtx.currentTime);
    g.gain.exponentialRampToValueAtTime(0.0001, audioCtx.currentTime + 0.25);
    o.connect(g).connect(audioCtx.destination);
    o.start();
    o.stop(audioCtx.currentTime + 0.25);
  } catch {}
}

/** A desktop notification (and the sound, when chosen) for a DM. */
function notify(r, msg) {
  if (localStorage.getItem(SOUND_KEY) === "on") beep();
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(msg.sender, { body: (msg.text || "").slice(0, 200), tag: r.id });
    n.onclick = () => {
      window.focus();
      openRoom(r.id);
      n.close();
    };
  } catch {}
}

/** Asks for notification permission once, after something the user did
 * (their first message), never on load. */
function askNotifyOnce() {
  if (!("Notification" in window) || Notification.permission !== "default" || localStorage.getItem(ASKED_KEY)) return;
  localStorage.setItem(ASKED_KEY, "1");
  Notification.requestPermission().then(renderNotifyState, () => {});
}

function renderNotifyState() {
  const n = $("notify-state");
  if (!n) return;
  const p = "Notification" in window ? Notification.permission : "unsupported";
  n.textContent = { granted: "Desktop notifications are on for direct messages.", denied: "Notifications are blocked in this browser's site settings.", default: "Desktop notifications are off.", unsupported: "This browser has no desktop notifications." }[p];
  $("notify-btn").hidden = p !== "default";
}

async function onMember(roomId, user, joined) {
  if (user === S.me) {
    if (joined) await ensureRoom(roomId);
    else {
      const r = S.rooms.get(roomId);
      if (r) r.member = false;
      renderSidebar();
      if (S.current === roomId) openRoom("general");
    }
    return;
  }
  const r = S.rooms.get(roomId);
  if (!r) return;
  if (r.members) {
    r.members = joined ? [...new Set([...r.members, user])] : r.members.filter((u) => u !== user);
  }
  if (roomId === S.current) {
    refreshWatch();
    renderMembers();
    renderHeader();
  }
}

function setPresence(st) {
  if (!st || !st.user) return;
  S.presence.set(st.user, st);
  S.known.add(st.user);
  for (const d of document.querySelectorAll(`.dot[data-user="${CSS.escape(st.user)}"]`)) d.dataset.status = st.status || "offline";
  for (const n of document.querySelectorAll(`.ustatus[data-user="${CSS.escape(st.user)}"]`)) n.textContent = statusText(st.user);
  if (S.current) renderHeader();
  if (st.user === S.me) {
    if (["online", "away", "busy"].includes(st.status)) $("status-select").value = st.status;
    refreshOwnPresence();
  }
}

function onTyping(roomId, d) {
  const r = S.rooms.get(roomId);
  if (!r || !d || d.user === S.me) return;
  clearTimeout(r.typers.get(d.user));
  if (d.typing) r.typers.set(d.user, setTimeout(() => clearTyper(r, d.user), 6500));
  else r.typers.delete(d.user);
  if (roomId === S.current) renderTyping();
}
function clearTyper(r, user) {
  if (!r.typers.has(user)) return;
  clearTimeout(r.typers.get(user));
  r.typers.delete(user);
  if (r.id === S.current) renderTyping();
}

function onReceipt(roomId, d) {
  const r = S.rooms.get(roomId);
  if (!r || !d) return;
  const old = r.receipts.get(d.user) || {};
  r.receipts.set(d.user, {
    user: d.user,
    delivered_up_to: Math.max(old.delivered_up_to ?? -1, d.delivered_up_to ?? -1),
    read_up_to: Math.max(old.read_up_to ?? -1, d.read_up_to ?? -1),
  });
  if (d.user === S.me && (d.read_up_to ?? -1) > (r.myRead ?? -1)) r.myRead = d.read_up_to;
  if (roomId === S.current) refreshReceipts(r);
}

async function loadReceipts(r) {
  try {
    for (const x of await S.client.receipts(r.id)) onReceipt(r.id, x);
  } catch {}
}

// presence: members of the open room and DM partners
let watchTimer = null;
function refreshWatch(refetch = false) {
  clearTimeout(watchTimer);
  watchTimer = setTimeout(async () => {
    const users = new Set();
    for (const r of S.rooms.values()) if (r.member && r.isDm) users.add(r.other);
    // members of the open room; (members of small rooms come unasked, but
    // the server decides what is small)
    const cur = S.rooms.get(S.current);
    if (cur && !cur.isDm) for (const u of cur.members || []) users.add(u);
    users.delete(S.me);
    const list = [...users].slice(0, 500);
    S.client.watchPresence(list);
    const need = refetch ? list : list.filter((u) => !S.presence.has(u));
    for (let i = 0; i < need.length; i += 100) {
      try {
        for (const st of await S.client.presence(need.slice(i, i + 100))) setPresence(st);
      } catch {}
    }
  }, 50);
}

// ------------------------------------------------------------------ rooms

async function openRoom(id) {
  const r = S.rooms.get(id);
  if (!r) return;
  const prev = S.rooms.get(S.current);
  if (prev) S.drafts.set(prev.id, $("composer-input").value);
  if (S.current && S.current !== id) S.client.typing(S.current, false);
  S.current = id;
  S.editing = null;
  sessionStorage.setItem(ROOM_KEY, id);
  // unread messages get a "new messages" divider; the count falls as they
  // are shown (markSeen)
  r.divider = null;
  r.landing = r.unread > 0 || !r.loaded;
  $("jump-btn").hidden = true;
  closeNav();
  renderSidebar();
  renderHeader();
  renderTyping();
  renderMembers();
  const input = $("composer-input");
  input.disabled = false;
  $("send-btn").disabled = false;
  input.value = S.drafts.get(id) || "";
  input.placeholder = r.isDm ? `Message ${r.other}` : `Message #${roomLabel(r)}`;
  autosize();
  if (!matchMedia("(hover: none)").matches) input.focus({ preventScroll: true });
  renderAll({ toBottom: true });
  if (!r.loaded) {
    await loadReceipts(r);
    if (S.current !== id) return;
    await loadInitial(r);
  } else loadReceipts(r);
  if (S.current !== id) return;
  if (r.landing) land(r);
  loadMembers(r);
  maybeMarkRead();
}

/** Puts the "new messages" divider above the first unread message from
 * someone else and scrolls it to the top; without unread, to the bottom. */
function land(r) {
  r.landing = false;
  const mine = r.myRead ?? -1;
  const first = mine >= 0 ? sortedMessages(r).find((m) => m.id > mine && m.sender !== S.me && !m.deleted) : null;
  r.divider = first ? first.id : null;
  renderAll({ toBottom: !first });
  const dv = $("message-list").querySelector(".unread-divider");
  if (dv) {
    const box = $("messages");
    box.scrollTop += dv.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    $("jump-btn").hidden = atBottom();
  }
}

async function loadInitial(r) {
  if (r.loading) return;
  r.loading = true;
  $("history-status").textContent = "Loading messages…";
  try {
    // With a read receipt, start at the unread messages when they are not
    // too many (they reach the newest, so the history has no gap).
    let h = null;
    const mine = r.myRead ?? -1;
    if (mine >= 0) {
      const after = await S.client.history(r.id, { after: mine, limit: 200 });
      if (!after.has_more && after.messages.length > 40) {
        h = after;
        h.has_more = true; // older ones come on scrolling up
      }
    }
    if (!h) h = await S.client.history(r.id, { limit: 50 });
    for (const m of h.messages) if (!r.msgs.has(m.id)) r.msgs.set(m.id, m);
    for (const m of h.messages) S.known.add(m.sender);
    noteActivity(r, h.messages);
    if (mine >= 0) r.unread = h.messages.filter((m) => m.id > mine && m.sender !== S.me && !m.deleted).length;
    r.hasMore = h.has_more;
    r.loaded = true;
    $("history-status").textContent = "";
  } catch (e) {
    $("history-status").textContent = "Could not load messages: " + errText(e);
  } finally {
    r.loading = false;
  }
  if (S.current === r.id) {
    if (r.landing) land(r);
    else renderAll({ toBottom: true });
    fillViewport(r);
  }
}

async function loadOlder(r) {
  if (r.loading || !r.hasMore || !r.loaded) return;
  const ids = [...r.msgs.keys()];
  if (!ids.length) return;
  r.loading = true;
  $("history-status").textContent = "Loading older messages…";
  try {
    const h = await S.client.history(r.id, { before: Math.min(...ids), limit: 50 });
    for (const m of h.messages) if (!r.msgs.has(m.id)) r.msgs.set(m.id, m);
    r.hasMore = h.has_more;
    $("history-status").textContent = r.hasMore ? "" : "This is the beginning of the conversation.";
  } catch (e) {
    $("history-status").textContent = "Could not load older messages: " + errText(e);
  } finally {
    r.loading = false;
  }
  if (S.current === r.id) {
    renderAll({ keepAnchor: true });
    fillViewport(r);
  }
}

function fillViewport(r) {
  const box = $("messages");
  if (r.hasMore && box.scrollHeight <= box.clientHeight + 40) loadOlder(r);
  else if (!r.hasMore && r.loaded) $("history-status").textContent = r.msgs.size ? "This is the beginning of the conversation." : "";
}

async function loadMembers(r) {
  if (r.isDm) {
    r.members = [S.me, r.other];
    refreshWatch();
    renderMembers();
    return;
  }
  try {
    const mem = await S.client.members(r.id);
    r.members = mem.map((x) => x.user);
    for (const x of mem) if (x.status && !S.presence.has(x.user)) S.presence.set(x.user, { user: x.user, status: x.status });
    updateKnownUsers(r.members);
  } catch {}
  if (S.current === r.id) {
    renderMembers();
    renderHeader();
  }
  refreshWatch();
}

function updateKnownUsers(users) {
  for (const u of users) S.known.add(u);
}

// ------------------------------------------------------------------ rendering

function renderSidebar() {
  const focused = document.activeElement?.dataset?.room;
  const rooms = [...S.rooms.values()].filter((r) => r.member);
  // most recent activity first, then by name
  const byName = (a, b) => (b.last || 0) - (a.last || 0) || roomLabel(a).localeCompare(roomLabel(b));
  const item = (r) => {
    const b = el("button", {
      class: "room-item" + (r.unread ? " has-unread" : ""),
      type: "button",
      dataset: { room: r.id },
      "aria-current": r.id === S.current ? "true" : null,
      onclick: () => openRoom(r.id),
    });
    if (r.isDm) b.append(avatar(r.other, { small: true, dot: true }));
    else b.append(r.private ? el("span", { class: "hash", "aria-hidden": "true" }, icon("lock", 15)) : el("span", { class: "hash", "aria-hidden": "true", text: "#" }));
    b.append(el("span", { class: "name", text: roomLabel(r) }));
    if (r.private && !r.isDm) b.append(el("span", { class: "sr-only", text: ", private" }));
    if (r.unread) {
      b.append(el("span", { class: "badge", "aria-hidden": "true", text: r.unread > 99 ? "99+" : String(r.unread) }));
      b.append(el("span", { class: "sr-only", text: `, ${r.unread} unread` }));
    }
    return el("li", {}, b);
  };
  $("room-list").replaceChildren(...rooms.filter((r) => !r.isDm).sort(byName).map(item));
  const dms = rooms.filter((r) => r.isDm).sort(byName);
  $("dm-list").replaceChildren(
    ...(dms.length ? dms.map(item) : [el("li", { class: "hint", style: "padding:4px 12px", text: "No direct messages yet" })])
  );
  if (focused) document.querySelector(`.room-item[data-room="${CSS.escape(focused)}"]`)?.focus();
  // the tab title counts unread direct messages (mentions join them later)
  const total = rooms.reduce((n, r) => n + (r.isDm ? r.unread : 0), 0);
  document.title = total ? `(${total}) Parley` : "Parley";
}

function renderHeader() {
  const r = S.rooms.get(S.current);
  if (!r) return;
  $("room-title").replaceChildren(
    r.isDm ? "" : r.private ? icon("lock", 16) : el("span", { class: "muted", "aria-hidden": "true", text: "# " }),
    r.isDm ? r.other : roomLabel(r)
  );
  const sub = $("room-sub");
  if (r.isDm) {
    sub.replaceChildren(presenceDotInline(r.other), el("span", { class: "ustatus", dataset: { user: r.other }, text: statusText(r.other) }));
  } else if (r.members) {
    const online = r.members.filter((u) => u === S.me || ["online", "away", "busy"].includes(statusOf(u))).length;
    sub.textContent = `${r.members.length} member${r.members.length === 1 ? "" : "s"} · ${online} online`;
  } else sub.textContent = r.private ? "Private room" : "Public room";
}

function presenceDotInline(user) {
  const d = presenceDot(user);
  d.style.cssText = "position:static;display:inline-block;margin-right:6px;vertical-align:-1px;width:9px;height:9px;border:0";
  return d;
}

function renderMembers() {
  const r = S.rooms.get(S.current);
  const list = $("member-list");
  if (!r || !r.members) return list.replaceChildren();
  const rank = (u) => ({ online: 0, busy: 1, away: 2 })[u === S.me ? "online" : statusOf(u)] ?? 3;
  const users = [...r.members].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  list.replaceChildren(
    ...users.map((u) =>
      el(
        "li",
        { class: "member", dataset: { user: u } },
        avatar(u, { dot: true }),
        el(
          "div",
          { class: "who" },
          el("div", { class: "uname", text: u === S.me ? `${u} (you)` : u }),
          el("div", { class: "ustatus", dataset: { user: u }, text: statusText(u) })
        )
      )
    )
  );
}

function renderTyping() {
  const r = S.rooms.get(S.current);
  const who = r ? [...r.typers.keys()] : [];
  let t = "";
  if (who.length === 1) t = `${who[0]} is typing…`;
  else if (who.length === 2) t = `${who[0]} and ${who[1]} are typing…`;
  else if (who.length > 2) t = `${who.length} people are typing…`;
  $("typing").textContent = t;
}

function renderEmpty(text) {
  $("empty").hidden = !text;
  $("empty").textContent = text || "";
}

function atBottom() {
  const b = $("messages");
  return b.scrollHeight - b.scrollTop - b.clientHeight < 60;
}
function scrollToBottom() {
  const b = $("messages");
  b.scrollTop = b.scrollHeight;
}

function sortedMessages(r) {
  return [...r.msgs.values()].sort((a, b) => a.id - b.id);
}

function isCont(prev, m) {
  if (!prev || prev.sender !== m.sender) return false;
  const a = new Date(prev.created_at);
  const b = new Date(m.created_at);
  return dayKey(a) === dayKey(b) && b - a < GROUP_MS;
}

/** Renders the whole message list of the open room. */
function renderAll({ toBottom = false, keepAnchor = false } = {}) {
  const r = S.rooms.get(S.current);
  const box = $("messages");
  const wasBottom = atBottom();
  const oldH = box.scrollHeight;
  const oldTop = box.scrollTop;
  const frag = document.createDocumentFragment();
  let prev = null;
  const msgs = r ? sortedMessages(r) : [];
  for (const m of msgs) {
    const d = new Date(m.created_at);
    const divided = r.divider === m.id;
    if (!prev || dayKey(new Date(prev.created_at)) !== dayKey(d)) frag.append(daySep(d));
    if (divided) frag.append(el("li", { class: "unread-divider", dataset: { divider: "1" } }, el("span", { text: "New messages" })));
    frag.append(makeItem(r, m, !divided && isCont(prev, m)));
    prev = m;
  }
  if (r) for (const p of r.pend.values()) frag.append(makePending(r, p));
  // a re-render is not news: the live region stays quiet while it happens
  box.setAttribute("aria-busy", "true");
  $("message-list").replaceChildren(frag);
  requestAnimationFrame(() => box.removeAttribute("aria-busy"));
  renderEmpty(r && r.loaded && !msgs.length && !r.pend.size ? (r.isDm ? `This is the start of your conversation with ${r.other}.` : `No messages in #${roomLabel(r)} yet. Say hello!`) : "");
  if (keepAnchor) box.scrollTop = oldTop + (box.scrollHeight - oldH);
  else if (toBottom || wasBottom) scrollToBottom();
}

function daySep(d) {
  return el("li", { class: "day", dataset: { day: dayKey(d) } }, el("span", { text: dayLabel(d) }));
}

/** Inserts one message into the open room's list (fast path: at the end). */
function insertItem(r, m) {
  const list = $("message-list");
  const items = [...list.querySelectorAll("li.msg[data-id]")];
  const last = items[items.length - 1];
  const lastMsg = last ? r.msgs.get(Number(last.dataset.id)) : null;
  if (lastMsg && m.id < lastMsg.id) return renderAll({ keepAnchor: !atBottom() });
  const wasBottom = atBottom();
  const firstPending = list.querySelector("li.msg.pending");
  const d = new Date(m.created_at);
  const nodes = [];
  if (!lastMsg || dayKey(new Date(lastMsg.created_at)) !== dayKey(d)) nodes.push(daySep(d));
  nodes.push(makeItem(r, m, isCont(lastMsg, m)));
  for (const n of nodes) list.insertBefore(n, firstPending);
  renderEmpty("");
  if (wasBottom || m.sender === S.me) scrollToBottom();
}

function replaceItem(r, m) {
  const old = $("message-list").querySelector(`li.msg[data-id="${m.id}"]`);
  if (!old) return insertItem(r, m);
  if (S.editing === m.id) return; // the editor is open; it shows the latest on close
  const n = makeItem(r, m, old.classList.contains("cont"));
  const hadFocus = old.contains(document.activeElement);
  old.replaceWith(n);
  if (hadFocus) n.querySelector("button")?.focus();
}

function receiptState(r, id) {
  let delivered = false;
  const readers = [];
  for (const [u, x] of r.receipts) {
    if (u === S.me) continue;
    if ((x.read_up_to ?? -1) >= id) readers.push(u);
    if ((x.delivered_up_to ?? -1) >= id || (x.read_up_to ?? -1) >= id) delivered = true;
  }
  if (readers.length) return { state: "read", label: `Read by ${readers.join(", ")}` };
  if (delivered) return { state: "delivered", label: "Delivered" };
  return { state: "sent", label: "Sent" };
}

function receiptNode(r, m) {
  const { state, label } = receiptState(r, m.id);
  return el("span", {
    class: "receipt",
    role: "img",
    "aria-label": label,
    title: label,
    dataset: { receipt: state },
    text: state === "sent" ? "✓" : "✓✓",
  });
}

function refreshReceipts(r) {
  for (const li of $("message-list").querySelectorAll("li.msg.own[data-id]")) {
    const m = r.msgs.get(Number(li.dataset.id));
    const old = li.querySelector(".receipt");
    if (m && old && !m.deleted) old.replaceWith(receiptNode(r, m));
  }
}

function makeItem(r, m, cont) {
  const own = m.sender === S.me;
  const d = new Date(m.created_at);
  const li = el("li", {
    class: `msg${own ? " own" : ""}${cont ? " cont" : ""}${m.deleted ? " deleted" : ""}`,
    dataset: { id: String(m.id), key: `m:${m.id}`, sender: m.sender },
  });
  const text = el("div", { class: "text" });
  if (m.deleted) text.textContent = "This message was deleted";
  else text.append(renderMessage(m.text ?? ""));
  const foot = el("div", { class: "foot" });
  if (m.edited_at && !m.deleted) foot.append(el("span", { class: "edited", title: "Edited " + fullFmt.format(new Date(m.edited_at)), text: "edited" }));
  foot.append(timeNode(m.created_at));
  if (own && !m.deleted) foot.append(receiptNode(r, m));
  seenObserver().observe(li);
  li.append(
    avatar(m.sender),
    el(
      "div",
      { class: "body" },
      el("div", { class: "meta" }, el("span", { class: "sender", text: m.sender })),
      el("div", { class: "bubble" }, own ? el("span", { class: "sr-only", text: "You: " }) : null, text, foot)
    )
  );
  if (own && !m.deleted) {
    li.append(
      el(
        "div",
        { class: "actions" },
        el("button", { class: "icon-btn", type: "button", "aria-label": "Edit message", title: "Edit", onclick: () => startEdit(m.id) }, icon("edit", 16)),
        el("button", { class: "icon-btn", type: "button", "aria-label": "Delete message", title: "Delete", onclick: () => confirmDelete(m.id) }, icon("trash", 16))
      )
    );
  }
  return li;
}

function makePending(r, p) {
  const d = new Date(p.created_at);
  const li = el("li", { class: `msg own pending${p.failed ? " failed" : ""}`, dataset: { key: `c:${p.client_id}`, sender: S.me } });
  const foot = el("div", { class: "foot" }, timeNode(d.toISOString()));
  if (p.failed) {
    foot.append(
      el("span", { class: "receipt", dataset: { receipt: "failed" }, text: "Not sent" }),
      el("button", { class: "retry", type: "button", text: "Retry", onclick: () => sendPending(r, p) })
    );
    if (p.error) foot.append(el("span", { class: "sr-only", text: p.error }));
  } else foot.append(el("span", { class: "receipt", role: "img", "aria-label": "Sending", title: "Sending", dataset: { receipt: "pending" } }, icon("clock", 13)));
  li.append(
    avatar(S.me),
    el("div", { class: "body" }, el("div", { class: "bubble", title: p.error || null }, el("div", { class: "text", text: p.text }), foot))
  );
  return li;
}

function announce(text) {
  const a = $("announcer");
  a.append(el("p", { text: text.length > 200 ? text.slice(0, 200) + "…" : text }));
  while (a.childElementCount > 5) a.firstElementChild.remove();
}

function refreshRelativeTimes() {
  for (const t of document.querySelectorAll("time.rel[datetime]")) t.textContent = shortTime(new Date(t.getAttribute("datetime")));
  for (const n of document.querySelectorAll(".ustatus[data-user]")) n.textContent = statusText(n.dataset.user);
  for (const n of document.querySelectorAll(".day[data-day]")) {
    const li = n.nextElementSibling;
    const t = li?.querySelector("time")?.getAttribute("datetime");
    if (t) n.firstElementChild.textContent = dayLabel(new Date(t));
  }
}

// Messages on screen: the read receipt advances only over messages that
// were actually shown (in the list's viewport, the tab visible).
const inView = new Set();
let seenIO = null;
function seenObserver() {
  if (!seenIO) {
    seenIO = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const tall = e.rootBounds && e.intersectionRect.height >= e.rootBounds.height * 0.5;
          if (e.isIntersecting && (e.intersectionRatio >= 0.5 || tall)) inView.add(e.target);
          else inView.delete(e.target);
        }
        maybeMarkRead();
      },
      { root: $("messages"), threshold: [0, 0.5, 1] }
    );
  }
  return seenIO;
}

function maybeMarkRead() {
  const r = S.rooms.get(S.current);
  if (atBottom()) $("jump-btn").hidden = true;
  if (!r || document.visibilityState !== "visible") return;
  let last = -1;
  for (const li of inView) {
    if (!li.isConnected) {
      inView.delete(li);
      continue;
    }
    const id = Number(li.dataset.id);
    if (r.msgs.has(id) && id > last) last = id;
  }
  if (last <= (r.myRead ?? -1)) return;
  r.myRead = last;
  S.client.read(r.id, last);
  const unread = sortedMessages(r).filter((m) => m.id > last && m.sender !== S.me && !m.deleted).length;
  if (unread !== r.unread) {
    r.unread = unread;
    renderSidebar();
  }
}

// ------------------------------------------------------------------ actions

function send() {
  const r = S.rooms.get(S.current);
  const input = $("composer-input");
  const text = input.value;
  if (!r || !text.trim()) return;
  if (text.length > MAX_TEXT) return flash(`Messages are at most ${MAX_TEXT} characters.`);
  input.value = "";
  askNotifyOnce();
  S.drafts.delete(r.id);
  autosize();
  const p = { client_id: newClientId(), text, created_at: new Date().toISOString(), failed: false };
  r.pend.set(p.client_id, p);
  $("message-list").append(makePending(r, p));
  renderEmpty("");
  scrollToBottom();
  sendPending(r, p);
  S.client.typing(r.id, false);
}

function sendPending(r, p) {
  if (p.failed) {
    p.failed = false;
    p.error = null;
    redrawPending(r, p);
  }
  S.client.send(r.id, p.text, { clientId: p.client_id }).then(
    (msg) => onMessage({ ...msg, room: msg.room || r.id }, false),
    (e) => {
      if (!r.pend.has(p.client_id)) return;
      p.failed = true;
      p.error = errText(e);
      redrawPending(r, p);
    }
  );
}

function redrawPending(r, p) {
  if (r.id !== S.current) return;
  const old = $("message-list").querySelector(`[data-key="c:${CSS.escape(p.client_id)}"]`);
  old?.replaceWith(makePending(r, p));
}

function flash(text) {
  $("typing").textContent = text;
  setTimeout(renderTyping, 4000);
}

function startEdit(id) {
  const r = S.rooms.get(S.current);
  const m = r?.msgs.get(id);
  if (!m || m.deleted || m.sender !== S.me) return;
  const li = $("message-list").querySelector(`li.msg[data-id="${id}"]`);
  if (!li) return;
  S.editing = id;
  const ta = el("textarea", { "aria-label": "Edit message", maxlength: String(MAX_TEXT) });
  ta.value = m.text ?? "";
  const finish = (n) => {
    S.editing = null;
    const cur = r.msgs.get(id);
    const fresh = makeItem(r, cur, li.classList.contains("cont"));
    li.replaceWith(fresh);
    if (n !== false) fresh.querySelector(".actions button")?.focus();
    else $("composer-input").focus();
  };
  const save = async () => {
    const text = ta.value;
    if (!text.trim()) return confirmDelete(id);
    if (text === m.text) return finish();
    ta.disabled = true;
    try {
      const updated = await S.client.editMessage(r.id, id, text);
      const cur = r.msgs.get(id);
      if (!cur || !cur.edited_at || (updated.edited_at && updated.edited_at >= cur.edited_at)) r.msgs.set(id, updated);
      finish();
    } catch (e) {
      ta.disabled = false;
      hint.textContent = "Could not save: " + errText(e);
      hint.setAttribute("role", "alert");
    }
  };
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === "Escape") {
      e.preventDefault();
      finish(false);
    }
  });
  const hint = el("span", { class: "hint", text: "Enter to save · Esc to cancel" });
  const box = el(
    "div",
    { class: "edit-box" },
    ta,
    el(
      "div",
      { class: "row" },
      hint,
      el("button", { class: "btn small", type: "button", text: "Cancel", onclick: () => finish(false) }),
      el("button", { class: "btn small primary", type: "button", text: "Save", onclick: save })
    )
  );
  li.querySelector(".bubble").replaceWith(box);
  li.querySelector(".actions")?.remove();
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
}

async function confirmDelete(id) {
  const r = S.rooms.get(S.current);
  const m = r?.msgs.get(id);
  if (!m) return;
  const dlg = $("confirm-dialog");
  $("confirm-text").textContent = m.text ? `“${m.text.length > 120 ? m.text.slice(0, 120) + "…" : m.text}” will be removed for everyone.` : "This cannot be undone.";
  dlg.returnValue = "";
  dlg.showModal();
  $("confirm-ok").focus();
  await new Promise((res) => dlg.addEventListener("close", res, { once: true }));
  if (dlg.returnValue !== "ok") {
    if (S.editing === id) {
      S.editing = null;
      replaceItemForce(r, id);
    }
    return;
  }
  try {
    const del = await S.client.deleteMessage(r.id, id);
    S.editing = null;
    onMessage({ ...m, ...del, deleted: true, text: null }, false);
    replaceItemForce(r, id);
  } catch (e) {
    flash("Could not delete: " + errText(e));
  }
}

function replaceItemForce(r, id) {
  const m = r.msgs.get(id);
  const old = $("message-list").querySelector(`li.msg[data-id="${id}"]`);
  if (m && old) old.replaceWith(makeItem(r, m, old.classList.contains("cont")));
}

function autosize() {
  const ta = $("composer-input");
  ta.style.height = "auto";
  ta.style.height = Math.min(ta.scrollHeight + 2, 180) + "px";
}

function openNav() {
  $("app").classList.add("nav-open");
  $("menu-btn").setAttribute("aria-expanded", "true");
  $("scrim").hidden = false;
  $("sidebar").querySelector(".room-item[aria-current=true], .room-item")?.focus();
}
function closeNav() {
  if (!$("app").classList.contains("nav-open")) return;
  $("app").classList.remove("nav-open");
  $("menu-btn").setAttribute("aria-expanded", "false");
  $("scrim").hidden = true;
}

let uiWired = false;
function wireUi() {
  if (uiWired) return;
  uiWired = true;
  const input = $("composer-input");
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "ArrowUp" && !input.value) {
      const r = S.rooms.get(S.current);
      const mine = r && sortedMessages(r).filter((m) => m.sender === S.me && !m.deleted).pop();
      if (mine) {
        e.preventDefault();
        startEdit(mine.id);
      }
    }
  });
  input.addEventListener("input", () => {
    autosize();
    if (S.current) {
      if (input.value.trim()) S.client.typing(S.current, true);
      else S.client.typing(S.current, false);
    }
  });
  input.addEventListener("blur", () => S.current && !input.value.trim() && S.client.typing(S.current, false));

  const box = $("messages");
  let lastTop = 0;
  box.addEventListener("scroll", () => {
    const r = S.rooms.get(S.current);
    // only a scroll upwards by the reader loads older messages (re-renders
    // also fire scroll events)
    if (r && box.scrollTop < 300 && box.scrollTop < lastTop) loadOlder(r);
    lastTop = box.scrollTop;
    $("jump-btn").hidden = atBottom();
  }, { passive: true });
  $("jump-btn").addEventListener("click", () => {
    scrollToBottom();
    maybeMarkRead();
  });
  document.addEventListener("visibilitychange", maybeMarkRead);
  window.addEventListener("focus", maybeMarkRead);

  $("menu-btn").addEventListener("click", openNav);
  $("close-sidebar").addEventListener("click", closeNav);
  $("scrim").addEventListener("click", closeNav);
  const toggleMembers = (show) => {
    $("members").hidden = !show;
    $("members-btn").setAttribute("aria-expanded", String(show));
    $("members-btn").setAttribute("aria-label", show ? "Hide members" : "Show members");
  };
  $("members-btn").addEventListener("click", () => toggleMembers($("members").hidden));
  $("close-members").addEventListener("click", () => {
    toggleMembers(false);
    $("members-btn").focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $("app").classList.contains("nav-open")) {
      closeNav();
      $("menu-btn").focus();
    }
    if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      const ids = [...document.querySelectorAll(".room-item[data-room]")].map((b) => b.dataset.room);
      const i = ids.indexOf(S.current);
      const next = ids[(i + (e.key === "ArrowUp" ? -1 : 1) + ids.length) % ids.length];
      if (next) {
        e.preventDefault();
        openRoom(next);
      }
    }
  });

  $("status-select").addEventListener("change", async (e) => {
    try {
      refreshOwnPresence();
      await S.client.setStatus(e.target.value);
    } catch (err) {
      flash("Could not set status: " + errText(err));
    }
  });
  $("signout-btn").addEventListener("click", () => {
    S.client?.close();
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROOM_KEY);
    location.reload();
  });

  for (const b of document.querySelectorAll("dialog [data-close]")) b.addEventListener("click", () => b.closest("dialog").close());

  // create a room
  $("new-room-btn").addEventListener("click", () => {
    $("room-form").reset();
    $("room-error").textContent = "";
    $("room-dialog").showModal();
  });
  $("room-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("room-name").value.trim();
    if (!name) return;
    try {
      const room = await S.client.createRoom({ name, private: $("room-private").checked });
      const m = roomModel(room);
      m.member = true;
      m.members = memberIds(room) || [S.me];
      S.rooms.set(m.id, m);
      $("room-dialog").close();
      S.client.refresh(); // make sure the open connection receives the new room
      openRoom(m.id);
    } catch (err) {
      $("room-error").textContent = errText(err);
    }
  });

  // browse public rooms
  $("browse-btn").addEventListener("click", async () => {
    $("browse-filter").value = "";
    $("browse-error").textContent = "";
    $("browse-list").replaceChildren(el("li", { class: "hint", text: "Loading…" }));
    $("browse-dialog").showModal();
    try {
      const list = await S.client.listRooms();
      for (const r of list) {
        const m = roomModel(r);
        const ids = memberIds(r);
        if (ids) m.member = ids.includes(S.me);
        if (!S.rooms.has(m.id)) S.rooms.set(m.id, m);
      }
      renderBrowse();
    } catch (err) {
      $("browse-error").textContent = errText(err);
    }
  });
  $("browse-filter").addEventListener("input", renderBrowse);

  // direct messages
  $("new-dm-btn").addEventListener("click", () => {
    $("dm-form").reset();
    $("dm-error").textContent = "";
    renderDmResults();
    $("dm-dialog").showModal();
  });
  $("dm-user").addEventListener("input", renderDmResults);
  $("dm-user").addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      $("dm-results").querySelector("button")?.focus();
    }
  });
  $("dm-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const typed = $("dm-user").value.trim();
    if (!typed) return;
    // an exact id, else the one person the search matches
    const matches = dmMatches(typed);
    const user = S.known.has(typed) || matches.length !== 1 ? typed : matches[0];
    startDm(user);
  });
  wireExtras();
}

function dmMatches(q) {
  const f = q.trim().toLowerCase();
  return [...S.known].filter((u) => u !== S.me && (!f || u.toLowerCase().includes(f))).sort((a, b) => a.localeCompare(b)).slice(0, 20);
}

function renderDmResults() {
  const list = dmMatches($("dm-user").value);
  $("dm-results").replaceChildren(
    ...(list.length
      ? list.map((u) =>
          el("li", {}, el("button", { class: "pick", type: "button", dataset: { user: u }, onclick: () => startDm(u) }, avatar(u, { small: true, dot: true }), el("span", { text: u }), el("span", { class: "sub ustatus", dataset: { user: u }, text: statusText(u) })))
        )
      : [el("li", { class: "hint", text: "Nobody you know matches; Enter tries it as a user id." })])
  );
}

async function startDm(user) {
  {
    if (user === S.me) return ($("dm-error").textContent = "That is you. Pick someone else.");
    try {
      $("dm-error").textContent = "";
      const room = await S.client.dm(user);
      const isNew = !S.rooms.get(room.id)?.member;
      const m = roomModel(room);
      m.member = true;
      S.rooms.set(m.id, m);
      $("dm-dialog").close();
      if (isNew) S.client.refresh();
      refreshWatch();
      openRoom(m.id);
    } catch (err) {
      $("dm-error").textContent = err.status === 404 ? `There is no user “${user}”.` : errText(err);
    }
  }
}

/** The emoji picker, the quick switcher, the help and settings dialogs. */
function wireExtras() {
  // emoji picker: a grid of buttons; a pick goes in at the caret
  const panel = $("emoji-panel");
  const btn = $("emoji-btn");
  const input = $("composer-input");
  panel.append(
    ...pickerEmoji().map(([name, ch]) =>
      el("button", {
        class: "emoji-pick",
        type: "button",
        "aria-label": name.replace(/_/g, " "),
        title: `:${name}:`,
        text: ch,
        onclick: () => {
          const at = input.selectionStart ?? input.value.length;
          const end = input.selectionEnd ?? at;
          input.value = input.value.slice(0, at) + ch + input.value.slice(end);
          closePicker();
          input.focus();
          input.setSelectionRange(at + ch.length, at + ch.length);
          autosize();
        },
      })
    )
  );
  const closePicker = () => {
    panel.hidden = true;
    btn.setAttribute("aria-expanded", "false");
  };
  btn.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    btn.setAttribute("aria-expanded", String(open));
    if (open) panel.querySelector("button").focus();
  });
  panel.addEventListener("keydown", (e) => {
    const items = [...panel.querySelectorAll("button")];
    const i = items.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[e.key];
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      closePicker();
      btn.focus();
    } else if (step && i >= 0) {
      e.preventDefault();
      items[Math.min(items.length - 1, Math.max(0, i + step))].focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!panel.hidden && !panel.contains(e.target) && !btn.contains(e.target)) closePicker();
  });

  // quick switcher
  const sw = $("switcher");
  const swIn = $("switcher-input");
  let active = 0;
  let items = [];
  const renderSwitcher = () => {
    const f = swIn.value.trim().toLowerCase();
    const rooms = [...S.rooms.values()].filter((r) => r.member).sort((a, b) => (b.last || 0) - (a.last || 0) || roomLabel(a).localeCompare(roomLabel(b)));
    const dmWith = new Set(rooms.filter((r) => r.isDm).map((r) => r.other));
    items = [
      ...rooms.map((r) => ({ label: r.isDm ? r.other : `#${roomLabel(r)}`, kind: r.isDm ? "Direct message" : "Room", room: r.id, unread: r.unread })),
      ...[...S.known].filter((u) => u !== S.me && !dmWith.has(u)).sort().map((u) => ({ label: u, kind: "Start a direct message", user: u })),
    ].filter((x) => !f || x.label.toLowerCase().includes(f));
    items = items.slice(0, 30);
    active = Math.min(active, Math.max(0, items.length - 1));
    $("switcher-list").replaceChildren(
      ...items.map((x, i) =>
        el(
          "li",
          { id: `sw-${i}`, role: "option", class: "pick", "aria-selected": String(i === active), onclick: () => choose(i) },
          el("span", { text: x.label }),
          el("span", { class: "sub", text: x.kind + (x.unread ? ` · ${x.unread} unread` : "") })
        )
      )
    );
    if (items.length) swIn.setAttribute("aria-activedescendant", `sw-${active}`);
    else swIn.removeAttribute("aria-activedescendant");
  };
  const choose = (i) => {
    const x = items[i];
    if (!x) return;
    sw.close();
    if (x.room) openRoom(x.room);
    else startDm(x.user);
  };
  const openSwitcher = () => {
    if (sw.open) return;
    swIn.value = "";
    active = 0;
    renderSwitcher();
    sw.showModal();
    swIn.focus();
  };
  $("switcher-btn").addEventListener("click", openSwitcher);
  swIn.addEventListener("input", () => {
    active = 0;
    renderSwitcher();
  });
  swIn.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + items.length) % Math.max(1, items.length);
      renderSwitcher();
      $(`sw-${active}`)?.scrollIntoView({ block: "nearest" });
    } else if (e.key === "Enter") {
      e.preventDefault();
      choose(active);
    }
  });

  // global keys: Ctrl/Cmd+K, ? for help
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
      e.preventDefault();
      for (const d of document.querySelectorAll("dialog[open]")) if (d !== sw) d.close();
      openSwitcher();
      return;
    }
    const t = e.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (e.key === "?" && !typing && !e.ctrlKey && !e.metaKey && !document.querySelector("dialog[open]")) {
      e.preventDefault();
      $("help-dialog").showModal();
    }
  });
  $("help-btn").addEventListener("click", () => $("help-dialog").showModal());

  // settings: theme, sound, notifications
  $("settings-btn").addEventListener("click", () => {
    $("theme-select").value = localStorage.getItem(THEME_KEY) || "system";
    $("sound-check").checked = localStorage.getItem(SOUND_KEY) === "on";
    renderNotifyState();
    $("settings-dialog").showModal();
  });
  $("theme-select").addEventListener("change", (e) => {
    const t = e.target.value;
    if (t === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, t);
    applyTheme(t);
  });
  $("sound-check").addEventListener("change", (e) => {
    if (e.target.checked) {
      localStorage.setItem(SOUND_KEY, "on");
      beep(); // a sample, and it unlocks audio after this click
    } else localStorage.removeItem(SOUND_KEY);
  });
  $("notify-btn").addEventListener("click", () => {
    localStorage.setItem(ASKED_KEY, "1");
    Notification.requestPermission().then(renderNotifyState, () => {});
  });
}

function renderBrowse() {
  const f = $("browse-filter").value.trim().toLowerCase();
  const rooms = [...S.rooms.values()]
    .filter((r) => !r.isDm && !r.private)
    .filter((r) => !f || roomLabel(r).toLowerCase().includes(f) || r.id.toLowerCase().includes(f))
    .sort((a, b) => roomLabel(a).localeCompare(roomLabel(b)));
  if (!rooms.length) return $("browse-list").replaceChildren(el("li", { class: "hint", text: "No public rooms found." }));
  $("browse-list").replaceChildren(
    ...rooms.map((r) => {
      const count = Array.isArray(r.members) ? r.members.length : typeof r.raw?.members === "number" ? r.raw.members : null;
      const btn = r.member
        ? el("button", { class: "btn small", type: "button", text: "Open", "aria-label": `Open ${roomLabel(r)}`, onclick: () => ($("browse-dialog").close(), openRoom(r.id)) })
        : el("button", {
            class: "btn small primary",
            type: "button",
            text: "Join",
            "aria-label": `Join ${roomLabel(r)}`,
            onclick: async () => {
              try {
                const room = await S.client.join(r.id);
                const m = roomModel(room || r.raw);
                m.member = true;
                S.rooms.set(m.id, m);
                $("browse-dialog").close();
                openRoom(m.id);
              } catch (err) {
                $("browse-error").textContent = errText(err);
              }
            },
          });
      return el(
        "li",
        { dataset: { room: r.id } },
        el("span", { class: "hash", "aria-hidden": "true", text: "#" }),
        el("span", { class: "name" }, roomLabel(r), count != null ? el("div", { class: "sub", text: `${count} member${count === 1 ? "" : "s"}` }) : null),
        btn
      );
    })
  );
}

boot();
