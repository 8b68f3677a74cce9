#!/usr/bin/env python3
"""bench/peers/python/pingpong.py: the peer of bench/pingpong.c in asyncio.

Two tasks pass an int back and forth through two asyncio.Queue(maxsize=1), one each
way (the closest asyncio has to an unbuffered channel, and the shape of cora_queue
with maxsize 1). One message is one put and the get that takes it; a round trip is
two. The figure is wall ns per message, over one run of n round trips: CPython is far
slower per message than cora or Go, so run.sh gives it a smaller n; the per-message
figure does not depend on n.
Usage: pingpong.py [round-trips]
"""
import asyncio
import sys
import time


async def ponger(ping, pong):
    while True:
        v = await ping.get()
        if v is None:
            return
        await pong.put(v)


async def run(n):
    ping, pong = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)
    t = asyncio.create_task(ponger(ping, pong))
    t0 = time.perf_counter_ns()
    for i in range(n):
        await ping.put(i)
        if await pong.get() != i:
            raise RuntimeError("pingpong: wrong value back")
    ns = (time.perf_counter_ns() - t0) / (2 * n)
    await ping.put(None)
    await t
    return ns


async def main(n):
    await run(1000)  # warm, as bench/pingpong.c does
    return await run(n)


if __name__ == "__main__":
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 200000
    ns = asyncio.run(main(n))
    v = sys.version.split()[0]
    print(f"python {v} asyncio: Queue(maxsize=1) ping-pong: {ns:.1f} ns per message, "
          f"{1e3 / ns:.3f} M messages/s ({n} round trips)")
    print(f"RESULT python_queue_pingpong {ns:.6g} ns/msg")
    print(f"RESULT python_queue_pingpong_rate {1e9 / ns:.6g} msg/s")
