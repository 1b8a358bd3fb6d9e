/* base/err: the API's error classes and the one error value every layer
 * returns.  A layer that fails fills a pl_error; the front end turns it into
 * {"error":{"code":..,"message":..}} with the fitting HTTP status (or a
 * WebSocket error frame).  The message names the offending field. */
#ifndef PL_ERR_H
#define PL_ERR_H

enum pl_code {
	PL_OK = 0,
	PL_INVALID_ARGUMENT,    /* 400 */
	PL_UNAUTHENTICATED,     /* 401 */
	PL_PERMISSION_DENIED,   /* 403 */
	PL_NOT_FOUND,           /* 404 */
	PL_METHOD_NOT_ALLOWED,  /* 405 */
	PL_CONFLICT,            /* 409 */
	PL_PAYLOAD_TOO_LARGE,   /* 413 */
	PL_UNSUPPORTED_MEDIA,   /* 415 */
	PL_RATE_LIMITED,        /* 429 */
	PL_UNAVAILABLE,         /* 503 */
	PL_INTERNAL,            /* 500: our fault, never the client's */
};

typedef struct pl_error {
	enum pl_code code;
	int retry_after; /* seconds, for PL_RATE_LIMITED */
	char message[200];
} pl_error;

/* Sets err and returns its code, so callers can "return pl_fail(...)". */
enum pl_code pl_fail(pl_error *err, enum pl_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *pl_code_name(enum pl_code code);
int pl_code_status(enum pl_code code);

#endif
