/* tests/fuzz/fuzz_fcgi: libFuzzer harness for the FastCGI request adapter
 * (api/fcgi.c) and everything behind it (tests/fuzz/request.h).
 *
 * Input: "NAME=VALUE" lines, the request's FastCGI parameters
 * (REQUEST_METHOD, REQUEST_URI, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, HTTP_AUTHORIZATION, PATH_INFO, SCRIPT_NAME...), then an
 * empty line, then the body.  A request must answer with a status, never
 * 500, and JSON answers must be JSON. */
#include "tests/fuzz/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup();
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	struct fuzz_io io = {0};
	char *p = buf, *end = buf + size;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		*nl = 0;
		if (p == nl) { /* the empty line: the body follows */
			p = nl + 1;
			break;
		}
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = 0;
			fuzz_add(&io, p, eq + 1);
		}
		p = nl + 1;
	}
	if (p > end)
		p = end;
	io.body = p;
	io.body_len = (size_t)(end - p);
	fuzz_serve(&io);
	free(buf);
	return 0;
}
