/* tests/fuzz/fuzz_time: libFuzzer harness for the API's RFC 3339 times
 * (base/clock: `since`, `before`) and resume points (api/http:
 * last_event_id, Last-Event-ID, cursor).
 *
 * Properties: a time that parses formats to a string that parses to the
 * same instant; the formatted form is what pl_time_format always writes;
 * a resume point that parses is -1 (absent) or a non-negative id. */
#include "api/http.h"
#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

static void must(bool cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	int64_t ms;
	if (pl_time_parse(s, &ms)) {
		char out[PL_TIME_LEN];
		pl_time_format(ms, out);
		int64_t again;
		must(strlen(out) < PL_TIME_LEN);
		must(pl_time_parse(out, &again) && again == ms);
	}
	int64_t id;
	if (pl_parse_event_id(s, &id))
		must(id >= 0 || (id == -1 && !*s));
	free(s);
	return 0;
}
