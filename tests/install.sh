#!/bin/sh
# tests/install.sh - 'make install' and what an installed imfilter is for.
#
# 1. make install DESTDIR=$T/root PREFIX=/usr lays out exactly the expected
#    files, and the installed binary runs;
# 2. a C program compiles and links against the installed library through
#    pkg-config (--define-prefix points the pc file into DESTDIR) and
#    computes the README's worked example;
# 3. the man page renders without a warning (groff, man -l) and lists every
#    option of --help and every built-in; its generator (mkman.sh) formats a
#    fake option table exactly and fails clearly without --dump-options; the
#    bash and zsh completions are installed and work;
# 4. make uninstall removes every file it installed;
# 5. the README's scaling recipe is safe: its Makefile run by shards (as on
#    several hosts) and all at once with 'make -j' gives byte-identical
#    files, and a corrupt input fails its own target and leaves no output.
#    (Batch mode run twice, -j 1 and -j 4, is compared in cli_batch.sh.)
#
# Run from 'make check' (install-tests), or as 'sh tests/install.sh' from
# the top folder; MAKE, BUILD and CC are honoured.  Prints
# "install: N passed, N failed" last; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 1

MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-install-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
D=$T/root
IMF=$(pwd)/$BUILD/imfilter
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}
# check NAME COMMAND...: COMMAND succeeds
check() {
	name=$1
	shift
	if "$@"; then ok; else bad "$name"; fi
}
# submake ARGS...: this tree's make, without the flags of a make that runs us
submake() {
	(unset MAKEFLAGS MFLAGS MAKELEVEL; "$MAKE" --no-print-directory "$@")
}

version=$(sed -n 's/^#define IMF_VERSION "\(.*\)"/\1/p' src/imfilter.h)

# ---- 1. make install ----------------------------------------------------

files="usr/bin/imfilter usr/lib/libimfilter.a usr/include/imfilter.h
usr/lib/pkgconfig/imfilter.pc usr/share/man/man1/imfilter.1
usr/share/bash-completion/completions/imfilter usr/share/zsh/site-functions/_imfilter"

if submake -s install DESTDIR="$D" PREFIX=/usr BUILD="$BUILD" >"$T/log" 2>&1; then ok; else
	bad "make install DESTDIR=... PREFIX=/usr failed: $(grep -v '^make' "$T/log" | tail -n 3)"
fi
for f in $files; do
	check "installed $f" test -f "$D/$f"
done
check "bin/imfilter is executable" test -x "$D/usr/bin/imfilter"
n=$(find "$D" -type f | wc -l)
[ "$n" -eq 7 ] && ok || bad "make install installed $n files, want 7: $(find "$D" -type f)"
[ "$("$D/usr/bin/imfilter" --version 2>&1)" = "imfilter $version" ] && ok ||
	bad "installed imfilter --version"
for m in 644:usr/include/imfilter.h 644:usr/lib/pkgconfig/imfilter.pc 755:usr/bin/imfilter; do
	[ "$(stat -c %a "$D/${m#*:}" 2>/dev/null)" = "${m%%:*}" ] && ok || bad "mode of ${m#*:}"
done
pc=$D/usr/lib/pkgconfig/imfilter.pc
grep -qx 'prefix=/usr' "$pc" 2>/dev/null && ok || bad "imfilter.pc has prefix=/usr"
grep -qx "Version: $version" "$pc" 2>/dev/null && ok || bad "imfilter.pc has Version: $version"

# ---- 2. a program built against the installed library -----------------

cat >"$T/prog.c" <<'EOF'
/* The README's worked example through the library: sharpen, zero padding 1. */
#include <imfilter.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	static const float m[5][5] = {
		{ 60, 113, 56, 139, 85 },  { 73, 121, 54, 84, 128 },  { 131, 99, 70, 129, 127 },
		{ 80, 57, 115, 69, 134 },  { 104, 126, 123, 95, 130 },
	};
	imf_error err = { 0 };
	imf_kernel *k = NULL;
	imf_image *in = NULL, *out = NULL;
	imf_conv_params p;
	imf_write_opts wo;
	FILE *png = NULL;
	int rc = 1;

	if (argc != 2)
		return 2;
	if (imf_kernel_parse("sharpen", &k, &err) != IMF_OK ||
	    imf_image_new(5, 5, 1, 0, NULL, &in, &err) != IMF_OK)
		goto cleanup;
	for (size_t y = 0; y < 5; y++)
		for (size_t x = 0; x < 5; x++)
			imf_image_row(in, 0, y)[x] = m[y][x];
	imf_conv_params_default(&p);
	p.pad_mode = IMF_PAD_EXPLICIT;
	p.pad = 1;
	if (imf_conv_run(in, k, &p, &out, &err) != IMF_OK)
		goto cleanup;
	printf("top-left %g\n", imf_image_row_const(out, 0, 0)[0]);
	imf_write_opts_default(&wo);
	if (imf_write(stdout, out, IMF_FORMAT_TEXT, &wo, &err) != IMF_OK)
		goto cleanup;
	if (!(png = fopen(argv[1], "wb"))) {
		perror(argv[1]);
		goto cleanup;
	}
	if (imf_write(png, out, IMF_FORMAT_PNG, &wo, &err) != IMF_OK)
		goto cleanup;
	rc = 0;
cleanup:
	if (png && fclose(png) != 0)
		rc = 1;
	if (rc && err.msg[0])
		fprintf(stderr, "prog: %s\n", err.msg);
	imf_image_free(out);
	imf_image_free(in);
	imf_kernel_free(k);
	return rc;
}
EOF

flags=$(PKG_CONFIG_PATH="$D/usr/lib/pkgconfig" $PKG_CONFIG --define-prefix --static \
	--cflags --libs imfilter 2>"$T/err")
[ $? -eq 0 ] && ok || bad "pkg-config --static --cflags --libs imfilter: $(cat "$T/err")"
case " $flags " in
*" -I$D/usr/include "*) ok ;;
*) bad "pkg-config --cflags points into DESTDIR: $flags" ;;
esac
case " $flags " in
*" -L$D/usr/lib "*"-limfilter "*) ok ;;
*) bad "pkg-config --libs points into DESTDIR: $flags" ;;
esac
# The public header must be clean C11 for library users too.
# shellcheck disable=SC2086 # $flags is a list of flags
if $CC -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$T/prog" "$T/prog.c" $flags \
	>"$T/err" 2>&1; then ok; else
	bad "compile and link against the installed library: $(head -n 5 "$T/err")"
fi
"$T/prog" "$T/prog.png" >"$T/out" 2>"$T/err" && ok || bad "the program runs: $(cat "$T/err")"
[ "$(cat "$T/out")" = "top-left 114
114 328 -26 470 158
53 266 -61 -30 344
403 116 -47 295 244
108 -135 256 -128 344
314 346 279 153 421" ] && ok || bad "the program computes the worked example: $(cat "$T/out")"
# Its PNG, read back by the installed command (clamped to 0..255).
"$D/usr/bin/imfilter" -k identity -f txt "$T/prog.png" - >"$T/out" 2>"$T/err"
[ "$(cat "$T/out")" = "114 255 0 255 158
53 255 0 0 255
255 116 0 255 244
108 0 255 0 255
255 255 255 153 255" ] && ok || bad "the program's PNG: $(cat "$T/out" "$T/err")"

# ---- 3. man page and completions ----------------------------------------

man1=$D/usr/share/man/man1/imfilter.1
if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -ww -z "$man1" >/dev/null 2>"$T/err"
	[ $? -eq 0 ] && [ ! -s "$T/err" ] && ok || bad "groff -ww warns: $(head -n 3 "$T/err")"
fi
if command -v man >/dev/null 2>&1; then
	MANPAGER=cat MANWIDTH=80 man -l "$man1" >"$T/man.txt" 2>"$T/err"
	[ $? -eq 0 ] && [ ! -s "$T/err" ] && ok || bad "man -l: $(head -n 3 "$T/err")"
	grep -q '^NAME' "$T/man.txt" && grep -q '^ *imfilter .* filter images' "$T/man.txt" && ok ||
		bad "man -l renders NAME"
	for sec in SYNOPSIS DESCRIPTION OPTIONS SEMANTICS KERNELS CHAINS FORMATS 'EXIT STATUS' \
		EXAMPLES 'SEE ALSO'; do
		grep -q "^$sec\$" "$T/man.txt" && ok || bad "man page has $sec"
	done
fi
# Every option of --help is in the man page, every built-in kernel too.
"$IMF" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$T/helpopts"
missing=""
while read -r o; do
	esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
	grep -q "fB$esc\\\\fR" "$man1" 2>/dev/null || missing="$missing $o"
done <"$T/helpopts"
[ -s "$T/helpopts" ] && [ -z "$missing" ] && ok || bad "options of --help missing from the man page:$missing"
missing=""
for k in $("$IMF" --list-kernels | awk '{ print $1 }'); do
	esc=$(printf '%s' "$k" | sed 's/-/\\\\-/g')
	grep -q "^\\\\fB$esc\\\\fR (" "$man1" 2>/dev/null || missing="$missing $k"
done
[ -z "$missing" ] && ok || bad "kernels missing from the man page:$missing"

# The generator on a fake option table: every form of entry, roff escapes.
cat >"$T/fake" <<'EOF'
#!/bin/sh
case $1 in
--dump-options)
	printf 'k\tkernel\tSPEC\tkernel: "0 -1 0" or a file\n'
	printf -- '-\tstats\t[json]\tprint stats, \\ too\n'
	printf 'O\toutput-dir\tDIR\t.dir first\n'
	printf -- '-\tflip\t-\tconvolution\n' ;;
--list-kernels) echo 'box-3            3x3    Box blur: the mean' ;;
*) echo "fake: unknown option '$1'" >&2; exit 2 ;;
esac
EOF
printf '.TH T 1\n.SH OPTIONS\n@OPTIONS@\n.SH KERNELS\n@KERNELS@\n.\\" @VERSION@\n' >"$T/t.in"
chmod +x "$T/fake"
sh src/tools/mkman.sh "$T/fake" "$T/t.in" 9.9 >"$T/t.1" 2>"$T/err"
[ "$(cat "$T/t.1")" = '.TH T 1
.SH OPTIONS
.TP
\fB\-k\fR, \fB\-\-kernel\fR \fISPEC\fR
kernel: "0 \-1 0" or a file
.TP
\fB\-\-stats\fR[=\fIjson\fR]
print stats, \e too
.TP
\fB\-O\fR, \fB\-\-output\-dir\fR \fIDIR\fR
\&.dir first
.TP
\fB\-\-flip\fR
convolution
.SH KERNELS
.TP
\fBbox\-3\fR (3x3)
Box blur: the mean
.\" 9.9' ] && [ ! -s "$T/err" ] && ok || bad "mkman.sh on a fake table: $(cat "$T/t.1" "$T/err")"
sed 's/dump-options)/no-such)/' "$T/fake" >"$T/old" && chmod +x "$T/old"
sh src/tools/mkman.sh "$T/old" "$T/t.in" 9.9 >"$T/t.1" 2>"$T/err" && bad "mkman.sh without --dump-options succeeded" ||
	grep -q "^mkman.sh: '$T/old --dump-options' failed (exit 2: fake: unknown option '--dump-options')" "$T/err" &&
	ok || bad "mkman.sh without --dump-options: $(cat "$T/err")"

bashcomp=$D/usr/share/bash-completion/completions/imfilter
if command -v bash >/dev/null 2>&1 && [ -f "$bashcomp" ]; then
	# comp WORDS...: what completing the last word offers
	PATH="$D/usr/bin:$PATH" bash -c '
		. "$1" || exit 1
		comp() {
			COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
			_imfilter
			echo "${COMPREPLY[*]}"
		}
		comp imfilter --bor
		comp imfilter -b re
		comp imfilter --map=ab
		comp imfilter -k sobel-
		comp imfilter --channels ""
	' sh "$bashcomp" >"$T/out" 2>"$T/err"
	[ "$(cat "$T/out")" = "--border
replicate reflect
--map=abs
sobel-x sobel-y
gray rgb" ] && [ ! -s "$T/err" ] && ok || bad "bash completion: $(cat "$T/out" "$T/err")"
fi
zshcomp=$D/usr/share/zsh/site-functions/_imfilter
if command -v zsh >/dev/null 2>&1 && [ -f "$zshcomp" ]; then
	zsh -n "$zshcomp" 2>"$T/err" && ok || bad "zsh completion syntax: $(cat "$T/err")"
fi
head -n 1 "$zshcomp" 2>/dev/null | grep -qx '#compdef imfilter' && ok || bad "zsh completion's #compdef"

# ---- 4. make uninstall ----------------------------------------------------

if submake -s uninstall DESTDIR="$D" PREFIX=/usr BUILD="$BUILD" >"$T/log" 2>&1; then ok; else
	bad "make uninstall failed: $(tail -n 3 "$T/log")"
fi
left=$(find "$D" ! -type d)
[ -z "$left" ] && ok || bad "make uninstall left: $left"

# ---- 5. the scaling recipe: make -j is deterministic and safe -------------

# The README's Makefile, word for word (keep them in step).
F=$T/farm
mkdir -p "$F/in"
cat >"$F/Makefile" <<'EOF'
# make -j8                      every image, on this machine's cores
# make -j8 SHARD=2 SHARDS=3     the second third, e.g. on the second host
IMFILTER ?= imfilter
SHARDS   ?= 1
SHARD    ?= 1
IN  := $(sort $(wildcard in/*.jpg))
OUT := $(patsubst in/%.jpg,out/%.png,$(IN))
MINE := $(shell printf '%s\n' $(OUT) | awk 'NR % $(SHARDS) == $(SHARD) % $(SHARDS)')

all: $(MINE)

out/%.png: in/%.jpg
	@mkdir -p $(@D)
	$(IMFILTER) -k sobel -b replicate $< $@

.PHONY: all
.DELETE_ON_ERROR:
EOF
cp samples/blobs.jpg "$F/in/blobs.jpg"
for s in shapes strokes gradient texture; do
	"$IMF" -k identity --channels rgb -q 85 "samples/$s.png" "$F/in/$s.jpg" ||
		bad "make a JPEG of $s"
done
farm() { submake -s -C "$F" IMFILTER="$IMF" "$@" >"$T/log" 2>&1; }
# Two "hosts" each do their shard, then the same batch again, all at once.
farm -j3 SHARD=1 SHARDS=2 && farm -j3 SHARD=2 SHARDS=2 && ok || bad "make -j by shards: $(cat "$T/log")"
mv "$F/out" "$F/out.shards"
farm -j4 && ok || bad "make -j: $(cat "$T/log")"
[ "$(ls "$F/out" | wc -l)" -eq 5 ] && ok || bad "make -j wrote 5 files: $(ls "$F/out")"
for f in "$F"/out/*.png; do
	cmp -s "$f" "$F/out.shards/${f##*/}" && ok || bad "make -j twice: ${f##*/} differs"
done
# A corrupt input fails its own target, and only it; no partial output.
head -c 2000 samples/blobs.jpg >"$F/in/corrupt.jpg"
rm -rf "$F/out"
farm -k -j4 && bad "make -k -j with a corrupt input succeeded" || ok
[ ! -e "$F/out/corrupt.png" ] && [ "$(ls "$F/out" | wc -l)" -eq 5 ] && ok ||
	bad "make -k -j with a corrupt input: $(ls "$F/out")"
[ -z "$(find "$F" -name '.*imfilter-*')" ] && ok || bad "temporary files left in $F"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
