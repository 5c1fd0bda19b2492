#!/usr/bin/python3
# test_engine_removed.py -- queued images of a studyType whose engine a reload removed
"""
A study's images wait in the queue for their command engine (concurrency
1, a slow engine).  SIGHUP removes that engine from the configuration
while another engine stays configured and idle.  A look at the queue walks
images only while a configured engine has room (dispatcher/sched.c); the
images of the removed engine must still be met there and failed with
NO_ENGINE, the study must end and its callback be delivered, and the
image that was running when the reload came finishes under the old
configuration.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     slow_engine, cmd_engine_runs as runs,
                     sink_received, delivered,
                     wait_for)

t = TAP()


def main(s):
    log, without = slow_engine(s, 1, "LN", delay=3, timeout=30)
    s.init()
    tok, _ = s.namespace("hosp-r")
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    oss.dicom("studies", "r/a", 3)
    s.start()
    s.start_dispatcher()

    r = s.submit(tok, "hosp-r", "1.2.88.1", sink.base + "/r/a", oss, "r/a/",
                 study_type=1)
    t.eq(r.code, "000000", "a three-image study for engine 1 accepted")
    started = wait_for(lambda: runs(log), 20, 0.05) or []
    t.ok(len(started) >= 1, "engine 1 (concurrency 1, 3 s an image) has "
         "started on its first image", started)

    with open(s.conf, "w") as f:
        f.write(without)
    mark = len(s.dispatcher_log())
    s.dispatcher.send_signal(signal.SIGHUP)
    t.ok(wait_for(lambda: "reload" in s.dispatcher_log()[mark:], 10),
         "SIGHUP: engine 1 removed from the configuration",
         s.dispatcher_log()[mark:])

    recs = wait_for(lambda: [x for x in sink_received(sink, "/r/a")
                             if delivered(x)], 30) or []
    st = s.study("hosp-r", 1, "1.2.88.1") or {}
    jobs = s.jobs("hosp-r", 1, "1.2.88.1")
    codes = sorted(j.get("errorCode") or j.get("state") for j in jobs)
    t.ok(recs and st.get("state") in ("DONE", "FAILED"),
         "the study ended and its callback was delivered",
         {k: st.get(k) for k in ("state", "imagesDone", "imagesFailed",
                                  "errorCode")})
    t.ok(codes.count("NO_ENGINE") == 2 and st.get("imagesFailed") == 2,
         "the two images still queued were failed with NO_ENGINE", codes)
    t.ok(st.get("imagesDone") == 1 and len(runs(log)) == 1,
         "the image running at the reload finished; the engine ran once",
         (st.get("imagesDone"), runs(log)))


s = Stack("engine-removed", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = 127.0.0.1")
try:
    main(s)
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
