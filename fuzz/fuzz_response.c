/* fuzz/fuzz_response.c: a stream of responses (with interim 1xx, bodies ending at
 * EOF, answers to HEAD) through the head parser and the body framing. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(HTTP_RESPONSE, data, size);
    return 0;
}
