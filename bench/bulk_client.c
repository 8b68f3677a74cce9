/* bench/bulk_client.c: the one sender of the bulk-transfer benchmark, for every
 * receiver (cora's sink on both backends, libuv's, Go's). Plain blocking C, no cora.
 *
 * A run opens one connection to 127.0.0.1:port, sends `bytes` in `chunk`-byte send(2)
 * calls, half-closes, and waits for the receiver to close its side, which it does
 * only after reading the end of stream: so the clock stops when the receiver has read
 * every byte, not when the last byte left this process. GB are 1e9 bytes.
 *
 * All receivers are started beforehand and measured in this one invocation: `rounds`
 * rounds, each one run per receiver in turn (the order reversed every other round).
 * The figure is each receiver's **median** run, not its best: single loopback runs on
 * the development machine (a VM) vary, a few running at twice the usual rate with the
 * same system-call and softirq counts, so the best of a few runs is a lottery, and
 * the median of many short interleaved runs is not. The receiver's CPU time (utime +
 * stime of /proc/PID/stat) from before its first run to after its last, over all the
 * bytes it received, is its CPU per GB: it does nothing between its runs.
 *
 *     bulk_client bytes chunk rounds label=port:pid...
 *
 * RESULT lines for each label: <label>_bulk_rate (median GB/s), <label>_bulk_best
 * (best GB/s), <label>_bulk_cpu (receiver CPU ms per GB).
 */
#include "bench_net.h"

typedef struct target {
    char label[64];
    int port, pid;
    int64_t cpu0;
    double *gbs; /* each run's rate */
} target;

static long long bytes;
static size_t chunk;
static char *buf;

/* One transfer to the receiver on `port`; GB/s, or -1. */
static double run_once(int port)
{
    int fd = bench_connect_local(port);
    if (fd < 0) return -1;
    int64_t t0 = bench_now_ns();
    long long left = bytes;
    while (left > 0) {
        size_t n = left < (long long)chunk ? (size_t)left : chunk;
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "bulk_client: send: %s\n", strerror(errno));
            close(fd);
            return -1;
        }
        left -= w;
    }
    shutdown(fd, SHUT_WR);
    char c;
    ssize_t e;
    while ((e = recv(fd, &c, 1, 0)) < 0 && errno == EINTR) {
    }
    int64_t t1 = bench_now_ns();
    close(fd);
    if (e != 0) {
        fprintf(stderr, "bulk_client: the receiver did not close cleanly\n");
        return -1;
    }
    return (double)bytes / (double)(t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bulk_client bytes chunk rounds label=port:pid...\n");
        return 2;
    }
    bytes = (long long)strtod(argv[1], NULL);
    chunk = (size_t)strtod(argv[2], NULL);
    int rounds = atoi(argv[3]), ntargets = argc - 4;
    if (bytes <= 0 || chunk == 0 || rounds < 1) {
        fprintf(stderr, "bulk_client: bad arguments\n");
        return 2;
    }
    buf = malloc(chunk);
    target *ts = calloc((size_t)ntargets, sizeof *ts);
    if (!buf || !ts) return 1;
    for (size_t i = 0; i < chunk; i++)
        buf[i] = (char)(i * 31);
    for (int i = 0; i < ntargets; i++) {
        char *eq = strchr(argv[4 + i], '=');
        if (!eq || eq - argv[4 + i] >= (long)sizeof ts[i].label ||
            sscanf(eq + 1, "%d:%d", &ts[i].port, &ts[i].pid) != 2 || ts[i].port <= 0) {
            fprintf(stderr, "bulk_client: bad target %s (label=port:pid)\n", argv[4 + i]);
            return 2;
        }
        memcpy(ts[i].label, argv[4 + i], (size_t)(eq - argv[4 + i]));
        ts[i].gbs = calloc((size_t)rounds, sizeof *ts[i].gbs);
        if (!ts[i].gbs) return 1;
        ts[i].cpu0 = bench_proc_cpu_ns(ts[i].pid);
    }

    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < ntargets; k++) {
            target *t = &ts[r % 2 ? ntargets - 1 - k : k];
            if ((t->gbs[r] = run_once(t->port)) < 0) {
                fprintf(stderr, "bulk_client: %s failed\n", t->label);
                return 1;
            }
        }

    double gb = (double)bytes * rounds / 1e9;
    for (int i = 0; i < ntargets; i++) {
        target *t = &ts[i];
        int64_t cpu1 = bench_proc_cpu_ns(t->pid);
        qsort(t->gbs, (size_t)rounds, sizeof *t->gbs, cmp_double);
        double median =
            rounds % 2 ? t->gbs[rounds / 2] : (t->gbs[rounds / 2 - 1] + t->gbs[rounds / 2]) / 2;
        char runs[512] = "", name[128];
        for (int r = 0, len = 0; r < rounds && len < (int)sizeof runs - 8; r++)
            len +=
                snprintf(runs + len, sizeof runs - (size_t)len, "%s%.1f", r ? " " : "", t->gbs[r]);
        double cpu = t->cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - t->cpu0) / 1e6 / gb : -1;
        printf("%-12s %5.2f GB/s median, best %.2f; receiver CPU %.0f ms/GB (%d runs of "
               "%.0f MiB in %zu KiB writes, sorted: %s GB/s)\n",
               t->label, median, t->gbs[rounds - 1], cpu, rounds, (double)bytes / 1048576.0,
               chunk / 1024, runs);
        snprintf(name, sizeof name, "%s_bulk_rate", t->label);
        bench_result(name, median, "GB/s");
        snprintf(name, sizeof name, "%s_bulk_best", t->label);
        bench_result(name, t->gbs[rounds - 1], "GB/s");
        if (cpu >= 0) {
            snprintf(name, sizeof name, "%s_bulk_cpu", t->label);
            bench_result(name, cpu, "ms/GB");
        }
    }
    return 0;
}
