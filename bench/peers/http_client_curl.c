/* bench/peers/http_client_curl.c: the libcurl peer of bench/http_client.c in the HTTP
 * client benchmark: the multi interface making N GET requests over C keep-alive
 * connections to one server.
 *
 * C easy handles, each set up once (URL, a write callback that counts and drops the
 * body, HTTP/1.1) and reused: when one finishes, its status is checked and, while
 * requests remain, it is removed and added again, which takes a kept-alive connection
 * from the multi handle's cache. CURLMOPT_MAX_HOST_CONNECTIONS = C and
 * CURLMOPT_MAXCONNECTS = C keep exactly C connections open. The loop is
 * curl_multi_perform + curl_multi_poll, libcurl's own event loop (no libuv or libev
 * behind it).
 *
 * One warm-up round of C x 10 requests opens the connections; then `rounds` rounds of
 * N requests each are timed. Printed: the best round's requests per second, the
 * median round's, and the client's CPU time (user + system) per request over the
 * timed rounds. A transfer that fails or answers other than 200 is counted as an
 * error and makes the program exit 1.
 *
 *     http_client_curl URL [requests [conns [rounds]]]
 */
#include <curl/curl.h>
#include <stdbool.h>

#include "../bench.h"

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    *(size_t *)arg += size * n;
    return size * n;
}

static size_t body_bytes;

/* Makes n requests over the multi handle's easy handles; returns the errors. */
static long round_of(CURLM *m, CURL **easy, int conns, long n)
{
    long started = 0, done = 0, errors = 0;
    for (int i = 0; i < conns && started < n; i++, started++)
        curl_multi_add_handle(m, easy[i]);
    while (done < n) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            fprintf(stderr, "curl_multi_perform: %s\n", curl_multi_strerror(mc));
            return n;
        }
        CURLMsg *msg;
        int left;
        bool any = false;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            any = true;
            CURL *e = msg->easy_handle;
            long status = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status != 200) {
                if (errors++ < 5)
                    fprintf(stderr, "request: %s, status %ld\n",
                            curl_easy_strerror(msg->data.result), status);
            }
            done++;
            curl_multi_remove_handle(m, e);
            if (started < n) {
                started++;
                curl_multi_add_handle(m, e);
            }
        }
        /* A handle added again starts on the next perform; poll only when nothing
         * finished, as a loop over perform + poll does. */
        if (!any && done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    return errors;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_client_curl URL [requests [conns [rounds]]]\n");
        return 2;
    }
    const char *url = argv[1];
    long n = bench_arg(argc, argv, 2, 10000);
    int conns = (int)bench_arg(argc, argv, 3, 64);
    int rounds = (int)bench_arg(argc, argv, 4, 5);
    if (n < 1 || conns < 1 || rounds < 1 || rounds > 100) return 2;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conns);
    CURL **easy = calloc((size_t)conns, sizeof *easy);
    for (int i = 0; i < conns; i++) {
        CURL *e = easy[i] = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body_bytes);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    }

    long errors = round_of(m, easy, conns, (long)conns * 10);
    if (errors) {
        fprintf(stderr, "warm-up: %ld errors\n", errors);
        return 1;
    }
    double rates[100];
    int64_t cpu0 = bench_cpu_ns();
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = bench_now_ns();
        errors += round_of(m, easy, conns, n);
        rates[r] = (double)n * 1e9 / (double)(bench_now_ns() - t0);
    }
    double cpu_us = (double)(bench_cpu_ns() - cpu0) / 1e3 / ((double)n * rounds);
    qsort(rates, (size_t)rounds, sizeof rates[0], cmp_double);
    double best = rates[rounds - 1], median = rates[rounds / 2];
    printf("libcurl %s multi: %d x %ld GET over %d conns: best %.0f req/s, median %.0f, "
           "%.2f us CPU/req, %ld errors\n",
           curl_version_info(CURLVERSION_NOW)->version, rounds, n, conns, best, median, cpu_us,
           errors);
    bench_result("curl_http_client_rate", best, "req/s");
    bench_result("curl_http_client_median", median, "req/s");
    bench_result("curl_http_client_cpu", cpu_us, "us");

    for (int i = 0; i < conns; i++)
        curl_easy_cleanup(easy[i]);
    free(easy);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
