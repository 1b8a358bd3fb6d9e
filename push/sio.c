/* push/sio: see sio.h. */
#include "push/sio.h"

#include <stdio.h>
#include <string.h>

#define ACK_ID_MAX 9007199254740991LL /* 2^53 - 1: what a client can count to */

bool sio_parse(const char *p, size_t len, struct sio_packet *out)
{
	size_t i = 0;
	memset(out, 0, sizeof *out);
	out->ack_id = -1;
	out->nsp = "/";
	out->nsp_len = 1;
	if (len == 0 || p[0] < '0' || p[0] > '6')
		return false;
	out->type = (enum sio_type)(p[0] - '0');
	i = 1;
	if (out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK) {
		int n = 0;
		size_t start = i;
		while (i < len && p[i] >= '0' && p[i] <= '9' && i - start < 3)
			n = n * 10 + (p[i++] - '0');
		if (i == start || i >= len || p[i] != '-' || n < 1 || n > SIO_MAX_ATTACHMENTS)
			return false;
		out->attachments = n;
		i++;
	}
	if (i < len && p[i] == '/') {
		size_t start = i;
		while (i < len && p[i] != ',') {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return false; /* no control bytes (nor NUL) in a name */
			i++;
		}
		out->nsp = p + start;
		out->nsp_len = i - start;
		if (out->nsp_len > SIO_NSP_MAX)
			return false;
		if (i < len)
			i++; /* the comma */
	}
	if (i < len && p[i] >= '0' && p[i] <= '9') {
		int64_t id = 0;
		size_t start = i;
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (i - start >= 16)
				return false;
			id = id * 10 + (p[i++] - '0');
		}
		if (id > ACK_ID_MAX)
			return false;
		out->ack_id = id;
	}
	out->data = p + i;
	out->data_len = len - i;
	return true;
}

static bool is_placeholder(json_t *v)
{
	return json_is_object(v) && json_object_get(v, "_placeholder") != NULL;
}

bool sio_placeholders_ok(json_t *v, int n)
{
	if (is_placeholder(v)) {
		json_t *num = json_object_get(v, "num");
		return json_is_true(json_object_get(v, "_placeholder")) && json_is_integer(num) &&
		       json_integer_value(num) >= 0 && json_integer_value(num) < n &&
		       json_object_size(v) == 2;
	}
	json_t *x;
	if (json_is_array(v)) {
		size_t i;
		json_array_foreach(v, i, x) {
			if (!sio_placeholders_ok(x, n))
				return false;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_object_foreach(v, k, x) {
			if (!sio_placeholders_ok(x, n))
				return false;
		}
	}
	return true;
}

bool sio_payload(const struct sio_packet *p, json_t **out)
{
	*out = NULL;
	json_t *v = NULL;
	if (p->data_len) {
		/* Nesting is bounded by jansson (2048 levels). */
		v = json_loadb(p->data, p->data_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		if (!v)
			return false;
	}
	bool ok;
	switch (p->type) {
	case SIO_CONNECT: ok = !v || json_is_object(v); break;
	case SIO_DISCONNECT: ok = !v; break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		ok = json_is_array(v) && json_array_size(v) > 0 &&
		     (json_is_string(json_array_get(v, 0)) || json_is_integer(json_array_get(v, 0)));
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK: ok = json_is_array(v); break;
	default: ok = false; break;
	}
	/* Placeholders only count in the binary types; elsewhere they are
	 * plain objects, as the reference parser treats them. */
	if (ok && (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK))
		ok = sio_placeholders_ok(v, p->attachments);
	if (!ok) {
		json_decref(v);
		return false;
	}
	*out = v;
	return true;
}

size_t sio_header(char *out, enum sio_type type, int attachments, const char *nsp,
		  int64_t ack_id)
{
	int n = snprintf(out, SIO_HEADER_MAX, "%d", (int)type);
	if (type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK)
		n += snprintf(out + n, SIO_HEADER_MAX - (size_t)n, "%d-", attachments);
	if (nsp && strcmp(nsp, "/") != 0)
		n += snprintf(out + n, SIO_HEADER_MAX - (size_t)n, "%.*s,", SIO_NSP_MAX, nsp);
	if (ack_id >= 0)
		n += snprintf(out + n, SIO_HEADER_MAX - (size_t)n, "%lld", (long long)ack_id);
	return (size_t)n;
}
