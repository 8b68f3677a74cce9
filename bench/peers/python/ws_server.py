"""bench/peers/python/ws_server.py: the Python peer of `cora serve` in the WebSocket
benchmark, with Debian's python3-websockets (10.4) on the system Python and its
default asyncio loop: one thread, as a cora loop is one. The same two endpoints as
`cora serve`:

  - GET /ws echoes every message, text as text, binary as binary;
  - GET /chat/ws?nick=NAME is a room: every text message of a member goes to all
    members as {"type":"message","nick":NAME,"text":TEXT}; joins and leaves are
    announced as {"type":"join"|"leave","nick":NAME,"members":N}.

The room sends with websockets.broadcast (the library's broadcast idiom: the frame is
encoded once and written to every open member without waiting; it has no bound for
a slow member, which this benchmark never has). No compression (compression=None),
no pings (ping_interval=None), messages up to 16 MiB.

Listens on 127.0.0.1 only (port 0: a free port the kernel picks), prints
"listening <port>" once it accepts, runs until killed.
Usage: /usr/bin/python3 ws_server.py [port]
"""
import asyncio
import itertools
import json
import sys
from urllib.parse import parse_qs, urlsplit

import websockets

members = set()
guests = itertools.count(1)


def encode(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def chat(ws, query):
    nick = (parse_qs(query).get("nick") or [""])[0]
    if not nick or len(nick) > 32:
        nick = f"guest-{next(guests)}"
    members.add(ws)
    websockets.broadcast(members, encode({"type": "join", "nick": nick, "members": len(members)}))
    try:
        async for message in ws:
            if isinstance(message, str):
                websockets.broadcast(
                    members, encode({"type": "message", "nick": nick, "text": message}))
    finally:
        members.discard(ws)
        websockets.broadcast(
            members, encode({"type": "leave", "nick": nick, "members": len(members)}))


async def handler(ws):
    url = urlsplit(ws.path)
    try:
        if url.path == "/ws":
            await echo(ws)
        elif url.path == "/chat/ws":
            await chat(ws, url.query)
        else:
            await ws.close(1008, "no such endpoint")
    except websockets.ConnectionClosed:
        pass  # the client went away without a closing handshake


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with websockets.serve(handler, "127.0.0.1", port, compression=None,
                                ping_interval=None, max_size=1 << 24) as server:
        print(f"Python {sys.version.split()[0]} websockets {websockets.__version__} server, asyncio",
              file=sys.stderr)
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
