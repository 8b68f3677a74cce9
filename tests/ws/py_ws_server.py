#!/usr/bin/python3
"""tests/ws/py_ws_server.py: a WebSocket echo server (Debian's python3-websockets 10.4)
for cora's WebSocket *client* to talk to.

    /usr/bin/python3 py_ws_server.py [--port PORT] [--host HOST] [--no-compress]

Echoes every message on any path, text as text and binary as binary; answers pings
(the library does) and echoes the client's close code. permessage-deflate is accepted
unless --no-compress; messages up to 64 MiB. --port 0 (the default) takes a free port.
Prints "listening on ws://HOST:PORT/" on stdout once it accepts connections, then runs
until SIGINT or SIGTERM. Use /usr/bin/python3: another python3 may lack Debian's modules.
"""
import argparse
import asyncio
import signal
import sys

import websockets


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosedError:
        pass  # a client that went away uncleanly is not the server's failure


async def main():
    ap = argparse.ArgumentParser(description='WebSocket echo server.')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0, help='0 takes a free port (default)')
    ap.add_argument('--no-compress', action='store_true', help='decline permessage-deflate')
    args = ap.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    async with websockets.serve(
        echo,
        args.host,
        args.port,
        compression=None if args.no_compress else 'deflate',
        max_size=64 << 20,  # above Autobahn 9.x's 16 MiB messages
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        host = f'[{args.host}]' if ':' in args.host else args.host
        print(f'listening on ws://{host}:{port}/', flush=True)
        await stop
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
