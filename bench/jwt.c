/*
 * jwt.c - mints HS256 JSON Web Tokens with libcrypto, so the load generator
 * can act as 15,000 distinct users without asking the server for tokens.
 */
#include "lg.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = 0;
	return o;
}

/* Returns a malloc'd token for user sub, valid for ttl seconds. */
char *jwt_mint(const unsigned char *key, size_t klen, const char *sub, long ttl)
{
	char claims[256], tok[1024];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int cn = snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"exp\":%ld}", sub,
			  (long)time(NULL) + ttl);
	/* base64url of {"alg":"HS256","typ":"JWT"} */
	size_t n = (size_t)snprintf(tok, sizeof tok, "%s.",
				    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
	n += b64url((const unsigned char *)claims, (size_t)cn, tok + n);
	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)tok, n, mac,
		  &maclen))
		return NULL;
	tok[n++] = '.';
	b64url(mac, maclen, tok + n);
	return strdup(tok);
}
