#!/usr/bin/python3
# test_backup.py -- mias-admin store backup while the gateway serves, restore into a fresh stack, store check, formats
"""
Gateway A serves: studies are submitted (one slow image each, so that
most are still running), and while more submissions come and callbacks
are delivered, `mias-admin store backup DIR` runs.

- The backup holds the databases, log files, the audit log and
  backup.json (with the key's fingerprint), and no region, lock or socket
  file, nor the key.
- A second stack B, never started, with a new, empty state directory:
  `store restore` refuses while B's key file is another key,
  leaving nothing behind; with A's key it restores.  B starts, and every
  study accepted before the backup began is there and completes, its
  status callback delivered.
- `store restore` refuses B while its dispatcher runs, and while only its
  responders have the store open.
- `store check` exits 0 on B's store once the studies are done, and 1
  once a study record whose callback is kept is deleted (tests/store_tool).
- A store of a later format (99) is refused by mias-admin, the dispatcher
  and the responders; a store without the format record (every store made
  before formats were recorded) is upgraded at open and works.
"""
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, FakeOss, Stack, cmd_engine_conf,  # noqa: E402
                     envelope_ok, sink_received, study_key, wait_for)

t = TAP()
NS = "hospital"
BUCKET = "studies"
ENGINES = {4: cmd_engine_conf(4, "OA", concurrency=2,
                              args="--mode slow --delay 1")}
EGRESS = ("allow_hosts = 127.0.0.1\n"
          "[dispatcher]\nretry_schedule = 1s,1s,1s\ncallback_timeout = 5s\n")
STORE_TOOL = os.path.join(os.environ.get("MIAS_BUILDDIR", "build"),
                          "tests", "store_tool")
UID = "1.2.826.0.1.3680043.8.498.17.4.%s"
BEFORE = 10

a = Stack("backup-a", engines=ENGINES, egress=EGRESS)
b = Stack("backup-b", engines=ENGINES, egress=EGRESS)
ok = False


def store_tool(state, *args):
    import subprocess
    p = subprocess.run([STORE_TOOL, state] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def key_path(stack):
    return os.path.join(stack.dir, "master.key")


def write_key(stack, data):
    with open(key_path(stack), "wb") as f:
        f.write(data)
    os.chmod(key_path(stack), 0o600)


try:
    a.init()
    tok, secret = a.namespace(NS)
    oss = FakeOss(a)
    sink = a.fixture("sink.py")
    a.start()
    a.start_dispatcher()
    oss.dicom(BUCKET, "s/", count=1)

    def submit(stack, uid, cb):
        return stack.submit(tok, NS, uid, sink.base + cb, oss, "s/")

    # --- studies accepted before the backup begins ----------------------
    before = []
    for i in range(BEFORE):
        r = submit(a, UID % i, "/cb/%d" % i)
        if r.code == "000000":
            before.append(i)
    t.eq(len(before), BEFORE, "A: %d studies accepted" % BEFORE)

    # --- more submissions, and callbacks, while the backup runs ---------
    stop = threading.Event()
    during = []

    def keep_submitting():
        j = 0
        while not stop.is_set():
            r = submit(a, UID % ("d%d" % j), "/cb/d%d" % j)
            during.append(r.code)
            j += 1
            time.sleep(0.05)
    th = threading.Thread(target=keep_submitting)
    th.start()
    wait_for(lambda: len(during) >= 3, 20)
    wait_for(lambda: sink_received(sink), 20)   # callbacks flowing
    cb_at_start = len(sink_received(sink))
    bdir = os.path.join(a.dir, "backup")
    p = a.admin("store", "backup", bdir, check=False)
    n_at_end = len(during)
    wait_for(lambda: len(during) >= n_at_end + 3, 20)
    stop.set()
    th.join(30)
    t.ok(p.returncode == 0, "A: store backup succeeds while the gateway "
         "serves", p.stderr)
    t.ok(len(during) >= 6 and all(c == "000000" for c in during),
         "A: submissions accepted before, during and after the backup",
         "%d: %s" % (len(during), sorted(set(during))))
    t.ok(cb_at_start > 0, "A: callbacks were being delivered as the backup "
         "began (%d so far)" % cb_at_start)
    unfinished = [i for i in before
                  if ((a.study(NS, 4, UID % i) or {}).get("state") !=
                      "DONE")]
    t.diag("studies of before the backup not yet done after it: %d of %d"
           % (len(unfinished), BEFORE))

    files = sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []
    t.ok("backup.json" in files and "studies.db" in files and
         "audit.log" in files and any(f.startswith("log.") for f in files),
         "backup: databases, log files, audit log and backup.json",
         " ".join(files))
    t.ok(not [f for f in files if f.startswith("__db.") or
              f.endswith(".lock") or f.endswith(".sock") or
              f == "master.key"],
         "backup: no region, lock, socket or key file", " ".join(files))
    with open(key_path(a), "rb") as f:
        key = f.read()
    leaked = [f for f in files
              if key in open(os.path.join(bdir, f), "rb").read()]
    t.ok(not leaked, "backup: the key's bytes are in no file", leaked)
    import json
    with open(os.path.join(bdir, "backup.json")) as f:
        manifest = json.load(f)
    fp = manifest.get("keyFingerprint", "")
    t.ok(len(fp) == 64 and manifest.get("format") == 2 and
         manifest.get("auditLog") is True,
         "backup.json: format 2, the key's fingerprint, audit log included",
         manifest)
    t.ok(fp in p.stdout, "store backup prints the fingerprint")

    # --- A is gone; B restores into a state directory not yet made ------
    a.stop_dispatcher()
    a.stop()
    no_cb = [i for i in before if not sink_received(sink, "/cb/%d" % i)]
    t.diag("studies of before the backup without a callback when A "
           "stopped: %d" % len(no_cb))
    write_key(b, os.urandom(32))
    os.mkdir(b.state, 0o700)    # fresh and empty (root would not make it)
    p = b.admin("store", "restore", bdir, check=False)
    t.ok(p.returncode == 1 and "another key" in p.stderr and
         "--force" in p.stderr,
         "B: restore refuses a backup of another key, naming --force",
         p.stderr)
    t.ok(not os.path.exists(os.path.join(b.state, "studies.db")),
         "B: ... and restores nothing")
    cut = os.path.join(b.dir, "cut-short")
    shutil.copytree(bdir, cut)
    os.unlink(os.path.join(cut, "backup.json"))
    p = b.admin("store", "restore", cut, check=False)
    t.ok(p.returncode == 1 and "cut short" in p.stderr,
         "B: restore refuses a backup without backup.json (cut short)",
         p.stderr)
    with open(os.path.join(cut, "backup.json"), "w") as f:
        json.dump(dict(manifest, keyFingerprint="\x1b[31m" + fp), f)
    p = b.admin("store", "restore", cut, check=False)
    t.ok(p.returncode == 1 and "not a valid manifest" in p.stderr and
         "\x1b" not in p.stderr,
         "B: ... and one whose fingerprint is not 64 hex digits, without "
         "printing it", p.stderr)
    p = b.admin("store", "restore", bdir, "--force", check=False)
    t.ok(p.returncode == 0 and "another key (--force)" in p.stdout and
         "now in" not in p.stdout,
         "B: restore --force restores under another key, saying so "
         "(nothing to move aside in an empty state directory)",
         p.stdout + p.stderr)
    write_key(b, key)
    p = b.admin("store", "restore", bdir, check=False)
    aside = [f for f in os.listdir(b.state) if f.startswith("pre-restore-")]
    t.ok(p.returncode == 0 and "now in" in p.stdout and len(aside) == 1 and
         "studies.db" in os.listdir(os.path.join(b.state, aside[0])),
         "B: restore with A's key file, the forced restore moved aside "
         "into pre-restore-TIME", p.stdout + p.stderr)
    b.start()
    b.start_dispatcher()

    # --- every study accepted before the backup completes on B ----------
    done = [i for i in before
            if b.wait_result(tok, NS, UID % i, 4, timeout=60).code ==
            "000000"]
    t.eq(len(done), BEFORE, "B: every study accepted before the backup "
         "began is there and DONE")
    cbs = [i for i in before
           if wait_for(lambda i=i: sink_received(sink, "/cb/%d" % i), 30)]
    t.eq(len(cbs), BEFORE, "B: ... each with its status callback delivered")
    t.ok(no_cb and all(sink_received(sink, "/cb/%d" % i) for i in no_cb),
         "B: %d of them had had no callback from A: B delivered them"
         % len(no_cb))
    if unfinished:
        st = b.study(NS, 4, UID % unfinished[0]) or {}
        t.ok(st.get("state") == "DONE",
             "B: a study still running in A when backed up was finished "
             "by B", st.get("state"))

    # --- restore refuses a running gateway ------------------------------
    p = b.admin("store", "restore", bdir, check=False)
    t.ok(p.returncode == 1 and "mias-dispatcher runs" in p.stderr,
         "B: restore refuses while the dispatcher runs", p.stderr)
    b.stop_dispatcher()
    envelope_ok(t, b.get_result(tok, NS, UID % before[0], 4), "000000", 200,
                "B: a responder serves (and keeps the store open)",
                post=False)
    p = b.admin("store", "restore", bdir, check=False)
    t.ok(p.returncode == 1 and "still have the store" in p.stderr,
         "B: restore refuses while the responders have the store open",
         p.stderr)
    t.ok(len([f for f in os.listdir(b.state)
              if f.startswith("pre-restore-")]) == 1,
         "B: the refused restores moved nothing aside")

    # --- store check ------------------------------------------------------
    b.start_dispatcher()
    wait_for(lambda: all((v.get("state") in ("DELIVERED", "DEAD"))
                         for v in b.outbox().values()), 40)
    p = b.admin("store", "check", check=False)
    t.ok(p.returncode == 0 and "0 problems" in p.stdout,
         "B: store check: 0 on the restored store", p.stdout + p.stderr)
    b.stop_dispatcher()
    b.stop()
    rc, out = store_tool(b.state, "del", "studies.db",
                         study_key(NS, 4, UID % before[1]).hex())
    t.ok(rc == 0 and "deleted" in out, "B: a study record deleted, its "
         "callback kept (store_tool)", out)
    p = b.admin("store", "check", check=False)
    t.ok(p.returncode == 1 and "0 problems" not in p.stdout,
         "B: store check: 1 when a callback has no study",
         p.stdout + p.stderr)

    # --- formats ------------------------------------------------------------
    rc, out = store_tool(b.state, "format", "99")
    t.ok(rc == 0, "B: format 99 recorded (a later release's store)", out)
    p = b.admin("namespace", "list", check=False)
    t.ok(p.returncode != 0 and "format 99, newer" in p.stderr,
         "format 99: mias-admin refuses", p.stderr)
    b.start_dispatcher()
    rc = b.dispatcher.wait(20) if b.dispatcher else None
    t.ok(rc not in (None, 0) and "format 99, newer" in b.dispatcher_log(),
         "format 99: the dispatcher refuses to start", rc)
    b.dispatcher = None
    b.start()
    r = b.get_result(tok, NS, UID % before[0], 4)
    t.ok(r.code != "000000" and "format 99, newer" in b.log(),
         "format 99: the responders refuse to serve", r.code)
    b.stop()
    rc, out = store_tool(b.state, "format", "none")
    p = b.admin("namespace", "list", check=False)
    t.ok(rc == 0 and p.returncode == 0 and NS in p.stdout,
         "a store without the format record (made before formats) opens",
         p.stderr)
    p = b.admin("store", "upgrade", check=False)
    t.ok(p.returncode == 0 and "nothing to do" in p.stdout,
         "... and was upgraded at that open (store upgrade: nothing to do)",
         p.stdout + p.stderr)
    ok = True
finally:
    b.cleanup(keep=not ok)
    a.cleanup(keep=not ok)
sys.exit(t.done())
