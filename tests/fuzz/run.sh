#!/bin/sh
# run.sh -- fuzz each harness of tests/fuzz for a set time with libFuzzer; print executions and coverage
#
# Usage: tests/fuzz/run.sh [SECONDS [HARNESS...]]
#   SECONDS   per harness (default 60); HARNESS: execute, feedback, trigger,
#             query, result, oss_list, oss_error, conf, sig, url, ops (default all)
# Environment:
#   FUZZ_BUILD  build directory (default: build-fuzz beside build/), configured
#               there with CC=clang --enable-fuzzing if it is not yet
#   FUZZ_WORK   where the grown corpora, logs and crash inputs go (default
#               FUZZ_BUILD/fuzz-work); the seed corpora in tests/fuzz/corpus
#               are read, never written
#   MAKE_JOBS   make -j for the build (default 2)
#
# Each harness runs as one libFuzzer process (-jobs=1 -workers=1: one CPU)
# for SECONDS, with its dictionary, from its seed corpus plus what earlier
# runs found.  The table at the end gives, per harness, the executions, the
# executions per second, libFuzzer's final coverage (cov: edges, ft:
# features) and corpus size, and the crash, leak, timeout or OOM inputs
# found (in FUZZ_WORK/NAME/artifacts/).  Exits 1 when any was found.  To
# keep a crashing input as a regression case, copy it into
# tests/fuzz/corpus/NAME/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-execute feedback trigger query result oss_list oss_error conf sig url ops}
build=${FUZZ_BUILD:-$top/build-fuzz}
work=${FUZZ_WORK:-$build/fuzz-work}
jobs=${MAKE_JOBS:-2}

case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS [HARNESS...]]" >&2; exit 2 ;;
esac

# build: the whole tree instrumented, only the harnesses linked
if [ ! -x "$top/configure" ]; then
	(cd "$top" && ./autogen.sh >/dev/null 2>&1) ||
	    { echo "run.sh: autogen.sh failed" >&2; exit 1; }
fi
mkdir -p "$build" || exit 1
cd "$build" || exit 1
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
	"$top/configure" CC="${CC:-clang}" --enable-fuzzing >configure.out 2>&1 ||
	    { tail -20 configure.out; echo "run.sh: configure failed" >&2; exit 1; }
fi
make -j"$jobs" fuzz-harnesses >make.out 2>&1 ||
    { tail -30 make.out; echo "run.sh: build failed" >&2; exit 1; }

found=0
summary=$work/summary.txt
mkdir -p "$work" || exit 1
printf '%-10s %6s %12s %8s %6s %7s %6s %s\n' harness secs execs exec/s \
    cov ft corpus artifacts >"$summary"
for h in $harnesses; do
	prog=$build/tests/fuzz/fuzz_$h
	seeds=$top/tests/fuzz/corpus/$h
	dir=$work/$h
	if [ ! -x "$prog" ] || [ ! -d "$seeds" ]; then
		echo "run.sh: no harness or corpus for $h" >&2
		found=1
		continue
	fi
	mkdir -p "$dir/corpus" "$dir/artifacts"
	case $h in
	execute|feedback|trigger|result) dict="-dict=$top/tests/fuzz/json.dict" ;;
	oss_list|oss_error) dict="-dict=$top/tests/fuzz/xml.dict" ;;
	*) dict= ;;
	esac
	echo "fuzz_$h: $secs s ..." >&2
	rm -f "$dir/fuzz-0.log"
	# -jobs=1 runs the fuzzer in a child writing to fuzz-0.log in the
	# current directory
	(cd "$dir" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	    "$prog" -jobs=1 -workers=1 -max_total_time="$secs" \
	    -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$dir/artifacts/" $dict \
	    "$dir/corpus" "$seeds" >"$dir/run.out" 2>&1)
	log=$dir/fuzz-0.log
	[ -f "$log" ] || log=$dir/run.out
	cp "$log" "$dir/last.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	arts=$(find "$dir/artifacts" -type f | wc -l)
	[ "$arts" -gt 0 ] && found=1
	printf '%-10s %6s %12s %8s %6s %7s %6s %s\n' "$h" "$secs" \
	    "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
	    "$arts" >>"$summary"
done
cat "$summary"
echo "logs, corpora and artifacts: $work"
exit $found
