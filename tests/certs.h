/* tests/certs.h: a throwaway CA and a server certificate for "localhost" and
 * 127.0.0.1, made at run time with the openssl command, for the TLS tests. */
#ifndef CORA_TEST_CERTS_H
#define CORA_TEST_CERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct test_certs {
    char dir[64], ca[96], crt[96], key[96];
} test_certs;

/* Makes the files under /tmp; returns 0 when openssl succeeded. */
static inline int test_certs_make(test_certs *c, const char *tag)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/cora-%s-%d", tag, (int)getpid());
    snprintf(c->ca, sizeof c->ca, "%s/ca.crt", c->dir);
    snprintf(c->crt, sizeof c->crt, "%s/srv.crt", c->dir);
    snprintf(c->key, sizeof c->key, "%s/srv.key", c->dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s; cd %s; "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "  -keyout ca.key -out ca.crt -days 1 -subj /CN=cora-test-ca 2>/dev/null; "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "  -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null; "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext; "
             "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "  -out srv.crt -days 1 -extfile ext 2>/dev/null",
             c->dir, c->dir);
    return system(cmd);
}

static inline int test_certs_remove(const test_certs *c)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
    return system(cmd);
}

#endif
