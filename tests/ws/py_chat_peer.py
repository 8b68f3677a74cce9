#!/usr/bin/python3
"""tests/ws/py_chat_peer.py: checks `cora serve`'s chat room protocol (/chat/ws) from
Python's websockets (Debian's python3-websockets 10.4), without a browser.

    /usr/bin/python3 py_chat_peer.py URL [--compress]
    /usr/bin/python3 py_chat_peer.py URL --join NICK [--say TEXT]... [--seconds S]

URL is the server (http://127.0.0.1:PORT) or the endpoint (ws://127.0.0.1:PORT/chat/ws).

The first form connects several peers and checks, strictly and in order, every event
each of them receives (so it expects to be alone in the room, as in a test run):
  - a peer's first event is its own join, {"type":"join","nick":N,"members":M}, and
    the members already there get the same event with the count one higher each time;
  - a message (plain text, here with quotes, backslashes, control characters and
    non-ASCII) comes back to every member, sender included, as
    {"type":"message","nick":N,"text":T} with T exactly as sent;
  - a nick with JSON and URL specials comes back intact; a 40-byte nick is cut to 32
    bytes; no nick parameter gives "guest-N";
  - a peer that closes with 1000 gets 1000 back, and the others get
    {"type":"leave","nick":N,"members":M}; so does a peer whose TCP connection drops.
Every event must be a text frame holding a JSON object with exactly those keys.
Exits 0 when every check passes, 1 otherwise; bounded by 30 s.

The second form is a peer for trying the room by hand (say, beside the browser page):
it joins as NICK, sends each --say TEXT, prints every event it gets as a JSON line, and
leaves after S seconds (default: stays until the server closes or Ctrl-C).

Use /usr/bin/python3: another python3 on PATH may lack Debian's modules.
"""
import argparse
import asyncio
import json
import sys
import urllib.parse

import websockets

TIMEOUT = 30.0
STEP_TIMEOUT = 5.0


class Fail(Exception):
    pass


def endpoint(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme in ('http', 'https'):
        scheme = 'wss' if u.scheme == 'https' else 'ws'
        return urllib.parse.urlunsplit((scheme, u.netloc, '/chat/ws', '', ''))
    if u.scheme in ('ws', 'wss'):
        return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path or '/chat/ws', '', ''))
    raise SystemExit(f'py_chat_peer: not an http(s) or ws(s) URL: {url}')


class Peer:
    def __init__(self, checker, label):
        self.c, self.label, self.ws, self.nick = checker, label, None, None

    async def connect(self, nick):
        url = self.c.url if nick is None else f'{self.c.url}?nick={urllib.parse.quote(nick, safe="")}'
        try:
            self.ws = await websockets.connect(
                url,
                compression='deflate' if self.c.compress else None,
                ping_interval=None,
                open_timeout=STEP_TIMEOUT,
                close_timeout=STEP_TIMEOUT,
            )
        except websockets.InvalidStatusCode as e:
            raise Fail(f'{self.label}: the handshake for {url} answered HTTP {e.status_code}')
        except (OSError, websockets.InvalidHandshake) as e:
            raise Fail(f'{self.label}: connecting to {url}: {type(e).__name__}: {e}')
        self.c.peers.append(self)

    async def event(self, want=None):
        try:
            raw = await asyncio.wait_for(self.ws.recv(), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            what = json.dumps(want, ensure_ascii=False) if want else 'an event'
            raise Fail(f'{self.label} got no event within {STEP_TIMEOUT:g} s; expected {what}')
        except websockets.ConnectionClosed as e:
            raise Fail(f'{self.label}: the connection closed (code {e.code}, reason "{e.reason}") '
                       'while an event was expected')
        if not isinstance(raw, str):
            raise Fail(f'{self.label} got a binary message ({len(raw)} bytes); events are text')
        try:
            ev = json.loads(raw)
        except ValueError as e:
            raise Fail(f'{self.label} got a message that is not JSON ({e}): {raw[:200]!r}')
        if not isinstance(ev, dict):
            raise Fail(f'{self.label} got JSON that is not an object: {raw[:200]!r}')
        return ev

    async def expect(self, want):
        ev = await self.event(want)
        if ev != want:
            raise Fail(f'{self.label} expected {json.dumps(want, ensure_ascii=False)}\n'
                       f'  but got {json.dumps(ev, ensure_ascii=False)}')
        self.c.passed += 1
        return ev

    async def joined(self, nick, check=None):
        """Connects with nick (None: no parameter) and reads its own join; returns (nick, members)."""
        await self.connect(nick)
        ev = await self.event()
        if set(ev) != {'type', 'nick', 'members'} or ev['type'] != 'join':
            raise Fail(f'{self.label}: the first event is not a join: {json.dumps(ev, ensure_ascii=False)}')
        if not isinstance(ev['nick'], str) or type(ev['members']) is not int:
            raise Fail(f'{self.label}: a join with mistyped fields: {json.dumps(ev, ensure_ascii=False)}')
        if check is not None and not check(ev['nick']):
            raise Fail(f'{self.label}: connected with nick {nick!r}, was named {ev["nick"]!r}')
        self.nick = ev['nick']
        self.c.passed += 1
        return ev['nick'], ev['members']

    async def say(self, text):
        await self.ws.send(text)

    async def quiet(self, wait=0.2):
        """Checks that no event is waiting (nothing sent twice, nothing unexpected)."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), wait)
        except asyncio.TimeoutError:
            self.c.passed += 1
            return
        except websockets.ConnectionClosed:
            raise Fail(f'{self.label}: the connection closed unexpectedly')
        raise Fail(f'{self.label} got an unexpected event: {raw[:200]!r}')


class Checker:
    def __init__(self, url, compress):
        self.url, self.compress = url, compress
        self.step = 'starting'
        self.passed = 0
        self.peers = []

    async def run(self):
        self.step = 'alice joins'
        alice = Peer(self, 'alice')
        _, n = await alice.joined('alice', lambda s: s == 'alice')
        if n < 1:
            raise Fail(f'alice joined a room of {n} members')

        self.step = 'bob joins'
        bob = Peer(self, 'bob')
        _, m = await bob.joined('bob', lambda s: s == 'bob')
        if m != n + 1:
            raise Fail(f'bob joined as member {m}, after alice as member {n}')
        await alice.expect({'type': 'join', 'nick': 'bob', 'members': n + 1})

        self.step = 'messages'
        texts = [
            'hello',
            'quotes " and \' and back\\slash, </script> <b>&amp;</b>',
            'controls: \t tab \n newline \r cr \x01 \x1f \x7f end',
            'unicode: \u00e9 \u20ac \U0001F600 \u2028 \u2029 \ufeff',
            ' ' * 3 + 'spaces kept' + ' ' * 3,
            'x' * 1000,
        ]
        for who, text in [(alice, t) for t in texts] + [(bob, 'reply from bob')]:
            await who.say(text)
            for p in (alice, bob):
                await p.expect({'type': 'message', 'nick': who.nick, 'text': text})
        await alice.quiet()
        await bob.quiet()

        self.step = 'a nick with JSON and URL specials'
        special = 'q"u\\o/te &+=?# \u00e9'
        carol = Peer(self, 'carol')
        await carol.joined(special, lambda s: s == special)
        for p in (alice, bob):
            await p.expect({'type': 'join', 'nick': special, 'members': n + 2})
        await carol.say('from carol')
        for p in (alice, bob, carol):
            await p.expect({'type': 'message', 'nick': special, 'text': 'from carol'})

        self.step = 'a 40-byte nick'
        longnick = 'L' * 40
        dave = Peer(self, 'dave')
        await dave.joined(longnick, lambda s: s == longnick[:32])
        for p in (alice, bob, carol):
            await p.expect({'type': 'join', 'nick': longnick[:32], 'members': n + 3})

        self.step = 'no nick'
        guest = Peer(self, 'guest')
        gnick, _ = await guest.joined(None, lambda s: s.startswith('guest-') and s[6:].isdigit())
        for p in (alice, bob, carol, dave):
            await p.expect({'type': 'join', 'nick': gnick, 'members': n + 4})

        self.step = 'a guest leaves by dropping its TCP connection'
        guest.ws.transport.abort()
        self.peers.remove(guest)
        for p in (alice, bob, carol, dave):
            await p.expect({'type': 'leave', 'nick': gnick, 'members': n + 3})

        self.step = 'bob, carol and dave close with 1000'
        left = n + 3
        for p in (bob, carol, dave):
            await p.ws.close(1000, 'bye')
            if p.ws.close_code != 1000:
                raise Fail(f'{p.label} closed with 1000 and got {p.ws.close_code} '
                           f'(reason "{p.ws.close_reason}") back')
            self.passed += 1
            self.peers.remove(p)
            left -= 1
            for q in self.peers:
                await q.expect({'type': 'leave', 'nick': p.nick, 'members': left})

        self.step = 'alice closes'
        await alice.quiet()
        await alice.ws.close(1000, 'bye')
        if alice.ws.close_code != 1000:
            raise Fail(f'alice closed with 1000 and got {alice.ws.close_code} back')
        self.peers.remove(alice)
        self.passed += 1

    def abort_all(self):
        for p in self.peers:
            if p.ws is not None and p.ws.transport is not None:
                p.ws.transport.abort()


async def check(url, compress):
    c = Checker(url, compress)
    try:
        await asyncio.wait_for(c.run(), TIMEOUT)
    except (asyncio.TimeoutError, Fail) as e:
        why = str(e) if isinstance(e, Fail) else f'overall timeout of {TIMEOUT:g} s'
        print(f'py_chat_peer: FAIL during "{c.step}": {why}', file=sys.stderr)
        c.abort_all()
        return 1
    print(f'py_chat_peer: OK, {c.passed} checks passed ({url}, '
          f'{"deflate offered" if compress else "no compression"})', flush=True)
    return 0


async def interactive(url, nick, says, seconds, compress):
    target = f'{url}?nick={urllib.parse.quote(nick, safe="")}' if nick else url
    async with websockets.connect(target, compression='deflate' if compress else None) as ws:
        async def reader():
            async for raw in ws:
                print(raw if isinstance(raw, str) else f'(binary, {len(raw)} bytes)', flush=True)
        task = asyncio.create_task(reader())
        for text in says:
            await ws.send(text)
        try:
            await asyncio.wait_for(asyncio.shield(task), seconds)
        except asyncio.TimeoutError:
            pass
        await ws.close(1000, 'bye')
        await task
        print(f'(closed: code {ws.close_code}, reason "{ws.close_reason}")', flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description="Checks cora serve's chat protocol, or joins the room.")
    ap.add_argument('url', help='http://127.0.0.1:PORT or ws://127.0.0.1:PORT/chat/ws')
    ap.add_argument('--compress', action='store_true', help='offer permessage-deflate')
    ap.add_argument('--join', metavar='NICK', help='join as NICK and print the events instead of checking')
    ap.add_argument('--say', metavar='TEXT', action='append', default=[], help='with --join: send TEXT')
    ap.add_argument('--seconds', type=float, default=None, help='with --join: leave after S seconds')
    args = ap.parse_args()
    url = endpoint(args.url)
    if args.join is not None:
        try:
            return asyncio.run(interactive(url, args.join, args.say, args.seconds, args.compress))
        except KeyboardInterrupt:
            return 0
    return asyncio.run(check(url, args.compress))


if __name__ == '__main__':
    sys.exit(main())
