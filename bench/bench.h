/* bench/bench.h: what every benchmark program written in C or C++ shares: clocks, the
 * process's CPU time, its resident memory, a seeded generator, and the one output
 * format bench/run.sh reads:
 *
 *     RESULT <name> <value> <unit>
 *
 * Anything else a program prints is for people and is ignored by run.sh. Header-only
 * and valid C and C++, so each benchmark stays a single file and the Boost peer uses
 * exactly the same clocks as cora's side.
 */
#ifndef CORA_BENCH_H
#define CORA_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Wall clock: CLOCK_MONOTONIC, the clock cora's timers use. */
static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the whole process, user + system, as getrusage reports it. Used where
 * wall time is set by the work's own deadlines (timers) rather than by its cost. */
static inline int64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* A "Vm...:" field of /proc/self/status in KiB (VmRSS, VmPTE), or -1. */
static inline long bench_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t len = strlen(field);
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') v = atol(line + len + 1);
    if (f) fclose(f);
    return v;
}

/* Deterministic pseudo-random numbers (xorshift64*): every program that draws random
 * deadlines draws the same ones from the same seed, whatever its libc. */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
#define BENCH_SEED 0x9E3779B97F4A7C15ULL

/* argv[i] as a count (accepts 1e6 and 1000000), or `def` when absent. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
    return argc > i ? (long)strtod(argv[i], NULL) : def;
}

static inline void bench_result(const char *name, double value, const char *unit)
{
    printf("RESULT %s %.6g %s\n", name, value, unit);
    fflush(stdout);
}

#endif
