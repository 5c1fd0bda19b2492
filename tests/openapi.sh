#!/bin/sh
# openapi.sh -- doc/openapi.yaml linted with @redocly/cli, and every response the integration tests recorded validated against it with ajv (TAP)
#
# The integration tests record their responses when MIAS_RECORD_RESPONSES
# names a directory (make check sets $(builddir)/tests/responses); run this
# after them (Makefile.am orders tests/openapi.log after their logs).
# Needs node (20.19 or later, for @redocly/cli) and the npm modules of
# tests/node (npm ci); skips without them.
src="${MIAS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
dir="$src/tests/node"
spec="$src/doc/openapi.yaml"
rec="${MIAS_RECORD_RESPONSES:-${MIAS_BUILDDIR:-$src/build}/tests/responses}"

if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node is not installed"
	exit 0
fi
for m in @redocly/cli ajv ajv-formats yaml; do
	if [ ! -d "$dir/node_modules/$m" ]; then
		# ./runtests installs them; a bare "make check" may run without
		echo "1..0 # SKIP npm module $m not installed (cd tests/node && npm ci)"
		exit 0
	fi
done
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
	echo "1..0 # SKIP node $(node --version) is older than 20.19, which @redocly/cli needs"
	exit 0
fi

# 1: the lint, with the rules of redocly.yaml (no telemetry, no colours)
out=$(cd "$src" && REDOCLY_TELEMETRY=off NO_COLOR=1 \
    node "$dir/node_modules/@redocly/cli/bin/cli.js" lint \
    --config "$src/redocly.yaml" --format stylish "$spec" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	echo "ok 1 - redocly lint doc/openapi.yaml"
else
	echo "not ok 1 - redocly lint doc/openapi.yaml (exit $rc)"
	# (less the banner about Node.js versions that redocly prints)
	printf '%s\n' "$out" | grep -v -e '^ *$' -e '║' -e '╔' -e '╚' |
	    sed 's/^/#   /'
fi

# 2...: the recorded responses
if [ ! -d "$rec" ] || [ -z "$(ls "$rec" 2>/dev/null | grep '\.jsonl$')" ]; then
	echo "# no responses recorded in $rec (run the integration tests first)"
	echo "1..1"
	exit $rc
fi
TAP_OFFSET=1 node "$dir/validate_responses.mjs" "$spec" "$rec"
vrc=$?
[ $rc -eq 0 ] && [ $vrc -eq 0 ]
