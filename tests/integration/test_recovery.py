#!/usr/bin/python3
# test_recovery.py -- a recovery by any process never strands accepted work
"""
The reproduction of what an outside kill test found: the OSS listing of
a study is slow; while the dispatcher waits on it, a responder is killed
with SIGKILL, and the next request's responder recovers the environment
(DB_REGISTER), which drops the dispatcher's QUEUED -> RUNNING commit (not
flushed).  Before the fix the listing's end was written over the
recovered QUEUED record and the study stayed QUEUED for good.  Now the
dispatcher must start over from the recovered store: every study ends,
with one webhook-id.  The same with the recovery coming while a command
engine runs, and while a callback is being delivered.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     db_verify_all, responders, sink_received, sink_script,
                     wait_for)

t = TAP()



def recover_by_responder(stack, tok, ns):
    """SIGKILL a getAnalysisResult responder, then make the web server
    start another: its open recovers the environment."""
    pids = responders(stack, "getAnalysisResult")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        wait_for(lambda: not os.path.exists("/proc/%d" % pid), 5, 0.02)
    r = None
    for _ in range(20):
        try:
            r = stack.api("GET", "getAnalysisResult", token=tok, ns=ns,
                          query="?studyInstanceUid=none&studyType=4")
            if r.code is not None:
                break
        except Exception:
            pass
        time.sleep(0.1)
    return pids, r


def called_back(sink, path):
    return [r for r in sink_received(sink)
            if r["path"] == path and r.get("answer", {}).get("status") == 200]


# an engine that takes a second an image, so that a recovery can come
# while it runs
s = Stack("recovery", engines={4: cmd_engine_conf(
    4, "OA", concurrency=2, args="--mode slow --delay 1")},
    egress="allow_hosts = 127.0.0.1")
s.responders_may_die = True
try:
    with open(s.conf, "a") as f:
        f.write("[dispatcher]\nretry_schedule = 1s,1s,2s\n"
                "callback_timeout = 5\n")
    s.init()
    tok, secret = s.namespace("hosp")
    oss = FakeOss(s)
    for i in range(3):
        oss.put("studies", "slow/%d.dcm" % i, b"image %d\n" % i * 50)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    # 1. the outside test's reproduction: a slow listing, a responder
    # killed while the dispatcher waits on it
    oss.faults({"delay": {"seconds": 3, "count": 1,
                          "path_contains": "prefix="}})
    r = s.submit(tok, "hosp", "1.1", sink.base + "/cb/1.1", oss, "slow/")
    t.eq(r.code, "000000", "the study is accepted")
    t.ok(wait_for(lambda: "1.1: listing" in s.dispatcher_log(), 10, 0.05)
         is not None, "the dispatcher is listing it (slowly)")
    time.sleep(0.3)     # QUEUED -> RUNNING committed, not flushed
    pids, r = recover_by_responder(s, tok, "hosp")
    t.ok(pids and r is not None and r.code == "100004",
         "a responder was killed mid-listing and its successor answers "
         "(%r, %s)" % (pids, r and r.code))
    t.ok(wait_for(lambda: called_back(sink, "/cb/1.1"), 40, 0.2)
         is not None, "the study ends with its callback after the "
         "recovery (it was stranded in QUEUED before)",
         s.dispatcher_log()[-3000:])
    r = s.get_result(tok, "hosp", "1.1", 4)
    t.ok(r.code == "000000" and len(r.json["data"]["boxes"]) == 3,
         "its result holds all three images (%s)" % r.code)
    log = s.dispatcher_log()
    t.ok("starting over from what the store holds" in log,
         "the dispatcher noticed the recovery and started over")

    # 2. the recovery comes while command engines run
    for i in range(2):
        oss.put("studies", "eng%d/a.dcm" % i, b"engine image\n" * 30)
        r = s.submit(tok, "hosp", "2.%d" % i, sink.base + "/cb/2.%d" % i,
                     oss, "eng%d/" % i)
        t.eq(r.code, "000000", "study 2.%d is accepted" % i)
    time.sleep(1.5)     # listed, the engines are running
    recover_by_responder(s, tok, "hosp")
    for i in range(2):
        t.ok(wait_for(lambda: called_back(sink, "/cb/2.%d" % i), 60, 0.2)
             is not None, "study 2.%d ends after a recovery while its "
             "engine ran" % i)

    # 3. the recovery comes while a callback is being delivered: the
    # receiver answers slowly; the callback may come twice, never with
    # two webhook-ids
    sink_script(sink, "/cb/3.1", {"status": 200, "body": {"code": 0},
                                  "delay": 2})
    oss.put("studies", "cb/a.dcm", b"callback image\n" * 30)
    r = s.submit(tok, "hosp", "3.1", sink.base + "/cb/3.1", oss, "cb/")
    t.eq(r.code, "000000", "study 3.1 is accepted")
    wait_for(lambda: [x for x in sink_received(sink)
                      if x["path"] == "/cb/3.1"], 60, 0.05)
    recover_by_responder(s, tok, "hosp")
    t.ok(wait_for(lambda: called_back(sink, "/cb/3.1"), 60, 0.2)
         is not None, "study 3.1's callback is delivered")
    time.sleep(2)
    ids = {}
    for x in sink_received(sink):
        ids.setdefault(x["path"], set()).add(x.get("webhook_id"))
    t.ok(all(len(v) == 1 for v in ids.values()),
         "every study's callbacks carry one webhook-id", ids)

    # 4. the store after it all
    s.stop_dispatcher()
    s.stop()
    p = s.admin("store", "check", check=False)
    t.ok(p.returncode == 0, "mias-admin store check: the store is clean "
         "(exit %d)" % p.returncode, (p.stdout + p.stderr)[-2000:])
    v = db_verify_all(s.state)
    t.ok(v and all(ok for _, ok, _ in v), "db_verify passes on every "
         "database", [x for x in v if not x[1]])
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
