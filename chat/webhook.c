/* chat/webhook: see webhook.h. */
#include "config.h"

#include "chat/webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/ctx.h"
#include "base/clock.h"
#include "base/jwt.h"
#include "base/log.h"
#include "db/outbox.h"

#define TIMEOUT_MS 5000
#define LEASE_MS 30000      /* well past TIMEOUT_MS: a lease outlives its attempt */
#define FEED_EVERY_MS 250
#define CLAIM_EVERY_MS 250
#define COUNT_EVERY_MS 2000
#define FEED_BATCH 500
#define MAX_DELAY_MS 300000

/* Stored event types, as opposed to presence. */
#define STORED_HOOKS (PL_HOOK_MESSAGE_CREATED | PL_HOOK_MESSAGE_UPDATED | \
		      PL_HOOK_MESSAGE_DELETED | PL_HOOK_MEMBER_JOINED | PL_HOOK_MEMBER_LEFT)

struct slot {
	CURL *easy;                /* NULL: the slot is free */
	struct pl_delivery d;
	struct curl_slist *headers;
	char *body;
	char error[CURL_ERROR_SIZE];
};

struct pl_webhook {
	struct pl_ctx *ctx;
	pthread_t thread;
	atomic_bool stop;
	char owner[96];            /* this node's name on its leases */
	CURLM *multi;
	struct slot slots[PL_WEBHOOK_INFLIGHT];
	int64_t feed_at, claim_at, count_at;
	int64_t fed_up_to;         /* the log's end when last fed (-1: never) */
	struct pl_webhook_stats stats;
};

/* ---- writer jobs: each may run more than once, so each starts afresh ---- */

struct feed_job {
	unsigned mask;
	int64_t now;
	int fed;
};

static enum pl_code feed_fn(pl_store *s, void *arg, pl_error *err)
{
	struct feed_job *j = arg;
	return pl_outbox_feed(s, j->mask, FEED_BATCH, j->now, &j->fed, err);
}

struct claim_job {
	const char *owner;
	int64_t now;
	struct pl_delivery *out;
	int max, n;
};

static enum pl_code claim_fn(pl_store *s, void *arg, pl_error *err)
{
	struct claim_job *j = arg;
	for (int i = 0; i < j->n; i++)
		pl_delivery_clear(&j->out[i]);
	j->n = pl_outbox_claim(s, j->owner, j->now, j->now + LEASE_MS, j->out, j->max, err);
	if (j->n < 0) {
		j->n = 0;
		return err->code;
	}
	return PL_OK;
}

struct settle_job {
	int64_t id;
	const char *owner;
	int64_t next_at;           /* 0: remove the row */
};

static enum pl_code settle_fn(pl_store *s, void *arg, pl_error *err)
{
	struct settle_job *j = arg;
	return j->next_at ? pl_outbox_retry(s, j->id, j->owner, j->next_at, err)
			  : pl_outbox_remove(s, j->id, j->owner, err);
}

struct add_job {
	char user[PL_ID_MAX + 1];
	int64_t ts;
	char *data;
};

static enum pl_code add_fn(pl_store *s, void *arg, pl_error *err)
{
	struct add_job *j = arg;
	return pl_outbox_add(s, j->user, "presence", j->ts, j->data, j->ts, err);
}

static void add_done(void *arg, const pl_error *err)
{
	struct add_job *j = arg;
	if (err->code != PL_OK)
		log_warn("webhook: presence of %s not queued: %s", j->user, err->message);
	free(j->data);
	free(j);
}

void pl_webhook_presence(struct pl_ctx *ctx, const char *user, const json_t *status)
{
	if (!ctx->cfg->webhook_url[0] || !(ctx->cfg->webhook_mask & PL_HOOK_PRESENCE))
		return;
	struct add_job *j = calloc(1, sizeof *j);
	if (!j || !(j->data = json_dumps(status, JSON_COMPACT))) {
		free(j);
		log_warn("webhook: presence of %s not queued: out of memory", user);
		return;
	}
	snprintf(j->user, sizeof j->user, "%s", user);
	j->ts = pl_now_ms();
	pl_writer_submit(ctx->writer, add_fn, add_done, j);
}

/* ---- one delivery ---- */

/* The body: the one writer of the webhook's JSON shape. */
static char *body_of(const struct pl_delivery *d)
{
	char ts[PL_TIME_LEN], id[24];
	pl_time_format(d->ts, ts);
	snprintf(id, sizeof id, "%lld", (long long)d->id);
	json_t *data = json_loads(d->data, 0, NULL);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", d->type, "ts", ts, "data",
			      data ? data : json_null());
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

/* "Parley-Signature: t=<now>,v1=<hex HMAC-SHA256 of "<t>.<body>">" */
static bool signature(const struct pl_config *cfg, const char *body, char *out, size_t size)
{
	long long t = (long long)(pl_now_ms() / 1000);
	size_t blen = strlen(body);
	char *msg = malloc(blen + 32);
	unsigned char mac[32];
	if (!msg)
		return false;
	int n = snprintf(msg, blen + 32, "%lld.%s", t, body);
	bool ok = pl_hmac_sha256((const unsigned char *)cfg->webhook_secret,
				 strlen(cfg->webhook_secret), msg, (size_t)n, mac);
	free(msg);
	if (!ok)
		return false;
	int k = snprintf(out, size, "Parley-Signature: t=%lld,v1=", t);
	for (int i = 0; i < 32 && k + 2 < (int)size; i++)
		k += snprintf(out + k, size - (size_t)k, "%02x", mac[i]);
	return true;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static bool start(struct pl_webhook *w, struct slot *sl)
{
	char sig[160];
	sl->body = body_of(&sl->d);
	if (!sl->body || !signature(w->ctx->cfg, sl->body, sig, sizeof sig))
		return false;
	sl->headers = curl_slist_append(NULL, "Content-Type: application/json");
	sl->headers = sl->headers ? curl_slist_append(sl->headers, sig) : NULL;
	sl->headers = sl->headers ? curl_slist_append(sl->headers, "Expect:") : NULL;
	if (!sl->headers || !(sl->easy = curl_easy_init()))
		return false;
	CURL *e = sl->easy;
	sl->error[0] = 0;
	curl_easy_setopt(e, CURLOPT_URL, w->ctx->cfg->webhook_url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, sl->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(sl->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "Parley-Webhook/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
	return curl_multi_add_handle(w->multi, e) == CURLM_OK;
}

static void slot_free(struct pl_webhook *w, struct slot *sl)
{
	if (sl->easy) {
		curl_multi_remove_handle(w->multi, sl->easy);
		curl_easy_cleanup(sl->easy);
	}
	curl_slist_free_all(sl->headers);
	free(sl->body);
	pl_delivery_clear(&sl->d);
	memset(sl, 0, sizeof *sl);
}

/* 1 s after the first failure, doubling, at most 5 minutes apart. */
static int64_t delay_ms(int attempts)
{
	int64_t d = 1000;
	for (int i = 1; i < attempts && d < MAX_DELAY_MS; i++)
		d *= 2;
	return d < MAX_DELAY_MS ? d : MAX_DELAY_MS;
}

static void settle(struct pl_webhook *w, struct slot *sl, bool ok, const char *why)
{
	struct pl_delivery *d = &sl->d;
	int64_t now = pl_now_ms();
	struct settle_job j = {d->id, w->owner, 0};
	if (ok) {
		atomic_fetch_add(&w->stats.delivered, 1);
	} else {
		atomic_fetch_add(&w->stats.failed, 1);
		if (now - d->created_at >= (int64_t)w->ctx->cfg->webhook_retry_for * 1000) {
			atomic_fetch_add(&w->stats.dropped, 1);
			log_warn("webhook: delivery %lld (%s of %s) dropped after %d attempts over "
				 "%lld s; last: %s",
				 (long long)d->id, d->type, d->user, d->attempts + 1,
				 (long long)((now - d->created_at) / 1000), why);
		} else {
			j.next_at = now + delay_ms(d->attempts + 1);
			log_debug("webhook: delivery %lld failed (%s); again in %lld ms",
				  (long long)d->id, why, (long long)(j.next_at - now));
		}
	}
	pl_error err;
	if (pl_writer_run(w->ctx->writer, settle_fn, &j, &err) != PL_OK)
		log_warn("webhook: delivery %lld not settled (its lease will run out): %s",
			 (long long)d->id, err.message);
	slot_free(w, sl);
}

static void finished(struct pl_webhook *w, CURLMsg *m)
{
	struct slot *sl = NULL;
	curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
	if (!sl)
		return;
	long status = 0;
	curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
	char why[CURL_ERROR_SIZE + 32];
	if (m->data.result != CURLE_OK)
		snprintf(why, sizeof why, "%s", sl->error[0] ? sl->error : curl_easy_strerror(m->data.result));
	else
		snprintf(why, sizeof why, "HTTP %ld", status);
	settle(w, sl, m->data.result == CURLE_OK && status >= 200 && status < 300, why);
}

/* ---- the loop ---- */

static void feed(struct pl_webhook *w, int64_t now)
{
	if (!(w->ctx->cfg->webhook_mask & STORED_HOOKS) || now < w->feed_at)
		return;
	w->feed_at = now + FEED_EVERY_MS;
	pl_store *r = pl_ctx_reader(w->ctx);
	int64_t end = r ? pl_store_last_event(r) : -1;
	if (r)
		pl_ctx_reader_put(w->ctx, r);
	if (end >= 0 && end == w->fed_up_to)
		return; /* nothing new: no write transaction */
	struct feed_job j = {w->ctx->cfg->webhook_mask, pl_now_ms(), 0};
	pl_error err;
	if (pl_writer_run(w->ctx->writer, feed_fn, &j, &err) != PL_OK) {
		log_warn("webhook: events not queued yet: %s", err.message);
		return;
	}
	if (j.fed == 0)
		w->fed_up_to = end; /* caught up (a full batch feeds again at once) */
	else
		w->feed_at = now;
}

static int free_slots(struct pl_webhook *w)
{
	int n = 0;
	for (int i = 0; i < PL_WEBHOOK_INFLIGHT; i++)
		n += w->slots[i].easy == NULL;
	return n;
}

static void claim(struct pl_webhook *w, int64_t now)
{
	int room = free_slots(w);
	if (room == 0 || now < w->claim_at)
		return;
	w->claim_at = now + CLAIM_EVERY_MS;
	struct pl_delivery got[PL_WEBHOOK_INFLIGHT];
	struct claim_job j = {w->owner, pl_now_ms(), got, room, 0};
	pl_error err;
	if (pl_writer_run(w->ctx->writer, claim_fn, &j, &err) != PL_OK) {
		log_warn("webhook: cannot claim deliveries: %s", err.message);
		return;
	}
	for (int i = 0, k = 0; i < j.n; i++) {
		while (w->slots[k].easy)
			k++;
		struct slot *sl = &w->slots[k];
		sl->d = got[i];
		if (!start(w, sl))
			settle(w, sl, false, "out of memory");
	}
	if (j.n == room)
		w->claim_at = now; /* more may be due */
}

static void count(struct pl_webhook *w, int64_t now)
{
	if (now < w->count_at)
		return;
	w->count_at = now + COUNT_EVERY_MS;
	pl_store *r = pl_ctx_reader(w->ctx);
	if (!r)
		return;
	int64_t n = pl_outbox_depth(r);
	pl_ctx_reader_put(w->ctx, r);
	if (n >= 0)
		atomic_store(&w->stats.queued, n);
}

static void *run(void *arg)
{
	struct pl_webhook *w = arg;
	while (!atomic_load(&w->stop)) {
		int64_t now = pl_mono_ms();
		feed(w, now);
		claim(w, now);
		count(w, now);
		int running = 0;
		curl_multi_perform(w->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(w->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				finished(w, m);
		curl_multi_poll(w->multi, NULL, 0, 100, NULL);
	}
	/* In flight at the stop: back to the queue for whoever comes next. */
	for (int i = 0; i < PL_WEBHOOK_INFLIGHT; i++) {
		struct slot *sl = &w->slots[i];
		if (!sl->easy)
			continue;
		struct settle_job j = {sl->d.id, w->owner, pl_now_ms()};
		pl_error err;
		(void)pl_writer_run(w->ctx->writer, settle_fn, &j, &err);
		slot_free(w, sl);
	}
	return NULL;
}

struct pl_webhook *pl_webhook_start(struct pl_ctx *ctx, pl_error *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pl_fail(err, PL_INTERNAL, "webhook: libcurl did not start");
		return NULL;
	}
	struct pl_webhook *w = calloc(1, sizeof *w);
	if (!w || !(w->multi = curl_multi_init())) {
		free(w);
		curl_global_cleanup();
		pl_fail(err, PL_INTERNAL, "webhook: out of memory");
		return NULL;
	}
	w->ctx = ctx;
	w->fed_up_to = -1;
	char host[64] = "node";
	gethostname(host, sizeof host - 1);
	snprintf(w->owner, sizeof w->owner, "%s:%ld:%lld", host, (long)getpid(),
		 (long long)pl_now_ms());
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		curl_multi_cleanup(w->multi);
		free(w);
		curl_global_cleanup();
		pl_fail(err, PL_INTERNAL, "webhook: cannot start its thread");
		return NULL;
	}
	log_info("webhooks: %s to the receiver, retried for %d s", ctx->cfg->webhook_events,
		 ctx->cfg->webhook_retry_for);
	return w;
}

void pl_webhook_stop(struct pl_webhook *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	curl_multi_cleanup(w->multi);
	free(w);
	curl_global_cleanup();
}

const struct pl_webhook_stats *pl_webhook_stats(const struct pl_webhook *w)
{
	return w ? &w->stats : NULL;
}
