#!/usr/bin/python3
# test_retention.py -- [retention] finished_studies: the dispatcher removes studies and push jobs that ended longer ago, with all their records
"""
A gateway with [retention] finished_studies = 3s and a short retry schedule.

- A study whose callback is delivered is removed about 3 s later:
  getAnalysisResult answers 100004, mias-admin studies show finds nothing,
  and its jobs, job index entries, result, answer and callback are gone from
  the store (db_dump); the audit trail has the removal (namespace, studyType
  and study, when it ended), not before 3 s after the delivery.
- A study whose callback the receiver refuses is kept while the callback is
  retried and, once it is a dead letter, for 3 s counted from then.
- A study still running is not removed.
- A push job (triggerAnalysis) is removed as well.
- The removed study, submitted again, is a new analysis (run 1) that
  completes; the queued-studies counter ends at 0.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, FakeOss, Stack, cmd_engine_conf,  # noqa: E402
                     db_dump, envelope_ok, sink_received, sink_script,
                     slow_engine, study_key, wait_for)

t = TAP()
NS = "hospital"
BUCKET = "studies"
KEEP_MS = 3000
SETTINGS = ("\n[dispatcher]\nretry_schedule = 3s,3s\ncallback_timeout = 5s\n"
            "[retention]\nfinished_studies = 3s\n")

s = Stack("retention", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = 127.0.0.1\n" + SETTINGS)


def keys_of(dbfile):
    return [k for k, _ in db_dump(s.state, dbfile) or []]


def audit_removals():
    out = s.admin_json("audit") or []
    return [e for e in out if e.get("action") == "retention"]


def gone(uid, study_type=4):
    r = s.get_result(tok, NS, uid, study_type)
    return r if r.code == "100004" else None


try:
    s.init()
    tok, secret = s.namespace(NS)
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    # studyType 1: one image that takes 15 s, to be seen unfinished
    slow_engine(s, 1, "LN", delay=15, timeout=60)
    s.start()
    s.start_dispatcher()

    def submit(uid, prefix, cb, study_type=4):
        return s.submit(tok, NS, uid, sink.base + cb, oss, prefix,
                        study_type=study_type, bucket=BUCKET)

    # --- a study whose callback is delivered ----------------------------
    UA = "1.2.826.0.1.3680043.8.498.17.6.1"
    oss.dicom(BUCKET, "a/", count=2)
    envelope_ok(t, submit(UA, "a/", "/cb/a"), "000000", 200,
                "A: executeAnalysis accepted")
    r = s.wait_result(tok, NS, UA, 4, timeout=40)
    envelope_ok(t, r, "000000", 200, "A: the analysis is DONE", post=False)
    recs = wait_for(lambda: sink_received(sink, "/cb/a"), 15)
    t.ok(recs, "A: its status callback is delivered")
    study = s.study(NS, 4, UA) or {}
    msg_id = study.get("lastMessage", "")
    job_ids = [j.get("id") for j in s.jobs(NS, 4, UA)]
    t.eq(len(job_ids), 2, "A: two image jobs in the store")
    msg = wait_for(lambda: (s.outbox().get(msg_id) or {}).get("delivered")
                   and s.outbox()[msg_id], 10) or {}
    t.eq(msg.get("state"), "DELIVERED", "A: the callback is DELIVERED")
    t.eq((msg.get("studyType"), msg.get("studyInstanceUid")), (4, UA),
         "A: the callback's record names its study")
    delivered_at = msg.get("delivered", 0)

    # --- a study still running -------------------------------------------
    UR = "1.2.826.0.1.3680043.8.498.17.6.2"
    oss.dicom(BUCKET, "r/", count=1)
    envelope_ok(t, submit(UR, "r/", "/cb/r", study_type=1), "000000", 200,
                "R: executeAnalysis accepted (a 15 s engine)")

    # --- a study whose callback becomes a dead letter --------------------
    UD = "1.2.826.0.1.3680043.8.498.17.6.3"
    oss.dicom(BUCKET, "d/", count=1)
    sink_script(sink, "/cb/d", {"status": 500, "count": -1})
    envelope_ok(t, submit(UD, "d/", "/cb/d"), "000000", 200,
                "D: executeAnalysis accepted (its receiver answers 500)")

    # --- a push job ------------------------------------------------------
    oss.put(BUCKET, "p/knee.dcm", b"push style knee image\n" * 40)
    r = s.api("POST", "triggerAnalysis", {
        "namespace": NS, "ImageUid": "IMG-17-6", "accessKeyId": oss.ak,
        "accessKeySecret": oss.sk, "securityToken": "",
        "endpoint": oss.endpoint, "bucketName": BUCKET, "key": "p/knee.dcm",
        "analysis": "OA", "resultCallBackUrl": sink.base + "/result/p"},
        token=tok, ns=NS)
    envelope_ok(t, r, "000000", 200, "P: triggerAnalysis accepted")

    # --- A is removed, 3 s after its callback was delivered ---------------
    r = wait_for(lambda: gone(UA), 30)
    t.ok(r is not None, "A: getAnalysisResult answers 100004 once removed")
    if r is not None:
        envelope_ok(t, r, "100004", 404, "A: 100004 with its envelope",
                    post=False)
    p = s.admin("studies", "show", NS, "4", UA, check=False)
    t.ok(p.returncode == 1 and "no study" in p.stderr,
         "A: mias-admin studies show says there is no such study",
         p.stderr)
    akey = study_key(NS, 4, UA)
    t.ok(not any(k.startswith(akey + b"\0") for k in keys_of("jobs.db")),
         "A: its jobs are gone from jobs.db")
    idx = keys_of("jobidx.db")
    t.ok(job_ids and not any(i.encode() in idx for i in job_ids),
         "A: its job ids are gone from jobidx.db")
    t.ok(akey not in keys_of("results.db"), "A: its result is gone")
    t.ok(akey not in keys_of("answers.db"), "A: its answer is gone")
    t.ok(akey not in keys_of("studies.db"), "A: its study record is gone")
    t.ok(msg_id and msg_id not in s.outbox(), "A: its callback is gone")
    t.ok(not any(akey in k for k in keys_of("queue.db")),
         "A: nothing of it is left in the queue")
    t.ok(not any(akey in k for k in keys_of("ended.db")),
         "A: nor in the index of ended studies (ended.db)")
    rem = [e for e in audit_removals() if e.get("target") == "4 " + UA]
    t.eq(len(rem), 1, "A: the audit trail has its removal once")
    if rem:
        e = rem[0]
        t.eq((e.get("ns"), e.get("from")), (NS, "mias-dispatcher"),
             "A: ... by the dispatcher, in its namespace")
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                              time.gmtime(delivered_at // 1000))
        t.eq(e.get("outcome"), "removed, ended " + ended,
             "A: ... with the time it ended (its callback delivered)")
        t.ok(e.get("at", 0) >= delivered_at + KEEP_MS,
             "A: ... not before 3 s after it ended",
             "%d ms" % (e.get("at", 0) - delivered_at))

    # --- R: running all along, not removed --------------------------------
    st = s.study(NS, 1, UR) or {}
    t.ok(st.get("state") in ("QUEUED", "RUNNING"),
         "R: not ended, still there after A's removal", st.get("state"))
    r = s.get_result(tok, NS, UR, 1)
    t.eq(r.code, "100005", "R: getAnalysisResult: not finished (100005)")
    counters = dict(db_dump(s.state, "counters.db") or [])
    t.eq(counters.get(b"a\0" + NS.encode()), b"1",
         "the queued-studies counter counts R alone: A's removal left it "
         "alone")

    # --- D: kept while its callback is retried, then 3 s more -------------
    dkey = study_key(NS, 4, UD)

    def dead_msg():
        m = [v for v in s.outbox().values()
             if v.get("studyInstanceUid") == UD and v.get("state") == "DEAD"]
        return m[0] if m else None
    dm = wait_for(dead_msg, 30)
    t.ok(dm is not None, "D: its callback became a dead letter")
    dm = dm or {}
    fin = (s.study(NS, 4, UD) or {}).get("finished", 0)
    t.ok(dm.get("dead", 0) - fin > KEEP_MS,
         "D: dead-lettered more than 3 s after the study finished",
         "%d ms" % (dm.get("dead", 0) - fin))
    t.ok(dkey in keys_of("studies.db"),
         "D: the study is still there when its callback is dead-lettered")
    r = wait_for(lambda: gone(UD), 20)
    t.ok(r is not None, "D: removed after that (100004)")
    rem = [e for e in audit_removals() if e.get("target") == "4 " + UD]
    t.ok(rem and rem[0].get("at", 0) >= dm.get("dead", 0) + KEEP_MS,
         "D: its removal is 3 s or more after it was dead-lettered",
         rem and "%d ms" % (rem[0].get("at", 0) - dm.get("dead", 0)))
    t.ok(not any(v.get("studyInstanceUid") == UD
                 for v in s.outbox().values()),
         "D: its dead letter is gone with it")

    # --- the push job ------------------------------------------------------
    pkey = study_key(NS, 4, "\x1fIMG-17-6")
    t.ok(wait_for(lambda: sink_received(sink, "/result/p"), 20),
         "P: its result is delivered")
    t.ok(wait_for(lambda: pkey not in keys_of("studies.db"), 20),
         "P: the push job is removed")
    t.ok(any(e.get("target") == "4 push:IMG-17-6" for e in audit_removals()),
         "P: the audit trail names it push:IMG-17-6")

    # --- A again: a new analysis ------------------------------------------
    envelope_ok(t, submit(UA, "a/", "/cb/a2"), "000000", 200,
                "A again: executeAnalysis accepted")
    r = s.wait_result(tok, NS, UA, 4, timeout=40)
    envelope_ok(t, r, "000000", 200, "A again: the analysis completes",
                post=False)
    st = s.study(NS, 4, UA) or {}
    t.eq(st.get("run"), 1, "A again: a new study (run 1), not a rerun")
    t.ok(wait_for(lambda: sink_received(sink, "/cb/a2"), 15),
         "A again: its callback is delivered")

    # --- R ends and is removed; the counter comes back to 0 ---------------
    t.ok(wait_for(lambda: gone(UR, 1), 40) is not None,
         "R: removed too once it has ended")
    t.ok(wait_for(lambda: gone(UA), 20) is not None,
         "A again: removed in its turn")
    counters = dict(db_dump(s.state, "counters.db") or [])
    t.eq(counters.get(b"a\0" + NS.encode(), b"0"), b"0",
         "the queued-studies counter of the namespace is 0")
    studies = keys_of("studies.db")
    t.eq(studies, [], "no study is left in the store")
    t.ok("retention: " in s.dispatcher_log(),
         "the dispatcher logs its removals")
except Exception as e:  # noqa: BLE001
    import traceback
    t.ok(False, "test ran without an exception: %r" % e,
         traceback.format_exc())
finally:
    s.cleanup(keep=os.environ.get("MIAS_KEEP") == "1")
t.done()
