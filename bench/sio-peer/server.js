// bench/sio-peer/server.js - the Socket.IO benchmark's peer: Node's
// socket.io 4.8 server with the part of the chat binding the scenarios use
// (Parley's "Socket.IO" contract): `join` (room id) joins the socket to the
// room and acks {room}; `send_message` {chatId, content, client_id} is
// broadcast to the room as `receive_message` (the sender's socket included,
// as io.to(room) does) and acked with the message. It stores nothing and
// checks no token, like the nchan peer. Usage: node server.js PORT
// (listens on 127.0.0.1; GET /health answers 200 once it listens).
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 29100);
const httpServer = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(404);
  res.end();
});
// Defaults otherwise (no per-message deflate, 25 s pings), as an app has them.
const io = new Server(httpServer, { serveClient: false });

let nextId = 0;
io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room !== 'string' || !room) {
      if (typeof ack === 'function') ack({ error: 'room required' });
      return;
    }
    socket.join(room);
    if (typeof ack === 'function') ack({ room });
  });
  socket.on('send_message', (m, ack) => {
    const room = m && (m.chatId || m.room);
    if (typeof room !== 'string' || typeof m.content !== 'string') {
      if (typeof ack === 'function') ack({ error: 'chatId and content required' });
      return;
    }
    const msg = {
      id: ++nextId, chatId: room, room, content: m.content, text: m.content,
      client_id: m.client_id, ts: new Date().toISOString(),
    };
    io.to(room).emit('receive_message', msg);
    if (typeof ack === 'function') ack(msg);
  });
});

httpServer.listen(port, '127.0.0.1');
const stop = () => { io.close(); httpServer.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
