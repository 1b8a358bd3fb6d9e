# db/schema/pg/embed.awk: the PostgreSQL schema files, as C strings.
#
#   awk -f db/schema/pg/embed.awk db/schema/pg/001_init.sql 002_....sql > db/pgschema.h
#
# Each file NNN_name.sql is migration NNN; the files must be given in
# order, numbered from 1 without a gap (checked here, so a missing or
# misnumbered file fails the build).  Whole-line "--" comments and blank
# lines are left out; the rest is kept as it is, escaped for C.
BEGIN {
	print "/* Generated from the files db/schema/pg/NNN_name.sql by db/schema/pg/embed.awk: do not edit. */"
	print "static const char *const pl_pg_schema[] = {"
	n = 0
}
FNR == 1 {
	if (n > 0)
		print "\t\"\","
	n++
	base = FILENAME
	sub(/.*\//, "", base)
	num = base
	sub(/_.*/, "", num)
	if (num !~ /^[0-9]+$/ || num + 0 != n) {
		printf "embed.awk: %s: expected migration %03d here\n", FILENAME, n > "/dev/stderr"
		exit 1
	}
	printf "\t/* %d: %s */\n", n, base
}
/^[ \t]*(--.*)?$/ { next }
{
	line = $0
	gsub(/\\/, "\\\\", line)
	gsub(/"/, "\\\"", line)
	gsub(/\?/, "\\?", line) # no trigraphs
	printf "\t\"%s\\n\"\n", line
}
END {
	if (n == 0) {
		print "embed.awk: no schema files" > "/dev/stderr"
		exit 1
	}
	print "\t\"\","
	print "};"
	printf "#define PL_PG_SCHEMA_VERSION %d\n", n
}
