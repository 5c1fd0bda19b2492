#!/bin/sh
# layers.sh -- no circle of calls between the modules of lib/, nor between those of dispatcher/, read from the built objects' symbols (TAP)
#
# Module A uses module B when A's object leaves undefined a name that B's
# object defines.  Those uses must form no loop (tsort): lib/ modules and
# the dispatcher's (main -> sched -> the handlers -> http, task) each
# stand in layers, none calling back up.  Run after the build.
src="${MIAS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
build="${MIAS_BUILDDIR:-$src/build}"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "1..2"
n=0

# uses NAME: the "A B" pairs of the objects listed in $tmp/NAME.objs
# (lines "module path"), onto $tmp/NAME.pairs
uses() {
	: >"$tmp/$1.defs"
	: >"$tmp/$1.undef"
	while read -r mod obj; do
		nm -g --defined-only "$obj" | awk -v m="$mod" \
		    'NF == 3 { print $3, m }' >>"$tmp/$1.defs"
		nm -u "$obj" | awk -v m="$mod" '{ print $NF, m }' \
		    >>"$tmp/$1.undef"
	done <"$tmp/$1.objs"
	# name -> the module that defines it, joined with the users of name
	sort -k1,1 -u "$tmp/$1.defs" >"$tmp/$1.d"
	sort -k1,1 "$tmp/$1.undef" >"$tmp/$1.u"
	join "$tmp/$1.u" "$tmp/$1.d" | awk '$2 != $3 { print $2, $3 }' |
	    sort -u >"$tmp/$1.pairs"
}

# check NAME WHAT: ok when the pairs form no loop
check() {
	n=$((n + 1))
	if [ ! -s "$tmp/$1.objs" ]; then
		echo "not ok $n - $2: no objects found under $build (build first)"
		return
	fi
	uses "$1"
	if tsort "$tmp/$1.pairs" >/dev/null 2>"$tmp/$1.err"; then
		echo "ok $n - $2: no circle ($(wc -l <"$tmp/$1.pairs") uses between $(wc -l <"$tmp/$1.objs") modules)"
	else
		echo "not ok $n - $2: a circle of calls"
		sed 's/^/# /' "$tmp/$1.err"
		# the uses that tie the modules tsort named
		sed -n 's/^tsort: //p' "$tmp/$1.err" | grep -v ':' | sort -u |
		    while read -r m; do
			grep "^$m " "$tmp/$1.pairs"
		done | sort -u | sed 's/^/#   uses: /'
	fi
}

# lib/: the members of libmias.a, one per module
: >"$tmp/lib.objs"
if [ -f "$build/lib/libmias.a" ]; then
	mkdir "$tmp/lib" && (cd "$tmp/lib" && ar x "$build/lib/libmias.a")
	for o in "$tmp"/lib/*.o; do
		[ -f "$o" ] && echo "lib/$(basename "$o" .o) $o" >>"$tmp/lib.objs"
	done
fi
check lib "lib/"

# dispatcher/: the objects of its sources (a stale object of a source
# since removed is not read)
: >"$tmp/disp.objs"
for c in "$src"/dispatcher/*.c; do
	b=$(basename "$c" .c)
	o="$build/dispatcher/$b.o"
	[ -f "$o" ] && echo "dispatcher/$b $o" >>"$tmp/disp.objs"
done
check disp "dispatcher/"
