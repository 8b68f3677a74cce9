/* bench/peers/boost_switch.cpp: the peer of ctx_switch.c with Boost.Context, at both
 * of its levels:
 *   fiber     boost::context::fiber, the public API: f = std::move(f).resume();
 *   fcontext  jump_fcontext, the assembly jump every Boost.Context switch ends in
 *             (boost/context/detail/fcontext.hpp): the closest match to
 *             cora__ctx_switch.
 * The main stack and one coroutine ping-pong; one iteration is two switches, and the
 * figure is per switch, one direction.
 *
 *     boost_switch [iterations [repeats [fiber|fcontext|both]]]
 */
#include "../bench.h"

#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>

#include <cstring>
#include <utility>

namespace ctx = boost::context;
namespace det = boost::context::detail;

// The coroutine resumes whoever resumed it, forever.
__attribute__((noinline)) static void fiber_ping_pong(ctx::fiber &f, long iterations)
{
    for (long i = 0; i < iterations; i++)
        f = std::move(f).resume();
}

static void fcontext_entry(det::transfer_t t)
{
    for (;;)
        t = det::jump_fcontext(t.fctx, nullptr);
}

__attribute__((noinline)) static void fcontext_ping_pong(det::fcontext_t &c, long iterations)
{
    for (long i = 0; i < iterations; i++)
        c = det::jump_fcontext(c, nullptr).fctx;
}

static void report(const char *what, const char *name, double best, long repeats, long iterations)
{
    std::printf("Boost.Context %s: %.2f ns per switch (best of %ld runs of %ld round trips)\n",
                what, best, repeats, iterations);
    bench_result(name, best, "ns/switch");
}

int main(int argc, char **argv)
{
    long iterations = bench_arg(argc, argv, 1, 10000000);
    long repeats = bench_arg(argc, argv, 2, 5);
    const char *which = argc > 3 ? argv[3] : "both";
    bool fiber = std::strcmp(which, "fcontext") != 0;
    bool fcontext = std::strcmp(which, "fiber") != 0;

    if (fiber) {
        ctx::fiber f{[](ctx::fiber &&caller) {
            for (;;)
                caller = std::move(caller).resume();
            return std::move(caller);
        }};
        fiber_ping_pong(f, 1000);
        double best = 0;
        for (long r = 0; r < repeats; r++) {
            int64_t t0 = bench_now_ns();
            fiber_ping_pong(f, iterations);
            double ns = (double)(bench_now_ns() - t0) / (2.0 * (double)iterations);
            if (r == 0 || ns < best) best = ns;
        }
        if (repeats > 0 && iterations > 0)
            report("fiber", "boost_fiber_switch", best, repeats, iterations);
        // Leaving scope unwinds the coroutine's stack (Boost's forced_unwind).
    }

    if (fcontext) {
        const std::size_t size = 64 * 1024;
        static char stack[size] __attribute__((aligned(16)));
        det::fcontext_t c = det::make_fcontext(stack + size, size, fcontext_entry);
        fcontext_ping_pong(c, 1000);
        double best = 0;
        for (long r = 0; r < repeats; r++) {
            int64_t t0 = bench_now_ns();
            fcontext_ping_pong(c, iterations);
            double ns = (double)(bench_now_ns() - t0) / (2.0 * (double)iterations);
            if (r == 0 || ns < best) best = ns;
        }
        if (repeats > 0 && iterations > 0)
            report("jump_fcontext", "boost_fcontext_switch", best, repeats, iterations);
    }
    return 0;
}
