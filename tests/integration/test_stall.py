#!/usr/bin/python3
# test_stall.py -- a process that dies holding a Berkeley DB latch does not wedge the responders or the dispatcher
"""
A process killed inside Berkeley DB leaves what it held: locks, which the
others' lock timeout and failchk clear, and mutexes (the latch of a page),
which nothing clears.  A process already waiting when another process
recovers the environment sleeps for good: recovery builds new region files
and the waiter stays on the old, unlinked ones, where no lock timeout or
wake-up comes any more.  lib/store.c's stall guard ends such a waiter: a
responder exits and the web server starts it again, the dispatcher starts
itself again in place (same pid).  This test makes the situation on
purpose:

1. study A runs to its callback (studies.db has records);
2. the dispatcher is stopped (SIGSTOP), study B is accepted;
3. tests/latch_holder joins the environment and is killed inside a read of
   studies.db, holding the page's lock and latch;
4. the dispatcher continues and takes study B: it waits on that page; a
   caller submits study C: its responder waits too;
5. one second later (before their lock timeout) mias-admin opens the
   store, which recovers it (DB_REGISTER);
6. within seconds both waiters are gone: the caller's request fails with
   the web server's error and succeeds when tried again, the dispatcher
   (same pid) says it started again, and A, B and C all get their result
   and a callback.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     db_verify_all, sink_received, wait_for)

t = TAP()
HOLDER = os.path.join(os.environ.get("MIAS_BUILDDIR", "build"), "tests",
                      "latch_holder")
if not os.access(HOLDER, os.X_OK):
    t.skip_all("%s is not built (make check builds it)" % HOLDER)

s = Stack("stall", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = 127.0.0.1", procs=1)
s.responders_may_die = True     # the stalled one leaves under a request
try:
    s.init()
    tok, secret = s.namespace("stall")
    oss = FakeOss(s)
    for name in "ABC":
        oss.put("studies", "%s/img.dcm" % name, b"stall image\n" * 40)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    def called_back(name):
        return [r for r in sink_received(sink, "/cb/" + name)
                if r.get("answer", {}).get("status") == 200]

    def submit(name):
        return s.submit(tok, "stall", "9.%s" % name,
                        sink.base + "/cb/" + name, oss, "%s/" % name)

    r = submit("A")
    t.ok(r.code == "000000" and wait_for(lambda: called_back("A"), 30),
         "study A runs to its callback", r.raw)

    disp = s.dispatcher
    os.kill(disp.pid, signal.SIGSTOP)
    r = submit("B")
    t.ok(r.code == "000000", "study B accepted while the dispatcher is "
         "stopped", r.raw)
    try:
        h = subprocess.run([HOLDER, s.state, "studies.db"], timeout=30,
                           capture_output=True, text=True)
        rc, err = h.returncode, h.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "latch_holder did not finish"
    t.ok(rc == -signal.SIGKILL, "latch_holder was killed inside a read "
         "of studies.db (status %r)" % rc, err)
    os.kill(disp.pid, signal.SIGCONT)

    answers = []
    th = threading.Thread(target=lambda: answers.append(submit("C")),
                          daemon=True)
    t0 = time.time()
    th.start()
    th.join(1.0)
    t.ok(th.is_alive() and not called_back("B"),
         "the dispatcher (study B) and a responder (study C) wait on the "
         "page (after 1 s: no callback, no answer)")

    p = s.admin("namespace", "list", check=False)
    t.ok(p.returncode == 0, "mias-admin opens the store, recovering it",
         p.stderr)
    th.join(30)
    took = time.time() - t0
    first = answers[0] if answers else None
    t.ok(not th.is_alive() and first is not None and first.status >= 500,
         "the waiting responder left: the caller got the web server's "
         "error (HTTP %s after %.1f s)" % (first and first.status, took))
    # as a client would: the web server may answer 503 for a moment while
    # it starts the responder again (lighttpd disables a backend that
    # died for a second), so try again for a few seconds
    deadline = time.time() + 10
    while True:
        r = submit("C")
        if r.code == "000000" or r.status < 500 or time.time() > deadline:
            break
        time.sleep(0.5)
    t.ok(r.code == "000000", "study C is accepted when tried again", r.raw)

    t.ok(wait_for(lambda: called_back("B") and called_back("C"), 60),
         "studies B and C get their callbacks")
    t.ok(disp.poll() is None and s.dispatcher is disp,
         "the dispatcher is the same process (pid %d)" % disp.pid)
    log = s.dispatcher_log()
    t.ok("starting again" in log, "the dispatcher logged that it "
         "started again", log[-2000:])
    res = [s.api("GET", "getAnalysisResult", token=tok, ns="stall",
                 query="?studyInstanceUid=9.%s&studyType=4" % n).code
           for n in "ABC"]
    t.ok(res == ["000000"] * 3, "A, B and C have their results", res)
    s.stop_dispatcher()
    s.stop()
    v = db_verify_all(s.state)
    t.ok(v and all(ok for _, ok, _ in v), "db_verify passes on every "
         "database", [x for x in v if not x[1]])
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
