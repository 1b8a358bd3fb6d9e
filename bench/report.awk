# report.awk - turns the loadgen RESULT lines of one bench/run.sh run into
# the Markdown results page: the targets table (goal, parleyd, nchan peer
# or, for the Socket.IO rows, Node's socket.io peer; met/missed) and the
# table of every measurement.  A "# merged: DAY FROM LABELS.." line (from
# BENCH_MERGE) says which scenarios were measured on another day.
# Variables: day (YYYY-MM-DD), svg (chart file name), host (machine note).

/^# merged: / {
	merged = merged (merged == "" ? "" : "; ") "the " substr($0, index($0, $5)) " rows on " $3 \
		" (the others in the run of " $4 ")"
}

/^RESULT / {
	delete kv
	for (i = 2; i <= NF; i++) {
		eq = index($i, "=")
		kv[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	id = kv["label"] SUBSEP kv["target"] SUBSEP kv["rate"]
	if (!(id in seen))
		order[++n] = id
	seen[id] = 1
	for (k in kv)
		v[id, k] = kv[k]
}

function get(label, target, rate, key,   id) {
	id = label SUBSEP target SUBSEP rate
	return (id in seen) ? v[id, key] : ""
}

function num(x) { return x == "" ? "–" : x }

function kib(bytes) { return bytes == "" ? "–" : sprintf("%.0f B (%.2f KiB)", bytes, bytes / 1024) }

function verdict(ok, have) { return have ? (ok ? "met" : "**missed**") : "n/a" }

function row(what, goal, mine, peer, ok, have) {
	printf "| %s | %s | %s | %s | %s |\n", what, goal, num(mine), num(peer), verdict(ok, have)
}

function rss_rows(label, goal_b, name,   p, q) {
	p = get(label, "parley", 0, "rss_per_conn_b")
	q = get(label, "nchan", 0, "rss_per_conn_b")
	printf "| RSS per idle %s connection (15,000 held) | ≤ %d KiB | %s | %s | %s |\n", \
		name, goal_b / 1024, kib(p), kib(q), verdict(p != "" && p + 0 <= goal_b, p != "")
}

function fanout_rows(label, name,   l, lq, p, q, d, dq) {
	l = get(label, "parley", 10, "lost"); lq = get(label, "nchan", 10, "lost")
	row("fan-out " name ", 10,000 subs, 10 msg/s: all delivered (lost)", "0 lost", l, lq, l == 0, l != "")
	p = get(label, "parley", 10, "p99_ms"); q = get(label, "nchan", 10, "p99_ms")
	row("fan-out " name ", 10,000 subs, 10 msg/s: p99 latency ms", "≤ nchan", p, q, q != "" && p + 0 <= q + 0, p != "" && q != "")
	d = get(label, "parley", 30, "deliv_per_s"); dq = get(label, "nchan", 30, "deliv_per_s")
	row("fan-out " name ", 10,000 subs, 30 msg/s: deliveries/s", "≥ 1.5 × nchan", d, dq, dq != "" && d + 0 >= 1.5 * dq, d != "" && dq != "")
}

# Socket.IO (10,000 clients over WebSocket) against Node's socket.io 4.8.
function sio_rows(   p, q, d, dq, l, lq) {
	p = get("idle-sio", "parley", 0, "rss_per_conn_b"); q = get("idle-sio", "socketio", 0, "rss_per_conn_b")
	printf "| Socket.IO: RSS per idle client (10,000 held; peer: Node socket.io 4.8) | ≤ socket.io | %s | %s | %s |\n", \
		kib(p), kib(q), verdict(q != "" && p + 0 <= q + 0, p != "" && q != "")
	l = get("fanout-sio", "parley", 10, "lost"); lq = get("fanout-sio", "socketio", 10, "lost")
	row("Socket.IO fan-out, 10,000 clients, 10 msg/s: all delivered (lost)", "0 lost", l, lq, l == 0, l != "")
	p = get("fanout-sio", "parley", 10, "p99_ms"); q = get("fanout-sio", "socketio", 10, "p99_ms")
	row("Socket.IO fan-out, 10,000 clients, 10 msg/s: p99 latency ms", "≤ socket.io", p, q, q != "" && p + 0 <= q + 0, p != "" && q != "")
	d = get("fanout-sio", "parley", 30, "deliv_per_s"); dq = get("fanout-sio", "socketio", 30, "deliv_per_s")
	row("Socket.IO fan-out, 10,000 clients, 30 msg/s: deliveries/s", "≥ socket.io", d, dq, dq != "" && d + 0 >= dq + 0, d != "" && dq != "")
}

function ops_row(label, what, goal,   p) {
	p = get(label, "parley", 0, "ops_per_s")
	row(what, "≥ " goal, p, "", p != "" && p + 0 >= goal, p != "")
}

function targets(   c) {
	print "## Targets (reported, not asserted)\n"
	print "| target | goal | parleyd | nchan (peer) | |"
	print "|---|---|---|---|---|"
	rss_rows("idle-ws", 1024, "WebSocket")
	rss_rows("idle-sse", 6144, "SSE")
	c = get("capacity", "parley", 0, "ready")
	row("WebSocket connections held by one parleyd", "19,000", c, "", c + 0 >= 19000, c != "")
	fanout_rows("fanout-ws", "WS")
	fanout_rows("fanout-sse", "SSE")
	ops_row("ingest-ws", "durable ingest over WebSocket, msg/s acknowledged", 50000)
	ops_row("ingest-rest", "durable ingest over REST (64 keep-alive conns), msg/s", 15000)
	ops_row("history", "history reads, GET messages?limit=50, req/s", 20000)
	if (get("idle-sio", "parley", 0, "label") != "" || get("fanout-sio", "parley", 10, "label") != "")
		sio_rows()
	print ""
}

function measurements(   i, id, w, rss, sub_t) {
	print "## Every measurement\n"
	print "| scenario | server | sub / pub | subscribers ready / asked | rooms | rate msg/s | delivered / expected | deliveries/s | p50 ms | p90 ms | p99 ms | max ms | ops/s | errors | server RSS KiB before → after | RSS per conn | server CPU s | lg CPU s | other CPU s |"
	print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for (i = 1; i <= n; i++) {
		id = order[i]
		split(id, w, SUBSEP)
		rss = v[id, "rss_per_conn_b"] + 0 > 0 ? sprintf("%.0f B", v[id, "rss_per_conn_b"]) : "–"
		sub_t = v[id, "subs"] + 0 > 0 ? v[id, "sub"] : "–"
		printf "| %s | %s | %s / %s | %s / %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s → %s | %s | %s | %s | %s |\n", \
			w[1], w[2], sub_t, v[id, "pub"], v[id, "ready"], v[id, "subs"], \
			v[id, "rooms"], v[id, "rate"], v[id, "received"], v[id, "expected"], \
			v[id, "deliv_per_s"], v[id, "p50_ms"], v[id, "p90_ms"], v[id, "p99_ms"], \
			v[id, "max_ms"], v[id, "ops_per_s"], v[id, "errors"], v[id, "rss0_kb"], \
			v[id, "rss2_kb"], rss, v[id, "cpu_s"], v[id, "lg_cpu_s"], \
			v[id, "other_cpu_s"]
	}
	print ""
}

END {
	printf "# Parley benchmark, %s\n\n", day
	printf "Made by `make bench` (bench/run.sh) on %s, loopback only. parleyd and\n", host
	print "nginx 1.22 + nchan (one worker, same 20,000-file limit) run one at a time, each"
	print "fresh for every scenario, against the same load generator (bench/loadgen: one"
	print "epoll process). Latency is measured per delivery from the CLOCK_MONOTONIC send"
	print "time carried in the message text; for ingest and history it is the request's"
	print "round trip. RSS per connection = (server RSS with all subscribers connected"
	print "− RSS before) / subscribers. nchan publishes by POST to its publisher location;"
	print "it stores nothing durable, so ingest and history have no peer figure. The"
	print "ingest runs start parleyd with --dev, the only switch for its per-user post"
	print "limit (50/s): they measure the store, not that policy. Idle subscribers name"
	print "a room of their own (idle0) rather than take the default subscription. In the"
	print "last table, lg CPU is the generator's own and other CPU is everything else the"
	print "machine ran meanwhile (from /proc/stat): figures with much other CPU are"
	print "disturbed by load outside the benchmark. The Socket.IO rows (idle-sio,"
	print "fanout-sio) run against Node's socket.io 4.8 server instead (bench/sio-peer,"
	print "one process, the same binding: every client joins its room with a `join`"
	print "event, one publisher emits `send_message` with an ack, deliveries are the"
	print "`receive_message` events; parleyd also emits each event as `parley`, which"
	print "is not counted); the peer column holds its figures there."
	if (merged != "")
		printf "Measured on different days: %s.\n", merged
	print ""
	targets()
	printf "![deliveries per second and p99 latency](%s)\n\n", svg
	measurements()
}
