/* tests/test_process.c: subprocesses (exit codes, pipes both ways, stderr, env, cwd,
 * kill, communicate with limits and deadlines, no zombie after cancellation) and
 * waiting for signals. Runs once per backend (see harness.h). */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>

static cora_process *spawn(const char *const argv[], const cora_process_opts *o)
{
    cora_process *p;
    int r = cora_process_spawn(&p, argv, o);
    if (r < 0) fprintf(stderr, "spawn %s: %s\n", argv[0], cora_err_name(r));
    assert_int_equal(r, 0);
    return p;
}

static int run_code(const char *const argv[])
{
    cora_process *p = spawn(argv, NULL);
    int rc = 99;
    assert_int_equal(cora_process_wait(p, &rc), 0);
    cora_process_free(p);
    return rc;
}

/* No child of ours may be left, reaped or not. */
static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void *main_codes(void *arg)
{
    assert_int_equal(run_code((const char *[]){"true", NULL}), 0);
    assert_int_equal(run_code((const char *[]){"false", NULL}), 1);
    assert_int_equal(run_code((const char *[]){"sh", "-c", "exit 7", NULL}), 7);
    cora_process *p = spawn((const char *[]){"sleep", "10", NULL}, NULL);
    assert_true(cora_process_pid(p) > 0);
    assert_int_equal(cora_process_kill(p, SIGTERM), 0);
    int rc;
    assert_int_equal(cora_process_wait(p, &rc), 0);
    assert_int_equal(rc, -SIGTERM);
    assert_int_equal(cora_process_kill(p, SIGTERM), -ESRCH); /* reaped */
    cora_process_free(p);
    cora_process *q;
    assert_int_equal(cora_process_spawn(&q, (const char *[]){"/no/such/program", NULL}, NULL),
                     -ENOENT);
    assert_int_equal(cora_process_spawn(&q, (const char *[]){NULL}, NULL), -EINVAL);
    assert_no_children();
    return NULL;
}

static void exit_codes_and_kill(void **state)
{
    run_ok(main_codes, NULL);
}

static void *main_pipes(void *arg)
{
    /* A megabyte through cat both ways: communicate must read while it writes. */
    size_t n = 1 << 20;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (char)('a' + i % 26);
    cora_process_opts o = {.stdin_mode = CORA_PIPE, .stdout_mode = CORA_PIPE};
    cora_process *p = spawn((const char *[]){"cat", NULL}, &o);
    cora_output out = {0};
    int rc = -1;
    assert_int_equal(cora_process_communicate(p, in, n, &out, NULL, 0, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    free(out.data);
    free(in);
    cora_process_free(p);

    /* stderr apart, then merged into stdout. */
    o = (cora_process_opts){.stdout_mode = CORA_PIPE, .stderr_mode = CORA_PIPE};
    p = spawn((const char *[]){"sh", "-c", "echo out; echo err >&2; exit 3", NULL}, &o);
    cora_output err = {0};
    assert_int_equal(cora_process_communicate(p, NULL, 0, &out, &err, 0, &rc), 0);
    assert_int_equal(rc, 3);
    assert_string_equal(out.data, "out\n");
    assert_string_equal(err.data, "err\n");
    free(out.data);
    free(err.data);
    cora_process_free(p);
    o = (cora_process_opts){.stdout_mode = CORA_PIPE, .stderr_mode = CORA_STDOUT};
    p = spawn((const char *[]){"sh", "-c", "echo out; echo err >&2", NULL}, &o);
    assert_int_equal(cora_process_communicate(p, NULL, 0, &out, NULL, 0, &rc), 0);
    assert_string_equal(out.data, "out\nerr\n");
    free(out.data);
    cora_process_free(p);

    /* Environment and working directory; /dev/null for stdin. */
    o = (cora_process_opts){.env = (const char *[]){"FOO=bar", "PATH=/usr/bin:/bin", NULL},
                            .cwd = "/tmp", .stdin_mode = CORA_DEVNULL,
                            .stdout_mode = CORA_PIPE};
    p = spawn((const char *[]){"sh", "-c", "echo $FOO; pwd; cat", NULL}, &o);
    assert_int_equal(cora_process_communicate(p, NULL, 0, &out, NULL, 0, &rc), 0);
    assert_string_equal(out.data, "bar\n/tmp\n");
    free(out.data);
    cora_process_free(p);
    assert_int_equal(cora_process_spawn(&p, (const char *[]){"true", NULL},
                                        &(cora_process_opts){.stdin_mode = CORA_STDOUT}),
                     -EINVAL);
    assert_no_children();
    return NULL;
}

static void pipes_env_cwd(void **state)
{
    run_ok(main_pipes, NULL);
}

static void *wait_child(void *arg)
{
    int r = cora_process_wait(arg, NULL);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_no_zombie(void *arg)
{
    /* The waiting task is cancelled: the child is still ours, and free reaps it. */
    cora_process *p = spawn((const char *[]){"sleep", "10", NULL}, NULL);
    cora_task *t = cora_spawn(wait_child, p);
    assert_int_equal(cora_sleep(0.005), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    cora_process_free(p);
    assert_no_children();

    /* communicate under a deadline: the child is killed and reaped. */
    cora_process_opts o = {.stdout_mode = CORA_PIPE};
    p = spawn((const char *[]){"sleep", "10", NULL}, &o);
    cora_scope s;
    cora_fail_after(&s, 0.02);
    cora_output out = {(char *)1, 1};
    assert_int_equal(cora_process_communicate(p, NULL, 0, &out, NULL, 0, NULL), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_ptr_equal(out.data, (char *)1); /* nothing handed out */
    int rc;
    assert_int_equal(cora_process_wait(p, &rc), 0); /* already reaped */
    assert_int_equal(rc, -SIGKILL);
    cora_process_free(p);

    /* A child that says more than max. */
    p = spawn((const char *[]){"head", "-c", "100000", "/dev/zero", NULL}, &o);
    assert_int_equal(cora_process_communicate(p, NULL, 0, &out, NULL, 1000, NULL), -EFBIG);
    cora_process_free(p);
    assert_no_children();
    return NULL;
}

static void no_zombie_after_cancel(void **state)
{
    run_ok(main_no_zombie, NULL);
}

/* ---- signals -------------------------------------------------------------------- */

static void *raise_later(void *arg)
{
    cora_sleep(0.002);
    raise((int)(intptr_t)arg);
    return NULL;
}

static void *main_signals(void *arg)
{
    cora_task *t = cora_spawn(raise_later, (void *)(intptr_t)SIGUSR1);
    int sigs[] = {SIGUSR2, SIGUSR1};
    assert_int_equal(cora_signal_wait(sigs, 2), SIGUSR1);
    assert_int_equal(cora_await(t, NULL), 0);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    assert_false(sigismember(&cur, SIGUSR1)); /* the mask is given back */
    cora_scope s;
    cora_fail_after(&s, 0.003);
    assert_int_equal(cora_signal_wait(sigs, 2), -ETIMEDOUT);
    cora_scope_exit(&s);
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    assert_false(sigismember(&cur, SIGUSR2));
    assert_int_equal(cora_signal_wait(sigs, 0), -EINVAL);
    return NULL;
}

static void wait_for_signal(void **state)
{
    run_ok(main_signals, NULL);
    assert_int_equal(cora_signal_wait((int[]){SIGUSR1}, 1), -EPERM);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(exit_codes_and_kill),
    CORA_TEST(pipes_env_cwd),
    CORA_TEST(no_zombie_after_cancel),
    CORA_TEST(wait_for_signal),
};

CORA_TEST_MAIN("process", tests)
