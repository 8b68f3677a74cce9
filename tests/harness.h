/* tests/harness.h: what every cora test shares.
 *
 * - Each case runs in its own process: CTest starts the test binary once per case
 *   and per backend (`test_core sleep_order` with CORA_BACKEND=uring, then =epoll),
 *   with a timeout, so a hung task fails in seconds and no case can forget a backend.
 * - Every case ends with a leak and liveness check (cora_teardown): no loop left on
 *   the thread, no task, stack or in-flight operation alive, and the same open fds as
 *   before the case. LeakSanitizer checks the heap at exit.
 * - No timing assertions: order and causality only; durations belong to bench/.
 */
#ifndef CORA_TEST_HARNESS_H
#define CORA_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cora.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/core/internal.h"

static int harness_fds_before;

static int harness_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int cora_setup(void **state)
{
    (void)state;
    harness_fds_before = harness_count_fds();
    return 0;
}

static int cora_teardown(void **state)
{
    (void)state;
    /* A loop still running here means an assertion failed inside a task and cmocka
     * jumped out of it: fail the teardown quietly so cmocka prints that first
     * message, instead of jumping again from a state that cannot be unwound. */
    if (cora_loop_current()) {
        fprintf(stderr, "(an assertion failed inside a task; its message follows)\n");
        return -1;
    }
    assert_int_equal(cora__census_now.tasks, 0);
    assert_int_equal(cora__census_now.stacks, 0);
    assert_int_equal(cora__census_now.ops, 0);
    assert_int_equal(harness_count_fds(), harness_fds_before);
    return 0;
}

#define CORA_TEST(name) cmocka_unit_test_setup_teardown(name, cora_setup, cora_teardown)

/* Runs fn as a loop's main task and asserts it ended with status 0. */
static inline void *run_ok(cora_fn fn, void *arg)
{
    void *res = NULL;
    int r = cora_run(fn, arg, &res);
    if (r != 0) fprintf(stderr, "cora_run: %s\n", cora_err_name(r));
    assert_int_equal(r, 0);
    return res;
}

/* The backend the loop actually picked must be the one CTest asked for, or a case
 * registered for uring could quietly run on epoll. */
static void *harness_backend_probe(void *arg)
{
    *(const char **)arg = cora_loop_backend(cora_loop_current());
    return NULL;
}

static inline int harness_main(int argc, char **argv, const struct CMUnitTest *tests,
                               size_t n, const char *group)
{
    /* Unbuffered: a failed assertion inside a task leaves the loop behind and the
     * teardown check then aborts, which must not swallow the first message. */
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *want = getenv("CORA_BACKEND");
    if (want && *want) {
        const char *got = NULL;
        if (cora_run(harness_backend_probe, &got, NULL) != 0 || !got || strcmp(got, want) != 0) {
            fprintf(stderr, "asked for backend %s, loop runs %s\n", want, got ? got : "none");
            return 1;
        }
    }
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc > 1) {
        /* A filter that matches nothing would pass vacuously: refuse it. */
        size_t i = 0;
        while (i < n && strcmp(tests[i].name, argv[1]) != 0) i++;
        if (i == n) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

#define CORA_TEST_MAIN(group, tests)                                                            \
    int main(int argc, char **argv)                                                             \
    {                                                                                           \
        return harness_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), group);        \
    }

#endif
