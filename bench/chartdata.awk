# chartdata.awk - gnuplot data from loadgen RESULT lines: one row per
# delivery scenario and rate, with parleyd and nchan deliveries/s and p99 ms
# ("-" where the peer did not run), for bench/chart.gp.  The Socket.IO
# scenarios' peer (Node's socket.io) takes the peer column.
/^RESULT / && / mode=fanout / {
	delete kv
	for (i = 2; i <= NF; i++) {
		eq = index($i, "=")
		kv[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	name = kv["label"] "@" kv["rate"]
	if (!(name in seen))
		order[++n] = name
	seen[name] = 1
	t = kv["target"] == "socketio" ? "nchan" : kv["target"]
	d[name, t] = kv["deliv_per_s"]
	p[name, t] = kv["p99_ms"]
}
function f(x) { return x == "" ? "-" : x }
END {
	for (i = 1; i <= n; i++) {
		k = order[i]
		printf "\"%s\" %s %s %s %s\n", k, f(d[k, "parley"]), f(d[k, "nchan"]), \
			f(p[k, "parley"]), f(p[k, "nchan"])
	}
}
