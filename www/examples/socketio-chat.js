// www/examples/socketio-chat.js: the example page's script (see socketio-chat.html).
const params = new URLSearchParams(location.search);
const chatId = params.get("room") || "general";
document.getElementById("room").textContent = chatId;
const $log = document.getElementById("log"), $typing = document.getElementById("typing");
const $state = document.getElementById("state"), $text = document.getElementById("text");
const show = (m) => {
  const li = document.createElement("li");
  li.className = "msg";
  li.dataset.id = m.id;
  li.textContent = `${m.sender}: ${m.content}`;
  $log.append(li);
  $log.scrollTop = $log.scrollHeight;
};

async function token() {
  const t = new URLSearchParams(location.hash.slice(1)).get("token");
  if (t) return t;
  const r = await fetch("/v1/dev/login", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: params.get("user") || "guest" }) });
  return (await r.json()).token;
}

token().then((tok) => {
  // The only Parley-specific line: where the server is and the token.
  const socket = io({ auth: { token: tok } });
  window.socket = socket; // for the e2e test
  socket.on("connect", () => {
    $state.textContent = `connected (${socket.io.engine.transport.name})`;
    $state.dataset.state = "open";
    socket.emit("join", chatId);
  });
  socket.io.on("open", () => socket.io.engine.on("upgrade", (t) => ($state.textContent = `connected (${t.name})`)));
  socket.on("connect_error", (e) => ($state.textContent = `error: ${e.message}`));
  socket.on("receive_message", (m) => {
    if (m.chatId !== chatId) return;
    show(m);
    if (document.visibilityState === "visible") socket.emit("mark_chat_read", { chatId, up_to: m.id });
  });
  const typists = new Set();
  const paint = () => ($typing.textContent = typists.size ? `${[...typists].join(", ")} typing…` : "");
  socket.on("typing", (t) => t.chatId === chatId && (typists.add(t.user), paint()));
  socket.on("stop_typing", (t) => t.chatId === chatId && (typists.delete(t.user), paint()));
  let typing = false, idle;
  $text.addEventListener("input", () => {
    if (!typing) socket.emit("typing", { chatId });
    typing = true;
    clearTimeout(idle);
    idle = setTimeout(() => { typing = false; socket.emit("stop_typing", { chatId }); }, 2000);
  });
  document.getElementById("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const content = $text.value.trim();
    if (!content) return;
    $text.value = "";
    typing = false;
    socket.emit("stop_typing", { chatId });
    socket.emit("send_message", { chatId, content }, (ack) => {
      if (ack.error) alert(ack.error.message);
    });
  });
});
