#!/bin/sh
# node_alioss.sh -- the official ali-oss client against the OSS fixture (TAP)
dir="${MIAS_SRCDIR:-$(dirname "$0")/..}/tests/node"
if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node is not installed"
	exit 0
fi
if [ ! -d "$dir/node_modules/ali-oss" ]; then
	# ./runtests installs them; a bare "make check" may run without
	echo "1..0 # SKIP npm modules not installed (cd tests/node && npm ci)"
	exit 0
fi
cd "$dir" && exec node --test --test-reporter=tap oss_alioss.test.mjs
