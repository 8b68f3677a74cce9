#!/usr/bin/python3
"""tests/ws/py_client.py: checks a WebSocket echo endpoint (`cora serve`'s /ws) with
Python's websockets (Debian's python3-websockets 10.4) as the client.

    /usr/bin/python3 py_client.py ws://127.0.0.1:PORT/ws [--compress] [--require-compress]

Offers permessage-deflate only with --compress (--require-compress also fails if the
server declines it). Sends text and binary messages of 0, 1, 125, 126, 65535, 65536
and 1 MiB bytes one at a time, then all of them back to back, then a text and a
binary message in three fragments, checking that each echo is identical and of the
same type (str for text, bytes for binary). Then a ping with a payload and an empty
one, each of which must be answered by a pong, and a close with code 1000 whose
answering close must carry 1000 too. Exits 0 when every check passes, 1 otherwise;
bounded by 30 s.

Use /usr/bin/python3: another python3 on PATH may lack Debian's modules.
"""
import argparse
import asyncio
import sys

import websockets

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]
TIMEOUT = 30.0
STEP_TIMEOUT = 10.0


class Fail(Exception):
    pass


def text_of(n):
    """Text of exactly n UTF-8 bytes, mixing 1- to 4-byte characters."""
    cycle = ['a', 'b', 'c', ' ', '\u00e9', 'x', '\u20ac', 'y', '\U0001F600', '\n']
    out, length, i = [], 0, 0
    while True:
        c = cycle[i % len(cycle)]
        size = len(c.encode())
        if length + size > n:
            break
        out.append(c)
        length += size
        i += 1
    s = ''.join(out) + 'z' * (n - length)
    assert len(s.encode()) == n
    return s


def binary_of(n, seed):
    """n bytes: the first half a repeating pattern (compresses), the second pseudo-random."""
    half = n // 2
    head = bytes(i % 251 for i in range(half))
    x = (seed * 2654435761) & 0xFFFFFFFF or 1
    tail = bytearray(n - half)
    for i in range(len(tail)):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        tail[i] = x & 0xFF
    return head + bytes(tail)


def kind(m):
    return 'binary' if isinstance(m, bytes) else 'text'


def size(m):
    return len(m) if isinstance(m, bytes) else len(m.encode())


class Checker:
    def __init__(self, url, compress, require):
        self.url, self.compress, self.require = url, compress, require
        self.step = 'starting'
        self.passed = 0
        self.ws = None

    async def expect_echo(self, ws, what, want):
        try:
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            raise Fail(f'no echo of {what} within {STEP_TIMEOUT:g} s')
        except websockets.ConnectionClosed as e:
            raise Fail(f'the connection closed before the echo of {what} (code {e.code}, reason "{e.reason}")')
        if type(got) is not type(want):
            raise Fail(f'the echo of {what} came back as {kind(got)}')
        if got != want:
            a = want.encode() if isinstance(want, str) else want
            b = got.encode() if isinstance(got, str) else got
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            raise Fail(f'the echo of {what} differs: {len(b)} bytes for {len(a)}, first difference at byte {i}')
        self.passed += 1

    async def run(self):
        label = 'deflate' if self.compress else 'plain'
        self.step = f'{label}: connecting'
        try:
            ws = await websockets.connect(
                self.url,
                compression='deflate' if self.compress else None,
                max_size=16 << 20,
                ping_interval=None,
                open_timeout=STEP_TIMEOUT,
                close_timeout=STEP_TIMEOUT,
            )
        except websockets.InvalidStatusCode as e:
            raise Fail(f'handshake answered HTTP {e.status_code}')
        except (OSError, websockets.InvalidHandshake) as e:
            raise Fail(f'{type(e).__name__}: {e}')
        self.ws = ws
        exts = ', '.join(e.name for e in ws.extensions) or '(none)'
        print(f'py_client: {label}: connected to {self.url}, extensions: {exts}', flush=True)
        if not self.compress and ws.extensions:
            raise Fail(f'the server accepted extensions that were not offered: {exts}')
        if self.compress and self.require and not any(e.name == 'permessage-deflate' for e in ws.extensions):
            raise Fail('the server declined permessage-deflate')

        msgs = [(f'text of {n} bytes', text_of(n)) for n in SIZES]
        msgs += [(f'binary of {n} bytes', binary_of(n, n + 1)) for n in SIZES]

        self.step = f'{label}: one at a time'
        for what, data in msgs:
            await ws.send(data)
            await self.expect_echo(ws, what, data)

        self.step = f'{label}: back to back'
        # Send from a task while reading here, so that neither side's buffers can stall the other.
        sender = asyncio.create_task(self.send_all(ws, [d for _, d in msgs]))
        for what, data in msgs:
            await self.expect_echo(ws, what, data)
        await sender

        self.step = f'{label}: fragmented'
        text = ['fragments: ', '1\u20ac', '2']
        await ws.send(text)  # an iterable is sent as one fragmented message
        await self.expect_echo(ws, 'a text message in 3 fragments', ''.join(text))
        binary = binary_of(70000, 7)
        await ws.send([binary[:10], binary[10:65546], binary[65546:]])
        await self.expect_echo(ws, 'a binary message in 3 fragments', binary)

        self.step = f'{label}: ping'
        for payload in (b'cora-ping-\xc3\xa9', b''):
            waiter = await ws.ping(payload)
            try:
                await asyncio.wait_for(waiter, STEP_TIMEOUT)
            except asyncio.TimeoutError:
                raise Fail(f'no pong for a ping with payload {payload!r}')
            self.passed += 1

        self.step = f'{label}: close'
        await ws.close(1000, 'done')
        if ws.close_code != 1000:
            raise Fail(f'the server answered close 1000 with code {ws.close_code} (reason "{ws.close_reason}")')
        self.passed += 1
        print(f'py_client: {label}: ok (close code {ws.close_code}, reason "{ws.close_reason}")', flush=True)

    @staticmethod
    async def send_all(ws, datas):
        for d in datas:
            await ws.send(d)


async def main():
    ap = argparse.ArgumentParser(description='Checks a WebSocket echo endpoint.')
    ap.add_argument('url', help='ws://127.0.0.1:PORT/ws')
    ap.add_argument('--compress', action='store_true', help='offer permessage-deflate')
    ap.add_argument('--require-compress', action='store_true',
                    help='with --compress: fail if the server declines permessage-deflate')
    args = ap.parse_args()
    c = Checker(args.url, args.compress, args.require_compress)
    try:
        await asyncio.wait_for(c.run(), TIMEOUT)
    except (asyncio.TimeoutError, Fail, websockets.ConnectionClosed) as e:
        if isinstance(e, asyncio.TimeoutError):
            why = f'overall timeout of {TIMEOUT:g} s'
        elif isinstance(e, Fail):
            why = str(e)
        else:
            why = f'connection closed (code {e.code}, reason "{e.reason}")'
        print(f'py_client: FAIL during "{c.step}": {why}', file=sys.stderr)
        if c.ws is not None and c.ws.transport is not None:
            c.ws.transport.abort()  # no closing handshake with a server that failed a check
        return 1
    print(f'py_client: OK, {c.passed} checks passed', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
