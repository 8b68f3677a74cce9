/* tools/cora/tool.h: the subcommands of the `cora` command. Built on the public API
 * only (cora.h), like any program using the library. */
#ifndef CORA_TOOL_H
#define CORA_TOOL_H

#include <cora.h>

/* Each runs inside cora_run's main task and returns the process exit status. */
int cora_tool_fetch(int argc, char **argv);
int cora_tool_serve(int argc, char **argv);
int cora_tool_ws(int argc, char **argv);

/* The demo server's routes (serve.c), shared with `cora fetch`'s built-in demo: adds
 * /hello, /echo, /delay and /health to srv. */
int cora_tool_add_routes(cora_http_server *srv);

/* The WebSocket routes of `cora serve` (chat.c): /ws (echo), /chat and /chat/ws. */
int cora_tool_add_ws_routes(cora_http_server *srv);
/* Closes the chat room's members with 1001 (graceful shutdown). */
void cora_tool_close_ws(void);

/* Parses a number of seconds for an option: finite, > 0 (or >= 0 with allow_zero, and
 * at most a day, so a deadline made from it cannot overflow). Returns 0 with *out set,
 * or prints "cora CMD: OPTION wants ..." and returns -1. */
int cora_tool_seconds(const char *cmd, const char *option, const char *arg, int allow_zero,
                      double *out);

/* Seconds since an earlier cora_now_ns() reading. */
double cora_tool_since(int64_t t0);

#endif
