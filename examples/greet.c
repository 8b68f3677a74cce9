/* examples/greet.c: the seed's first asyncio program, in cora.
 *
 *     async def greet(name, delay):
 *         await asyncio.sleep(delay)
 *         print(f"Hello, {name}!")
 *
 *     async def main():
 *         await asyncio.gather(greet("Alice", 2), greet("Bob", 1))
 *
 * Both greetings run concurrently: Bob prints after 1 s, Alice after 2 s, and the
 * whole run takes about 2 s, not 3.
 */
#include <cora.h>
#include <stdio.h>

struct greeting {
    const char *name;
    double delay;
};

static void *greet(void *arg)
{
    struct greeting *g = arg;
    int err = cora_sleep(g->delay); /* pauses this task only; others run meanwhile */
    if (err < 0) return cora_fail(err);
    printf("Hello, %s!\n", g->name);
    fflush(stdout);
    return NULL;
}

static void *amain(void *arg)
{
    (void)arg;
    struct greeting alice = {"Alice", 2}, bob = {"Bob", 1};
    int64_t start = cora_now_ns();
    /* asyncio.gather(greet("Alice", 2), greet("Bob", 1)) */
    cora_task *tasks[2] = {cora_spawn(greet, &alice), cora_spawn(greet, &bob)};
    if (!tasks[0] || !tasks[1]) return cora_fail(-ENOMEM);
    int err = cora_gather(2, tasks, NULL, 0);
    printf("elapsed: %.2f s\n", (double)(cora_now_ns() - start) / 1e9);
    return err < 0 ? cora_fail(err) : NULL;
}

int main(void)
{
    int err = cora_run(amain, NULL, NULL);
    if (err < 0) {
        fprintf(stderr, "greet: %s\n", cora_strerror(err));
        return 1;
    }
    return 0;
}
