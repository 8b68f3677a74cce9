#!/usr/bin/env node
// tests/ws/node_client.js: checks a WebSocket echo endpoint (`cora serve`'s /ws) with
// the `ws` package as the client.
//
//   node node_client.js ws://127.0.0.1:PORT/ws [--deflate | --no-deflate] [--require-deflate]
//
// Runs once without and once with permessage-deflate offered (or only the one asked
// for). Each run sends text and binary messages of 0, 1, 125, 126, 65535, 65536 and
// 1 MiB bytes one at a time, then all of them back to back, then a text and a binary
// message in three fragments (the text one with a UTF-8 character split between two
// fragments), checking that each echo is identical and of the same type. Then a ping
// with a payload and an empty one, each answered by a pong with the same payload, and
// a close with code 1000, whose answering close must carry 1000 too.
// --require-deflate fails the deflate run if the server declines the extension.
// Exits 0 when every check passes, 1 otherwise. Bounded by 30 s (WS_TIMEOUT_MS overrides).
'use strict';

const WebSocket = require('ws');

const TIMEOUT_MS = Number(process.env.WS_TIMEOUT_MS || 30000);
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

function usage() {
  console.error('usage: node node_client.js ws://127.0.0.1:PORT/ws [--deflate | --no-deflate] [--require-deflate]');
  process.exit(2);
}

let url = null;
let modes = [false, true];
let requireDeflate = false;
for (const a of process.argv.slice(2)) {
  if (a === '--deflate') modes = [true];
  else if (a === '--no-deflate') modes = [false];
  else if (a === '--require-deflate') requireDeflate = true;
  else if (!url && /^wss?:\/\//.test(a)) url = a;
  else usage();
}
if (!url) usage();

let step = 'starting';
let passed = 0;

function fail(msg) {
  console.error(`node_client: FAIL during "${step}": ${msg}`);
  process.exit(1);
}

setTimeout(() => fail(`overall timeout of ${TIMEOUT_MS} ms`), TIMEOUT_MS).unref();

// Text of exactly n UTF-8 bytes, mixing 1- to 4-byte characters.
function textOf(n) {
  const cycle = ['a', 'b', 'c', ' ', '\u00e9', 'x', '\u20ac', 'y', '\u{1F600}', '\n'];
  let s = '';
  let len = 0;
  for (let i = 0; ; i++) {
    const c = cycle[i % cycle.length];
    const l = Buffer.byteLength(c);
    if (len + l > n) break;
    s += c;
    len += l;
  }
  s += 'z'.repeat(n - len);
  if (Buffer.byteLength(s) !== n) throw new Error(`textOf(${n}) is ${Buffer.byteLength(s)} bytes`);
  return s;
}

// n bytes: the first half a repeating pattern (compresses), the second pseudo-random.
function binaryOf(n, seed) {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    if (i < n / 2) b[i] = i % 251;
    else {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
  }
  return b;
}

// A queue of the socket's events, so that the checks can await them in order.
function queue(ws) {
  const items = [];
  const waiters = [];
  const push = (item) => {
    if (waiters.length) waiters.shift()(item);
    else items.push(item);
  };
  ws.on('message', (data, isBinary) => push({ kind: 'message', data, isBinary }));
  ws.on('pong', (data) => push({ kind: 'pong', data }));
  ws.on('close', (code, reason) => push({ kind: 'close', code, reason: reason.toString() }));
  ws.on('error', (err) => push({ kind: 'error', err }));
  return () => (items.length ? Promise.resolve(items.shift()) : new Promise((r) => waiters.push(r)));
}

function describe(ev) {
  if (ev.kind === 'message') return `a ${ev.isBinary ? 'binary' : 'text'} message of ${ev.data.length} bytes`;
  if (ev.kind === 'close') return `a close (code ${ev.code}, reason "${ev.reason}")`;
  if (ev.kind === 'error') return `an error (${ev.err.message})`;
  return `a ${ev.kind}`;
}

async function expectEcho(next, what, payload, binary) {
  const ev = await next();
  if (ev.kind !== 'message') fail(`expected the echo of ${what}, got ${describe(ev)}`);
  if (ev.isBinary !== binary) fail(`the echo of ${what} came back as ${ev.isBinary ? 'binary' : 'text'}`);
  const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  if (!want.equals(ev.data)) {
    let i = 0;
    while (i < want.length && i < ev.data.length && want[i] === ev.data[i]) i++;
    fail(`the echo of ${what} differs: ${ev.data.length} bytes for ${want.length}, first difference at byte ${i}`);
  }
  passed++;
}

function sendp(ws, data, opts) {
  return new Promise((resolve, reject) => ws.send(data, opts, (err) => (err ? reject(err) : resolve())));
}

async function run(deflate) {
  const label = deflate ? 'deflate' : 'plain';
  step = `${label}: connecting`;
  const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 16 << 20, handshakeTimeout: 10000 });
  const next = queue(ws);
  await new Promise((resolve) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => fail(`handshake answered HTTP ${res.statusCode}`));
    ws.once('error', (e) => fail(e.message));
  });
  const ext = ws.extensions || '(none)';
  console.log(`node_client: ${label}: connected to ${url}, extensions: ${ext}`);
  if (!deflate && ws.extensions) fail(`the server accepted extensions that were not offered: ${ws.extensions}`);
  if (deflate && requireDeflate && !/permessage-deflate/.test(ws.extensions)) fail('the server declined permessage-deflate');

  const msgs = [];
  for (const n of SIZES) msgs.push({ what: `text of ${n} bytes`, data: textOf(n), binary: false });
  for (const n of SIZES) msgs.push({ what: `binary of ${n} bytes`, data: binaryOf(n, n + 1), binary: true });

  step = `${label}: one at a time`;
  for (const m of msgs) {
    await sendp(ws, m.data, { binary: m.binary });
    await expectEcho(next, m.what, m.data, m.binary);
  }

  step = `${label}: back to back`;
  for (const m of msgs) ws.send(m.data, { binary: m.binary });
  for (const m of msgs) await expectEcho(next, m.what, m.data, m.binary);

  step = `${label}: fragmented`;
  const euro = Buffer.from('fragments: 1\u20ac2', 'utf8'); // split inside the euro sign
  const cut = euro.indexOf(0xe2) + 1;
  const parts = [euro.subarray(0, cut), euro.subarray(cut, cut + 1), euro.subarray(cut + 1)];
  for (let i = 0; i < parts.length; i++) ws.send(parts[i], { binary: false, fin: i === parts.length - 1 });
  await expectEcho(next, 'a text message in 3 fragments', euro, false);
  const bin = binaryOf(70000, 7);
  const bparts = [bin.subarray(0, 10), bin.subarray(10, 65546), bin.subarray(65546)];
  for (let i = 0; i < bparts.length; i++) ws.send(bparts[i], { binary: true, fin: i === bparts.length - 1 });
  await expectEcho(next, 'a binary message in 3 fragments', bin, true);

  step = `${label}: ping`;
  for (const payload of [Buffer.from('cora-ping-\u00e9'), Buffer.alloc(0)]) {
    ws.ping(payload);
    const ev = await next();
    if (ev.kind !== 'pong') fail(`expected a pong, got ${describe(ev)}`);
    if (!payload.equals(ev.data)) fail(`the pong carries "${ev.data}" instead of "${payload}"`);
    passed++;
  }

  step = `${label}: close`;
  ws.close(1000, 'done');
  const ev = await next();
  if (ev.kind !== 'close') fail(`expected a close, got ${describe(ev)}`);
  if (ev.code !== 1000) fail(`the server answered close 1000 with code ${ev.code} (reason "${ev.reason}")`);
  passed++;
  console.log(`node_client: ${label}: ok (close code ${ev.code}, reason "${ev.reason}")`);
}

(async () => {
  for (const deflate of modes) await run(deflate);
  console.log(`node_client: OK, ${passed} checks passed`);
  process.exit(0);
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
