#!/usr/bin/env node
// tests/ws/chat_browser.js: drives `cora serve`'s chat room (GET /chat, WebSocket
// /chat/ws) in headless Chromium, as two people would.
//
//   node chat_browser.js http://127.0.0.1:PORT [--screenshot FILE.png]
//
// Opens /chat in two pages, joins as alice and bob, sends a message from each
// (alice's holds HTML markup, which must show as text), and checks that each page
// shows both join notices with the member count, both messages, a guest-N nick for
// an empty nickname, bob's leave notice on alice's page, and the close notice
// (code 1000) on bob's page. Exits 0 on success; 1 with the failing step on stderr.
// The whole run is bounded by 30 s (CHAT_TIMEOUT_MS overrides).
//
// Needs Debian's chromium (/usr/bin/chromium, or $CHROMIUM) and `npm ci` here.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const TIMEOUT_MS = Number(process.env.CHAT_TIMEOUT_MS || 30000);
const STEP_MS = 10000;

function usage() {
  console.error('usage: node chat_browser.js http://127.0.0.1:PORT [--screenshot FILE.png]');
  process.exit(2);
}

const argv = process.argv.slice(2);
let base = null;
let screenshot = null;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--screenshot' && i + 1 < argv.length) screenshot = argv[++i];
  else if (!base && /^https?:\/\//.test(argv[i])) base = argv[i].replace(/\/+$/, '');
  else usage();
}
if (!base) usage();

let browser = null;
let userDataDir = null;
let step = 'starting';

let failed = false;

function fail(msg) {
  if (failed) return; // the first failure is the one to report
  failed = true;
  console.error(`chat_browser: FAIL during "${step}": ${msg}`);
  const done = () => {
    cleanup();
    process.exit(1);
  };
  if (browser) {
    // Closing normally takes milliseconds; never let it hold the exit.
    setTimeout(done, 3000).unref();
    browser.close().then(done, done);
  } else done();
}

function cleanup() {
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}

const overall = setTimeout(() => fail(`overall timeout of ${TIMEOUT_MS} ms`), TIMEOUT_MS);

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// The texts of the log lines with class cls (join, leave, message, closed).
async function lines(page, cls) {
  return page.$$eval(`#log li.${cls}`, (els) => els.map((e) => e.textContent));
}

// Waits until the log of page has a line of class cls whose text matches re; returns it.
async function waitLine(page, who, cls, re) {
  try {
    await page.waitForFunction(
      ([cls, src, flags]) => {
        const re = new RegExp(src, flags);
        return [...document.querySelectorAll(`#log li.${cls}`)].some((e) => re.test(e.textContent));
      },
      [cls, re.source, re.flags],
      { timeout: STEP_MS }
    );
  } catch (e) {
    const have = await page.$$eval('#log li', (els) => els.map((e) => `[${e.className}] ${e.textContent}`));
    throw new Error(`${who}'s page shows no ${cls} line matching ${re}; its log:\n  ${have.join('\n  ') || '(empty)'}`);
  }
  return (await lines(page, cls)).find((t) => re.test(t));
}

async function status(page) {
  return page.textContent('#status');
}

async function openChat(ctx, who) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (e) => fail(`JavaScript error on ${who}'s page: ${e.message}`));
  page.on('dialog', (d) => fail(`${who}'s page opened a dialog (${d.type()}): "${d.message()}"`));
  const origin = new URL(base).origin;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== origin && !(u.protocol === 'ws:' || u.protocol === 'wss:') && u.protocol !== 'data:')
      fail(`${who}'s page loaded an external resource: ${r.url()}`);
  });
  const resp = await page.goto(`${base}/chat`, { waitUntil: 'load' });
  check(resp, 'no response for /chat');
  check(resp.status() === 200, `GET /chat answered ${resp.status()}`);
  const type = resp.headers()['content-type'] || '';
  check(/^text\/html\b/i.test(type), `GET /chat has Content-Type "${type}", not text/html`);
  for (const sel of ['#nick', '#join', '#log', '#text', '#send', '#status'])
    check(await page.$(sel), `the page has no ${sel} element`);
  return page;
}

async function join(page, nick) {
  await page.fill('#nick', nick);
  await page.click('#join');
  await page.waitForFunction(() => /^joined as /.test(document.getElementById('status').textContent), null, {
    timeout: STEP_MS,
  }).catch(async () => {
    throw new Error(`status never became "joined as ..." (it is "${await status(page)}")`);
  });
  return (await status(page)).replace(/^joined as /, '');
}

async function send(page, text) {
  await page.waitForSelector('#text:not([disabled])');
  await page.fill('#text', text);
  await page.click('#send');
}

function esc(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function main() {
  step = 'launching chromium';
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cora-chat-'));
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: STEP_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: { ...process.env, HOME: userDataDir, XDG_CONFIG_HOME: userDataDir, XDG_CACHE_HOME: userDataDir },
  });
  console.log(`chat_browser: chromium ${browser.version()}, ${base}/chat`);

  // Two contexts: two people with nothing shared.
  step = 'opening /chat twice';
  const alice = await openChat(await browser.newContext(), 'alice');
  const bob = await openChat(await browser.newContext(), 'bob');

  step = 'alice joins';
  const aliceNick = await join(alice, 'alice');
  check(aliceNick === 'alice', `alice was named "${aliceNick}"`);
  const aj = await waitLine(alice, 'alice', 'join', /^alice joined \((\d+) members?\)$/);
  const n = Number(/\((\d+)/.exec(aj)[1]);
  check(n >= 1, `alice's join notice counts ${n} members`);

  step = 'bob joins';
  const bobNick = await join(bob, 'bob');
  check(bobNick === 'bob', `bob was named "${bobNick}"`);
  const bobJoined = new RegExp(`^bob joined \\(${n + 1} members\\)$`);
  await waitLine(bob, 'bob', 'join', bobJoined);
  await waitLine(alice, 'alice', 'join', bobJoined);
  check(
    !(await lines(bob, 'join')).some((t) => /^alice joined/.test(t)),
    "bob's page shows alice's join, which happened before bob connected"
  );

  step = 'alice sends';
  const fromAlice = 'hello from alice <b>bold?</b> &amp; <img src=x onerror=alert(1)> \u00e9\u20ac\u{1F600}';
  await send(alice, fromAlice);
  const aliceLine = new RegExp(`^alice:${esc(fromAlice)}$`);
  await waitLine(bob, 'bob', 'message', aliceLine);
  await waitLine(alice, 'alice', 'message', aliceLine);

  step = 'bob sends';
  const fromBob = '  hi alice,   bob here  '; // spaces kept as sent
  await send(bob, fromBob);
  const bobLine = new RegExp(`^bob:${esc(fromBob)}$`);
  await waitLine(alice, 'alice', 'message', bobLine);
  await waitLine(bob, 'bob', 'message', bobLine);

  step = 'checking the rendering';
  for (const [page, who, mine, theirs] of [
    [alice, 'alice', 'alice', 'bob'],
    [bob, 'bob', 'bob', 'alice'],
  ]) {
    const markup = await page.$$eval('#log b, #log img', (els) => els.length);
    check(markup === 0, `${who}'s page turned message text into HTML elements`);
    const own = await page.$$eval('#log li.message.me .nick', (els) => els.map((e) => e.textContent));
    check(own.length === 1 && own[0] === `${mine}:`, `${who}'s own message is not marked as its own (${own})`);
    const other = await page.$$eval('#log li.message:not(.me) .nick', (els) => els.map((e) => e.textContent));
    check(other.length === 1 && other[0] === `${theirs}:`, `${who}'s page marks ${theirs}'s message wrongly (${other})`);
    check(await page.inputValue('#text') === '', `${who}'s input was not cleared after sending`);
  }

  step = 'a guest joins with no nickname';
  const guest = await openChat(await browser.newContext(), 'guest');
  const guestNick = await join(guest, '');
  check(/^guest-\d+$/.test(guestNick), `an empty nickname was named "${guestNick}", not guest-N`);
  await waitLine(alice, 'alice', 'join', new RegExp(`^${esc(guestNick)} joined \\(${n + 2} members\\)$`));

  if (screenshot) {
    step = 'screenshot';
    await alice.setViewportSize({ width: 800, height: 500 });
    await alice.screenshot({ path: screenshot });
    console.log(`chat_browser: alice's page saved to ${screenshot}`);
  }

  step = 'bob and the guest leave';
  await bob.click('#join'); // now labelled Leave
  await waitLine(bob, 'bob', 'closed', /^connection closed: code 1000\b/);
  await waitLine(alice, 'alice', 'leave', new RegExp(`^bob left \\(${n + 1} members\\)$`));
  check((await bob.textContent('#join')) === 'Join', "bob's button does not read Join after leaving");
  check(await bob.isDisabled('#text'), "bob's message input stays enabled after leaving");
  await guest.close();
  await waitLine(alice, 'alice', 'leave', new RegExp(`^${esc(guestNick)} left \\(${n} members?\\)$`));

  step = 'closing chromium';
  await browser.close();
  browser = null;
  cleanup();
  clearTimeout(overall);
  console.log('chat_browser: OK (join, message, guest nick, leave and close notices on both pages)');
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
