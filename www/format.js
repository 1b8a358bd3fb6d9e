// Message formatting for the web client: a small, safe Markdown subset and
// :shortcode: emoji. Everything is built as DOM nodes from text; no string
// from a message is ever parsed as HTML.
//
// Blocks: ``` fenced code ```, "> " quotes, "- " / "* " / "1. " lists;
// inline: `code`, **bold**, *italics* / _italics_, http(s) links, :shortcodes:.
// Plain lines keep their newlines as text (the bubble is white-space: pre-wrap),
// so a message without markup reads back exactly as it was typed.

/** The shortcodes the client knows, also the emoji picker's palette. */
export const EMOJI = {
  smile: "😄", grin: "😁", joy: "😂", wink: "😉", blush: "😊", heart_eyes: "😍", thinking: "🤔",
  neutral_face: "😐", sweat_smile: "😅", cry: "😢", sob: "😭", angry: "😠", scream: "😱", sunglasses: "😎",
  upside_down: "🙃", shrug: "🤷", wave: "👋", clap: "👏", pray: "🙏", muscle: "💪", ok_hand: "👌",
  thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", raised_hands: "🙌", eyes: "👀", heart: "❤️",
  broken_heart: "💔", fire: "🔥", star: "⭐", sparkles: "✨", tada: "🎉", rocket: "🚀", bug: "🐛",
  warning: "⚠️", check: "✅", x: "❌", question: "❓", bulb: "💡", memo: "📝", coffee: "☕",
  pizza: "🍕", beer: "🍺", calendar: "📅", lock: "🔒", zap: "⚡", hundred: "💯", "100": "💯",
};

/** The picker shows each emoji once, under its first name. */
export function pickerEmoji() {
  const seen = new Set();
  const out = [];
  for (const [name, ch] of Object.entries(EMOJI)) {
    if (seen.has(ch)) continue;
    seen.add(ch);
    out.push([name, ch]);
  }
  return out;
}

/** Replaces known :shortcodes: in plain text (for the composer). */
export function replaceShortcodes(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
}

const INLINE = new RegExp(
  [
    "(`[^`\\n]+`)", // 1 code
    "(\\*\\*[^*\\n]+?\\*\\*)", // 2 bold
    "((?<![\\w*])\\*[^*\\s](?:[^*\\n]*?[^*\\s])?\\*(?![\\w*])|(?<![\\w_])_[^_\\s](?:[^_\\n]*?[^_\\s])?_(?![\\w_]))", // 3 italics
    "(https?:\\/\\/[^\\s<>\"']+)", // 4 link
    "(:[a-z0-9_+-]+:)", // 5 shortcode
  ].join("|"),
  "g"
);

/** Appends the inline formatting of `text` to `parent`. */
function inline(parent, text) {
  let at = 0;
  const re = new RegExp(INLINE); // its own lastIndex: bold and italics recurse
  for (let m; (m = re.exec(text)); ) {
    let whole = m[0];
    if (m[5] && !EMOJI[whole.slice(1, -1)]) continue;
    if (m[4]) {
      // trailing punctuation is the sentence's, not the link's
      const trimmed = whole.replace(/[.,;:!?)\]]+$/, "");
      if (whole.endsWith(")") && (trimmed.match(/\(/g) || []).length > (trimmed.match(/\)/g) || []).length) whole = trimmed + ")";
      else whole = trimmed;
      re.lastIndex = m.index + whole.length;
    }
    if (m.index > at) parent.append(text.slice(at, m.index));
    at = m.index + whole.length;
    if (m[1]) parent.append(node("code", whole.slice(1, -1)));
    else if (m[2]) inline(parent.appendChild(document.createElement("strong")), whole.slice(2, -2));
    else if (m[3]) inline(parent.appendChild(document.createElement("em")), whole.slice(1, -1));
    else if (m[4]) {
      const a = node("a", whole);
      a.href = whole;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      parent.append(a);
    } else if (m[5]) {
      const s = node("span", EMOJI[whole.slice(1, -1)]);
      s.className = "emoji";
      s.title = whole;
      parent.append(s);
    }
  }
  if (at < text.length) parent.append(text.slice(at));
}

function node(tag, text) {
  const n = document.createElement(tag);
  n.textContent = text;
  return n;
}

const LIST = /^\s{0,3}([-*]|\d{1,3}[.)])\s+/;

/** A DocumentFragment for one message's text. */
export function renderMessage(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text).split("\n");
  let plain = []; // consecutive plain lines, kept with their newlines
  const flush = () => {
    if (!plain.length) return;
    const span = document.createElement("span");
    span.className = "md-p";
    inline(span, plain.join("\n"));
    frag.append(span);
    plain = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
      if (end > i) {
        flush();
        const pre = document.createElement("pre");
        const lang = line.trim().slice(3).trim();
        pre.append(node("code", lines.slice(i + 1, end).join("\n")));
        if (lang) pre.dataset.lang = lang.slice(0, 20);
        frag.append(pre);
        i = end;
        continue;
      }
    }
    if (/^>\s?/.test(line)) {
      flush();
      const q = document.createElement("blockquote");
      const body = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) body.push(lines[i++].replace(/^>\s?/, ""));
      i--;
      inline(q, body.join("\n"));
      frag.append(q);
      continue;
    }
    const lm = LIST.exec(line);
    if (lm) {
      flush();
      const ordered = /\d/.test(lm[1]);
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered && Number.parseInt(lm[1], 10) !== 1) list.start = Number.parseInt(lm[1], 10);
      while (i < lines.length) {
        const m = LIST.exec(lines[i]);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        const li = document.createElement("li");
        inline(li, lines[i].slice(m[0].length));
        list.append(li);
        i++;
      }
      i--;
      frag.append(list);
      continue;
    }
    plain.push(line);
  }
  flush();
  return frag;
}
