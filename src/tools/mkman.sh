#!/bin/sh
# mkman.sh - the man page from its template and the binary's own tables.
#
#   mkman.sh IMFILTER TEMPLATE VERSION > imfilter.1
#
# The OPTIONS list comes from 'IMFILTER --dump-options', the option table
# itself, one option a line:
#
#   SHORT<TAB>LONG<TAB>ARG<TAB>HELP
#
# SHORT is "-" when the option has no short form, ARG is "-" when it takes no
# value and is written in brackets ("[json]") when the value is optional.
# The KERNELS list comes from 'IMFILTER --list-kernels' (NAME SIZE
# DESCRIPTION).  They replace the lines @OPTIONS@ and @KERNELS@ of TEMPLATE,
# and @VERSION@ becomes VERSION, so the man page lists exactly what the
# binary was built with and cannot drift from --help.  IMFILTER may be any
# command that answers those two options (tests use a fake one).  A
# TEMPLATE line @LEARN_OPTIONS@ (optional) becomes the option table of the
# subcommand, 'IMFILTER learn --dump-options', formatted as OPTIONS is.
set -u

me=mkman.sh
if [ $# -ne 3 ]; then
	echo "usage: $me IMFILTER TEMPLATE VERSION > imfilter.1" >&2
	exit 2
fi
bin=$1
template=$2
version=$3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-mkman-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# run WHAT OUT: run "$bin WHAT" into OUT; on failure say which table is
# missing and why (the binary's own one-line message), and stop.
run() {
	"$bin" "$1" >"$2" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$2" ]; then
		why=$(head -n 1 "$tmp/err")
		echo "$me: '$bin $1' failed (exit $rc${why:+: $why});" \
			"the man page's $3 section is generated from it" >&2
		exit 1
	fi
}
run --dump-options "$tmp/options.tsv" OPTIONS
run --list-kernels "$tmp/kernels.txt" KERNELS

# Shared awk: roff-escape a line of plain text.  Backslashes become \e; a
# '-' that starts a word (an option, a negative number) becomes \- so that it
# prints and pastes as a minus, while hyphens inside words stay hyphens; in
# a name the user types (name = 1: an option, a kernel) every '-' is \-.  A
# line may not start with a control character.
roff_awk='
function roff(s, name,    out, i, c, prev) {
	out = ""
	prev = " "
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\")
			out = out "\\e"
		else if (c == "-" && (name || index(" \t([{\"'\''/=|,-", prev) > 0))
			out = out "\\-"
		else
			out = out c
		prev = c
	}
	if (out ~ /^[.'\'']/)
		out = "\\&" out
	return out
}
'

# OPTIONS: one .TP entry per option, "-k, --kernel SPEC" in bold/italic.
options_roff() {
awk -F '\t' "$roff_awk"'
function opt(s) {
	sub(/^-+/, "", s)
	return s
}
{
	if (NF != 4 || $2 == "" || $4 == "") {
		printf "mkman.sh: --dump-options line %d: expected SHORT, LONG, ARG and HELP " \
		       "separated by tabs: %s\n", NR, $0 > "/dev/stderr"
		bad = 1
		exit 1
	}
	s = ($1 == "-") ? "" : opt($1)
	l = ($2 == "-") ? "" : opt($2)
	if (s == "" && l == "") {
		printf "mkman.sh: --dump-options line %d: no option name\n", NR > "/dev/stderr"
		bad = 1
		exit 1
	}
	head = ""
	if (s != "")
		head = "\\fB\\-" roff(s, 1) "\\fR"
	if (l != "")
		head = head (head != "" ? ", " : "") "\\fB\\-\\-" roff(l, 1) "\\fR"
	a = $3
	if (a ~ /^\[.*\]$/) {
		a = substr(a, 2, length(a) - 2)
		head = head (l != "" ? "[=" : "[") "\\fI" roff(a) "\\fR]"
	} else if (a != "-") {
		head = head " \\fI" roff(a) "\\fR"
	}
	print ".TP"
	print head
	print roff($4)
	n++
}
END {
	if (!bad && n == 0) {
		print "mkman.sh: --dump-options printed no options" > "/dev/stderr"
		exit 1
	}
}' "$1"
}
options_roff "$tmp/options.tsv" >"$tmp/options.roff" || exit 1

# 'IMFILTER learn --dump-options' (its own table) replaces @LEARN_OPTIONS@,
# when the template has that line.
: >"$tmp/learn.roff"
if grep -qx '@LEARN_OPTIONS@' "$template"; then
	"$bin" learn --dump-options >"$tmp/learn.tsv" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$tmp/learn.tsv" ]; then
		why=$(head -n 1 "$tmp/err")
		echo "$me: '$bin learn --dump-options' failed (exit $rc${why:+: $why});" \
			"the man page's LEARN OPTIONS are generated from it" >&2
		exit 1
	fi
	options_roff "$tmp/learn.tsv" >"$tmp/learn.roff" || exit 1
fi

# KERNELS: "NAME SIZE DESCRIPTION" lines, as --list-kernels prints them.
awk "$roff_awk"'
NF < 3 {
	printf "mkman.sh: --list-kernels line %d: expected NAME SIZE DESCRIPTION: %s\n", NR, $0 \
		> "/dev/stderr"
	exit 1
}
{
	name = $1
	size = $2
	desc = $0
	sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", desc)
	print ".TP"
	print "\\fB" roff(name, 1) "\\fR (" size ")"
	print roff(desc)
}' "$tmp/kernels.txt" >"$tmp/kernels.roff" || exit 1

# Merge at the markers; each must appear exactly once.
awk -v version="$version" -v opts="$tmp/options.roff" -v kerns="$tmp/kernels.roff" \
	-v learn="$tmp/learn.roff" '
function include(file,    line) {
	while ((getline line < file) > 0)
		print line
	close(file)
}
$0 == "@OPTIONS@" { include(opts); o++; next }
$0 == "@KERNELS@" { include(kerns); k++; next }
$0 == "@LEARN_OPTIONS@" { include(learn); next }
{ gsub(/@VERSION@/, version); print }
END {
	if (o != 1 || k != 1) {
		printf "mkman.sh: %s: expected one @OPTIONS@ and one @KERNELS@ line, found %d and %d\n",
		       FILENAME, o, k > "/dev/stderr"
		exit 1
	}
}' "$template"
