#!/usr/bin/python3
"""Reference WebSocket echo server built on the Python `websockets` library.

Used to validate tests/ws/autobahn.py against a known-good implementation:

    apt-get install -y python3-websockets      # Debian 12: websockets 10.4
    /usr/bin/python3 tests/ws/py_echo_server.py 127.0.0.1 9002 &
    python3 tests/ws/autobahn.py ws://127.0.0.1:9002/

Echoes every message back unchanged (text as text, binary as binary), on any
path.  permessage-deflate is enabled (websockets' defaults: server and client
windows limited to 2^12, memLevel 5); --compression full accepts whatever the
client offers (15-bit windows), --compression none declines compression.
Messages up to 64 MiB are accepted.  Prints "listening on ws://H:P/" once ready.

Note: the machine's default python3 may be a pyenv build that does not see
Debian's dist-packages; run this with /usr/bin/python3.
"""

import argparse
import asyncio
import sys

try:
    import websockets
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
except ImportError:  # pragma: no cover
    sys.exit("py_echo_server: the websockets module is missing "
             "(apt-get install -y python3-websockets; run with /usr/bin/python3)")


async def echo(ws, *unused_path):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("host", nargs="?", default="127.0.0.1")
    ap.add_argument("port", nargs="?", type=int, default=9002)
    ap.add_argument("--compression", choices=("default", "full", "none"), default="default",
                    help="permessage-deflate: websockets defaults (12-bit windows), "
                         "full 15-bit windows, or disabled")
    ap.add_argument("--max-size", type=int, default=64 * 1024 * 1024,
                    help="largest message accepted (default 64 MiB)")
    args = ap.parse_args()

    kw = dict(max_size=args.max_size, max_queue=64, ping_interval=None,
              close_timeout=5)
    if args.compression == "default":
        kw["compression"] = "deflate"
    elif args.compression == "full":
        kw["compression"] = None
        kw["extensions"] = [ServerPerMessageDeflateFactory()]
    else:
        kw["compression"] = None

    async with websockets.serve(echo, args.host, args.port, **kw) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print("listening on ws://%s:%d/" % (host, port), flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
