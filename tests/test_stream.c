/* tests/test_stream.c: buffered streams: lines and records across chunked input,
 * limits, exact reads at the end, back-pressure, cancel-safety of writes, sendfile,
 * half-close. Runs once per backend (see harness.h). */
#include "harness.h"

#include <fcntl.h>

struct feeder {
    int fd;
    const char *data;
    size_t len, chunk;
    int close_after;
};

/* Writes data to fd a chunk at a time, yielding between chunks. */
static void *feed(void *arg)
{
    struct feeder *f = arg;
    for (size_t i = 0; i < f->len; i += f->chunk) {
        size_t n = f->len - i < f->chunk ? f->len - i : f->chunk;
        if (cora_send_all(f->fd, f->data + i, n, NULL) < 0) break;
        cora_yield();
    }
    if (f->close_after) cora_shutdown(f->fd, SHUT_WR);
    return NULL;
}

static void *main_records(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.read_limit = 64}), 0);
    static const char text[] = "first line\nsecond\r\n\nrec|ab--cd|tail";
    struct feeder f = {sp[1], text, sizeof text - 1, 1, 1}; /* one byte at a time */
    cora_task *t = cora_spawn(feed, &f);
    const char *p;
    assert_int_equal(cora_stream_readline(s, &p), 11);
    assert_memory_equal(p, "first line\n", 11);
    assert_int_equal(cora_stream_readline(s, &p), 8);
    assert_memory_equal(p, "second\r\n", 8);
    assert_int_equal(cora_stream_readline(s, &p), 1);
    assert_int_equal(cora_stream_read_until(s, "|", 1, &p), 4);
    assert_memory_equal(p, "rec|", 4);
    assert_int_equal(cora_stream_read_until(s, "--", 2, &p), 4); /* arrives split */
    assert_memory_equal(p, "ab--", 4);
    assert_int_equal(cora_stream_read_until(s, "\n", 1, &p), -ENODATA); /* no newline */
    char rest[16];
    assert_int_equal(cora_stream_read(s, rest, sizeof rest), 7); /* nothing was lost */
    assert_memory_equal(rest, "cd|tail", 7);
    assert_int_equal(cora_stream_read(s, rest, sizeof rest), 0);
    assert_int_equal(cora_stream_readline(s, &p), 0);
    assert_int_equal(cora_await(t, NULL), 0);
    assert_int_equal(cora_stream_close(s), 0);
    close(sp[1]);
    return NULL;
}

static void lines_and_records_across_chunks(void **state)
{
    run_ok(main_records, NULL);
}

static void *main_limits(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.read_limit = 32}), 0);
    char junk[40];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(cora_send(sp[1], junk, sizeof junk, 0), (ssize_t)sizeof junk);
    const char *p;
    assert_int_equal(cora_stream_readline(s, &p), -EMSGSIZE); /* 32 bytes, no newline */
    char buf[64];
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 32); /* still readable */
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 8);
    assert_int_equal(cora_stream_peek(s, 33, &p), -EMSGSIZE);
    assert_int_equal(cora_stream_read_exactly(s, buf, 33, NULL), -EMSGSIZE);
    /* peek does not consume; read_exactly at the end reports what it had. */
    assert_int_equal(cora_send(sp[1], "abcde", 5, 0), 5);
    assert_int_equal(cora_stream_peek(s, 3, &p), 5);
    assert_memory_equal(p, "abc", 3);
    size_t got;
    assert_int_equal(cora_stream_read_exactly(s, buf, 3, &got), 3);
    assert_memory_equal(buf, "abc", 3);
    cora_shutdown(sp[1], SHUT_WR);
    assert_int_equal(cora_stream_read_exactly(s, buf, 4, &got), -ENODATA);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "de", 2);
    assert_int_equal(cora_stream_read(s, buf, 4), 2); /* left in the stream */
    cora_stream_close(s);
    close(sp[1]);
    cora_stream *bad;
    assert_int_equal(cora_stream_new(&bad, -1, NULL), -EINVAL);
    return NULL;
}

static void limits_and_exact_reads(void **state)
{
    run_ok(main_limits, NULL);
}

/* ---- writing -------------------------------------------------------------------- */

enum { BIG = 4 << 20 };

static void *slow_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static unsigned char buf[8192];
    size_t total = 0;
    ssize_t n;
    while ((n = cora_recv(fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)((total + (size_t)i) * 31)) return cora_fail(-EBADMSG);
        total += (size_t)n;
        if (total % (256 * 1024) < sizeof buf) cora_sleep(0.001);
    }
    return (void *)total;
}

static void *main_backpressure(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.write_limit = 4096}), 0);
    cora_task *r = cora_spawn(slow_reader, (void *)(intptr_t)sp[1]);
    unsigned char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) data[i] = (unsigned char)(i * 31);
    /* Many small writes: the 4 KiB buffer bounds memory, the writer waits. */
    for (size_t i = 0; i < BIG; i += 1000) {
        size_t n = BIG - i < 1000 ? BIG - i : 1000;
        assert_int_equal(cora_stream_write(s, data + i, n), (ssize_t)n);
        assert_true(cora_stream_pending(s) <= 4096);
    }
    assert_int_equal(cora_stream_write_eof(s), 0);
    void *total;
    assert_int_equal(cora_await(r, &total), 0);
    assert_int_equal((size_t)total, BIG);
    free(data);
    assert_int_equal(cora_stream_close(s), 0);
    close(sp[1]);
    return NULL;
}

static void write_backpressure(void **state)
{
    run_ok(main_backpressure, NULL);
}

struct writer {
    cora_stream *s;
    ssize_t accepted;
};

static void *write_lots(void *arg)
{
    struct writer *w = arg;
    static char data[1 << 20];
    w->accepted = cora_stream_write(w->s, data, sizeof data);
    return NULL;
}

static void *main_write_cancel(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.write_limit = 8192}), 0);
    struct writer w = {s, -1};
    cora_task *t = cora_spawn(write_lots, &w);
    assert_int_equal(cora_sleep(0.005), 0); /* blocked: nobody reads sp[1] */
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_true(w.accepted > 0 && w.accepted < (1 << 20)); /* cut short, and told */
    /* Accepted bytes are sent or still pending, never both: what the peer gets plus
     * what close drops is exactly what write accepted. */
    ssize_t pending = (ssize_t)cora_stream_pending(s);
    ssize_t dropped = cora_stream_close(s);
    assert_int_equal(dropped, pending);
    size_t received = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(sp[1], buf, sizeof buf)) > 0) received += (size_t)n;
    assert_int_equal((ssize_t)received + dropped, w.accepted);
    close(sp[1]);
    return NULL;
}

static void write_cut_short_reports_count(void **state)
{
    run_ok(main_write_cancel, NULL);
}

static void *drain_to(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static char buf[400000];
    size_t total = 0;
    ssize_t n;
    while ((n = cora_recv(fd, buf + total, sizeof buf - total, 0)) > 0) total += (size_t)n;
    return (void *)total;
}

static void *main_sendfile2(void *arg)
{
    char path[] = "/tmp/cora-sendfile-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i % 251);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
    cora_task *r = cora_spawn(drain_to, (void *)(intptr_t)sp[1]);
    assert_int_equal(cora_stream_write(s, "HDR:", 4), 4); /* buffered before the file */
    size_t sent = 0;
    assert_int_equal(cora_stream_sendfile(s, fd, 1000, sizeof data - 1000, &sent),
                     (ssize_t)(sizeof data - 1000));
    assert_int_equal(sent, sizeof data - 1000);
    assert_int_equal(cora_stream_write_eof(s), 0);
    void *total;
    assert_int_equal(cora_await(r, &total), 0);
    assert_int_equal((size_t)total, 4 + sizeof data - 1000);
    cora_stream_close(s);
    close(sp[1]);
    close(fd);
    return NULL;
}

static void sendfile_after_buffered_bytes(void **state)
{
    run_ok(main_sendfile2, NULL);
}

/* ---- the backend's registration of a stream's fd -------------------------------- */
/* On epoll a stream's fd stays registered, edge-triggered, from its first wait until
 * cora_stream_close (src/io/epoll.c). These cases reuse fd numbers between streams and
 * raw fds, mix raw waits into a stream's fd, and keep a closed stream's file alive in
 * a dup: every wait must still end when its data comes. Each read below has to wait
 * (the data is sent 5 ms later), under a 5 s deadline that would catch a lost wake-up. */

struct later {
    int fd;
    char byte;
};

static void *send_later(void *arg)
{
    struct later *l = arg;
    int r = cora_sleep(0.005);
    if (r == 0) r = (int)cora_send_all(l->fd, &l->byte, 1, NULL);
    return r < 0 ? cora_fail(r) : NULL;
}

/* Reads one byte from the stream (or the raw fd if s is NULL) that peer sends later. */
static void read_one_later(cora_stream *s, int fd, int peer, char byte)
{
    struct later l = {peer, byte};
    cora_task *t = cora_spawn(send_later, &l);
    assert_non_null(t);
    cora_scope sc;
    assert_int_equal(cora_scope_enter(&sc, cora_now_ns() + 5 * (int64_t)1000000000, 0), 0);
    char c = 0;
    ssize_t n = s ? cora_stream_read(s, &c, 1) : cora_recv(fd, &c, 1, 0);
    assert_int_equal(cora_scope_exit(&sc), 0);
    assert_int_equal(n, 1);
    assert_int_equal(c, byte);
    assert_int_equal(cora_await(t, NULL), 0);
}

static void *main_fd_reuse(void *arg)
{
    (void)arg;
    int sp[2];
    for (int round = 0; round < 3; round++) {
        /* A stream waits, so its fd is registered; then it closes. */
        assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
        int n = sp[0];
        cora_stream *s;
        assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
        read_one_later(s, -1, sp[1], 'a');
        assert_int_equal(cora_stream_close(s), 0);
        close(sp[1]);
        /* A raw fd under the same number. */
        assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
        assert_int_equal(sp[0], n); /* the lowest free number: what the case is about */
        read_one_later(NULL, sp[0], sp[1], 'b');
        /* Closed with close(), behind cora's back; a stream under the same number. */
        close(sp[0]);
        close(sp[1]);
        assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
        assert_int_equal(sp[0], n);
        assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
        read_one_later(s, -1, sp[1], 'c');
        /* A raw wait on the stream's own fd, then the stream again, twice. */
        for (int i = 0; i < 2; i++) {
            struct later l = {sp[1], 'd'};
            cora_task *t = cora_spawn(send_later, &l);
            assert_int_equal(cora_wait_fd(cora_stream_fd(s), CORA_READABLE), CORA_READABLE);
            assert_int_equal(cora_await(t, NULL), 0);
            char c;
            assert_int_equal(cora_stream_read(s, &c, 1), 1);
            assert_int_equal(c, 'd');
            read_one_later(s, -1, sp[1], 'e');
        }
        assert_int_equal(cora_stream_close(s), 0);
        close(sp[1]);
    }
    return NULL;
}

static void fd_reuse_between_streams_and_raw_fds(void **state)
{
    run_ok(main_fd_reuse, NULL);
}

static void *main_dup_outlives(void *arg)
{
    (void)arg;
    int a[2], b[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, a), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, a[0], NULL), 0);
    int n = a[0];
    read_one_later(s, -1, a[1], 'a');
    int kept = dup(n); /* the file lives on after the stream closes its number */
    assert_true(kept > n);
    assert_int_equal(cora_stream_close(s), 0);
    assert_int_equal(cora_socketpair(SOCK_STREAM, b), 0);
    assert_int_equal(b[0], n);
    assert_int_equal(cora_stream_new(&s, b[0], NULL), 0);
    /* Bytes for the old file (stray edges under number n) while the new stream waits. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cora_send_all(a[1], "zz", 2, NULL), 2);
        read_one_later(s, -1, b[1], (char)('0' + i));
    }
    char buf[8];
    assert_int_equal(read(kept, buf, sizeof buf), 6); /* they went to the old file */
    assert_int_equal(cora_stream_close(s), 0);
    close(kept);
    close(a[1]);
    close(b[1]);
    return NULL;
}

static void dup_outliving_a_stream(void **state)
{
    run_ok(main_dup_outlives, NULL);
}

/* The data and the end arrive together, while the reader waits: the wake-up brings
 * both, the short read takes the data, and the end must still be read though no new
 * event will announce it. (Also with the reader not waiting yet.) */
static void *end_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int r = cora_sleep(0.005);
    if (r < 0) return cora_fail(r);
    if (write(fd, "abc", 3) != 3) return cora_fail(-errno); /* both before any wait */
    shutdown(fd, SHUT_WR);
    return NULL;
}

static void *main_data_then_end(void *arg)
{
    (void)arg;
    for (int waiting = 0; waiting < 2; waiting++) {
        int sp[2];
        assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
        cora_stream *s;
        assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
        cora_task *t = NULL;
        if (waiting) {
            read_one_later(s, -1, sp[1], 'w'); /* registered, as a server's fd is */
            t = cora_spawn(end_later, (void *)(intptr_t)sp[1]);
        } else {
            assert_int_equal(write(sp[1], "abc", 3), 3);
            shutdown(sp[1], SHUT_WR);
        }
        cora_scope sc;
        assert_int_equal(cora_scope_enter(&sc, cora_now_ns() + 5 * (int64_t)1000000000, 0), 0);
        char buf[64];
        assert_int_equal(cora_stream_read(s, buf, sizeof buf), 3);
        assert_int_equal(cora_stream_read(s, buf, sizeof buf), 0);
        assert_int_equal(cora_scope_exit(&sc), 0);
        if (t) assert_int_equal(cora_await(t, NULL), 0);
        assert_int_equal(cora_stream_close(s), 0);
        close(sp[1]);
    }
    return NULL;
}

static void data_and_end_together(void **state)
{
    run_ok(main_data_then_end, NULL);
}

/* ---- bytes received ahead --------------------------------------------------------
 * On io_uring a stream whose reads come back short gets a multishot receive: the
 * kernel fills buffers of a ring as bytes arrive, and they wait in cora until read
 * (src/io/uring.c). These cases read such bytes in small pieces, leave a stream far
 * behind while many others are too (the ring runs dry; the fd stops taking), close a
 * stream with bytes unread and reuse its number, and wait for input on the fd itself.
 * On epoll the same cases hold with the bytes in the socket. */

static unsigned char pat(size_t i, int k)
{
    return (unsigned char)(i * 31 + (i >> 11) + (size_t)k * 7);
}

/* A stream on sp[0], its multishot armed: one short read. */
static cora_stream *armed_stream(int sp[2])
{
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
    assert_int_equal(cora_send_all(sp[1], "x", 1, NULL), 1);
    char c[64];
    assert_int_equal(cora_stream_read(s, c, sizeof c), 1); /* short: the next waits first */
    read_one_later(s, -1, sp[1], 'y');                      /* and arms */
    return s;
}

static void *main_ahead_in_pieces(void *arg)
{
    (void)arg;
    int sp[2];
    cora_stream *s = armed_stream(sp);
    enum { N = 20000 };
    static unsigned char out[N], in[N];
    for (size_t i = 0; i < N; i++)
        out[i] = pat(i, 0);
    assert_int_equal(cora_send_all(sp[1], out, N, NULL), N);
    assert_int_equal(cora_sleep(0.01), 0); /* taken in ahead, on io_uring */
    /* Input is there, wherever it waits. */
    assert_int_equal(cora_wait_fd(sp[0], CORA_READABLE), CORA_READABLE);
    size_t got = 0;
    while (got < N) {
        size_t k = N - got < 100 ? N - got : 100;
        ssize_t n = cora_stream_read(s, in + got, k);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(in, out, N);
    /* Nothing there now: a wait for input ends when a byte comes. */
    struct later l = {sp[1], 'z'};
    cora_task *t = cora_spawn(send_later, &l);
    assert_int_equal(cora_wait_fd(sp[0], CORA_READABLE), CORA_READABLE);
    assert_int_equal(cora_await(t, NULL), 0);
    char c;
    assert_int_equal(cora_stream_read(s, &c, 1), 1);
    assert_int_equal(c, 'z');
    /* The end after bytes: the bytes, then 0. */
    assert_int_equal(cora_send_all(sp[1], "end", 3, NULL), 3);
    shutdown(sp[1], SHUT_WR);
    char buf[16];
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 3);
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 0);
    assert_int_equal(cora_stream_close(s), 0);
    close(sp[1]);
    return NULL;
}

static void received_ahead_read_in_pieces(void **state)
{
    run_ok(main_ahead_in_pieces, NULL);
}

enum { BEHIND = 20, BEHIND_BYTES = 64 * 1024 };

/* Twenty streams are sent 64 KiB each and do not read it (on io_uring, enough to hold
 * every buffer of the ring); meanwhile another stream must still get its bytes. Then
 * the twenty read theirs, in order. */
static void *main_far_behind(void *arg)
{
    (void)arg;
    int sp[BEHIND][2], x[2];
    cora_stream *s[BEHIND];
    static unsigned char buf[BEHIND_BYTES];
    for (int k = 0; k < BEHIND; k++)
        s[k] = armed_stream(sp[k]);
    cora_stream *sx = armed_stream(x); /* every one armed before the bytes come */
    for (int k = 0; k < BEHIND; k++) {
        for (size_t i = 0; i < BEHIND_BYTES; i++)
            buf[i] = pat(i, k);
        assert_int_equal(cora_send_all(sp[k][1], buf, BEHIND_BYTES, NULL), BEHIND_BYTES);
    }
    assert_int_equal(cora_sleep(0.02), 0); /* taken in, on io_uring, as far as it goes */
    for (int i = 0; i < 3; i++) read_one_later(sx, -1, x[1], (char)('a' + i));
    for (int k = 0; k < BEHIND; k++) {
        size_t got = 0;
        ssize_t n;
        shutdown(sp[k][1], SHUT_WR);
        while ((n = cora_stream_read(s[k], buf, 3000)) > 0) {
            for (ssize_t j = 0; j < n; j++)
                if (buf[j] != pat(got + (size_t)j, k)) fail_msg("stream %d: byte %zu differs", k, got + (size_t)j);
            got += (size_t)n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(got, BEHIND_BYTES);
        assert_int_equal(cora_stream_close(s[k]), 0);
        close(sp[k][1]);
    }
    read_one_later(sx, -1, x[1], 'z');
    assert_int_equal(cora_stream_close(sx), 0);
    close(x[1]);
    return NULL;
}

static void readers_far_behind(void **state)
{
    run_ok(main_far_behind, NULL);
}

static void *main_closed_unread(void *arg)
{
    (void)arg;
    for (int round = 0; round < 3; round++) {
        int sp[2];
        cora_stream *s = armed_stream(sp);
        int n = sp[0];
        assert_int_equal(cora_send_all(sp[1], "old bytes", 9, NULL), 9);
        assert_int_equal(cora_sleep(0.005), 0); /* taken in ahead, never read */
        assert_int_equal(cora_stream_close(s), 0);
        close(sp[1]);
        /* A new stream under the same number sees only its own bytes. */
        s = armed_stream(sp);
        assert_int_equal(sp[0], n);
        assert_int_equal(cora_send_all(sp[1], "new", 3, NULL), 3);
        shutdown(sp[1], SHUT_WR);
        char buf[32];
        assert_int_equal(cora_stream_read(s, buf, sizeof buf), 3);
        assert_memory_equal(buf, "new", 3);
        assert_int_equal(cora_stream_read(s, buf, sizeof buf), 0);
        assert_int_equal(cora_stream_close(s), 0);
        close(sp[1]);
    }
    return NULL;
}

static void closed_with_bytes_unread(void **state)
{
    run_ok(main_closed_unread, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(lines_and_records_across_chunks),
    CORA_TEST(limits_and_exact_reads),
    CORA_TEST(write_backpressure),
    CORA_TEST(write_cut_short_reports_count),
    CORA_TEST(sendfile_after_buffered_bytes),
    CORA_TEST(fd_reuse_between_streams_and_raw_fds),
    CORA_TEST(dup_outliving_a_stream),
    CORA_TEST(data_and_end_together),
    CORA_TEST(received_ahead_read_in_pieces),
    CORA_TEST(readers_far_behind),
    CORA_TEST(closed_with_bytes_unread),
};

CORA_TEST_MAIN("stream", tests)
