#!/usr/bin/env python3
"""bench/peers/python/lock.py: the peer of bench/lock.c in asyncio.

`tasks` tasks (100) each loop {async with lock: critical section} on one
asyncio.Lock, n acquisitions in all; in the contended variant the critical section
awaits asyncio.sleep(0), asyncio's yield, where bench/lock.c calls cora_yield(). The
figure is wall ns per acquisition, over one run; the share of acquisitions that
changed hands is printed too. CPython is slow, so run.sh gives it a smaller n.
Usage: lock.py [acquisitions [contended|noyield|all [tasks]]]
"""
import asyncio
import sys
import time


class State:
    def __init__(self):
        self.lock = asyncio.Lock()
        self.counter = 0
        self.handovers = 0
        self.last = -1


async def worker(s, me, per_task, yield_inside):
    for _ in range(per_task):
        async with s.lock:
            if s.last != me:
                s.handovers += 1
                s.last = me
            s.counter += 1
            if yield_inside:
                await asyncio.sleep(0)


async def run(tasks, per_task, yield_inside):
    s = State()
    # Created before the clock, as bench/lock.c spawns first; they start running when
    # this task waits in gather.
    ts = [asyncio.create_task(worker(s, i, per_task, yield_inside)) for i in range(tasks)]
    t0 = time.perf_counter_ns()
    await asyncio.gather(*ts)
    ns = (time.perf_counter_ns() - t0) / s.counter
    if s.counter != tasks * per_task:
        raise RuntimeError("lock: lost an increment")
    return ns, s.handovers / s.counter


async def measure(tasks, n, yield_inside, what, key):
    await run(tasks, 10, yield_inside)  # warm, as bench/lock.c does
    per_task = n // tasks
    ns, share = await run(tasks, per_task, yield_inside)
    print(f"python asyncio.Lock, {what}, {tasks} tasks: {ns:.1f} ns per acquisition, "
          f"{1e3 / ns:.3f} M acquisitions/s, {share:.2f} of them hand-overs "
          f"({per_task * tasks} acquisitions)")
    print(f"RESULT {key} {ns:.6g} ns/acq")
    print(f"RESULT {key}_rate {1e9 / ns:.6g} acq/s")
    print(f"RESULT {key}_share {share:.6g} handovers/acq")


async def main(n, mode, tasks):
    if mode in ("all", "contended"):
        await measure(tasks, n, True, "sleep(0) inside (contended)", "python_lock_contended")
    if mode in ("all", "noyield"):
        await measure(tasks, n, False, "nothing inside (fast path)", "python_lock_noyield")


if __name__ == "__main__":
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 100000
    mode = sys.argv[2] if len(sys.argv) > 2 else "all"
    tasks = int(float(sys.argv[3])) if len(sys.argv) > 3 else 100
    asyncio.run(main(n, mode, tasks))
