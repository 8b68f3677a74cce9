# bench/peers/python/echo_uvloop.py: the Python peer of bench/echo_server.c: asyncio
# on uvloop (Debian's python3-uvloop), with an asyncio.Protocol whose data_received
# writes the bytes straight back.
#
# Protocol, not streams (asyncio.start_server with StreamReader/StreamWriter), because
# it is the fast idiom: no coroutine resumed and no buffer copied per message, the
# callback style uvloop's own echo benchmark measures. uvloop turns Nagle off on TCP
# transports, as every server here does.
#
# Listens on 127.0.0.1 only (port 0: a free port), prints "listening <port>", runs
# until killed. Usage: echo_uvloop.py [port]
import asyncio
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port)
    print(f"python {sys.version.split()[0]} uvloop {uvloop.__version__} echo server",
          file=sys.stderr)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
