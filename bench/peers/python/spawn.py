#!/usr/bin/env python3
"""bench/peers/python/spawn.py: the peer of bench/spawn.c in asyncio.

    serial  await asyncio.create_task(trivial()), n times;
    batch   asyncio.gather(*(create_task(trivial()) for 1000)), n/batch times.

The figure is wall ns per task. CPython is far slower per task than cora or Go, so
run.sh gives it a smaller n; the per-task figure does not depend on n.
Usage: spawn.py [n [batch]]
"""
import asyncio
import sys
import time


async def trivial():
    return None


async def serial(n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        await asyncio.create_task(trivial())
    return (time.perf_counter_ns() - t0) / n


async def batched(n, batch):
    rounds = n // batch
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        await asyncio.gather(*[asyncio.create_task(trivial()) for _ in range(batch)])
    return (time.perf_counter_ns() - t0) / (rounds * batch)


async def main(n, batch):
    await serial(1000)  # warm, as bench/spawn.c does
    await batched(10 * batch, batch)
    return await serial(n), await batched(n, batch)


if __name__ == "__main__":
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 200000
    batch = int(float(sys.argv[2])) if len(sys.argv) > 2 else 1000
    s, b = asyncio.run(main(n, batch))
    v = sys.version.split()[0]
    print(f"python {v} asyncio: create_task + await, serial: {s:.1f} ns per task")
    print(f"python asyncio: create_task + gather, batches of {batch}: {b:.1f} ns per task")
    print(f"RESULT python_spawn_serial {s:.6g} ns/task")
    print(f"RESULT python_spawn_batch {b:.6g} ns/task")
