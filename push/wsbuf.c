/* push/wsbuf: see wsbuf.h. */
#include "push/wsbuf.h"

#include <stdlib.h>
#include <string.h>

#define STEP 4096

bool ws_rbuf_room(uint8_t **buf, size_t len, size_t *cap, size_t want, size_t limit)
{
	if (*cap - len >= want)
		return true;
	size_t grown_cap = (len + want + STEP - 1) / STEP * STEP;
	if (grown_cap > limit && len + want > limit)
		return false;
	uint8_t *grown = realloc(*buf, grown_cap);
	if (!grown)
		return false;
	*buf = grown;
	*cap = grown_cap;
	return true;
}

void ws_rbuf_consume(uint8_t **buf, size_t *len, size_t *cap, size_t off)
{
	if (off)
		memmove(*buf, *buf + off, *len - off);
	*len -= off;
	if (*len == 0) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}
