/* base/utf8: strict UTF-8 validation (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), whole or incremental, and counting
 * characters for the API's length limits. */
#ifndef PL_UTF8_H
#define PL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool pl_utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t pl_utf8_count(const char *s, size_t len);

/* Replaces, in place, every byte that is not part of a valid sequence
 * with '?': the result is valid UTF-8 of the same length. */
void pl_utf8_scrub(char *s, size_t len);

/* Incremental validation for a message split over several WebSocket
 * frames.  Start with state = 0; feed each piece; a false return means the
 * bytes so far can never be valid.  At the end the message is valid only if
 * pl_utf8_done(state). */
typedef uint32_t pl_utf8_state;
bool pl_utf8_feed(pl_utf8_state *state, const unsigned char *s, size_t len);
bool pl_utf8_done(pl_utf8_state state);

#endif
