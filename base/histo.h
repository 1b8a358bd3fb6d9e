/* base/histo: a fixed-bucket latency histogram, Prometheus style.
 *
 * Observations are microseconds; the buckets' upper bounds are fixed (100
 * us to 10 s, then +Inf), so recording is an index search over 16 numbers
 * and two relaxed atomic adds, safe from any thread.  Readers take a
 * snapshot; the difference of two snapshots is the histogram of what
 * happened between them (the admin stream's "last second"), and quantiles
 * come from the buckets by linear interpolation, as PromQL's
 * histogram_quantile() computes them. */
#ifndef PL_HISTO_H
#define PL_HISTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_HISTO_BUCKETS 17 /* 16 finite upper bounds and +Inf */

/* The finite upper bounds, in microseconds (PL_HISTO_BUCKETS - 1 of them). */
extern const int64_t pl_histo_bounds_us[PL_HISTO_BUCKETS - 1];

struct pl_histo {
	_Atomic long long counts[PL_HISTO_BUCKETS]; /* per bucket, not cumulative */
	_Atomic long long sum_us;
};

struct pl_histo_snap {
	long long counts[PL_HISTO_BUCKETS];
	long long sum_us;
	long long total;
};

/* n observations of us microseconds each (negative counts as 0). */
void pl_histo_record(struct pl_histo *h, int64_t us, long long n);
void pl_histo_snapshot(struct pl_histo *h, struct pl_histo_snap *out);
/* d = a - b, bucket by bucket (a taken after b). */
void pl_histo_diff(const struct pl_histo_snap *a, const struct pl_histo_snap *b,
		   struct pl_histo_snap *d);
/* The q quantile (0..1) in seconds; -1 when the snapshot is empty.  An
 * observation past the last finite bound reports that bound. */
double pl_histo_quantile(const struct pl_histo_snap *s, double q);
/* Appends the Prometheus text of the histogram called name (with its
 * # HELP and # TYPE lines) to *out (malloc'd, grown; *len its length).
 * False when out of memory. */
bool pl_histo_prom(const struct pl_histo_snap *s, const char *name, const char *help,
		   char **out, size_t *len);

#endif
