/* bench/bulk_client.c: the one sender of the bulk-transfer benchmark, for every
 * receiver (cora's sink on both backends, libuv's, Go's). Plain blocking C, no cora.
 *
 * Each run opens one connection to 127.0.0.1:port, sends `bytes` in `chunk`-byte
 * send(2) calls, half-closes, and waits for the receiver to close its side, which it
 * does only after reading the end of stream: so the clock stops when the receiver has
 * read every byte, not when the last byte left this process. The figure is the best
 * of `repeats` runs, in GB/s (1e9 bytes); the receiver's CPU time (utime + stime of
 * /proc/PID/stat) over all runs is divided by all the bytes, as ms per GB.
 *
 *     bulk_client port bytes chunk repeats server-pid label
 *
 * RESULT lines: <label>_bulk_rate (GB/s), <label>_bulk_cpu (receiver CPU ms per GB),
 * <label>_bulk_client_cpu (this sender's CPU ms per GB).
 */
#include "bench_net.h"

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bulk_client port bytes chunk repeats server-pid label\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long long bytes = (long long)strtod(argv[2], NULL);
    size_t chunk = (size_t)strtod(argv[3], NULL);
    int repeats = atoi(argv[4]), pid = atoi(argv[5]);
    const char *label = argv[6];
    if (port <= 0 || bytes <= 0 || chunk == 0 || repeats < 1) {
        fprintf(stderr, "bulk_client: bad arguments\n");
        return 2;
    }
    char *buf = malloc(chunk);
    if (!buf) return 1;
    for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 31);

    double best = 0;
    int64_t cpu0 = pid > 0 ? bench_proc_cpu_ns(pid) : -1, self0 = bench_cpu_ns();
    for (int r = 0; r < repeats; r++) {
        int fd = bench_connect_local(port);
        if (fd < 0) return 1;
        int64_t t0 = bench_now_ns();
        long long left = bytes;
        while (left > 0) {
            size_t n = left < (long long)chunk ? (size_t)left : chunk;
            ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                fprintf(stderr, "bulk_client: send: %s\n", strerror(errno));
                return 1;
            }
            left -= w;
        }
        shutdown(fd, SHUT_WR);
        char c;
        ssize_t e;
        while ((e = recv(fd, &c, 1, 0)) < 0 && errno == EINTR) {
        }
        if (e != 0) {
            fprintf(stderr, "bulk_client: the receiver did not close cleanly\n");
            return 1;
        }
        int64_t t1 = bench_now_ns();
        close(fd);
        double gbs = (double)bytes / (double)(t1 - t0);
        if (r == 0 || gbs > best) best = gbs;
    }
    int64_t cpu1 = pid > 0 ? bench_proc_cpu_ns(pid) : -1, self1 = bench_cpu_ns();

    double gb = (double)bytes * repeats / 1e9;
    char name[128];
    printf("%s: %.2f GB/s (best of %d runs of %.0f MiB in %zu KiB writes); sender CPU %.0f ms/GB",
           label, best, repeats, (double)bytes / 1048576.0, chunk / 1024,
           (double)(self1 - self0) / 1e6 / gb);
    if (cpu0 >= 0 && cpu1 >= 0) {
        printf("; receiver CPU %.0f ms/GB\n", (double)(cpu1 - cpu0) / 1e6 / gb);
        snprintf(name, sizeof name, "%s_bulk_cpu", label);
        bench_result(name, (double)(cpu1 - cpu0) / 1e6 / gb, "ms/GB");
    } else {
        printf("\n");
    }
    snprintf(name, sizeof name, "%s_bulk_rate", label);
    bench_result(name, best, "GB/s");
    snprintf(name, sizeof name, "%s_bulk_client_cpu", label);
    bench_result(name, (double)(self1 - self0) / 1e6 / gb, "ms/GB");
    return 0;
}
