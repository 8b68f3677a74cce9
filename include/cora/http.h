/* cora/http.h: an HTTP/1.1 server and client (aiohttp's roles).
 *
 * Server: one task per connection; handlers are ordinary functions that may suspend
 * (read the body, sleep, call other services) without holding up other clients.
 * Keep-alive and pipelining (answers go out in order), bodies by length or chunked,
 * Expect: 100-continue, streamed (chunked) answers, HEAD, a router with path
 * parameters, static files (sendfile, Range, ETag, Last-Modified), timeouts that cut
 * off slow clients, a connection limit and graceful shutdown.
 *
 * Client: cora_http_get / cora_http_request, with a pool of keep-alive connections
 * per host, redirects, gzip and deflate bodies, https, deadlines, and a limit on how
 * many requests run at once.
 *
 * Errors are negative errno values as everywhere in cora. An HTTP status is not an
 * error: a 404 is a successful request whose response.status is 404.
 */
#ifndef CORA_HTTP_H
#define CORA_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cora_tls cora_tls;

/* A header field. Strings are not NUL-terminated unless an accessor says so. */
typedef struct cora_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} cora_http_header;

/* The standard reason phrase of a status ("Not Found"), or "" when unknown. */
const char *cora_http_reason(int status);

/* ================================ server ======================================== */

typedef struct cora_http_server cora_http_server;
typedef struct cora_http_req cora_http_req;

/* Answers one request. Runs in its connection's task and may suspend. Return 0 once
 * the request is answered; a negative errno closes the connection (with a 500 first
 * when nothing was sent yet). Returning 0 without answering also sends a 500: a
 * silent handler is a bug worth seeing.
 * If the client closes or resets the connection while the handler runs, the handler
 * is cancelled (its suspension points return -ECANCELED; noticed within about 0.1 s
 * for handlers running longer than that) and the connection closes unanswered; the
 * access log shows 499. */
typedef int (*cora_http_handler)(cora_http_req *req, void *arg);

typedef struct cora_http_server_opts {
    size_t max_connections; /* 0: 10000; further clients wait in the listen backlog */
    double header_timeout;  /* 0: 10 s for a whole request head (slowloris) */
    double body_timeout;    /* 0: 30 s for each read of a request body */
    double idle_timeout;    /* 0: 15 s for a keep-alive connection between requests */
    double write_timeout;   /* 0: 30 s for each write of an answer */
    size_t max_line;        /* 0: 8 KiB request line, else 414 */
    size_t max_head;        /* 0: 16 KiB request head, else 431 */
    size_t max_headers;     /* 0: 100 header fields, else 431 */
    uint64_t max_body;      /* 0: 8 MiB request body, else 413 */
    FILE *access_log;       /* a line per request (common log format + seconds) */
    cora_tls *tls;          /* https: a cora_tls_server configuration, or NULL */
} cora_http_server_opts;

/* Makes a server (not yet listening). Returns 0, -EINVAL or -ENOMEM. */
int cora_http_server_new(cora_http_server **out, const cora_http_server_opts *opts);

/* Routes `method` (NULL: any method) and `pattern` to fn. Patterns are paths whose
 * segments are literal, ":name" (one segment, read with cora_http_req_param) or a
 * final "*name" (the rest of the path). The first route added that matches wins; a
 * path that matches only with another method gets 405. GET routes also answer HEAD.
 * Returns 0, -EINVAL (bad pattern) or -ENOMEM. */
int cora_http_server_route(cora_http_server *srv, const char *method, const char *pattern,
                           cora_http_handler fn, void *arg);

/* Serves GET and HEAD for paths under `prefix` ("/" for all) as files under `root`,
 * after the routes: sendfile, Range, ETag / If-None-Match, Last-Modified /
 * If-Modified-Since, a content type from the extension, index.html for directories.
 * Paths that leave root ("..") are refused. Returns 0, -EINVAL, -ENOENT or -ENOMEM. */
int cora_http_server_static(cora_http_server *srv, const char *prefix, const char *root);

/* Binds and listens. Returns the port (useful with port 0), or a negative errno. */
int cora_http_server_listen(cora_http_server *srv, const char *host, int port);

/* Accepts and serves connections in the current task until cora_http_server_shutdown,
 * then returns 0 once every connection is closed. Cancelling the task closes every
 * connection at once and returns -ECANCELED. */
int cora_http_server_serve(cora_http_server *srv);

/* Graceful shutdown, from any task of the server's loop; never suspends. Stops
 * accepting, lets requests in flight finish (connections close after their current
 * answer) for up to `grace` seconds, then cancels what is left. */
void cora_http_server_shutdown(cora_http_server *srv, double grace);

/* Frees a server that is not serving (serve has returned, or was never called). */
void cora_http_server_free(cora_http_server *srv);

/* ---- the request a handler gets ------------------------------------------------- */

/* Strings returned here are NUL-terminated and live until the handler returns. */
const char *cora_http_req_method(const cora_http_req *req);
const char *cora_http_req_target(const cora_http_req *req); /* as sent: "/a%20b?x=1" */
const char *cora_http_req_path(const cora_http_req *req);   /* decoded: "/a b" */
const char *cora_http_req_query(const cora_http_req *req);  /* "x=1", or "" */
int cora_http_req_version(const cora_http_req *req);        /* 10 or 11 */
/* The first header field so named (case-insensitive), or NULL. */
const char *cora_http_req_header(const cora_http_req *req, const char *name);
/* All header fields in order; returns their count. */
size_t cora_http_req_headers(const cora_http_req *req, const cora_http_header **fields);
/* A route parameter (":id" is "id"), or NULL. */
const char *cora_http_req_param(const cora_http_req *req, const char *name);
/* The first query parameter so named, percent-decoded into buf (NUL-terminated).
 * Returns its length, -ENOENT when absent, -ENOSPC when buf is too small. */
ssize_t cora_http_req_query_param(const cora_http_req *req, const char *name, char *buf,
                                  size_t cap);
/* The peer's address as text ("127.0.0.1"). */
const char *cora_http_req_peer(const cora_http_req *req);

/* Reads up to len bytes of the request body (de-chunked). Returns the count, 0 at the
 * end of the body, or an error: -EMSGSIZE past max_body (the answer will be 413),
 * -ETIMEDOUT, -EPROTO (a malformed chunk), -ECONNRESET... The first read answers
 * "Expect: 100-continue" with 100 Continue; a handler that answers without reading
 * never makes the client send the body. */
ssize_t cora_http_req_read(cora_http_req *req, void *buf, size_t len);

/* Reads the whole body (at most max_body) into memory owned by the request. Returns
 * its length with *data set (NUL-terminated), or an error as cora_http_req_read. */
ssize_t cora_http_req_body(cora_http_req *req, const char **data);

/* ---- answering ------------------------------------------------------------------ */

/* Adds a header field to the answer (copied). Content-Length, Transfer-Encoding,
 * Date and Connection are the server's to set: -EINVAL. Before the answer starts. */
int cora_http_set_header(cora_http_req *req, const char *name, const char *value);

/* A whole answer in one call. content_type may be NULL (no Content-Type). HEAD gets
 * the same head and no body. Returns 0 or a write error. */
int cora_http_respond(cora_http_req *req, int status, const char *content_type, const void *body,
                      size_t len);

/* A streamed answer: the head now, the body in pieces. length >= 0 announces a
 * Content-Length (the writes must add up to it); -1 streams with chunked coding
 * (HTTP/1.1) or until close (HTTP/1.0). Returns 0 or an error. */
int cora_http_begin(cora_http_req *req, int status, const char *content_type, int64_t length);
ssize_t cora_http_write(cora_http_req *req, const void *buf, size_t len);
/* Ends a streamed answer (the last chunk). Returns 0 or an error. */
int cora_http_end(cora_http_req *req);

/* Answers with a file as the static handler does (200, 206, 304, 404, 416...). */
int cora_http_send_file(cora_http_req *req, const char *path);

/* ================================ client ======================================== */

typedef struct cora_http_client cora_http_client;

typedef struct cora_http_client_opts {
    size_t max_idle_per_host; /* kept-alive connections per host; 0: 8 */
    size_t max_concurrent;    /* requests in flight at once (others wait); 0: 256 */
    double connect_timeout;   /* 0: 10 s, DNS included */
    double header_timeout;    /* 0: 30 s from sending to the end of the response head */
    double total_timeout;     /* 0: none; the whole request, body and redirects too */
    int max_redirects;        /* 0: 10; -1: do not follow */
    uint64_t max_body;        /* 0: 256 MiB held in memory (a sink has no limit) */
    int raw;                  /* 1: do not decode gzip/deflate bodies */
    cora_tls *tls;            /* https configuration; NULL: system CAs, verified */
    const char *user_agent;   /* NULL: "cora/VERSION" */
} cora_http_client_opts;

/* Makes a client. Returns 0, -EINVAL or -ENOMEM. Free it with cora_http_client_free
 * once no request is using it. */
int cora_http_client_new(cora_http_client **out, const cora_http_client_opts *opts);
void cora_http_client_free(cora_http_client *c);

typedef struct cora_http_request_opts {
    const char *method;              /* NULL: GET (POST when body is set) */
    const char *url;                 /* http:// or https:// */
    const cora_http_header *headers; /* extra fields, copied onto the wire */
    size_t nheaders;
    const void *body;
    size_t body_len;
    /* When set, the body goes to sink as it arrives instead of into memory; a
     * negative return stops the transfer with that error. */
    int (*sink)(void *arg, const void *data, size_t len);
    void *sink_arg;
} cora_http_request_opts;

typedef struct cora_http_response {
    int status;                /* 200, 404... */
    int version;               /* 10 or 11 */
    cora_http_header *headers; /* owned by the response */
    size_t nheaders;
    char *body;      /* NUL-terminated, owned; NULL with a sink */
    size_t body_len; /* decoded length (also counted with a sink) */
    char *url;       /* the URL that answered, after redirects */
    int redirects;   /* how many were followed */
} cora_http_response;

/* Sends a request and reads the whole response. Returns 0 (whatever the status) with
 * *resp filled, or an error with *resp empty: -EINVAL (bad URL or scheme), -ENOENT
 * (unknown host), -ECONNREFUSED, -ETIMEDOUT, -EPROTO (a malformed response),
 * -EMSGSIZE (body over max_body), -ELOOP (too many redirects), -EKEYREJECTED (TLS
 * verification), -ECANCELED... c may be NULL: a one-off client for this request. */
int cora_http_request(cora_http_client *c, const cora_http_request_opts *req,
                      cora_http_response *resp);

/* GET url. Same as cora_http_request with only the URL set. */
int cora_http_get(cora_http_client *c, const char *url, cora_http_response *resp);

/* The first response header so named (case-insensitive) as a NUL-terminated string,
 * or NULL. */
const char *cora_http_response_header(const cora_http_response *resp, const char *name);

/* Frees what a response owns and empties it. Safe on an empty response. */
void cora_http_response_free(cora_http_response *resp);

#ifdef __cplusplus
}
#endif
#endif
