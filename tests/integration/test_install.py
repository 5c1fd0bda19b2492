#!/usr/bin/python3
# test_install.py -- README's source install, followed literally on the default prefix (/usr/local), as a new administrator would
"""
On a clean copy of the tree (the files git knows, as a fresh clone has
them): ./autogen.sh, ./configure (prefix /usr/local), make, make install;
then README's "First setup (as root, default prefix)": the configuration
edited, `mias-admin init` and `mias-admin namespace add` as root with no
-c, lighttpd with `include "/usr/local/share/mias/lighttpd/mias.conf"`
running the responders as www-data (its own main configuration on a free
loopback port, as Debian's runs them), the dispatcher started with the
SysV script through `service`; a study goes through end to end.  Then
`make uninstall`, the state directory and the key removed by hand (README:
make uninstall keeps them), and nothing of ours may be left under
/usr/local or in /etc/init.d.

It installs into /usr/local, so: root only (skipped otherwise), skipped
when a mias is installed there already, and it removes what it made even
when it fails.  Makefile.am keeps it from running beside the package test
(tests/package.sh), which also installs system-wide.  It builds the whole
tree, which takes most of its time (30 s in all on an idle 2-core machine).
"""
import fcntl
import http.client
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Fixture, FakeOss, SRCDIR, LIGHTTPD,  # noqa: E402
                     delivered, free_port, sink_received, wait_for,
                     wait_port)

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
P = "/usr/local"
INITD = "/etc/init.d/mias-dispatcher"
LOGROTATE_D = "/etc/logrotate.d/mias"
# root's PATH on Debian: /usr/local/{sbin,bin} first
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OURS = [P + "/bin/mias-admin", P + "/sbin/mias-dispatcher",
        P + "/libexec/mias", P + "/share/mias", P + "/etc/mias",
        P + "/var/lib/mias", P + "/var/run/mias", INITD, LOGROTATE_D]

if os.geteuid() != 0:
    t.skip_all("not root: it installs into /usr/local")
if os.environ.get("MIAS_SANITIZER"):
    t.skip_all("the sanitizer run: this test builds a plain tree of its own "
               "(the main suite runs it)")
if not LIGHTTPD or not os.access(LIGHTTPD, os.X_OK):
    t.skip_all("no lighttpd")
try:
    WWW = pwd.getpwnam("www-data")
except KeyError:
    t.skip_all("no user www-data")
for tool in ("git", "make", "service", "autoreconf"):
    if shutil.which(tool, path=PATH) is None:
        t.skip_all("no %s" % tool)
if subprocess.run(["git", "-C", SRCDIR, "rev-parse"],
                  capture_output=True).returncode != 0:
    t.skip_all("%s is not a git checkout" % SRCDIR)
# one system-wide install at a time (tests/package.sh may take it too)
lock = open("/run/lock/mias-system-install.lock", "w")
fcntl.flock(lock, fcntl.LOCK_EX)
there = [p for p in OURS if os.path.lexists(p)]
if there:
    t.skip_all("a mias is installed already: %s" % ", ".join(there))


def tree(root):
    """Every path under root."""
    out = set()
    for d, ds, fs in os.walk(root):
        for n in ds + fs:
            out.add(os.path.join(d, n))
    return out


def sh(cmd, cwd=None, timeout=900):
    env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"}
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


class Place:
    """What FakeOss needs of a Stack: a directory and its fixtures."""

    def __init__(self, d):
        self.dir = d
        self.fixtures = []

    def fixture(self, script, *args):
        f = Fixture(self.dir, script, *args)
        self.fixtures.append(f)
        return f


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        c.request(method, path, body=json.dumps(body) if body is not None
                  else None, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw
    finally:
        c.close()


before = tree(P)
work = tempfile.mkdtemp(prefix="mias-install-")
os.chmod(work, 0o755)       # www-data runs the demo engine from the copy
src = os.path.join(work, "src")
place = Place(work)
lighttpd = None
installed = False
uninstalled = False
try:
    # --- a clean copy, built and installed as README says ----------------
    files = subprocess.run(
        ["git", "-C", SRCDIR, "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        s = os.path.join(SRCDIR, rel)
        if not os.path.lexists(s):
            continue            # deleted in the working tree
        d = os.path.join(src, rel)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(s, d, follow_symlinks=False)
    started = time.time()
    steps = [("./autogen.sh", 300), ("./configure", 300),
             ("make -j2", 1200), ("make install", 300)]
    ok = True
    for cmd, limit in steps:
        p = sh(cmd, cwd=src, timeout=limit)
        installed = installed or cmd == "make install"
        t.ok(p.returncode == 0, cmd, (p.stdout + p.stderr)[-3000:])
        if p.returncode != 0:
            ok = False
            break
    t.diag("built and installed in %.0f s" % (time.time() - started))
    if not ok:
        raise RuntimeError("the build failed")
    sock = os.stat(P + "/var/run/mias")
    t.ok(sock.st_uid == WWW.pw_uid,
         "make install (as root) makes /usr/local/var/run/mias www-data's")
    p = sh("mias-admin --version")
    t.ok(p.returncode == 0 and p.stdout.startswith("mias-admin "),
         "mias-admin is on root's PATH", p.stdout + p.stderr)

    # --- First setup, step 1: the configuration ----------------------------
    conf = P + "/etc/mias/mias.conf"
    port = free_port()
    with open(conf) as f:
        text = f.read()
    text = text.replace(";public_url = https://gw.example.org",
                        "public_url = http://127.0.0.1:%d" % port)
    text = text.replace("allow_hosts =\n", "allow_hosts = 127.0.0.1\n")
    text += ("\n[engine.4]\ncommand = /usr/bin/python3 %s/tests/fixtures/"
             "demo_engine.py --type 4 {input}\nanalysis = OA\ntimeout = 60\n"
             "concurrency = 2\n" % src)
    with open(conf, "w") as f:
        f.write(text)

    # --- step 2: init and a namespace, as root, no -c ----------------------
    p = sh("mias-admin init")
    t.ok(p.returncode == 0, "mias-admin init (as root)", p.stdout + p.stderr)
    st = os.stat(P + "/var/lib/mias")
    key = os.stat(P + "/etc/mias/master.key")
    t.ok(st.st_uid == WWW.pw_uid and stat.S_IMODE(st.st_mode) == 0o700 and
         key.st_uid == WWW.pw_uid and stat.S_IMODE(key.st_mode) == 0o600,
         "init made /usr/local/var/lib/mias (0700) and the key (0600) for "
         "www-data")
    p = sh("mias-admin namespace add hospital-a --callback-host 127.0.0.1")
    kv = dict(x.split("=", 1) for x in p.stdout.splitlines() if "=" in x)
    t.ok(p.returncode == 0 and "token" in kv,
         "mias-admin namespace add (as root)", p.stderr)
    tok = kv.get("token", "")
    owned = [x for x in tree(P + "/var/lib/mias")
             if os.lstat(x).st_uid != WWW.pw_uid]
    t.ok(not owned, "every file of the store is www-data's", owned)

    # --- step 3: lighttpd with the snippet, responders as www-data ----------
    lconf = os.path.join(work, "lighttpd.conf")
    www = os.path.join(work, "www")
    os.makedirs(www)
    errlog = os.path.join(work, "lighttpd-error.log")
    for n in (errlog, os.path.join(work, "responders.log")):
        open(n, "a").close()
        os.chown(n, WWW.pw_uid, WWW.pw_gid)
    with open(lconf, "w") as f:
        f.write('server.document-root = "%s"\nserver.bind = "127.0.0.1"\n'
                'server.port = %d\nserver.username = "www-data"\n'
                'server.groupname = "www-data"\nserver.errorlog = "%s"\n'
                'server.breakagelog = "%s/responders.log"\n'
                'include "/usr/local/share/mias/lighttpd/mias.conf"\n'
                % (www, port, errlog, work))
    lighttpd = subprocess.Popen([LIGHTTPD, "-D", "-f", lconf],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(work, "lighttpd.out"),
                                            "w"), start_new_session=True)
    t.ok(wait_port(port), "lighttpd starts with the installed snippet")
    status, body = request(port, "GET", "/dicom/api/health")
    t.ok(status == 200, "health answers through lighttpd", body)

    # --- step 4: the dispatcher through its SysV script ---------------------
    shutil.copy(P + "/share/mias/mias-dispatcher.init", INITD)
    p = sh("service mias-dispatcher start")
    t.ok(p.returncode == 0, "service mias-dispatcher start",
         p.stdout + p.stderr)

    # --- a study end to end ---------------------------------------------------
    oss = FakeOss(place)
    keys = oss.dicom("studies", "ct/s1", 2)
    sink = place.fixture("sink.py")
    uid = "1.2.826.0.1.3680043.8.498.17"
    status, body = request(port, "POST", "/dicom/api/executeAnalysis", {
        "studyInstanceUid": uid, "studyType": 4,
        "statusNotifyCallBackUrl": sink.base + "/cb/1",
        "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
        "endpoint": oss.endpoint, "bucketName": "studies", "key": "ct/s1/"},
        {"tokenId": tok, "namespace": "hospital-a"})
    t.ok(status == 200 and isinstance(body, dict) and
         body.get("returnCode") == "000000", "executeAnalysis accepts the "
         "study", body)
    recs = wait_for(lambda: [x for x in sink_received(sink, "/cb/1")
                             if delivered(x)], 120) or []
    try:
        cb = json.loads(recs[-1]["body"]) if recs else {}
    except ValueError:
        cb = {}
    t.ok(cb.get("status") == 0 and cb.get("studyInstanceUid") == uid,
         "the study is analysed and its callback delivered", recs)
    status, body = request(port, "GET", "/dicom/api/getAnalysisResult?"
                           "studyInstanceUid=%s&studyType=4" % uid, None,
                           {"tokenId": tok, "namespace": "hospital-a"})
    t.ok(status == 200 and isinstance(body, dict) and
         body.get("returnCode") == "000000", "getAnalysisResult: 000000",
         body)

    # --- step 5: the logrotate file -------------------------------------------
    shutil.copy(P + "/share/mias/mias.logrotate", LOGROTATE_D)
    if shutil.which("logrotate", path=PATH):
        p = sh("logrotate -d %s" % LOGROTATE_D)     # -d: reads, changes nothing
        t.ok(p.returncode == 0 and P + "/var/lib/mias/audit.log" in
             p.stdout + p.stderr and "error" not in
             (p.stdout + p.stderr).lower(), "logrotate takes "
             "/etc/logrotate.d/mias, for /usr/local/var/lib/mias/audit.log",
             (p.stdout + p.stderr)[-2000:])

    p = sh("service mias-dispatcher stop")
    t.ok(p.returncode == 0, "service mias-dispatcher stop",
         p.stdout + p.stderr)
finally:
    for f in place.fixtures:
        f.stop()
    if lighttpd is not None:
        try:
            os.killpg(lighttpd.pid, 15)
            lighttpd.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(lighttpd.pid, 9)
    if os.path.exists(INITD):
        sh("service mias-dispatcher stop")
    try:        # a dispatcher the script did not stop
        with open(P + "/var/lib/mias/dispatcher.lock") as f:
            pid = int(f.readline())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if b"mias-dispatcher" in f.read():
                os.kill(pid, 9)
    except (OSError, ValueError):
        pass
    if installed:
        p = sh("make uninstall", cwd=src)
        uninstalled = p.returncode == 0
        t.ok(uninstalled, "make uninstall", (p.stdout + p.stderr)[-2000:])
    # README: make uninstall keeps the store, the key and an edited
    # configuration (the init script and the logrotate file are the
    # administrator's copies)
    if uninstalled:
        t.ok(os.path.exists(P + "/etc/mias/mias.conf") and
             os.path.exists(P + "/etc/mias/master.key"),
             "make uninstall keeps the edited configuration and the key")
    for x in (INITD, LOGROTATE_D, P + "/etc/mias/master.key",
              P + "/etc/mias/mias.conf"):
        if os.path.lexists(x):
            os.unlink(x)
    shutil.rmtree(P + "/var/lib/mias", ignore_errors=True)
    for x in (P + "/etc/mias", P + "/var/run/mias"):
        if os.path.isdir(x):
            try:
                os.rmdir(x)
            except OSError:
                pass
    new = sorted(tree(P) - before)
    if installed:
        files = [x for x in new if not os.path.isdir(x) or
                 os.path.islink(x)]
        mias = [x for x in new if "mias" in x]
        t.ok(not files and not mias, "nothing of ours is left under "
             "/usr/local", files + mias)
        if new:
            t.diag("empty directories make install made and left: %s"
                   % " ".join(new))
    # leave /usr/local as it was
    for x in sorted(new, key=len, reverse=True):
        if os.path.isdir(x) and not os.path.islink(x):
            shutil.rmtree(x, ignore_errors=True)
        elif os.path.lexists(x):
            os.unlink(x)
    if KEEP or t.failed:
        t.diag("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
t.done()
