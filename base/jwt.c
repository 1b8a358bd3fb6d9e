/* base/jwt: HS256 JSON Web Tokens (RFC 7519) for Parley's bearer auth.
 *
 * Signing builds {"alg":"HS256","typ":"JWT"}.{"sub","exp","iat"[,"name"]}
 * and appends HMAC-SHA256 over both.  Verifying is deliberately narrow:
 * HS256 only, strict base64url (no padding, no stray characters, no
 * non-canonical trailing bits), the signature is checked before the payload
 * is even parsed, and exp and a valid sub are mandatory. */
#include "base/jwt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define JWT_MAX 8192                      /* longest token we look at */
#define JWT_DEC_MAX (JWT_MAX / 4 * 3 + 3) /* its longest decoded part */
#define SIG_LEN 32                        /* SHA-256 */
#define NAME_MAX_BYTES 128

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- base64url (RFC 4648 section 5, unpadded) ---- */

/* Needed output size for n input bytes, including the terminating NUL. */
static size_t b64url_len(size_t n) { return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) + 1; }

/* Writes the unpadded encoding of in[0..n) plus a NUL; returns its length. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		unsigned long v = (unsigned long)in[i] << 16;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = 0;
	return o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1; /* '=', '+', '/', whitespace, ... */
}

/* Decodes in[0..n) into out (room for n/4*3+2 bytes).  Strict: any byte
 * outside the alphabet, an impossible length (n % 4 == 1) or set bits in
 * the unused tail fail, so each byte string has exactly one accepted
 * spelling and a token cannot be altered while keeping its signature. */
static bool b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
	unsigned long acc = 0;
	int bits = 0;
	size_t o = 0;
	if (n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(in[i]);
		if (v < 0)
			return false;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	if (acc & ((1UL << bits) - 1))
		return false;
	*outlen = o;
	return true;
}

/* ---- signing ---- */

bool pl_hmac_sha256(const unsigned char *key, size_t keylen, const char *data, size_t n,
		    unsigned char mac[32])
{
	unsigned int maclen = 0;
	if (keylen == 0 || keylen > INT_MAX)
		return false;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n, mac, &maclen))
		return false;
	return maclen == SIG_LEN;
}

static char *claims_json(const char *sub, const char *name, int64_t exp, bool admin)
{
	json_t *o = json_object();
	char *s = NULL;
	if (!o)
		return NULL;
	if (json_object_set_new(o, "sub", json_string(sub)) == 0 &&
	    json_object_set_new(o, "exp", json_integer((json_int_t)exp)) == 0 &&
	    json_object_set_new(o, "iat", json_integer((json_int_t)time(NULL))) == 0 &&
	    (!name || !*name || json_object_set_new(o, "name", json_string(name)) == 0) &&
	    (!admin || json_object_set_new(o, "admin", json_true()) == 0))
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* Encodes header and claims as "h.p" into a fresh buffer with room left
 * for ".signature". */
static char *signing_input(const char *claims, size_t *len)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	size_t clen = strlen(claims);
	size_t cap = b64url_len(sizeof header - 1) + b64url_len(clen) + b64url_len(SIG_LEN) + 2;
	char *tok = malloc(cap);
	if (!tok)
		return NULL;
	size_t n = b64url_encode((const unsigned char *)header, sizeof header - 1, tok);
	tok[n++] = '.';
	n += b64url_encode((const unsigned char *)claims, clen, tok + n);
	*len = n;
	return tok;
}

char *pl_jwt_sign(const unsigned char *secret, size_t secret_len, const char *sub,
		  const char *name, int64_t exp)
{
	return pl_jwt_sign_admin(secret, secret_len, sub, name, exp, false);
}

char *pl_jwt_sign_admin(const unsigned char *secret, size_t secret_len, const char *sub,
			const char *name, int64_t exp, bool admin)
{
	unsigned char mac[SIG_LEN];
	size_t n = 0;
	if (!secret || !pl_valid_id(sub))
		return NULL;
	char *claims = claims_json(sub, name, exp, admin); /* NULL too for non-UTF-8 names */
	if (!claims)
		return NULL;
	char *tok = signing_input(claims, &n);
	free(claims);
	if (!tok)
		return NULL;
	if (!pl_hmac_sha256(secret, secret_len, tok, n, mac)) {
		free(tok);
		return NULL;
	}
	tok[n++] = '.';
	b64url_encode(mac, SIG_LEN, tok + n);
	return tok;
}

/* ---- verifying ---- */

/* Splits "a.b.c" into its three parts; false unless there are exactly two
 * dots and no part is empty. */
static bool split3(const char *tok, size_t len, const char *part[3], size_t plen[3])
{
	const char *d1 = memchr(tok, '.', len);
	if (!d1)
		return false;
	const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
		return false;
	part[0] = tok;
	plen[0] = (size_t)(d1 - tok);
	part[1] = d1 + 1;
	plen[1] = (size_t)(d2 - part[1]);
	part[2] = d2 + 1;
	plen[2] = len - (size_t)(part[2] - tok);
	return plen[0] && plen[1] && plen[2];
}

/* Decodes a base64url part and parses it as a JSON object; NULL otherwise.
 * Duplicate keys are refused so no two readers can disagree on a claim. */
static json_t *decode_object(const char *part, size_t n)
{
	unsigned char buf[JWT_DEC_MAX];
	size_t len = 0;
	if (!b64url_decode(part, n, buf, &len))
		return NULL;
	json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *check_header(const json_t *h)
{
	const json_t *alg = json_object_get(h, "alg");
	const json_t *typ = json_object_get(h, "typ");
	if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
		return "unsupported token alg";
	if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
		return "unsupported token typ";
	/* RFC 7515 4.1.11: extensions we do not understand must be refused,
	 * and we understand none. */
	if (json_object_get(h, "crit"))
		return "unsupported token crit";
	return NULL;
}

static const char *check_signature(const unsigned char *secret, size_t secret_len,
				   const char *tok, size_t signed_len, const char *sig,
				   size_t siglen)
{
	unsigned char want[SIG_LEN], got[JWT_DEC_MAX];
	size_t gotlen = 0;
	if (!b64url_decode(sig, siglen, got, &gotlen))
		return "malformed token";
	if (!pl_hmac_sha256(secret, secret_len, tok, signed_len, want))
		return "bad signature";
	if (gotlen != SIG_LEN || CRYPTO_memcmp(want, got, SIG_LEN) != 0)
		return "bad signature";
	return NULL;
}

/* Copies s into dst (NAME_MAX_BYTES + 1), cutting at a code point boundary.
 * jansson has already guaranteed s is valid UTF-8, so stepping back over
 * continuation bytes (10xxxxxx) finds the start of a character. */
static void copy_name(char dst[NAME_MAX_BYTES + 1], const char *s)
{
	size_t n = strlen(s);
	if (n > NAME_MAX_BYTES) {
		n = NAME_MAX_BYTES;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
}

static const char *check_claims(const json_t *p, int64_t now, struct pl_claims *out)
{
	const json_t *exp = json_object_get(p, "exp");
	const json_t *nbf = json_object_get(p, "nbf");
	const json_t *sub = json_object_get(p, "sub");
	const json_t *name = json_object_get(p, "name");
	if (!json_is_integer(exp))
		return "token has no exp";
	if (json_integer_value(exp) <= now)
		return "token expired";
	if (nbf && !json_is_integer(nbf))
		return "bad token nbf";
	if (nbf && json_integer_value(nbf) > now)
		return "token not yet valid";
	if (!json_is_string(sub))
		return "token has no sub";
	/* The length test guards against an embedded NUL should the parse
	 * flags ever allow one. */
	if (!pl_valid_id(json_string_value(sub)) ||
	    strlen(json_string_value(sub)) != json_string_length(sub))
		return "bad token sub";
	if (name && !json_is_string(name))
		return "bad token name";
	/* Narrow on purpose: only a JSON true makes an admin; a claim of any
	 * other type is a malformed token, not a quiet "no". */
	const json_t *admin = json_object_get(p, "admin");
	if (admin && !json_is_boolean(admin))
		return "bad token admin";
	memset(out, 0, sizeof *out);
	strcpy(out->sub, json_string_value(sub)); /* pl_valid_id bounds it */
	if (name)
		copy_name(out->name, json_string_value(name));
	out->exp = (int64_t)json_integer_value(exp);
	out->admin = json_is_true(admin);
	return NULL;
}

static const char *verify(const unsigned char *secret, size_t secret_len, const char *token,
			  int64_t now, struct pl_claims *out)
{
	const char *part[3], *why;
	size_t plen[3];
	if (!token || !out)
		return "missing token";
	size_t len = strnlen(token, JWT_MAX + 1);
	if (len > JWT_MAX)
		return "token too long";
	if (!split3(token, len, part, plen))
		return "malformed token";
	json_t *h = decode_object(part[0], plen[0]);
	if (!h)
		return "malformed token header";
	why = check_header(h);
	json_decref(h);
	if (!why)
		why = check_signature(secret, secret_len, token, plen[0] + 1 + plen[1], part[2],
				      plen[2]);
	if (why)
		return why;
	json_t *p = decode_object(part[1], plen[1]);
	if (!p)
		return "malformed token payload";
	why = check_claims(p, now, out);
	json_decref(p);
	return why;
}

bool pl_jwt_verify(const unsigned char *secret, size_t secret_len, const char *token,
		   int64_t now, struct pl_claims *out, const char **why)
{
	const char *reason = secret ? verify(secret, secret_len, token, now, out)
				    : "no token secret configured";
	if (why)
		*why = reason;
	return reason == NULL;
}
