// www/admin.js: the operators' page.  It reads this node's figures from
// GET /v1/admin/stats (an SSE stream, one "stats" event a second, for
// tokens with the admin claim) and draws them as plain SVG line charts.
// No library, no inline script: the page's CSP is default-src 'self'.
const TOKEN_KEY = "parley.admin.token";
const POINTS = 120; // two minutes of figures
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

let source = null;
const figures = []; // the last POINTS stats events

function tokenFromUrl() {
  const h = new URLSearchParams(location.hash.slice(1));
  const q = new URLSearchParams(location.search);
  return h.get("token") || q.get("token");
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function setState(text, live) {
  $("state").textContent = text;
  $("state").classList.toggle("live", !!live);
}

function askToken(message) {
  if (source) source.close();
  source = null;
  $("dash").hidden = true;
  $("signout").hidden = true;
  $("token-form").hidden = false;
  showError(message || "");
  setState("not connected");
  $("token-input").focus();
}

// The status first (EventSource cannot tell a 403 from a network error):
// a plain request whose body is dropped once the head has come.
async function check(token) {
  const ctl = new AbortController();
  try {
    const r = await fetch(`/v1/admin/stats?token=${encodeURIComponent(token)}`, { signal: ctl.signal });
    let code = "";
    if (!r.ok) {
      try {
        code = (await r.json()).error.code;
      } catch {
        code = "";
      }
    }
    return { status: r.status, code };
  } finally {
    ctl.abort();
  }
}

async function open(token) {
  $("token-form").hidden = true;
  showError("");
  setState("connecting…");
  let st;
  try {
    st = await check(token);
  } catch {
    setState("server unreachable: retrying");
    setTimeout(() => open(token), 3000);
    return;
  }
  if (st.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken("Not an admin: this token has no admin claim. Ask for one made with `parleyd token NAME --admin`.");
    return;
  }
  if (st.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken("That token is not valid (expired, or for another server).");
    return;
  }
  if (st.status !== 200) {
    askToken(`The server answered ${st.status}.`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("dash").hidden = false;
  $("signout").hidden = false;
  source = new EventSource(`/v1/admin/stats?token=${encodeURIComponent(token)}`);
  source.addEventListener("open", () => setState("live", true));
  source.addEventListener("stats", (e) => {
    setState("live", true);
    update(JSON.parse(e.data));
  });
  source.addEventListener("error", () => {
    // The stream ends with the token: find out why before reconnecting.
    setState("reconnecting…");
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      open(token);
    } else {
      check(token).then((s) => {
        if (s.status === 401 || s.status === 403) open(token);
      }, () => {});
    }
  });
}

const fmt = (n, d = 0) => (n === null || n === undefined ? "–" : Number(n).toFixed(d));
const ms = (s) => (s === null || s === undefined ? "–" : (s * 1000).toFixed(s < 0.01 ? 2 : 1) + " ms");

function update(st) {
  figures.push(st);
  if (figures.length > POINTS) figures.shift();
  $("node").textContent = st.node;
  $("node").dataset.ts = st.ts;
  const c = st.connections || {};
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  $("t-users").textContent = fmt(st.users_online);
  $("t-conns").textContent = fmt(total);
  $("t-conns-by").textContent = Object.entries(c).map(([k, v]) => `${k} ${v}`).join(" · ");
  $("t-msgs").textContent = fmt(st.messages_per_s, 1);
  $("t-deliv").textContent = fmt(st.deliveries_per_s, 1);
  $("t-commit").textContent = `${ms(st.commit_latency?.p50)} / ${ms(st.commit_latency?.p99)}`;
  $("t-slow").textContent = `${fmt(st.slow_consumers_cut)} (${fmt(st.slow_consumers_cut_per_s)}/s)`;
  $("t-hook").textContent = st.webhook ? `${st.webhook.queue} / ${st.webhook.failures}` : "off";
  $("t-bus").textContent = st.bus === "redis"
    ? `Redis: ${st.redis && st.redis.connected ? "connected" : "DOWN"}`
    : "local (one node)";

  const transports = Object.keys(c);
  chart("c-conns", transports.map((t) => ({ name: t, values: figures.map((h) => h.connections?.[t] ?? 0) })));
  chart("c-rates", [
    { name: "messages/s", values: figures.map((h) => h.messages_per_s) },
    { name: "deliveries/s", values: figures.map((h) => h.deliveries_per_s) },
  ]);
  const lat = (q) => figures.map((h) => {
    const v = h.delivery_latency?.[q];
    return v === null || v === undefined ? null : v * 1000;
  });
  chart("c-latency", [{ name: "p50", values: lat("p50") }, { name: "p99", values: lat("p99") }]);
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

// A line chart of series [{name, values}] (null: no point), redrawn whole:
// at one update a second, simplest is fastest enough.
function chart(id, series) {
  const fig = $(id);
  const W = 400, H = 160, L = 34, B = 14;
  let svg = fig.querySelector("svg");
  if (!svg) {
    svg = el("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" }, fig);
    const legend = document.createElement("div");
    legend.className = "legend";
    fig.appendChild(legend);
  }
  svg.setAttribute("aria-label", fig.querySelector("figcaption").textContent);
  svg.replaceChildren();
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = niceMax(max);
  // The time axis grows with the figures up to POINTS, so a new page is
  // not an empty chart with a stub at its right edge.
  const span = Math.max(20, ...series.map((s) => s.values.length));
  for (let i = 0; i <= 4; i++) {
    const y = ((H - B) * i) / 4;
    el("line", { x1: L, x2: W, y1: y, y2: y, class: "grid" }, svg);
    const label = el("text", { x: L - 4, y: Math.max(y + 3, 9), "text-anchor": "end", class: "axis" }, svg);
    label.textContent = fmtAxis((max * (4 - i)) / 4);
  }
  series.forEach((s, k) => {
    const pts = [];
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const x = L + ((W - L) * (i + span - s.values.length)) / (span - 1);
      const y = (H - B) - ((H - B) * v) / max;
      pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    const line = el("polyline", { points: pts.join(" "), class: `s${k % 4}` }, svg);
    line.dataset.series = s.name;
    line.dataset.points = String(pts.length);
  });
  fig.querySelector(".legend").replaceChildren(...series.map((s, k) => {
    const span = document.createElement("span");
    const i = document.createElement("i");
    i.className = `s${k % 4}`;
    const last = s.values[s.values.length - 1];
    span.append(i, `${s.name} ${last === null || last === undefined ? "–" : fmtAxis(last)}`);
    return span;
  }));
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtAxis(v) {
  if (Number.isInteger(v) && v < 1000) return String(v);
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k";
  if (v >= 10 || v === 0) return v.toFixed(0);
  return v.toFixed(v >= 1 ? 1 : 2);
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("token-input").value.trim();
  if (t) open(t);
});
$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askToken("");
});

const fromUrl = tokenFromUrl();
if (fromUrl) window.history.replaceState(null, "", location.pathname);
const start = fromUrl || sessionStorage.getItem(TOKEN_KEY) || sessionStorage.getItem("parley.token");
if (start) open(start);
else askToken("");
