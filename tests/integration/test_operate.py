#!/usr/bin/python3
# test_operate.py -- operating mias: --version, log priorities under systemd, audit.log rotated under load, tmpfiles.d, make uninstall
"""
- every installed program prints `NAME VERSION` for --version and exits 0;
- the manual pages name the configured paths (made at build time);
- mias-dispatcher -f starts each line with its syslog priority <N> when
  its standard error is the one JOURNAL_STREAM names, and not otherwise;
- the installed logrotate file (P/share/mias/mias.logrotate, its path
  pointed at the test's state directory) rotates audit.log three times
  while clients send authenticated requests as fast as they can: every
  request answered has its line in audit.log or a rotated file;
- the installed tmpfiles.d file makes the socket directory (as root);
- `make install DESTDIR=...` then `make uninstall DESTDIR=...` leaves no
  file and no directory of ours.

logrotate (tools/install-deps.sh --tests) and systemd-tmpfiles are needed
for their parts, which are skipped without them.
"""
import gzip
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import TAP, Stack, PREFIX, installed, wait_for  # noqa: E402

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
VERSION = os.environ.get("MIAS_VERSION", "")
BUILDDIR = os.environ.get("MIAS_BUILDDIR", "")
RESPONDERS = ("executeAnalysis", "getAnalysisResult",
              "submitAnalysisFeedback", "triggerAnalysis",
              "algorithmResult", "health")

if not PREFIX or not os.path.exists(installed("bin", "mias-admin")):
    t.skip_all("MIAS_PREFIX does not hold an installed mias")
if not VERSION:
    t.skip_all("MIAS_VERSION not set (run through make check)")


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


# --- --version ----------------------------------------------------------
progs = [("mias-admin", installed("bin", "mias-admin")),
         ("mias-dispatcher", installed("sbin", "mias-dispatcher"))]
progs += [(r + ".fcgi", installed("libexec", "mias", r + ".fcgi"))
          for r in RESPONDERS]
for name, path in progs:
    env = {"PATH": "/usr/bin:/bin", "MIAS_CONF": "/nonexistent"}
    p = subprocess.run([path, "--version"], capture_output=True, text=True,
                       env=env, stdin=subprocess.DEVNULL, timeout=20)
    t.ok(p.returncode == 0 and p.stdout == "%s %s\n" % (name, VERSION) and
         p.stderr == "", "%s --version prints '%s %s', exits 0"
         % (name, name, VERSION), "%d %r %r" % (p.returncode, p.stdout,
                                                p.stderr))

# --- the manual pages name the configured paths ---------------------------
import re  # noqa: E402
pages = {}
for sec, name in (("5", "mias.conf.5"), ("7", "mias.7"),
                  ("8", "mias-admin.8"), ("8", "mias-dispatcher.8")):
    try:
        with open(installed("share", "man", "man" + sec, name)) as f:
            pages[name] = f.read()
    except OSError as e:
        pages[name] = str(e)
left = {n: re.findall(r"@[a-z_]+@", x) for n, x in pages.items()}
t.ok(not any(left.values()), "the installed manual pages have every "
     "@path@ filled in", left)
# made at build time: the paths ./configure was given (tests/inst is
# installed with other ones)
etc = os.environ.get("MIAS_SYSCONFDIR", "/nonexistent") + "/mias"
t.ok(all(etc + "/mias.conf" in pages[n] for n in
         ("mias.conf.5", "mias-admin.8", "mias-dispatcher.8")) and
     not any("/etc/mias/" in x.replace(etc + "/", "")
             for x in pages.values()),
     "they name the configured %s/mias.conf, never /etc/mias/" % etc)

s = Stack("operate")
try:
    s.init()
    tok, _ = s.namespace("hosp")

    # --- priorities for the journal ---------------------------------------
    def dispatcher_lines(journal, conf):
        """The dispatcher's standard error (a file) when JOURNAL_STREAM
        names that file (journal), names another, or is not set."""
        path = os.path.join(s.dir, "stderr-%s" % journal)
        with open(path, "w") as err:
            st = os.fstat(err.fileno())
            env = {"PATH": "/usr/bin:/bin"}
            if journal == "same":
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            elif journal == "other":
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino + 1)
            p = subprocess.Popen([installed("sbin", "mias-dispatcher"), "-f",
                                  "-c", conf], stdout=subprocess.DEVNULL,
                                 stderr=err, env=env)
            if conf == s.conf:      # started: stop it once it said so
                wait_for(lambda: os.path.getsize(path) > 0, 20)
                time.sleep(0.3)
                p.terminate()
            p.wait(30)
        with open(path) as f:
            return f.read().splitlines()

    lines = dispatcher_lines("same", s.conf)
    t.ok(lines and all(len(x) > 3 and x[0] == "<" and x[2] == ">" and
                       x[1] in "01234567" for x in lines) and
         any(x.startswith("<6>") for x in lines),
         "under the journal every line of the dispatcher starts with its "
         "priority (<6> for information)", lines)
    lines = dispatcher_lines("same", "/nonexistent/mias.conf")
    t.ok(len(lines) == 1 and lines[0].startswith("<2>") and
         "/nonexistent/mias.conf" in lines[0],
         "a fatal error is <2> (critical)", lines)
    plain = dispatcher_lines("other", s.conf) + \
        dispatcher_lines("none", s.conf)
    t.ok(plain and not any(x.startswith("<") for x in plain) and
         all(x[:4].isdigit() for x in plain),
         "with JOURNAL_STREAM naming another file, or unset, the lines stay "
         "plain (they start with the time)", plain)

    # --- audit.log rotated under load ---------------------------------------
    logrotate = shutil.which("logrotate") or (
        "/usr/sbin/logrotate" if os.path.exists("/usr/sbin/logrotate")
        else None)
    if logrotate is None:
        skip(3, "no logrotate (tools/install-deps.sh --tests)")
    else:
        with open(installed("share", "mias", "mias.logrotate")) as f:
            text = f.read()
        default = installed("var", "lib", "mias", "audit.log")
        t.ok(default in text, "the installed logrotate file names the "
             "configured state directory's audit.log", default)
        rconf = os.path.join(s.dir, "logrotate.conf")
        with open(rconf, "w") as f:
            f.write(text.replace(default, os.path.join(s.state,
                                                       "audit.log")))
        s.start()
        stop = threading.Event()
        answered = [0] * 4

        def client(i):
            while not stop.is_set():
                r = s.get_result(tok, "hosp", "1.2.3.%d" % i, 4)
                if r.status is not None:
                    answered[i] += 1

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(len(answered))]
        for th in threads:
            th.start()
        rotations = []
        try:
            for _ in range(3):
                time.sleep(1.5)
                p = subprocess.run([logrotate, "-f", "-s",
                                    os.path.join(s.dir, "logrotate.state"),
                                    rconf], capture_output=True, text=True)
                rotations.append((p.returncode, p.stderr.strip()))
            time.sleep(1.5)
        finally:
            stop.set()
            for th in threads:
                th.join(60)
        t.ok(all(rc == 0 for rc, _ in rotations) and
             os.path.exists(os.path.join(s.state, "audit.log.1")) and
             os.path.exists(os.path.join(s.state, "audit.log.3.gz")),
             "logrotate rotated audit.log three times (audit.log.1 kept "
             "uncompressed, older ones compressed)", rotations)
        got = 0
        torn = 0
        for n in os.listdir(s.state):
            if not n.startswith("audit.log"):
                continue
            path = os.path.join(s.state, n)
            opener = gzip.open if n.endswith(".gz") else open
            with opener(path, "rt") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        torn += 1
                        continue
                    if rec.get("action") == "getAnalysisResult":
                        got += 1
        want = sum(answered)
        t.ok(want > 100 and got == want and torn == 0,
             "no audit line lost across the rotations: %d requests "
             "answered, %d lines" % (want, got), "torn %d" % torn)

    # --- tmpfiles.d --------------------------------------------------------
    tmpfiles = shutil.which("systemd-tmpfiles")
    if tmpfiles is None or os.geteuid() != 0:
        skip(1, "no systemd-tmpfiles, or not root")
    else:
        root = os.path.join(s.dir, "root")
        os.makedirs(os.path.join(root, "etc"))
        for n in ("passwd", "group"):   # its users, as the host's
            shutil.copy("/etc/" + n, os.path.join(root, "etc", n))
        p = subprocess.run([tmpfiles, "--create", "--root=" + root,
                            installed("share", "mias", "mias.tmpfiles")],
                           capture_output=True, text=True)
        d = root + installed("var", "run", "mias")
        try:
            st = os.stat(d)
            www = pwd.getpwnam("www-data").pw_uid
        except (OSError, KeyError) as e:
            st, www = None, str(e)
        t.ok(p.returncode == 0 and st is not None and st.st_uid == www and
             (st.st_mode & 0o7777) == 0o755,
             "systemd-tmpfiles makes the socket directory, www-data's, "
             "0755, from the installed file", p.stderr)

    # --- make uninstall -------------------------------------------------------
    if not BUILDDIR or shutil.which("make") is None:
        skip(2, "no build directory or make")
    else:
        dest = tempfile.mkdtemp(prefix="mias-destdir-")
        env = dict(os.environ)
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(k, None)
        try:
            p = subprocess.run(["make", "-C", BUILDDIR, "install",
                                "DESTDIR=" + dest], capture_output=True,
                               text=True, env=env)
            ours = [os.path.join(d, n)[len(dest):]
                    for d, ds, fs in os.walk(dest) for n in ds + fs]
            ours = [x for x in ours if "mias" in x]
            t.ok(p.returncode == 0 and len(ours) > 20,
                 "make install DESTDIR=... installs %d paths of ours"
                 % len(ours), p.stderr[-2000:])
            p = subprocess.run(["make", "-C", BUILDDIR, "uninstall",
                                "DESTDIR=" + dest], capture_output=True,
                               text=True, env=env)
            files = [os.path.join(d, n)[len(dest):]
                     for d, ds, fs in os.walk(dest) for n in fs]
            mias_dirs = [os.path.join(d, n)[len(dest):]
                         for d, ds, fs in os.walk(dest) for n in ds
                         if "mias" in n]
            t.ok(p.returncode == 0 and not files and not mias_dirs,
                 "make uninstall leaves no file and no directory of ours "
                 "(share/mias, libexec/mias, etc/mias, var/run/mias, ...)",
                 "%s\n%s" % (files + mias_dirs, p.stderr[-2000:]))
        finally:
            shutil.rmtree(dest, ignore_errors=True)
finally:
    s.cleanup(keep=KEEP or t.failed > 0)
t.done()
