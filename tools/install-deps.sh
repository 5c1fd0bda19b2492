#!/bin/sh
# install-deps.sh -- install the Debian packages mias builds and tests with (used by runtests and quickstart)
#
# Usage: tools/install-deps.sh [--tests]
#   without --tests: what building and running mias needs
#   with --tests: also the test tools (Node.js for the independent checks,
#   the web servers, clang and its sanitizer runtime, valgrind, logrotate,
#   promtool from prometheus for the metrics answer, what building and
#   checking the Debian package needs)
set -u
pkgs="autoconf automake make gcc pkg-config libfcgi-dev libjson-c-dev
libcurl4-openssl-dev libssl-dev libexpat1-dev libinih-dev libdb5.3-dev
db5.3-util uuid-dev lighttpd python3 python3-pydicom curl"
[ "${1:-}" = "--tests" ] && pkgs="$pkgs nodejs npm chromium fonts-droid-fallback apache2-bin libapache2-mod-fcgid spawn-fcgi clang valgrind gdb logrotate prometheus"
# tests/package.sh: building the Debian package (debian/control's
# Build-Depends: debhelper, dh-apache2 from apache2-dev), lintian, the
# system Apache it installs into, systemd-analyze for the unit, git
[ "${1:-}" = "--tests" ] && pkgs="$pkgs dpkg-dev debhelper apache2-dev libdb-dev lintian apache2 systemd git"

missing=""
for p in $pkgs; do
	case $p in	# a Node.js from elsewhere is fine
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done

install() {
	echo "installing Debian packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root: install them with apt-get install$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	[ -n "${updated:-}" ] || apt-get update -qq >/dev/null
	updated=1
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "apt-get install$missing failed" >&2
		exit 1
	}
}
[ -z "$missing" ] || install

# clang's AddressSanitizer runtime is only recommended by clang (Debian 12:
# libclang-rt-14-dev), so --no-install-recommends leaves it out
if [ "${1:-}" = "--tests" ] && command -v clang >/dev/null 2>&1; then
	rt=$(clang -print-file-name=libclang_rt.asan-x86_64.a 2>/dev/null)
	if [ ! -f "$rt" ]; then
		missing=" libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
		install
	fi
fi
exit 0
