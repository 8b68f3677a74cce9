// bench/peers/node/ws_server.js: the Node.js peer of `cora serve` in the WebSocket
// benchmark, with the `ws` package (8.x, the one scripts/setup.sh installs with npm ci
// in tests/ws/node_modules: no network needed here). One event loop, as a cora loop is
// one thread. The same two endpoints as `cora serve`:
//
//   - GET /ws echoes every message, text as text, binary as binary;
//   - GET /chat/ws?nick=NAME is a room: every text message of a member goes to all
//     members as {"type":"message","nick":NAME,"text":TEXT}; joins and leaves are
//     announced as {"type":"join"|"leave","nick":NAME,"members":N}.
//
// Two WebSocketServers with noServer, routed by path from the http server's 'upgrade'
// event (ws's documented way to serve several paths). No compression (ws's server
// default), no pings. A broadcast encodes the JSON once and sends the one Buffer, as
// text, to every member; a member with more than 1 MiB waiting in its socket buffer
// is closed with 1008 "too slow" (cora's policy and bound; ws's send would otherwise
// buffer without limit).
//
// Listens on 127.0.0.1 only (port 0: a free port the kernel picks), prints
// "listening <port>" once it accepts, runs until killed.
// Usage: node ws_server.js [port]
'use strict';
const http = require('http');
const path = require('path');
const { WebSocketServer, WebSocket } = require(path.join(__dirname, '..', '..', '..', 'tests',
  'ws', 'node_modules', 'ws'));

const port = process.argv.length > 2 ? Number(process.argv[2]) : 0;
const QUEUE_BYTES = 1 << 20;
const MAX_TEXT = 65536;

const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
echo.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});

const room = new Set();
let guests = 0;

function broadcast(obj) {
  const buf = Buffer.from(JSON.stringify(obj));
  for (const m of room) {
    if (m.readyState !== WebSocket.OPEN) continue;
    if (m.bufferedAmount > QUEUE_BYTES) {
      m.close(1008, 'too slow');
      continue;
    }
    m.send(buf, { binary: false });
  }
}

const chat = new WebSocketServer({ noServer: true, perMessageDeflate: false,
  maxPayload: MAX_TEXT, clientTracking: false });
chat.on('connection', (ws, req) => {
  let nick = new URL(req.url, 'http://x').searchParams.get('nick');
  if (!nick || nick.length > 32) nick = `guest-${++guests}`;
  room.add(ws);
  broadcast({ type: 'join', nick, members: room.size });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) broadcast({ type: 'message', nick, text: data.toString() });
  });
  ws.on('close', () => {
    if (room.delete(ws)) broadcast({ type: 'leave', nick, members: room.size });
  });
  ws.on('error', () => {});
});

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Length': 0 });
  res.end();
});
server.on('upgrade', (req, socket, head) => {
  const p = req.url.split('?')[0];
  const wss = p === '/ws' ? echo : p === '/chat/ws' ? chat : null;
  if (!wss) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  socket.setNoDelay(true);
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', () => {
  const version = require(path.join(__dirname, '..', '..', '..', 'tests', 'ws', 'node_modules',
    'ws', 'package.json')).version;
  process.stderr.write(`Node.js ${process.version} ws ${version} server\n`);
  process.stdout.write(`listening ${server.address().port}\n`);
});
