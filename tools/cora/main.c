/* tools/cora/main.c: the `cora` command: `cora fetch`, `cora serve` and `cora ws`. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cora_tool_seconds(const char *cmd, const char *option, const char *arg, int allow_zero,
                      double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v) || v < 0 || (v == 0 && !allow_zero) || v > 86400) {
        fprintf(stderr, "cora %s: %s wants seconds, %s to 86400, not '%s'\n", cmd, option,
                allow_zero ? "0" : "more than 0", arg);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct args {
    int argc;
    char **argv;
    int (*fn)(int, char **);
} args;

static void *run_command(void *arg)
{
    args *a = arg;
    return (void *)(intptr_t)a->fn(a->argc, a->argv);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cora fetch [-c N] [-o DIR] [--timeout S] [--sequential] [URL...]\n"
               "       cora serve [--host H] [--port P] [--root DIR]\n"
               "       cora ws [--deflate] [--subprotocol P] URL\n"
               "Run `cora fetch` with no URL for the seed's demo.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    args a = {argc - 1, argv + 1, NULL};
    if (strcmp(argv[1], "fetch") == 0)
        a.fn = cora_tool_fetch;
    else if (strcmp(argv[1], "serve") == 0)
        a.fn = cora_tool_serve;
    else if (strcmp(argv[1], "ws") == 0)
        a.fn = cora_tool_ws;
    else if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    } else {
        fprintf(stderr, "cora: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    void *status = NULL;
    int r = cora_run(run_command, &a, &status);
    if (r < 0) {
        fprintf(stderr, "cora: %s\n", cora_strerror(r));
        return r == -ECANCELED ? 130 : 1;
    }
    return (int)(intptr_t)status;
}
