/* bench/bench_net.h: what the two load clients (echo_client.c, bulk_client.c) share:
 * connecting to the server under test on 127.0.0.1, and reading that server's CPU
 * time from /proc/PID/stat.
 *
 * The clients are plain C with no cora in them, so that every server, cora's and the
 * peers', faces exactly the same load.
 */
#ifndef CORA_BENCH_NET_H
#define CORA_BENCH_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* A blocking TCP connection to 127.0.0.1:port, Nagle off, or -1 with a message.
 * Only the loopback address: the benchmarks never send anything off the machine. */
static inline int bench_connect_local(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fprintf(stderr, "connect 127.0.0.1:%d: %s\n", port, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* CPU time of process `pid` (all its threads, living and exited), user + system, in
 * ns; -1 if it cannot be read. Fields 14 and 15 of /proc/PID/stat, in clock ticks
 * (10 ms here). The kernel derives them from the scheduler's exact runtime, so a
 * difference over a run is exact to a tick; there is no sampling error. */
static inline int64_t bench_proc_cpu_ns(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: count fields from
     * the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* After ')': field 3 (state) onwards; utime and stime are fields 14 and 15. */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((utime + stime) * (1000000000ULL / (unsigned long long)hz));
}

/* CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal:
 * the first line of /proc/stat), in ns; -1 if unreadable. What the server and the
 * client did not spend of it is other work, which the clients report so that a
 * disturbed run shows as one. */
static inline int64_t bench_machine_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8) return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* not idle, iowait */
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)(busy * (1000000000ULL / (unsigned long long)hz));
}

#endif
