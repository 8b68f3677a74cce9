/* tests/harness_pure.h: the harness for tests of pure code (parsers, encoders).
 *
 * Such code touches no loop and no backend, so each case is registered once (CTest
 * name <binary>/<case>, see cora_add_pure_test_binary) instead of once per backend,
 * and there is no liveness check to run: LeakSanitizer still checks the heap at exit.
 * Like harness.h, each case runs in its own process, and a filter that matches no
 * case fails instead of passing vacuously.
 */
#ifndef CORA_TEST_HARNESS_PURE_H
#define CORA_TEST_HARNESS_PURE_H

/* cmocka needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define CORA_PURE_TEST(name) cmocka_unit_test(name)

static inline int harness_pure_main(int argc, char **argv, const struct CMUnitTest *tests, size_t n,
                                    const char *group)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc > 1) {
        size_t i = 0;
        while (i < n && strcmp(tests[i].name, argv[1]) != 0)
            i++;
        if (i == n) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

#define CORA_PURE_TEST_MAIN(group, tests)                                                          \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return harness_pure_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), group);      \
    }

#endif
