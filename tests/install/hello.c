/* A program built against an installed cora, through pkg-config or find_package. */
#include <cora.h>
#include <stdio.h>

static void *hello(void *arg)
{
    cora_sleep(0.001);
    printf("hello from a task on %s\n", cora_loop_backend(cora_loop_current()));
    return NULL;
}

int main(void)
{
    return cora_run(hello, NULL, NULL) == 0 ? 0 : 1;
}
