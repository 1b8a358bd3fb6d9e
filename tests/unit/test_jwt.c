/* tests/unit/test_jwt: base/jwt against tokens it made and tokens made
 * independently here (EVP_EncodeBlock + HMAC, and the jwt.io vector). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/jwt.h"
#include "tests/unit/t.h"

#define NOW 1700000000LL
#define FAR 4102444800LL /* 2100-01-01 */

static const unsigned char SECRET[] = "your-256-bit-secret";
#define SLEN (sizeof SECRET - 1)

/* base64url via libcrypto's standard base64, translated, padding dropped. */
static void enc(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = 0;
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* Builds header.payload.signature signed with key; caller owns nothing
 * (static buffer). */
static const char *make(const char *header, const char *payload, const char *key)
{
	static char tok[4096];
	unsigned char mac[32];
	unsigned int maclen = 0;
	enc((const unsigned char *)header, strlen(header), tok);
	strcat(tok, ".");
	enc((const unsigned char *)payload, strlen(payload), tok + strlen(tok));
	HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)tok, strlen(tok), mac,
	     &maclen);
	strcat(tok, ".");
	enc(mac, maclen, tok + strlen(tok));
	return tok;
}

static const char *H = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static bool ok(const char *tok, struct pl_claims *c, const char **why)
{
	return pl_jwt_verify(SECRET, SLEN, tok, NOW, c, why);
}

/* True when tok is refused with exactly reason. */
static bool refused(const char *tok, const char *reason)
{
	struct pl_claims c;
	const char *why = NULL;
	bool good = ok(tok, &c, &why);
	if (good || !why || strcmp(why, reason) != 0) {
		fprintf(stderr, "  want \"%s\", got %s \"%s\"\n", reason, good ? "ok" : "refused",
			why ? why : "(null)");
		return false;
	}
	return true;
}

static void test_roundtrip(void)
{
	struct pl_claims c;
	const char *why = "x";
	char *tok = pl_jwt_sign(SECRET, SLEN, "alice", "Alice A.", NOW + 60);
	CHECK(tok != NULL);
	CHECK(ok(tok, &c, &why));
	CHECK(why == NULL);
	CHECK_STR(c.sub, "alice");
	CHECK_STR(c.name, "Alice A.");
	CHECK(c.exp == NOW + 60);
	CHECK(strchr(tok, '=') == NULL && strchr(tok, '+') == NULL && strchr(tok, '/') == NULL);
	CHECK(!pl_jwt_verify(SECRET, SLEN, tok, NOW + 60, &c, &why)); /* exp <= now */
	CHECK_STR(why, "token expired");
	free(tok);

	tok = pl_jwt_sign(SECRET, SLEN, "bob", NULL, NOW + 1);
	CHECK(ok(tok, &c, &why));
	CHECK_STR(c.name, "");
	free(tok);
	tok = pl_jwt_sign(SECRET, SLEN, "bob", "", NOW + 1);
	CHECK(ok(tok, &c, &why));
	CHECK_STR(c.name, "");
	free(tok);
}

static void test_sign_refuses(void)
{
	CHECK(pl_jwt_sign(SECRET, SLEN, "bad user", NULL, FAR) == NULL);
	CHECK(pl_jwt_sign(SECRET, SLEN, "", NULL, FAR) == NULL);
	CHECK(pl_jwt_sign(SECRET, SLEN, NULL, NULL, FAR) == NULL);
	CHECK(pl_jwt_sign(SECRET, 0, "alice", NULL, FAR) == NULL);
	CHECK(pl_jwt_sign(NULL, 0, "alice", NULL, FAR) == NULL);
	CHECK(pl_jwt_sign(SECRET, SLEN, "alice", "\xff\xfe", FAR) == NULL); /* not UTF-8 */
}

static void test_independent(void)
{
	struct pl_claims c;
	const char *why = NULL;
	/* jwt.io's HS256 example: valid signature but no exp. */
	CHECK(refused("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZ"
		      "SI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6"
		      "yJV_adQssw5c",
		      "token has no exp"));
	/* The same with "exp":4102444800, signed by Python's hmac. */
	CHECK(ok("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ik"
		 "pvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyLCJleHAiOjQxMDI0NDQ4MDB9.2rJa0xN9x5QZQTvUhAcO"
		 "trF5qH6iGAmgFeTThC4mq8o",
		 &c, &why));
	CHECK_STR(c.sub, "1234567890");
	CHECK_STR(c.name, "John Doe");
	CHECK(c.exp == FAR);
	/* Built here with libcrypto; typ is case-insensitive and optional. */
	CHECK(ok(make("{\"typ\":\"jwt\",\"alg\":\"HS256\"}",
		      "{\"sub\":\"a_b.c:d-e\",\"exp\":4102444800}", (const char *)SECRET),
		 &c, &why));
	CHECK_STR(c.sub, "a_b.c:d-e");
	CHECK(ok(make("{\"alg\":\"HS256\"}", "{\"sub\":\"x\",\"exp\":4102444800,\"nbf\":1}",
		      (const char *)SECRET),
		 &c, &why));
}

static void test_header(void)
{
	const char *p = "{\"sub\":\"alice\",\"exp\":4102444800}";
	const char *k = (const char *)SECRET;
	char none[512];
	/* alg none with an empty signature, and with a real one */
	enc((const unsigned char *)"{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, none);
	strcat(none, ".");
	enc((const unsigned char *)p, strlen(p), none + strlen(none));
	strcat(none, ".");
	CHECK(refused(none, "malformed token"));
	CHECK(refused(make("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"alg\":\"NONE\"}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"alg\":\"hs256\"}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"typ\":\"JWT\"}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"alg\":null}", p, k), "unsupported token alg"));
	CHECK(refused(make("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", p, k), "unsupported token typ"));
	CHECK(refused(make("{\"alg\":\"HS256\",\"typ\":1}", p, k), "unsupported token typ"));
	CHECK(refused(make("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", p, k),
		      "unsupported token crit"));
	CHECK(refused(make("[\"HS256\"]", p, k), "malformed token header"));
	CHECK(refused(make("not json", p, k), "malformed token header"));
	CHECK(refused(make("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, k),
		      "malformed token header"));
	/* RS256 key confusion: an HS256-looking alg with a different case */
	CHECK(refused(make("{\"alg\":\"RS256\"}", p, k), "unsupported token alg"));
}

static void test_tampering(void)
{
	char tok[4096], *dot;
	strcpy(tok, make(H, "{\"sub\":\"alice\",\"exp\":4102444800}", (const char *)SECRET));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":4102444800}", "wrong"), "bad signature"));
	CHECK(pl_jwt_verify((const unsigned char *)"wrong", 5, tok, NOW, &(struct pl_claims){0},
			    &(const char *){NULL}) == false);
	/* payload swapped for one naming mallory, signature kept */
	char forged[4096], mid[256];
	const char *m = "{\"sub\":\"mallory\",\"exp\":4102444800}";
	enc((const unsigned char *)m, strlen(m), mid);
	dot = strchr(tok, '.');
	snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot - tok), tok, mid,
		 strrchr(tok, '.'));
	CHECK(refused(forged, "bad signature"));
	/* one signature character changed */
	strcpy(forged, tok);
	char *last = forged + strlen(forged) - 5;
	*last = *last == 'A' ? 'B' : 'A';
	CHECK(refused(forged, "bad signature"));
	/* signature truncated or extended */
	strcpy(forged, tok);
	forged[strlen(forged) - 4] = 0;
	CHECK(!ok(forged, &(struct pl_claims){0}, &(const char *){NULL}));
	strcpy(forged, tok);
	strcat(forged, "AAAA");
	CHECK(refused(forged, "bad signature"));
	/* the last signature character with non-zero unused bits: 43 chars
	 * carry 258 bits, the final 2 must be zero */
	strcpy(forged, tok);
	last = forged + strlen(forged) - 1;
	int v = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *last) -
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	*last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[v | 1];
	CHECK(refused(forged, "malformed token"));
	/* padding characters anywhere */
	strcpy(forged, tok);
	strcat(forged, "=");
	CHECK(refused(forged, "malformed token"));
	strcpy(forged, tok);
	dot = strchr(forged, '.');
	memmove(dot + 1, dot, strlen(dot) + 1);
	*dot = '=';
	CHECK(refused(forged, "malformed token header"));
	/* standard-alphabet characters */
	strcpy(forged, tok);
	forged[strlen(forged) - 3] = '+';
	CHECK(refused(forged, "malformed token"));
	strcpy(forged, tok);
	forged[strlen(forged) - 3] = '/';
	CHECK(refused(forged, "malformed token"));
}

static void test_claims(void)
{
	const char *k = (const char *)SECRET;
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":1600000000}", k), "token expired"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":1700000000}", k), "token expired"));
	CHECK(refused(make(H, "{\"sub\":\"alice\"}", k), "token has no exp"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":\"4102444800\"}", k), "token has no exp"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":4102444800.0}", k), "token has no exp"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":null}", k), "token has no exp"));
	CHECK(refused(make(H, "{\"exp\":4102444800}", k), "token has no sub"));
	CHECK(refused(make(H, "{\"sub\":42,\"exp\":4102444800}", k), "token has no sub"));
	CHECK(refused(make(H, "{\"sub\":\"\",\"exp\":4102444800}", k), "bad token sub"));
	CHECK(refused(make(H, "{\"sub\":\"al ice\",\"exp\":4102444800}", k), "bad token sub"));
	CHECK(refused(make(H, "{\"sub\":\"al/ice\",\"exp\":4102444800}", k), "bad token sub"));
	/* jansson refuses \u0000 outright (no JSON_ALLOW_NUL) */
	CHECK(refused(make(H, "{\"sub\":\"al\\u0000ice\",\"exp\":4102444800}", k),
		      "malformed token payload"));
	CHECK(refused(make(H, "{\"sub\":\"\\u00e9\",\"exp\":4102444800}", k), "bad token sub"));
	char longsub[200];
	snprintf(longsub, sizeof longsub, "{\"sub\":\"%065d\",\"exp\":4102444800}", 0);
	CHECK(refused(make(H, longsub, k), "bad token sub"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":4102444800,\"nbf\":1800000000}", k),
		      "token not yet valid"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":4102444800,\"nbf\":\"x\"}", k),
		      "bad token nbf"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"exp\":4102444800,\"name\":7}", k),
		      "bad token name"));
	CHECK(refused(make(H, "[\"alice\"]", k), "malformed token payload"));
	CHECK(refused(make(H, "{\"sub\":\"alice\",\"sub\":\"bob\",\"exp\":4102444800}", k),
		      "malformed token payload"));
}

/* The admin claim: only a JSON true makes an admin, a non-boolean claim
 * is refused, and plain signing never sets it. */
static void test_admin(void)
{
	const char *k = (const char *)SECRET;
	struct pl_claims c;
	const char *why = NULL;
	char *tok = pl_jwt_sign_admin(SECRET, SLEN, "root", NULL, FAR, true);
	CHECK(tok && ok(tok, &c, &why) && c.admin);
	CHECK(tok && strcmp(c.sub, "root") == 0);
	free(tok);
	tok = pl_jwt_sign_admin(SECRET, SLEN, "alice", NULL, FAR, false);
	CHECK(tok && ok(tok, &c, &why) && !c.admin);
	free(tok);
	tok = pl_jwt_sign(SECRET, SLEN, "alice", "A", FAR);
	CHECK(tok && ok(tok, &c, &why) && !c.admin);
	free(tok);
	CHECK(ok(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":true}", k), &c, &why) &&
	      c.admin);
	CHECK(ok(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":false}", k), &c, &why) &&
	      !c.admin);
	CHECK(ok(make(H, "{\"sub\":\"a\",\"exp\":4102444800}", k), &c, &why) && !c.admin);
	CHECK(refused(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":\"true\"}", k),
		      "bad token admin"));
	CHECK(refused(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":1}", k),
		      "bad token admin"));
	CHECK(refused(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":null}", k),
		      "bad token admin"));
	/* a forged admin claim with the wrong key stays refused */
	CHECK(refused(make(H, "{\"sub\":\"a\",\"exp\":4102444800,\"admin\":true}", "other"),
		      "bad signature"));
}

static void test_garbage(void)
{
	static const char *junk[] = {"", ".", "..", "...", "a", "a.b", "a.b.c.d", "a..c", ".b.c",
				     "a.b.", "abc.def.ghi", "\xff\xfe.\x01.\x02", "e30.e30.e30",
				     "Bearer x.y.z"};
	struct pl_claims c;
	for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
		const char *why = NULL;
		CHECK(!ok(junk[i], &c, &why));
		/* reasons are short fixed texts, never an echo of the token */
		CHECK(why != NULL && strlen(why) < 40 && strchr(why, '.') == NULL);
	}
	const char *why = NULL;
	CHECK(!ok(NULL, &c, &why) && why != NULL);
	CHECK(!pl_jwt_verify(NULL, 0, "a.b.c", NOW, &c, &why) && why != NULL);
	/* why may be NULL */
	CHECK(!pl_jwt_verify(SECRET, SLEN, "a.b.c", NOW, &c, NULL));
	/* longer than 8 KiB: refused before any parsing */
	char *big = malloc(9000);
	memset(big, 'A', 8999);
	big[8999] = 0;
	big[10] = big[20] = '.';
	CHECK(refused(big, "token too long"));
	free(big);
}

static void test_name_truncation(void)
{
	struct pl_claims c;
	const char *why = NULL;
	char name[300];
	/* 127 ASCII bytes then "é" (2 bytes): byte 128 would split it */
	memset(name, 'n', 127);
	strcpy(name + 127, "\xc3\xa9tail");
	char *tok = pl_jwt_sign(SECRET, SLEN, "alice", name, FAR);
	CHECK(ok(tok, &c, &why));
	CHECK(strlen(c.name) == 127 && c.name[126] == 'n');
	free(tok);
	/* exactly 128 bytes fit whole */
	memset(name, 'm', 126);
	strcpy(name + 126, "\xc3\xa9");
	tok = pl_jwt_sign(SECRET, SLEN, "alice", name, FAR);
	CHECK(ok(tok, &c, &why));
	CHECK(strlen(c.name) == 128 && strcmp(c.name + 126, "\xc3\xa9") == 0);
	free(tok);
	/* 4-byte characters: 32 of them are 128 bytes, a 33rd is cut whole */
	name[0] = 0;
	for (int i = 0; i < 33; i++)
		strcat(name, "\xf0\x9f\x98\x80");
	strcat(name, "x");
	tok = pl_jwt_sign(SECRET, SLEN, "alice", name, FAR);
	CHECK(ok(tok, &c, &why));
	CHECK(strlen(c.name) == 128);
	free(tok);
	memset(name, 'q', 250);
	name[250] = 0;
	tok = pl_jwt_sign(SECRET, SLEN, "alice", name, FAR);
	CHECK(ok(tok, &c, &why));
	CHECK(strlen(c.name) == 128);
	free(tok);
}

int main(void)
{
	test_roundtrip();
	test_sign_refuses();
	test_independent();
	test_header();
	test_tampering();
	test_claims();
	test_garbage();
	test_admin();
	test_name_truncation();
	return T_DONE();
}
