#!/bin/sh
# sanitize.sh -- the test suite under ASan+UBSan, and the unit tests under valgrind: zero reports, or it fails
#
# Usage: tests/sanitize.sh            (from anywhere; called by ./runtests)
#
# 1. Configures build-asan/ (beside build/) with
#    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer",
#    builds it and runs its "make check": the unit tests, and the
#    integration tests, which install that build into build-asan/tests/inst
#    and run its responders under lighttpd and its dispatcher and
#    mias-admin.  Every process reports to build-asan/sanitizer-logs/
#    (ASan, LeakSanitizer and UBSan alike) and stops at its first report;
#    afterwards that directory must be empty.
# 2. Runs each unit test of build/ (./runtests's build, used as it is
#    configured; configured plainly if there is none) under valgrind
#    memcheck, --leak-check=full, with tests/valgrind.supp (empty: no
#    suppression was needed); any error or leak fails it.
#
# The compiler is clang when there is one (SAN_CC overrides): GCC's
# libubsan ignores log_path.  Tests that measure memory or time can relax
# their limits when MIAS_SANITIZER is set.
#
# Prints one TAP line per check and a summary; exits 1 on any report or
# test failure.  Environment: MAKE_JOBS (default 2), ASAN_BUILD and
# VALGRIND_BUILD to use other build directories.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${MAKE_JOBS:-2}
abuild=${ASAN_BUILD:-$top/build-asan}
vbuild=${VALGRIND_BUILD:-$top/build}
logs=$abuild/sanitizer-logs
supp=$top/tests/valgrind.supp
# clang: its one runtime writes UBSan reports to log_path as well (GCC's
# separate libubsan prints them to standard error only, which for the
# responders is a file of lighttpd's that the tests remove)
san_cc=${SAN_CC:-$(command -v clang || echo gcc)}
san_cflags="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
san_ldflags="-fsanitize=address,undefined"
start=$(date +%s)
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}

# Indent a file's tail as TAP diagnostics.
diag() {
	tail -n "${2:-30}" "$1" | sed 's/^/# /'
}

# Configure dir with the arguments given, unless it already was with
# exactly those (a build made with other flags is cleaned first).
configure_in() {	# dir, configure arguments...
	dir=$1
	shift
	mkdir -p "$dir" || return 1
	args="$*"
	if [ -f "$dir/Makefile" ] && [ ! "$top/configure" -nt "$dir/Makefile" ] &&
	    [ "$(cat "$dir/.sanitize-args" 2>/dev/null)" = "$args" ]; then
		return 0
	fi
	[ -f "$dir/Makefile" ] && (cd "$dir" && make clean >/dev/null 2>&1)
	(cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) ||
	    { diag "$dir/configure.out"; return 1; }
	printf '%s\n' "$args" >"$dir/.sanitize-args"
}

[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1) ||
    { echo "sanitize.sh: autogen.sh failed" >&2; exit 1; }

# ---------------------------------------------------------------- ASan+UBSan
#
# halt_on_error/abort_on_error: the first report ends the process, so a
# test that depends on it fails too; log_path: every report also lands in
# $logs, whichever process (a responder under lighttpd, the dispatcher,
# mias-admin) made it and wherever its stderr went.  detect_leaks=1 for all
# of them: the responders and the dispatcher release what they allocated
# when they are stopped with SIGTERM, so none of our allocations is
# suppressed; tests/lsan.supp only hides what Berkeley DB keeps of an
# environment that panicked (it says why).
# (1777: mias-admin run as root acts as the state directory's owner, and
# the tests run responders and a dispatcher as other users: each must be
# able to leave its report)
mkdir -p "$logs" && rm -f "$logs"/* && chmod 1777 "$logs"
ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1"
ASAN_OPTIONS="$ASAN_OPTIONS:detect_stack_use_after_return=1"
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$logs/asan"
LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$logs/ubsan"
# for tests whose limits (peak RSS, timings) do not hold under ASan
MIAS_SANITIZER=address,undefined
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS MIAS_SANITIZER

if configure_in "$abuild" CC="$san_cc" CFLAGS="$san_cflags" \
    LDFLAGS="$san_ldflags" --prefix="$abuild/prefix"; then
	ok "configure build-asan: CC=$san_cc CFLAGS=$san_cflags"
	if (cd "$abuild" && make -j"$jobs" >make.out 2>&1); then
		ok "build build-asan"
		t0=$(date +%s)
		if (cd "$abuild" && make -j"$jobs" check >check.out 2>&1); then
			ok "make check under ASan+UBSan ($(( $(date +%s) - t0 )) s)"
		else
			not_ok "make check under ASan+UBSan ($(( $(date +%s) - t0 )) s)"
			grep -E '^(FAIL|ERROR|XPASS):' "$abuild/check.out" |
			    sed 's/^/# /'
			echo "# see $abuild/test-suite.log"
		fi
	else
		not_ok "build build-asan"
		diag "$abuild/make.out"
	fi
else
	not_ok "configure build-asan"
fi
reports=$(find "$logs" -type f | wc -l)
if [ "$reports" -eq 0 ]; then
	ok "no sanitizer reports in $logs"
else
	not_ok "$reports sanitizer reports in $logs"
	for f in $(find "$logs" -type f | head -5); do
		echo "# --- $f"
		diag "$f" 40
	done
fi
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS MIAS_SANITIZER

# ---------------------------------------------------------------- valgrind
if ! command -v valgrind >/dev/null 2>&1; then
	not_ok "valgrind not installed: apt-get install valgrind"
elif [ -f "$vbuild/Makefile" ] ||
    configure_in "$vbuild" --prefix="$vbuild/prefix"; then
	# an existing build (./runtests's) is used as it is configured
	units=
	for c in "$top"/tests/unit/t_*.c; do
		units="$units tests/unit/$(basename "$c" .c)"
	done
	if (cd "$vbuild" && make -j"$jobs" $units >valgrind-make.out 2>&1); then
		mkdir -p "$vbuild/valgrind"
		for u in $units; do
			name=$(basename "$u")
			log=$vbuild/valgrind/$name.log
			t0=$(date +%s)
			# the unit tests find their fixtures as under make check
			if (cd "$vbuild" && MIAS_SRCDIR=$top MIAS_BUILDDIR=$vbuild \
			    valgrind --tool=memcheck --error-exitcode=99 \
			    --leak-check=full --show-leak-kinds=definite,indirect,possible \
			    --errors-for-leak-kinds=definite,indirect,possible \
			    --track-origins=yes --num-callers=30 --trace-children=no \
			    --child-silent-after-fork=no \
			    --suppressions="$supp" --log-file="$log.%p" \
			    "./$u" >"$log.out" 2>&1); then
				rc=0
			else
				rc=$?
			fi
			cat "$log".[0-9]* >"$log" 2>/dev/null
			rm -f "$log".[0-9]*
			errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" |
			    awk '{s += $1} END {print s + 0}')
			secs=$(( $(date +%s) - t0 ))
			if [ "$rc" -eq 0 ] && [ "$errs" -eq 0 ] &&
			    ! grep -q '^not ok' "$log.out"; then
				ok "valgrind $name: 0 errors ($secs s)"
			else
				not_ok "valgrind $name: exit $rc, $errs errors ($secs s)"
				grep -E '^not ok' "$log.out" | sed 's/^/# /'
				grep -E -A12 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in)' \
				    "$log" | head -60 | sed 's/^/# /'
				echo "# see $log"
			fi
		done
	else
		not_ok "build the unit tests in $vbuild"
		diag "$vbuild/valgrind-make.out"
	fi
else
	not_ok "configure $vbuild"
fi

echo "1..$n"
echo "# sanitize.sh: $((n - failed)) passed, $failed failed, $(( $(date +%s) - start )) s"
[ "$failed" -eq 0 ]
