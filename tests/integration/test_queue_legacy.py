#!/usr/bin/python3
# test_queue_legacy.py -- a queue keyed as earlier builds keyed it is still worked off
"""
The dispatcher's queue keys now start with the item's kind (lib/queue.h);
earlier builds put the due time first.  A store an earlier build left must
go on working after an upgrade.  tests/queue_legacy rewrites the queue of a
stopped stack in the older layout, then:

  1. a queued study (its listing item in the older layout) is listed, run
     by a command engine, assembled and its callback delivered;
  2. a remote engine's images were triggered (their timeout items now in
     the older layout) and its results arrive while the dispatcher is
     down: algorithmResult deletes those timeout items (queue_del finds
     the older key), the study finishes once the dispatcher is back;
  3. at the end the queue is empty, in both layouts.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     sink_received, delivered, wait_for, QUEUE_LEGACY,
                     queue_legacy, queue_count)

t = TAP()
if not os.access(QUEUE_LEGACY, os.X_OK):
    t.skip_all("%s is not built (make check builds it)" % QUEUE_LEGACY)


def count(state):
    """(kind-first, oldest layout) items: this test makes no image keys."""
    c, out = queue_count(state)
    return (c[:2] if c is not None else None), out


def main(s):
    eng = s.fixture("engine.py", "--delay", "0.1")
    with open(s.conf, "a") as f:
        f.write("[engine.1]\nurl = %s/trigger\nanalysis = LN\n"
                "timeout = 60\nconcurrency = 4\n" % eng.base)
    s.init()
    tok, _ = s.namespace("hosp-q")
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    oss.dicom("studies", "q/a", 3)
    oss.dicom("studies", "q/b", 3)
    s.start()

    # 1. a queued study, its listing item in the older layout
    r = s.submit(tok, "hosp-q", "1.2.77.1", sink.base + "/q/a", oss, "q/a/")
    t.eq(r.code, "000000", "study A accepted with the dispatcher stopped")
    rc, out = queue_legacy(s.state)
    t.ok(rc == 0 and out == "converted 1",
         "its listing item rewritten in the older key layout", out)
    c, out = count(s.state)
    t.eq(c, (0, 1), "the queue holds one item, in the older layout")
    s.start_dispatcher()
    recs = wait_for(lambda: [x for x in sink_received(sink, "/q/a")
                             if delivered(x)], 60) or []
    st = s.study("hosp-q", 4, "1.2.77.1") or {}
    t.ok(recs and st.get("state") == "DONE" and
         st.get("imagesDone") == 3,
         "study A listed from the older item, run and its callback "
         "delivered", {k: st.get(k) for k in ("state", "imagesDone",
                                               "imagesFailed",
                                               "errorCode")})

    # 2. remote images triggered, then the dispatcher stops; their timeout
    # items are rewritten; the results come while it is down
    seq = max([e["seq"] for e in eng.call("GET", "/__control__/log")]
              or [0])
    eng.call("POST", "/__control__", {"mode": "slow", "delay": 4.0})
    r = s.submit(tok, "hosp-q", "1.2.77.2", sink.base + "/q/b", oss, "q/b/",
                 study_type=1)
    t.eq(r.code, "000000", "study B accepted")
    trig = wait_for(lambda: (lambda L: L if len(L) >= 3 else None)(
        [e for e in eng.call("GET", "/__control__/log?since=%d" % seq)
         if e.get("trigger")]), 30) or []
    s.stop_dispatcher()
    rc, out = queue_legacy(s.state)
    t.ok(len(trig) >= 3 and rc == 0 and out == "converted 3",
         "three images triggered; their timeout items rewritten in the "
         "older layout", out)
    posted = wait_for(lambda: (lambda L: L if len(L) >= 3 and all(
        e.get("callbacks") for e in L) else None)(
        [e for e in eng.call("GET", "/__control__/log?since=%d" % seq)
         if (e.get("answer") or {}).get("status") == 200]), 30) or []
    t.ok(len(posted) >= 3 and all(cb.get("status") == 200 for e in posted
                                  for cb in e["callbacks"]),
         "the three results were accepted while the dispatcher was down",
         [cb for e in posted for cb in e.get("callbacks", [])])
    c, out = count(s.state)
    t.eq(c, (1, 0), "algorithmResult deleted the older timeout items; "
         "what is left is the study's assembly item")
    s.start_dispatcher()
    recs = wait_for(lambda: [x for x in sink_received(sink, "/q/b")
                             if delivered(x)], 60) or []
    st = s.study("hosp-q", 1, "1.2.77.2") or {}
    t.ok(recs and st.get("state") == "DONE" and st.get("imagesDone") == 3,
         "study B finished after the restart, its callback delivered",
         {k: st.get(k) for k in ("state", "imagesDone", "imagesFailed",
                                  "errorCode")})

    # 3. nothing left behind
    s.stop_dispatcher()
    c, out = count(s.state)
    t.eq(c, (0, 0), "the queue is empty in both layouts")


s = Stack("queue-legacy", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = 127.0.0.1")
try:
    main(s)
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
