/* fuzz/fuzz_common.h: what the HTTP parser fuzz targets share.
 *
 * Each target feeds its input whole, one byte at a time and split in two at a few
 * places, with the default limits and with tight ones, and aborts when the outcomes
 * differ or when the parser breaks its contract (tests/http_driver.c checks every
 * span and count it hands out). Inputs sit right before a PROT_NONE page, so an
 * over-read faults even in a build without AddressSanitizer (the corpus replay).
 */
#ifndef CORA_FUZZ_COMMON_H
#define CORA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "../tests/http_driver.h"

/* A guarded buffer with room for n bytes. */
guard *fuzz_guard(size_t n);

/* Prints what differs and aborts, so that libFuzzer records the input. */
void fuzz_fail(const char *what, const char *detail);

/* Drives data[0..size) as a stream of requests or responses. */
void fuzz_stream(int kind, const uint8_t *data, size_t size);

#endif
