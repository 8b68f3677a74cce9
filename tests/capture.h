/* tests/capture.h: running a scenario in a forked child and reading what it wrote on
 * stderr, for the tests of what cora prints (debug mode's reports, the task dump, the
 * overflow message). Debug mode and cora write with write(2), and so do the scenarios'
 * markers, so the order in the pipe is the order in time. */
#ifndef CORA_TESTS_CAPTURE_H
#define CORA_TESTS_CAPTURE_H

#include "harness.h"

#include <sys/wait.h>

/* Forks; the child points stderr at a pipe, runs body(arg) and exits with what it
 * returns. Returns the child's wait status, with its stderr in out (NUL-terminated).
 * CORA_TEST_SHOW=1 echoes that text. */
static inline int capture_child(int (*body)(void *), void *arg, char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        _exit(body(arg));
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (getenv("CORA_TEST_SHOW")) fprintf(stderr, "--- child's stderr:\n%s---\n", out);
    return status;
}

/* Asserts that the needles appear in `text` in this order; NULL ends the list. */
static inline void assert_in_order(const char *text, const char *const *needles)
{
    const char *at = text;
    for (; *needles; needles++) {
        const char *f = strstr(at, *needles);
        if (!f) fprintf(stderr, "missing, in order: \"%s\" in:\n%s\n", *needles, text);
        assert_non_null(f);
        at = f + strlen(*needles);
    }
}

#endif
