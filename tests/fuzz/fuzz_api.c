/* tests/fuzz/fuzz_api: libFuzzer harness for the REST handlers' JSON
 * bodies, queries and path parameters (tests/fuzz/request.h).
 *
 * Input: "METHOD TARGET" on the first line (TARGET: path and query, as
 * sent), then the JSON body.  The request comes from a signed-in user
 * ("fuzzer") with Content-Type application/json, so it reaches the router
 * and the handler's validation of every field.  Never a 500; JSON answers
 * are JSON. */
#include "tests/fuzz/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup();
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *nl = memchr(buf, '\n', size);
	char *body = nl ? nl + 1 : buf + size;
	if (nl)
		*nl = 0;
	char *sp = strchr(buf, ' ');
	if (!sp) {
		free(buf);
		return 0;
	}
	*sp = 0;
	char *target = sp + 1;
	char *q = strchr(target, '?');
	char clen[24];
	snprintf(clen, sizeof clen, "%zu", (size_t)(buf + size - body));
	struct fuzz_io io = {0};
	fuzz_add(&io, "REQUEST_METHOD", buf);
	fuzz_add(&io, "REQUEST_URI", target);
	fuzz_add(&io, "QUERY_STRING", q ? q + 1 : "");
	fuzz_add(&io, "CONTENT_TYPE", "application/json");
	fuzz_add(&io, "CONTENT_LENGTH", clen);
	fuzz_add(&io, "HTTP_AUTHORIZATION", "Bearer @fuzzer");
	io.body = body;
	io.body_len = (size_t)(buf + size - body);
	fuzz_serve(&io);
	free(buf);
	return 0;
}
