/* bench/peers/swapcontext.c: the peer of ctx_switch.c with glibc's ucontext: the main
 * context and one coroutine ping-pong through swapcontext(). One iteration is two
 * switches; the figure is per switch, one direction. swapcontext also saves and
 * restores the signal mask with a system call, which is most of its cost and why
 * cora's portable ucontext fallback is slower than its assembly switch.
 *
 *     swapcontext [iterations [repeats]]
 */
#include "../bench.h"

#include <ucontext.h>

#define STACK_SIZE (64 * 1024)

static ucontext_t main_uc, co_uc;

static void co_entry(void)
{
    for (;;)
        swapcontext(&co_uc, &main_uc);
}

__attribute__((noinline)) static void ping_pong(long iterations)
{
    for (long i = 0; i < iterations; i++)
        swapcontext(&main_uc, &co_uc);
}

/* Apart from main: getcontext returns twice, which would oblige main's locals to
 * live in memory (gcc's -Wclobbered). */
__attribute__((noinline)) static void make_coroutine(void)
{
    static char stack[STACK_SIZE] __attribute__((aligned(16)));
    getcontext(&co_uc);
    co_uc.uc_stack.ss_sp = stack;
    co_uc.uc_stack.ss_size = sizeof stack;
    co_uc.uc_link = NULL;
    makecontext(&co_uc, co_entry, 0);
}

int main(int argc, char **argv)
{
    long iterations = bench_arg(argc, argv, 1, 1000000);
    long repeats = bench_arg(argc, argv, 2, 3);
    make_coroutine();
    ping_pong(1000);

    double best = 0;
    for (long r = 0; r < repeats; r++) {
        int64_t t0 = bench_now_ns();
        ping_pong(iterations);
        double ns = (double)(bench_now_ns() - t0) / (2.0 * (double)iterations);
        if (r == 0 || ns < best) best = ns;
    }
    if (repeats > 0 && iterations > 0) {
        printf("swapcontext: %.2f ns per switch (best of %ld runs of %ld round trips)\n", best,
               repeats, iterations);
        bench_result("swapcontext_switch", best, "ns/switch");
    }
    return 0;
}
