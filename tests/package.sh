#!/bin/sh
# package.sh -- the Debian package end to end: build, lintian, install, a study through the system Apache, upgrade, purge (TAP)
#
# As an administrator would on a Debian 12 host (README, "Install the
# Debian package"):
#   1. builds mias_<version>_<arch>.deb from a clean copy of HEAD (git
#      archive) with dpkg-buildpackage -us -uc -b, and runs lintian on it
#      and on the source package (an E: or a W: fails);
#   2. apt-get install ./mias_*.deb; a2enmod fcgid; a2enconf mias; starts
#      the system Apache (on port 80 when it is free, else on a free port
#      written into /etc/apache2/ports.conf for the time of the test), or
#      reloads it when it runs already (on port 80);
#      edits /etc/mias/mias.conf (a command engine, egress to 127.0.0.1);
#      service mias-dispatcher restart; mias-admin namespace add as root
#      with no -c; runs a study through Apache (tests/fixtures: the OSS
#      server, the callback sink, demo_engine.py) and checks who runs what;
#   3. builds VERSION+test1 from the same copy and upgrades to it: state,
#      namespace, configuration kept, the dispatcher restarted, a new study
#      works;
#   4. apt-get remove mias (configuration, key and state kept, the
#      dispatcher stopped), then apt-get purge mias, and checks that nothing
#      of ours is left.
# Apache, ports.conf, policy-rc.d and the package are put back as they
# were on any exit.
#
# It changes the machine: it runs only as root, with dpkg-buildpackage,
# lintian and apache2 there (tools/install-deps.sh --tests installs them),
# and skips when a mias package is installed already, under
# tests/sanitize.sh (MIAS_SANITIZER), or when MIAS_PACKAGE_TEST=0.
# Makefile.am runs it after every other test (tests/package.log depends on
# their logs), so that no other test runs while it holds the system Apache
# and the package.  About 2 minutes on 2 cores, most of it the two builds.
#
# Environment: MIAS_SRCDIR (the source tree; a git checkout), and
# MIAS_PACKAGE_KEEP=1 to keep the work directory.
set -u

top=${MIAS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
n=0
failed=0
export DEBIAN_FRONTEND=noninteractive
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESC CMD...: one test point, the command's output in the log
check() {
	desc=$1
	shift
	if "$@" >>"$log" 2>&1; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "failed: $*"
		return 1
	fi
}
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}
bail() {
	echo "Bail out! $1"
	[ -f "$log" ] && tail -n 30 "$log" | sed 's/^/# /'
	exit 1
}

[ "${MIAS_PACKAGE_TEST:-1}" = 0 ] && skip_all "MIAS_PACKAGE_TEST=0"
[ "$(id -u)" -eq 0 ] || skip_all "not root: the test installs a package"
[ -z "${MIAS_SANITIZER:-}" ] ||
    skip_all "the sanitizer run: the package builds from HEAD with its own flags, as in the plain run"
# One system-wide install at a time: test_install.py takes this lock too.
# flock -o: the services the test starts do not inherit it.
if [ "${MIAS_PACKAGE_LOCKED:-}" != 1 ] && command -v flock >/dev/null 2>&1; then
	MIAS_PACKAGE_LOCKED=1
	export MIAS_PACKAGE_LOCKED
	exec flock -o /run/lock/mias-system-install.lock sh "$0" "$@"
fi
for c in dpkg-buildpackage dpkg-checkbuilddeps lintian apache2ctl a2enconf \
    a2enmod git curl; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"
done
[ -e /usr/lib/apache2/modules/mod_fcgid.so ] ||
    skip_all "libapache2-mod-fcgid is not installed"
git -C "$top" rev-parse --verify -q HEAD >/dev/null ||
    skip_all "$top is not a git checkout"
dpkg-query -W -f='${Status}' mias 2>/dev/null | grep -q 'installed' &&
    skip_all "a mias package is installed on this machine already"
# The system Apache (other tests run Apaches of their own, with their own
# pid files).
apache_pid=/var/run/apache2/apache2.pid
apache_up() { [ -s "$apache_pid" ] && kill -0 "$(cat "$apache_pid")" 2>/dev/null; }
# apache_stop: apache2ctl stop, then up to 10 s for it (and the responders
# mod_fcgid started) to go
apache_stop() {
	apache2ctl stop >>"$log" 2>&1
	i=0
	while [ $i -lt 50 ] && apache_up; do
		sleep 0.2
		i=$((i + 1))
	done
	! apache_up
}
# A running system Apache is used where it is (port 80), and given back
# as it was; a stopped one is started, and stopped again.
apache_was_up=0
if apache_up; then
	apache_was_up=1
	curl -s -o /dev/null --max-time 5 http://127.0.0.1:80/ ||
	    skip_all "the system Apache runs, but not on 127.0.0.1:80"
fi
(cd "$top" && dpkg-checkbuilddeps) >/dev/null 2>&1 ||
    skip_all "build dependencies missing: $(cd "$top" && dpkg-checkbuilddeps 2>&1)"

work=$(mktemp -d /tmp/mias-package.XXXXXX) || bail "mktemp"
chmod 755 "$work"	# the engine runs as mias, from $work/fixtures
log=$work/test.log
: >"$log"
src=$work/src/mias
state_policy=/usr/sbin/policy-rc.d
saved_policy=$work/policy-rc.d
saved_ports=$work/ports.conf
fcgid_was=$(test -e /etc/apache2/mods-enabled/fcgid.load && echo on || echo off)
apache_started=0
t0=$(date +%s)

cleanup() {
	set +e
	trap - EXIT INT TERM
	[ $apache_started -eq 1 ] && apache_stop
	if dpkg-query -W -f='${Status}' mias 2>/dev/null | grep -q 'installed\|config-files'; then
		echo "# cleanup: purging mias"
		service mias-dispatcher stop >>"$log" 2>&1
		apt-get purge -y -q mias >>"$log" 2>&1
	fi
	a2disconf -q mias >>"$log" 2>&1
	[ "$fcgid_was" = off ] && a2dismod -q fcgid >>"$log" 2>&1
	[ -f "$saved_ports" ] && cp -p "$saved_ports" /etc/apache2/ports.conf
	[ $apache_was_up -eq 1 ] && apache2ctl graceful >>"$log" 2>&1
	if [ -f "$saved_policy" ]; then
		cp -p "$saved_policy" "$state_policy"
	elif [ -f "$work/policy-rc.d.none" ]; then
		rm -f "$state_policy"
	fi
	for f in "$work"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	if [ "$failed" -ne 0 ] || [ "${MIAS_PACKAGE_KEEP:-0}" = 1 ]; then
		echo "# work directory kept: $work (log: $log)"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- 1. build and lintian ------------------------------------------------

mkdir -p "$src"
git -C "$top" archive --format=tar HEAD | tar -x -C "$src" ||
    bail "git archive of HEAD"
version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
ac_version=$(sed -n 's/^AC_INIT(\[mias\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")
[ "$version" = "$ac_version" ]
ok $? "debian/changelog's version $version is configure.ac's ($ac_version)"

# build LOG: dpkg-buildpackage in the copy, in a clean environment (not
# make check's: its MAKEFLAGS would carry TESTS into the package's build)
build() {
	(cd "$src" && env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
	    dpkg-buildpackage -us -uc -b) >"$1" 2>&1
}
# the source package, for lintian (before the build leaves its files)
(cd "$work/src" && dpkg-source -b mias) >"$work/source.log" 2>&1
ok $? "dpkg-source -b: the source package"
deb=$work/src/mias_${version}_$arch.deb
build "$work/build1.log"
ok $? "dpkg-buildpackage -us -uc -b on a clean copy of HEAD"
[ -f "$deb" ] || bail "no $deb (see $work/build1.log)"
grep -q '^PASS: tests/unit/' "$work/build1.log" &&
    ! grep -q '^PASS: tests/integration/' "$work/build1.log"
ok $? "the build ran the unit tests, and only them"

lintian --fail-on error "$work/src/mias_${version}_${arch}.changes" \
    "$work/src/mias_$version.dsc" >"$work/lintian.log" 2>&1
ok $? "lintian of the binary and the source package: no error"
! grep -q '^W:' "$work/lintian.log"
ok $? "lintian: no warning either (fixed, or overridden with a reason)"
grep -E '^[EW]:' "$work/lintian.log" | sed 's/^/# lintian: /'

# --- 2. install, enable, configure, a study ------------------------------

# The machine's policy-rc.d (containers: "start no service") would keep
# the maintainer scripts from starting, restarting and stopping the
# dispatcher, which is what this test checks: for its length, let them,
# and nothing else.
if [ -e "$state_policy" ]; then
	cp -p "$state_policy" "$saved_policy"
	cat >"$state_policy" <<EOF
#!/bin/sh
# tests/package.sh (mias): mias-dispatcher may start; the rest as before
[ "\$1" = mias-dispatcher ] && exit 0
exec $saved_policy "\$@"
EOF
	chmod 755 "$state_policy"
else
	: >"$work/policy-rc.d.none"
fi

# A user mias left by an earlier purge (Debian keeps it) keeps its group
# members: take www-data out, so that what follows sees postinst add it.
if getent group mias >/dev/null && id -Gn www-data | tr ' ' '\n' | grep -qx mias; then
	gpasswd -d www-data mias >>"$log" 2>&1
fi
check "apt-get install ./mias_${version}_$arch.deb" \
    apt-get install -y -q "$deb" || bail "the package did not install"

for p in /usr/bin/mias-admin /usr/sbin/mias-dispatcher \
    /usr/libexec/mias/executeAnalysis.fcgi /usr/libexec/mias/health.fcgi \
    /etc/init.d/mias-dispatcher /lib/systemd/system/mias-dispatcher.service \
    /etc/apache2/conf-available/mias.conf \
    /etc/lighttpd/conf-available/50-mias.conf /etc/logrotate.d/mias \
    /usr/lib/tmpfiles.d/mias.conf /usr/share/man/man8/mias-admin.8.gz \
    /usr/share/man/man5/mias.conf.5.gz /usr/share/doc/mias/copyright; do
	[ -e "$p" ]
	ok $? "installed: $p"
done
dpkg-query -W -f='${Conffiles}\n' mias | grep -q '^ /etc/mias/mias.conf '
ok $? "/etc/mias/mias.conf is a conffile"
grep -q '^state_dir = /var/lib/mias$' /etc/mias/mias.conf &&
    grep -q '^key_file = /etc/mias/master.key$' /etc/mias/mias.conf
ok $? "mias.conf names /var/lib/mias and /etc/mias/master.key"

getent passwd mias >/dev/null && [ "$(id -u mias)" -lt 1000 ] &&
    [ "$(id -u mias)" -ne 0 ]
ok $? "postinst: system user mias"
id -Gn www-data | tr ' ' '\n' | grep -qx mias
ok $? "postinst: www-data is in the group mias"
[ "$(stat -c '%a %U %G' /var/lib/mias)" = "2770 mias mias" ]
ok $? "/var/lib/mias: 2770 mias:mias ($(stat -c '%a %U %G' /var/lib/mias))"
[ "$(stat -c '%a %G %s' /etc/mias/master.key)" = "640 mias 32" ]
ok $? "/etc/mias/master.key: 32 bytes, 0640, group mias ($(stat -c '%a %U %G %s' /etc/mias/master.key))"
[ "$(stat -c '%a %U %G' /etc/mias/mias.conf)" = "640 root mias" ]
ok $? "/etc/mias/mias.conf: 0640 root:mias"
[ -f /var/lib/mias/studies.db ] &&
    [ -z "$(find /var/lib/mias -type f ! -perm -0660)" ] &&
    [ -z "$(find /var/lib/mias ! -group mias)" ]
ok $? "postinst: store made, every file group read-write and the group's"
[ "$(stat -c '%U' /run/mias 2>/dev/null)" = www-data ]
ok $? "/run/mias (tmpfiles.d) for lighttpd's sockets"
service mias-dispatcher status >>"$log" 2>&1
ok $? "postinst started mias-dispatcher"

if command -v logrotate >/dev/null 2>&1; then
	logrotate -d /etc/logrotate.d/mias >"$work/logrotate.log" 2>&1 &&
	    grep -q 'rotating pattern: /var/lib/mias/audit.log' "$work/logrotate.log" &&
	    ! grep -q -i 'error' "$work/logrotate.log"
	ok $? "logrotate -d /etc/logrotate.d/mias: /var/lib/mias/audit.log, no error"
fi

# The unit, as systemd would load it (no systemd as PID 1 here).
if command -v systemd-analyze >/dev/null 2>&1; then
	systemd-analyze verify /lib/systemd/system/mias-dispatcher.service \
	    >"$work/verify.log" 2>&1
	ok $? "systemd-analyze verify mias-dispatcher.service"
	sed 's/^/# /' "$work/verify.log"
else
	echo "ok $((n += 1)) - # SKIP systemd-analyze is not installed"
fi
grep -q '^User=mias$' /lib/systemd/system/mias-dispatcher.service &&
    grep -q '^USER=mias$' /etc/init.d/mias-dispatcher
ok $? "the unit and the SysV script run the dispatcher as mias"

# lighttpd: the snippet enables and the configuration parses.
if command -v lighty-enable-mod >/dev/null 2>&1; then
	lighty-enable-mod mias >>"$log" 2>&1 </dev/null
	[ -L /etc/lighttpd/conf-enabled/50-mias.conf ] &&
	    lighttpd -tt -f /etc/lighttpd/lighttpd.conf >>"$log" 2>&1
	ok $? "lighty-enable-mod mias; lighttpd -tt accepts it"
fi

# Apache: port 80 as Debian's ports.conf says when it is free.
port=80
if [ $apache_was_up -eq 0 ] && { curl -s -o /dev/null --max-time 2 http://127.0.0.1:80/ ||
    ss -ltn 2>/dev/null | grep -q '[:.]80 '; }; then
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cp -p /etc/apache2/ports.conf "$saved_ports"
	sed -i "s/^Listen 80\$/Listen 127.0.0.1:$port/" /etc/apache2/ports.conf
	diag "port 80 is taken: Apache listens on $port for the test"
fi
check "a2enmod fcgid; a2enconf mias" sh -c 'a2enmod -q fcgid && a2enconf -q mias'
check "apache2ctl configtest" apache2ctl configtest
if [ $apache_was_up -eq 1 ]; then
	check "apache2ctl graceful (the system Apache was running)" \
	    apache2ctl graceful
else
	check "apache2ctl start" apache2ctl start && apache_started=1
fi
api=http://127.0.0.1:$port/dicom/api
i=0
until curl -s -o /dev/null "$api/health" || [ $i -ge 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
curl -s "$api/health" | grep -q '"returnCode":"000000"'
ok $? "GET /dicom/api/health through the system Apache"

# The hospital's side: OSS holding a CT study, and a callback receiver.
fixtures=$work/fixtures
mkdir -p "$fixtures" "$work/oss"
cp "$src"/tests/fixtures/*.py "$fixtures/" && chmod -R a+rX "$fixtures"
echo '{"keys": {"pkg-key-id": "pkg-key-secret"}}' >"$work/oss-creds.json"
/usr/bin/python3 "$fixtures/oss_server.py" --root "$work/oss" --port 0 \
    --port-file "$work/oss.port" --creds "$work/oss-creds.json" \
    --log "$work/oss.log" >>"$log" 2>&1 &
echo $! >"$work/oss.pid"
/usr/bin/python3 "$fixtures/sink.py" --port 0 --port-file "$work/sink.port" \
    --log "$work/sink.log" >>"$log" 2>&1 &
echo $! >"$work/sink.pid"
i=0
until { [ -s "$work/oss.port" ] && [ -s "$work/sink.port" ]; } || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$work/oss.port" ] && [ -s "$work/sink.port" ] || bail "fixtures did not start"
oss_port=$(cat "$work/oss.port")
sink_port=$(cat "$work/sink.port")

# make_dicom_bucket.py: COUNT CT slices under PREFIX; prints the study uid
make_study() {
	/usr/bin/python3 "$fixtures/make_dicom_bucket.py" --root "$work/oss" \
	    --bucket studies --prefix "$1" --count 2 --json 2>>"$log" |
	    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["study_instance_uid"])'
}

# The administrator's edit of /etc/mias/mias.conf: egress and an engine.
sed -i 's/^allow_hosts =.*/allow_hosts = 127.0.0.1/' /etc/mias/mias.conf
cat >>/etc/mias/mias.conf <<EOF

[engine.1]
; tests/package.sh: the demonstration engine (image geometry, no diagnosis)
command = /usr/bin/python3 $fixtures/demo_engine.py --type 1 {input}
analysis = LN
timeout = 60
concurrency = 2
EOF
check "service mias-dispatcher restart" service mias-dispatcher restart

# pid and user of the running dispatcher (its lock file holds the pid)
dispatcher_pid() { head -n 1 /var/lib/mias/dispatcher.lock 2>/dev/null; }
pid1=$(dispatcher_pid)
[ -n "$pid1" ] && [ "$(ps -o user= -p "$pid1" 2>/dev/null)" = mias ] &&
    [ "$(readlink "/proc/$pid1/exe")" = /usr/sbin/mias-dispatcher ]
ok $? "mias-dispatcher runs as mias (pid ${pid1:-none})"
[ "$(mias-admin --version 2>&1)" = "mias-admin $version" ] &&
    [ "$(/usr/sbin/mias-dispatcher --version 2>&1)" = "mias-dispatcher $version" ]
ok $? "--version: the package's version"

( cd / && mias-admin namespace add pkg-hospital ) >"$work/ns.out" 2>>"$log"
ok $? "mias-admin namespace add pkg-hospital, as root with no -c"
token=$(sed -n 's/^token=//p' "$work/ns.out")
[ -n "$token" ] || bail "no token from namespace add"
[ -z "$(find /var/lib/mias ! -group mias)" ] &&
    [ -z "$(find /var/lib/mias -user root)" ]
ok $? "mias-admin as root left no file of root's in /var/lib/mias"

# submit UID PREFIX: executeAnalysis through Apache; the answer's returnCode
submit() {
	curl -s -H "tokenId: $token" -H "namespace: pkg-hospital" \
	    -H "Content-Type: application/json" \
	    --data "{\"studyInstanceUid\": \"$1\", \"studyType\": 1,
		\"statusNotifyCallBackUrl\": \"http://127.0.0.1:$sink_port/notify/$1\",
		\"accessKeyId\": \"pkg-key-id\", \"accessKeySecret\": \"pkg-key-secret\",
		\"endpoint\": \"http://127.0.0.1:$oss_port\",
		\"bucketName\": \"studies\", \"key\": \"$2/\"}" \
	    "$api/executeAnalysis"
}
# result UID: getAnalysisResult's body
result() {
	curl -s -H "tokenId: $token" -H "namespace: pkg-hospital" \
	    "$api/getAnalysisResult?studyInstanceUid=$1&studyType=1"
}
# done_ok UID: 0 once the study's result is 000000 with findings
done_ok() {
	result "$1" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
d = r.get("data") or {}
sys.exit(0 if r.get("returnCode") == "000000" and d.get("imageDataList") else 1)'
}
# wait_study UID: up to 60 s for the result and its callback
wait_study() {
	i=0
	until done_ok "$1" &&
	    curl -s "http://127.0.0.1:$sink_port/__control__/received?path=/notify/$1" |
	    grep -q webhook-signature; do
		[ $i -ge 300 ] && return 1
		sleep 0.2
		i=$((i + 1))
	done
}

uid1=$(make_study ct/0001) || bail "make_dicom_bucket.py"
submit "$uid1" ct/0001 >"$work/submit1.json" 2>>"$log"
grep -q '"returnCode":"000000"' "$work/submit1.json"
ok $? "executeAnalysis through Apache: accepted"
wait_study "$uid1"
ok $? "the study completed: findings, and a signed status callback"
result "$uid1" >"$work/result1.json"

[ -e /var/lib/mias/audit.log ] && [ -S /var/lib/mias/dispatcher.sock ] &&
    [ -z "$(find /var/lib/mias ! -type d ! -perm -0660)" ] &&
    [ -z "$(find /var/lib/mias ! -group mias)" ]
ok $? "after the study: every file in /var/lib/mias group read-write and the group's"
users=$(ps -eo user=,args= | awk '$2 ~ /^\/usr\/libexec\/mias\// {print $1}' | sort -u | tr '\n' ' ')
[ "$users" = "www-data " ]
ok $? "the responders run as www-data (${users:-none})"

# --- 3. upgrade to a higher version built from the same tree --------------

version2=$version+test1
{
	printf 'mias (%s) unstable; urgency=medium\n\n' "$version2"
	printf '  * tests/package.sh: an upgrade.\n\n'
	printf ' -- mias tests <tests@invalid.example>  %s\n\n' "$(date -R)"
	cat "$src/debian/changelog"
} >"$work/changelog" && mv "$work/changelog" "$src/debian/changelog"
deb2=$work/src/mias_${version2}_$arch.deb
build "$work/build2.log" &&
    [ -f "$deb2" ]
ok $? "dpkg-buildpackage of $version2"

check "apt-get install ./mias_${version2}_$arch.deb (upgrade)" \
    apt-get install -y -q "$deb2"
[ "$(dpkg-query -W -f='${Version}' mias)" = "$version2" ]
ok $? "mias $version2 is installed"
grep -q '^allow_hosts = 127.0.0.1$' /etc/mias/mias.conf &&
    grep -q "demo_engine.py" /etc/mias/mias.conf
ok $? "upgrade: the edited mias.conf is kept"
[ "$(stat -c '%a %U %G' /var/lib/mias)" = "2770 mias mias" ] &&
    [ "$(stat -c '%a %G %s' /etc/mias/master.key)" = "640 mias 32" ]
ok $? "upgrade: state directory and key as they were"
i=0
until pid2=$(dispatcher_pid) && [ -n "$pid2" ] && [ "$pid2" != "$pid1" ] &&
    kill -0 "$pid2" 2>/dev/null || [ $i -ge 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] &&
    [ "$(ps -o user= -p "$pid2" 2>/dev/null)" = mias ] &&
    [ "$(readlink "/proc/$pid2/exe")" = /usr/sbin/mias-dispatcher ]
ok $? "upgrade: mias-dispatcher restarted, as mias (pid $pid1 -> ${pid2:-none})"
result "$uid1" >"$work/result1b.json"
/usr/bin/python3 - "$work/result1.json" "$work/result1b.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if b.get("returnCode") == "000000" and a["data"] == b["data"] else 1)
EOF
ok $? "upgrade: the old token still reads the old study, unchanged"

uid2=$(make_study ct/0002) || bail "make_dicom_bucket.py"
submit "$uid2" ct/0002 >"$work/submit2.json" 2>>"$log"
grep -q '"returnCode":"000000"' "$work/submit2.json" && wait_study "$uid2"
ok $? "upgrade: a new study completes"

# --- 4. remove, then purge -------------------------------------------------

check "apt-get remove mias" apt-get remove -y -q mias
[ -f /etc/mias/mias.conf ] && [ -f /etc/mias/master.key ] &&
    [ -f /var/lib/mias/studies.db ] &&
    grep -q '^allow_hosts = 127.0.0.1$' /etc/mias/mias.conf
ok $? "remove: configuration, key and state kept"
[ ! -e /usr/sbin/mias-dispatcher ] && [ ! -e /usr/libexec/mias ] &&
    [ ! -e /etc/apache2/conf-enabled/mias.conf ] &&
    [ ! -e /etc/lighttpd/conf-enabled/50-mias.conf ]
ok $? "remove: programs gone, the Apache and lighttpd snippets disabled"
# (a process that has exited but is not reaped yet has no exe: PID 1 of a
# container may be slow to reap the daemons it inherits)
! { [ -n "$pid2" ] && readlink "/proc/$pid2/exe" >/dev/null 2>&1; }
ok $? "remove: the dispatcher stopped"

check "apt-get purge mias" apt-get purge -y -q mias
if [ $apache_started -eq 1 ]; then
	apache_stop && apache_started=0
else
	apache2ctl graceful >>"$log" 2>&1
fi
! dpkg-query -W -f='${Status}' mias 2>/dev/null | grep -q 'installed\|config-files'
ok $? "purge: the package is gone, configuration included"
for p in /etc/mias /var/lib/mias /run/mias /usr/libexec/mias \
    /etc/apache2/conf-available/mias.conf /etc/apache2/conf-enabled/mias.conf \
    /etc/lighttpd/conf-available/50-mias.conf \
    /etc/lighttpd/conf-enabled/50-mias.conf /etc/logrotate.d/mias \
    /etc/init.d/mias-dispatcher /lib/systemd/system/mias-dispatcher.service \
    /etc/systemd/system/multi-user.target.wants/mias-dispatcher.service \
    /usr/lib/tmpfiles.d/mias.conf /usr/share/mias /usr/share/doc/mias; do
	[ ! -e "$p" ] && [ ! -L "$p" ]
	ok $? "purge: no $p"
done
# mias_procs: the programs of the package still running
mias_procs() {
	ls -l /proc/[0-9]*/exe 2>/dev/null |
	    grep -E -e '-> /usr/(sbin/mias-dispatcher|libexec/mias/)' |
	    sed 's/.*-> //'
}
i=0
while [ $i -lt 50 ] && [ -n "$(mias_procs)" ]; do
	sleep 0.2
	i=$((i + 1))
done
left=$(mias_procs | tr '\n' ' ')
[ -z "$left" ]
ok $? "purge: no mias process left${left:+ ($left)}"
getent passwd mias >/dev/null
ok $? "purge: the system user mias stays (Debian practice)"

diag "package test: $(($(date +%s) - t0)) s"
echo "1..$n"
[ "$failed" -eq 0 ]
