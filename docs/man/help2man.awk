# docs/man/help2man.awk: the OPTIONS section of a man page, in roff, from
# the program's own --help, so the page lists exactly the flags the binary
# takes.  The help's option lines start with two spaces and a dash; the
# lines under one, indented further, describe it ("env X, default Y" among
# them).  Everything before the first option line is skipped.
function flush() {
	if (opt == "") return
	print ".TP"
	print "\\fB" esc(opt) "\\fR"
	print desc
	opt = ""; desc = ""
}
# roff: a backslash doubled, a leading dot or quote guarded, dashes literal.
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/) s = "\\&" s
	return s
}
/^  -/ {
	flush()
	line = $0
	sub(/^  /, "", line)
	# The flag and its argument end where two spaces start the description.
	if (match(line, /  +/)) {
		opt = substr(line, 1, RSTART - 1)
		desc = esc(substr(line, RSTART + RLENGTH))
	} else {
		opt = line
		desc = ""
	}
	started = 1
	next
}
started && /^    +[^ ]/ {
	line = $0
	sub(/^ +/, "", line)
	desc = desc (desc == "" ? "" : "\n.br\n") esc(line)
	next
}
END { flush() }
