#!/bin/sh
# Install imfilter's build dependencies on Debian when they are missing.
#   install-deps.sh build   libpng, libjpeg, pkg-config
#   install-deps.sh check   the same plus the Check unit-test framework
# Does nothing when pkg-config already finds everything; otherwise, as root
# with apt-get, installs the Debian packages; otherwise says what is missing.
set -u
want=${1:-build}
mods="libpng libjpeg"
[ "$want" = check ] && mods="$mods check"

missing() {
	command -v pkg-config >/dev/null 2>&1 || return 0
	command -v cc >/dev/null 2>&1 || return 0
	for m in $mods; do
		pkg-config --exists "$m" || return 0
	done
	return 1
}

missing || exit 0

pkgs="pkg-config libpng-dev gcc make"
if [ "$want" = check ]; then
	pkgs="$pkgs check"
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "imfilter: missing build dependencies ($mods); install: $pkgs libjpeg-dev" >&2
	exit 1
fi
echo "imfilter: installing build dependencies with apt-get: $pkgs libjpeg" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "imfilter: apt-get update failed" >&2; exit 1; }
# libjpeg62-turbo-dev is Debian's libjpeg; libjpeg-dev is the virtual name elsewhere.
apt-get install -y -qq $pkgs libjpeg62-turbo-dev >/dev/null 2>&1 ||
	apt-get install -y -qq $pkgs libjpeg-dev >/dev/null ||
	{ echo "imfilter: apt-get install failed" >&2; exit 1; }
if missing; then
	echo "imfilter: dependencies still missing after apt-get ($mods)" >&2
	exit 1
fi
