/* bench/ctx_switch.c: cora's raw context switch, without the loop.
 *
 * The like-for-like peer of Boost.Context's jump and glibc's swapcontext
 * (peers/boost_switch.cpp, peers/swapcontext.c): the main stack and one coroutine
 * ping-pong through cora__ctx_switch, the internal call every task switch ends in.
 * One iteration is two switches (there and back); the figure is per switch, one
 * direction.
 *
 *     ctx_switch [iterations [repeats]]
 *
 * Prints the best of `repeats` timed runs: on a shared machine the fastest run is
 * the one least disturbed, and the loop does the same work every time. run.sh also
 * runs it under callgrind with repeats=1 and two iteration counts, and takes the
 * difference, for a count of instructions that does not move with code layout.
 */
#include "../src/core/ctx.h"
#include "bench.h"

#include <sys/mman.h>

#define STACK_SIZE (64 * 1024)

static cora__ctx main_ctx, co_ctx;

/* The coroutine: every switch back into it returns here and switches straight out
 * again. It never returns (cora__ctx_make's contract); the process ends instead. */
static void co_entry(void *arg)
{
    (void)arg;
    for (;;)
        cora__ctx_switch(&co_ctx, &main_ctx);
}

/* Not inlined so that the timed loop is the same code whatever the caller does. */
__attribute__((noinline)) static void ping_pong(long iterations)
{
    for (long i = 0; i < iterations; i++)
        cora__ctx_switch(&main_ctx, &co_ctx);
}

int main(int argc, char **argv)
{
    long iterations = bench_arg(argc, argv, 1, 10000000);
    long repeats = bench_arg(argc, argv, 2, 5);
    void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    cora__ctx_make(&co_ctx, stack, STACK_SIZE, co_entry, NULL);
    ping_pong(1000); /* warm: the coroutine's first frame, caches, branch predictors */

    double best = 0;
    for (long r = 0; r < repeats; r++) {
        int64_t t0 = bench_now_ns();
        ping_pong(iterations);
        double ns = (double)(bench_now_ns() - t0) / (2.0 * (double)iterations);
        if (r == 0 || ns < best) best = ns;
    }
    if (repeats > 0 && iterations > 0) {
        printf("cora__ctx_switch: %.2f ns per switch (best of %ld runs of %ld round trips)\n", best,
               repeats, iterations);
        bench_result("cora_ctx_switch", best, "ns/switch");
    }
    return 0;
}
