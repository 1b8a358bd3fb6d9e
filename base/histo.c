/* base/histo: see histo.h. */
#include "base/histo.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t pl_histo_bounds_us[PL_HISTO_BUCKETS - 1] = {
	100,    250,    500,     1000,    2500,    5000,    10000,   25000,
	50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static int bucket_of(int64_t us)
{
	int i = 0;
	while (i < PL_HISTO_BUCKETS - 1 && us > pl_histo_bounds_us[i])
		i++;
	return i;
}

void pl_histo_record(struct pl_histo *h, int64_t us, long long n)
{
	if (!h || n <= 0)
		return;
	if (us < 0)
		us = 0; /* clocks of two threads: never a negative latency */
	atomic_fetch_add_explicit(&h->counts[bucket_of(us)], n, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us * n, memory_order_relaxed);
}

void pl_histo_snapshot(struct pl_histo *h, struct pl_histo_snap *out)
{
	memset(out, 0, sizeof *out);
	for (int i = 0; i < PL_HISTO_BUCKETS; i++) {
		out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		out->total += out->counts[i];
	}
	out->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

void pl_histo_diff(const struct pl_histo_snap *a, const struct pl_histo_snap *b,
		   struct pl_histo_snap *d)
{
	memset(d, 0, sizeof *d);
	for (int i = 0; i < PL_HISTO_BUCKETS; i++) {
		long long n = a->counts[i] - b->counts[i];
		d->counts[i] = n > 0 ? n : 0;
		d->total += d->counts[i];
	}
	d->sum_us = a->sum_us > b->sum_us ? a->sum_us - b->sum_us : 0;
}

double pl_histo_quantile(const struct pl_histo_snap *s, double q)
{
	if (!s || s->total <= 0)
		return -1;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	double rank = q * (double)s->total;
	long long below = 0;
	for (int i = 0; i < PL_HISTO_BUCKETS; i++) {
		long long n = s->counts[i];
		if (n == 0 || (double)(below + n) < rank) {
			below += n;
			continue;
		}
		if (i == PL_HISTO_BUCKETS - 1)
			return (double)pl_histo_bounds_us[i - 1] / 1e6;
		double lo = i == 0 ? 0 : (double)pl_histo_bounds_us[i - 1];
		double hi = (double)pl_histo_bounds_us[i];
		double frac = ((rank - (double)below) / (double)n);
		return (lo + (hi - lo) * frac) / 1e6;
	}
	return (double)pl_histo_bounds_us[PL_HISTO_BUCKETS - 2] / 1e6;
}

__attribute__((format(printf, 3, 4)))
static bool append(char **out, size_t *len, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return false;
	char *p = realloc(*out, *len + (size_t)n + 1);
	if (!p)
		return false;
	memcpy(p + *len, line, (size_t)n + 1);
	*out = p;
	*len += (size_t)n;
	return true;
}

bool pl_histo_prom(const struct pl_histo_snap *s, const char *name, const char *help,
		   char **out, size_t *len)
{
	bool ok = append(out, len, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	long long cum = 0;
	for (int i = 0; ok && i < PL_HISTO_BUCKETS; i++) {
		cum += s->counts[i];
		if (i < PL_HISTO_BUCKETS - 1)
			ok = append(out, len, "%s_bucket{le=\"%g\"} %lld\n", name,
				    (double)pl_histo_bounds_us[i] / 1e6, cum);
		else
			ok = append(out, len, "%s_bucket{le=\"+Inf\"} %lld\n", name, cum);
	}
	return ok && append(out, len, "%s_sum %.6f\n%s_count %lld\n", name,
			    (double)s->sum_us / 1e6, name, cum);
}
