/* tests/test_million.c: N tasks (a million by default) asleep at once, on this
 * machine's default kernel settings (vm.max_map_count 65530). Built without ASan:
 * its shadow memory and redzones would make the figure meaningless. Prints the RSS
 * per task, which bench/ reports too. */
#include <cora.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long n_tasks;
static int64_t wake_at;
static long woke;

static void *sleeper(void *arg)
{
    int r = cora_sleep_until_ns(wake_at);
    if (r == 0) woke++;
    return NULL;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

static void *amain(void *arg)
{
    cora_task **t = malloc((size_t)n_tasks * sizeof *t);
    if (!t) return cora_fail(-ENOMEM);
    /* Far enough ahead that every task is asleep before the first wakes. */
    wake_at = cora_now_ns() + (int64_t)60 * 1000000000;
    long before = rss_kib();
    for (long i = 0; i < n_tasks; i++) {
        int r = cora_spawn_ex(&t[i], sleeper, NULL, NULL);
        if (r < 0) {
            fprintf(stderr, "spawn %ld failed: %s\n", i, cora_strerror(r));
            return cora_fail(r);
        }
    }
    cora_yield(); /* every task runs once and goes to sleep */
    long during = rss_kib();
    printf("%ld tasks asleep: RSS %.2f KiB per task\n", n_tasks,
           (double)(during - before) / (double)n_tasks);
    wake_at = 0; /* not used by sleepers any more; they already hold their deadline */
    /* Wake them all by cancelling instead of waiting a minute: the test is that a
     * million can be asleep at once and all come back. */
    for (long i = 0; i < n_tasks; i++) cora_cancel(t[i]);
    long cancelled = 0;
    for (long i = 0; i < n_tasks; i++)
        if (cora_await(t[i], NULL) == -ECANCELED) cancelled++;
    free(t);
    printf("%ld tasks cancelled and joined\n", cancelled);
    return cancelled == n_tasks ? NULL : cora_fail(-EIO);
}

int main(int argc, char **argv)
{
    n_tasks = argc > 1 ? atol(argv[1]) : 1000000;
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "test_million: %s\n", cora_strerror(r));
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
