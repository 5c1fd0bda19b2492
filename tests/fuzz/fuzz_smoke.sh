#!/bin/sh
# fuzz_smoke.sh -- replay every seed corpus of tests/fuzz through its harness (TAP)
#
# Run by "make check" (TESTS) and "make fuzz-smoke".  The harnesses are
# tests/fuzz/fuzz_<name> of the build directory: libFuzzer programs under
# --enable-fuzzing, replay.c otherwise; "-runs=0 DIR" runs each file of
# DIR once with either.  A crash, sanitizer report or broken invariant
# fails the harness's test point and shows its output.
set -u
src=${MIAS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MIAS_BUILDDIR:-$src/build}
harnesses="execute feedback trigger query result oss_list oss_error conf sig url ops"

set -- $harnesses
echo "1..$#"
n=0
fail=0
for h in $harnesses; do
	n=$((n + 1))
	prog=$build/tests/fuzz/fuzz_$h
	corpus=$src/tests/fuzz/corpus/$h
	if [ ! -x "$prog" ]; then
		echo "not ok $n - fuzz_$h: $prog not built"
		fail=1
		continue
	fi
	files=$(find "$corpus" -type f | wc -l)
	if out=$("$prog" -runs=0 "$corpus" 2>&1); then
		echo "ok $n - fuzz_$h replays its $files corpus files"
	else
		echo "not ok $n - fuzz_$h crashed on its corpus"
		printf '%s\n' "$out" | tail -40 | sed 's/^/# /'
		fail=1
	fi
done
exit $fail
