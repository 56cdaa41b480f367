/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/copy_nt.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>

/*
 * Below this a copy touches a line or three: the fence-free memcpy is as
 * good, and the partial lines at both ends would be most of it anyway.
 */
#define COPY_NT_MIN 256u

void copy_nt(void *dst, const void *src, size_t n)
{
    char *d = dst;
    const char *s = src;

    if (n < COPY_NT_MIN) {
        memcpy(d, s, n);
        return;
    }
    /* Streaming stores need 16-byte aligned destinations; sources may be anywhere. */
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;

    memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    /* Four stores per turn fill a whole line in the write-combining buffer. */
    for (; n >= 64; d += 64, s += 64, n -= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));

        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    for (; n >= 16; d += 16, s += 16, n -= 16)
        _mm_stream_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
    memcpy(d, s, n);
}

void copy_nt_fence(void)
{
    _mm_sfence();
}

#else

void copy_nt(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

void copy_nt_fence(void)
{
}

#endif
