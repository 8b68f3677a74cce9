/* fuzz/fuzz_request.c: a stream of pipelined requests through the head parser and
 * the body framing (see fuzz_common.h for what is checked). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(HTTP_REQUEST, data, size);
    return 0;
}
