#!/usr/bin/python3
# test_engine_streams.py -- one engine's backlog does not hold another engine's images
"""
Image items of each studyType are a queue stream of their own (lib/queue.h),
and a look at the queue passes over at most 5,000 keys of a stream it
cannot start (dispatcher/sched.c, SCAN_VISIT_MAX).  When all images were
one stream, a backlog of more than 5,000 images waiting for a busy engine
ended every look before the images of another engine, due later, were
reached: a hospital's one-image X-ray waited until a large CT batch was
nearly done.

  1. engine 1 (concurrency 1, 60 s an image) is given a study of 5,100
     images; once they are listed, a one-image study for engine 2 (idle)
     is run and its callback delivered, while engine 1 is still on its
     first image;
  2. images of an engine the configuration no longer has are still met:
     engine 1 is removed by the configuration and its 5,100 queued images
     are failed with NO_ENGINE, the study ends and its callback is
     delivered, and the queue is left empty.

Within an engine's stream, each namespace's images are a stream of their
own, found at every look; a namespace at its fair share of the engine is
not walked further.  When the images of all namespaces were one stream,
only those within the first 5,000 due counted for the shares, and a
namespace behind a larger backlog waited for it in due order:

  3. namespace "big" is given 5,100 images for engine 4 (concurrency 2,
     2 s an image); once they are listed, namespace "small"'s one-image
     study is done and its callback delivered within the time of a few
     images, while most of "big"'s images still wait.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     slow_engine, cmd_engine_runs as runs,
                     sink_received, delivered,
                     wait_for)

t = TAP()

BIG = 5100      # more than SCAN_VISIT_MAX


def backlog(s, oss, sink, tok, ns, uid, prefix, study_type):
    """A study of BIG one-byte images, submitted and listed (two points)."""
    for i in range(BIG):
        oss.put("studies", "%s/img%05d.dcm" % (prefix, i), b"x")
    r = s.submit(tok, ns, uid, sink.base + "/" + prefix, oss, prefix + "/",
                 study_type=study_type)
    t.eq(r.code, "000000", "%s: a %d-image study for engine %d accepted"
         % (ns, BIG, study_type))
    t.ok(wait_for(lambda: (s.study(ns, study_type, uid) or {})
                  .get("imagesTotal") == BIG, 120, 0.2),
         "its images are listed", s.study(ns, study_type, uid))


def main(s):
    log, without = slow_engine(s, 1, "LN", delay=60, timeout=120)
    s.init()
    tok, _ = s.namespace("hosp-s")
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    oss.dicom("studies", "s/xr", 1)
    s.start()
    s.start_dispatcher()

    # 1. engine 2's study is not held by engine 1's backlog
    backlog(s, oss, sink, tok, "hosp-s", "1.2.99.1", "s/ct", 1)
    t.ok(wait_for(lambda: runs(log), 20, 0.05),
         "engine 1 has started on the first", runs(log))
    r = s.submit(tok, "hosp-s", "1.2.99.2", sink.base + "/s/xr", oss,
                 "s/xr/", study_type=2)
    t.eq(r.code, "000000", "then a one-image study for engine 2 accepted")
    recs = wait_for(lambda: [x for x in sink_received(sink, "/s/xr")
                             if delivered(x)], 30) or []
    st2 = s.study("hosp-s", 2, "1.2.99.2") or {}
    t.ok(recs and st2.get("state") == "DONE",
         "engine 2's study is done and its callback delivered, behind "
         "%d images waiting for engine 1" % BIG,
         {k: st2.get(k) for k in ("state", "imagesDone", "imagesFailed")})
    st1 = s.study("hosp-s", 1, "1.2.99.1") or {}
    t.ok(len(runs(log)) == 1 and st1.get("state") == "RUNNING" and
         not st1.get("imagesDone"),
         "meanwhile engine 1 is still on its first image",
         (len(runs(log)), st1.get("state"), st1.get("imagesDone")))

    # 2. images of an engine no longer configured are met and failed
    s.stop_dispatcher()
    with open(s.conf, "w") as f:
        f.write(without)
    s.start_dispatcher()
    recs = wait_for(lambda: [x for x in sink_received(sink, "/s/ct")
                             if delivered(x)], 120, 0.2) or []
    st1 = s.study("hosp-s", 1, "1.2.99.1") or {}
    t.ok(recs and st1.get("state") in ("DONE", "FAILED") and
         st1.get("imagesFailed") == BIG,
         "engine 1 removed: its %d images are met and failed with "
         "NO_ENGINE, the study ends and its callback is delivered" % BIG,
         {k: st1.get(k) for k in ("state", "imagesDone", "imagesFailed",
                                  "errorCode")})
    s.stop_dispatcher()
    p = s.admin("store", "check", check=False)
    t.ok(" 0 queue items read," in p.stdout, "the queue is empty",
         p.stdout + p.stderr)


def fair(s):
    s.init()
    tok_b, _ = s.namespace("big")
    tok_s, _ = s.namespace("small")
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    oss.dicom("studies", "f/small", 1)
    s.start()
    s.start_dispatcher()

    backlog(s, oss, sink, tok_b, "big", "1.2.99.3", "f/big", 4)
    r = s.submit(tok_s, "small", "1.2.99.4", sink.base + "/f/small", oss,
                 "f/small/")
    t.eq(r.code, "000000", "then namespace small: a one-image study")
    recs = wait_for(lambda: [x for x in sink_received(sink, "/f/small")
                             if delivered(x)], 20) or []
    st = s.study("small", 4, "1.2.99.4") or {}
    big = s.study("big", 4, "1.2.99.3") or {}
    t.ok(recs and st.get("state") == "DONE" and
         (big.get("imagesDone") or 0) < BIG - 5000,
         "small's study is done and its callback delivered within 20 s, "
         "while most of big's images still wait",
         {"small": st.get("state"), "big done": big.get("imagesDone")})


s = Stack("engine-streams", engines={2: cmd_engine_conf(2, "CXR")},
          egress="allow_hosts = 127.0.0.1")
try:
    main(s)
finally:
    s.cleanup(keep=t.failed > 0)
s = Stack("engine-fair", engines={4: cmd_engine_conf(
    4, "OA", timeout=60, concurrency=2, args="--mode slow --delay 2")},
    egress="allow_hosts = 127.0.0.1")
try:
    fair(s)
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
