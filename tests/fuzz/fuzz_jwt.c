/* tests/fuzz/fuzz_jwt: libFuzzer harness for base/jwt's verification.
 *
 * The input is a token as a client sends it (Authorization or ?token=).
 * Besides the sanitizers: a token that verifies has a valid sub and a
 * future exp, and is verified by nothing but the right secret; a token
 * made from the input's first bytes as sub verifies back to them. */
#include "base/ids.h"
#include "base/jwt.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char secret[] = "fuzz-secret-0123456789abcdef-0123456789";
static const unsigned char other[] = "fuzz-secret-0123456789abcdef-0123456788";
#define NOW 1800000000

static void must(bool cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok = malloc(size + 1);
	if (!tok)
		return 0;
	memcpy(tok, data, size);
	tok[size] = 0;
	struct pl_claims c;
	const char *why = NULL;
	if (pl_jwt_verify(secret, sizeof secret - 1, tok, NOW, &c, &why)) {
		must(pl_valid_id(c.sub) && c.exp > NOW);
		must(strlen(c.name) < sizeof c.name);
		must(!pl_jwt_verify(other, sizeof other - 1, tok, NOW, &c, &why));
	} else {
		must(why && *why);
	}
	/* Round trip: a valid id signed is verified back. */
	if (pl_valid_id(tok)) {
		char *t = pl_jwt_sign(secret, sizeof secret - 1, tok, tok, NOW + 60);
		must(t != NULL);
		must(pl_jwt_verify(secret, sizeof secret - 1, t, NOW, &c, &why));
		must(strcmp(c.sub, tok) == 0 && c.exp == NOW + 60);
		free(t);
	}
	free(tok);
	return 0;
}
