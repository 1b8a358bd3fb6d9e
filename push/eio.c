/* push/eio: see eio.h. */
#include "push/eio.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

bool eio_payload_next(const char *p, size_t len, size_t *pos, const char **pkt, size_t *n)
{
	if (*pos > len)
		return false;
	const char *start = p + *pos;
	const char *sep = memchr(start, EIO_SEP, len - *pos);
	*pkt = start;
	*n = sep ? (size_t)(sep - start) : len - *pos;
	*pos += *n + 1; /* past the separator, or past the end */
	return true;
}

/* Base64 is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock); only strictness
 * is added here. */
size_t eio_b64_encode(const uint8_t *in, size_t n, char *out)
{
	if (n > (size_t)INT_MAX / 4 * 3)
		return 0;
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

bool eio_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	*outlen = 0;
	if (len == 0)
		return true;
	if (len % 4 || len > (size_t)INT_MAX)
		return false;
	int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return false;
	size_t pad = (size_t)(in[len - 1] == '=') + (size_t)(in[len - 2] == '=');
	if ((size_t)n < pad)
		return false;
	*outlen = (size_t)n - pad;
	/* Canonical only: EVP_DecodeBlock also takes blanks around the text,
	 * padding in the middle and stray bits before the padding; what
	 * encodes back to the very input is what the protocol sends. */
	char *back = malloc(len + 1);
	bool same = back && eio_b64_encode(out, *outlen, back) == len && memcmp(back, in, len) == 0;
	free(back);
	return same;
}

bool eio_client_type(char type) { return type >= EIO_CLOSE && type <= EIO_NOOP; }
