/*
 * stats.c - measurement helpers for the load generator: a monotonic clock,
 * a log-linear latency histogram (about 1.5% resolution, fixed 32 KiB, so
 * millions of samples cost nothing), and the server's RSS and CPU time read
 * from /proc.
 */
#include "lg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t lg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned bucket(uint64_t v)
{
	if (v < H_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (msb - 6)) - H_SUB;
	return (msb - 5) * H_SUB + sub;
}

/* Upper bound of bucket i, so percentiles never flatter the server. */
static uint64_t bucket_top(unsigned i)
{
	if (i < H_SUB)
		return i;
	unsigned e = i / H_SUB, sub = i % H_SUB;
	return ((uint64_t)(H_SUB + sub + 1) << (e - 1)) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

double hist_pct_ms(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n + 0.5), seen = 0;
	if (!h->n)
		return 0;
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < 64 * H_SUB; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t top = bucket_top(i);
			return (double)(top < h->max ? top : h->max) / 1e6;
		}
	}
	return (double)h->max / 1e6;
}

static void add_one(const char *pid, struct procstat *ps)
{
	char path[64], line[1024];
	FILE *f;
	snprintf(path, sizeof path, "/proc/%s/status", pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "VmRSS:", 6))
				ps->rss_kb += atol(line + 6);
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	if ((f = fopen(path, "r"))) {
		size_t n = fread(line, 1, sizeof line - 1, f);
		line[n] = 0;
		fclose(f);
		/* fields after the parenthesised name: state is field 3, utime 14 */
		const char *p = strrchr(line, ')');
		unsigned long ut = 0, st = 0;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&ut, &st) == 2)
			ps->cpu_s += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
}

/* Sums RSS and CPU seconds over a comma-separated list of pids. */
struct procstat proc_read(const char *pids)
{
	struct procstat ps = { 0, 0 };
	char tmp[256], *save = NULL;
	if (!pids || !*pids)
		return ps;
	snprintf(tmp, sizeof tmp, "%s", pids);
	for (char *p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save))
		add_one(p, &ps);
	return ps;
}

/* CPU seconds the whole machine spent busy since boot, from /proc/stat:
 * with the server's and the generator's own share taken out, what is left
 * is other load that disturbed the measurement. */
double machine_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return 0;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}
