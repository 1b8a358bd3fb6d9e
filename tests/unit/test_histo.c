/* tests/unit/test_histo: base/histo's buckets, snapshots, quantiles (at
 * the edges: empty, one bucket, below the first bound, past the last) and
 * its Prometheus text. */
#include <stdlib.h>
#include <string.h>

#include "base/histo.h"
#include "tests/unit/t.h"

static bool near(double a, double b) { return a - b < 1e-9 && b - a < 1e-9; }

static void snap(struct pl_histo *h, struct pl_histo_snap *s) { pl_histo_snapshot(h, s); }

static void test_empty(void)
{
	struct pl_histo h = {0};
	struct pl_histo_snap s;
	snap(&h, &s);
	CHECK(s.total == 0);
	CHECK(pl_histo_quantile(&s, 0.5) == -1);
	CHECK(pl_histo_quantile(&s, 0.99) == -1);
	pl_histo_record(&h, 50, 0);  /* no observations */
	pl_histo_record(&h, 50, -3);
	pl_histo_record(NULL, 50, 1);
	snap(&h, &s);
	CHECK(s.total == 0);
}

static void test_buckets(void)
{
	struct pl_histo h = {0};
	struct pl_histo_snap s;
	pl_histo_record(&h, 0, 1);        /* first bucket (le 100 us) */
	pl_histo_record(&h, -5, 1);       /* negative: 0 */
	pl_histo_record(&h, 100, 1);      /* on the bound: still the first */
	pl_histo_record(&h, 101, 1);      /* second (le 250 us) */
	pl_histo_record(&h, 10000000, 1); /* 10 s: the last finite bucket */
	pl_histo_record(&h, 10000001, 2); /* +Inf */
	snap(&h, &s);
	CHECK(s.counts[0] == 3);
	CHECK(s.counts[1] == 1);
	CHECK(s.counts[PL_HISTO_BUCKETS - 2] == 1);
	CHECK(s.counts[PL_HISTO_BUCKETS - 1] == 2);
	CHECK(s.total == 7);
	CHECK(s.sum_us == 100 + 101 + 10000000 + 2 * 10000001LL);
}

static void test_quantiles(void)
{
	struct pl_histo h = {0};
	struct pl_histo_snap s;
	/* 100 observations, all in (1 ms, 2.5 ms]: every quantile lies there,
	 * linearly spread as histogram_quantile() spreads them. */
	pl_histo_record(&h, 2000, 100);
	snap(&h, &s);
	CHECK(near(pl_histo_quantile(&s, 0.5), 0.00175));
	CHECK(near(pl_histo_quantile(&s, 1.0), 0.0025));
	CHECK(near(pl_histo_quantile(&s, 0.0), 0.001)); /* the bucket's lower edge */
	CHECK(near(pl_histo_quantile(&s, -1), 0.001));  /* clamped */
	CHECK(near(pl_histo_quantile(&s, 2), 0.0025));
	/* 99 fast, 1 slow: p50 in the first bucket, p99 too, p100 slow */
	struct pl_histo g = {0};
	pl_histo_record(&g, 50, 99);
	pl_histo_record(&g, 400000, 1); /* (250 ms, 500 ms] */
	snap(&g, &s);
	CHECK(pl_histo_quantile(&s, 0.5) <= 0.0001);
	CHECK(pl_histo_quantile(&s, 0.99) <= 0.0001);
	CHECK(near(pl_histo_quantile(&s, 1.0), 0.5));
	/* all past the last bound: the last finite bound is reported */
	struct pl_histo k = {0};
	pl_histo_record(&k, 60000000, 5);
	snap(&k, &s);
	CHECK(near(pl_histo_quantile(&s, 0.5), 10.0));
	CHECK(near(pl_histo_quantile(&s, 0.99), 10.0));
}

static void test_diff(void)
{
	struct pl_histo h = {0};
	struct pl_histo_snap a, b, d;
	pl_histo_record(&h, 300, 10);
	snap(&h, &a);
	pl_histo_record(&h, 20000, 4); /* (10 ms, 25 ms] */
	snap(&h, &b);
	pl_histo_diff(&b, &a, &d);
	CHECK(d.total == 4);
	CHECK(d.sum_us == 80000);
	CHECK(near(pl_histo_quantile(&d, 0.5), 0.0175));
	pl_histo_diff(&a, &b, &d); /* backwards: nothing, never negative */
	CHECK(d.total == 0 && d.sum_us == 0);
}

static void test_prom(void)
{
	struct pl_histo h = {0};
	struct pl_histo_snap s;
	pl_histo_record(&h, 300, 2);
	pl_histo_record(&h, 20000000, 1);
	snap(&h, &s);
	char *out = NULL;
	size_t len = 0;
	CHECK(pl_histo_prom(&s, "x_seconds", "a test", &out, &len));
	CHECK(out && strlen(out) == len);
	CHECK(out && strstr(out, "# TYPE x_seconds histogram\n"));
	CHECK(out && strstr(out, "x_seconds_bucket{le=\"0.0001\"} 0\n"));
	CHECK(out && strstr(out, "x_seconds_bucket{le=\"0.0005\"} 2\n")); /* cumulative */
	CHECK(out && strstr(out, "x_seconds_bucket{le=\"10\"} 2\n"));
	CHECK(out && strstr(out, "x_seconds_bucket{le=\"+Inf\"} 3\n"));
	CHECK(out && strstr(out, "x_seconds_sum 20.000600\n"));
	CHECK(out && strstr(out, "x_seconds_count 3\n"));
	free(out);
}

int main(void)
{
	test_empty();
	test_buckets();
	test_quantiles();
	test_diff();
	test_prom();
	return T_DONE();
}
