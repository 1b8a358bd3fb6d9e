/* base/jwt: HS256 JSON Web Tokens, signed and checked with libcrypto's
 * HMAC-SHA256.  Only HS256 is accepted: "none" and every other alg are
 * refused, as are bad signatures, expired tokens and tokens without sub. */
#ifndef PL_JWT_H
#define PL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ids.h"

struct pl_claims {
	char sub[PL_ID_MAX + 1];   /* user id; must pass pl_valid_id */
	char name[129];            /* display name, "" when absent (truncated UTF-8-safely) */
	int64_t exp;               /* seconds since the epoch */
	bool admin;                /* "admin": true (operators: /v1/admin/stats) */
};

/* Returns a malloc'd token (caller frees) or NULL on failure. */
char *pl_jwt_sign(const unsigned char *secret, size_t secret_len, const char *sub,
		  const char *name, int64_t exp);
/* The same, with "admin": true among the claims when admin is set. */
char *pl_jwt_sign_admin(const unsigned char *secret, size_t secret_len, const char *sub,
			const char *name, int64_t exp, bool admin);

/* Verifies token at time now (seconds).  On failure returns false and sets
 * *why to a short static reason fit for an error message ("token expired",
 * "bad signature", ...) that never repeats the token itself. */
bool pl_jwt_verify(const unsigned char *secret, size_t secret_len, const char *token,
		   int64_t now, struct pl_claims *out, const char **why);

/* HMAC-SHA256 of data with key into mac (32 bytes); false on failure. */
bool pl_hmac_sha256(const unsigned char *key, size_t keylen, const char *data, size_t n,
		    unsigned char mac[32]);

#endif
