#!/usr/bin/python3
# test_soak.py -- crash soak: N studies while the dispatcher and the responders are killed with SIGKILL at random
"""
MIAS_SOAK_N studies (default 80; a long run: MIAS_SOAK_N=3000, about
1,000 kills) are submitted while a killer thread sends SIGKILL, at
random moments, to the dispatcher (restarted after it) and to this
stack's responders (lighttpd starts them again; the next one to open the
store recovers it, under the dispatcher's feet).  Among the faults, OSS
listings that are slow or stall (the connection closed unanswered) and
engines that take a random time.  A submission that was not answered
000000 is retried, as a caller would.  Afterwards every accepted study
has ended: its status callback and its result, with exactly one
webhook-id, and the store passes db_verify and the invariant check.
MIAS_SOAK_SEED replays a run.
"""
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf, db_verify_all,  # noqa: E402
                     responders, sink_received, wait_for)

t = TAP()
N = int(os.environ.get("MIAS_SOAK_N", "80"))
seed = int(os.environ.get("MIAS_SOAK_SEED", str(int(time.time()))))
rnd = random.Random(seed)
t.diag("N=%d seed=%d" % (N, seed))



s = Stack("soak", engines={4: cmd_engine_conf(
    4, "OA", concurrency=4, timeout=60, args="--mode jitter --delay 1.0")},
    egress="allow_hosts = 127.0.0.1", procs=2)
s.responders_may_die = True     # the web server answers for a killed one
try:
    with open(s.conf, "a") as f:
        f.write("[dispatcher]\nretry_schedule = 1s,1s,2s,2s,5s,5s,10s\n"
                "callback_timeout = 5\n")
    s.init()
    tok, secret = s.namespace("soak")
    oss = FakeOss(s)
    for i in range(N):
        oss.put("studies", "s%d/img.dcm" % i, b"soak image %d\n" % i * 40)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    kills = {"dispatcher": 0, "responder": 0}
    faults = {"delay": 0, "stall": 0}
    stop = threading.Event()
    lock = threading.Lock()

    def killer():
        while not stop.wait(rnd.uniform(0.2, 1.2)):
            # now and then the next listing is slow, or stalls (OSS
            # closes the connection unanswered: the client retries)
            f = rnd.random()
            if f < 0.15:
                oss.faults({"delay": {"seconds": rnd.uniform(0.5, 3),
                                      "path_contains": "prefix="}})
                faults["delay"] += 1
            elif f < 0.25:
                oss.faults({"stall": {"seconds": rnd.uniform(0.2, 1.5),
                                      "path_contains": "prefix="}})
                faults["stall"] += 1
            with lock:
                if rnd.random() < 0.5:
                    if s.dispatcher is not None:
                        s.kill_dispatcher()
                        kills["dispatcher"] += 1
                        time.sleep(rnd.uniform(0, 0.5))
                        s.start_dispatcher()
                else:
                    pids = responders(s)
                    if pids:
                        try:
                            os.kill(rnd.choice(pids), signal.SIGKILL)
                            kills["responder"] += 1
                        except ProcessLookupError:
                            pass

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    accepted, tries = [], 0
    for i in range(N):
        uid = "7.%d" % i
        for attempt in range(50):
            tries += 1
            try:
                r = s.submit(tok, "soak", uid, sink.base + "/cb/" + uid,
                             oss, "s%d/" % i)
                if r.code == "000000":
                    accepted.append(uid)
                    break
            except Exception:
                pass
            time.sleep(0.1)
        time.sleep(rnd.uniform(0.05, 0.35))
    stop.set()
    th.join()
    with lock:
        if s.dispatcher is None or s.dispatcher.poll() is not None:
            s.start_dispatcher()
    t.diag("submitted %d studies in %d tries; killed the dispatcher %d "
           "times, a responder %d times; %d slow and %d stalled listings"
           % (len(accepted), tries, kills["dispatcher"], kills["responder"],
              faults["delay"], faults["stall"]))
    t.ok(len(accepted) == N, "every study was accepted in the end "
         "(%d of %d)" % (len(accepted), N))
    t.ok(kills["dispatcher"] + kills["responder"] >= 3,
         "the soak killed processes (%r)" % kills)

    def all_called_back():
        recs = sink_received(sink)
        got = set(r["path"] for r in recs
                  if r.get("answer", {}).get("status") == 200)
        return all("/cb/" + u in got for u in accepted)

    t.ok(wait_for(all_called_back, 120 + N, 0.5) is not None,
         "every accepted study got its status callback",
         [u for u in accepted if "/cb/" + u not in
          set(r["path"] for r in sink_received(sink))][:10])
    recs = sink_received(sink)
    ids, bodies = {}, {}
    for r in recs:
        ids.setdefault(r["path"], set()).add(r.get("webhook_id"))
        bodies.setdefault(r["path"], []).append(r.get("body"))
    two = {p: i for p, i in ids.items() if len(i) != 1}
    t.ok(not two, "no study's callbacks carry two webhook-ids", two)
    bad = [p for p, b in bodies.items()
           if not all(json.loads(x).get("status") == 0 for x in b)]
    t.ok(not bad, "every callback says status 0", bad[:5])
    missing = []
    for u in accepted:
        for _ in range(50):     # [limits] requests_per_second: as a
            r = s.api("GET", "getAnalysisResult", token=tok, ns="soak",
                      query="?studyInstanceUid=%s&studyType=4" % u)
            if r.code != "100010":  # caller would, wait and try again
                break
            time.sleep(float(r.headers.get("retry-after", "1")))
        if r.code != "000000" or len(r.json["data"]["boxes"]) != 1:
            missing.append((u, r.code))
    t.ok(not missing, "every accepted study has its result", missing[:5])
    s.stop_dispatcher()
    s.stop()
    # the dispatcher runs the invariant check at every start and after
    # every recovery: it must never have found anything to repair
    problems = [x for x in s.dispatcher_log().splitlines()
                if "store check:" in x]
    t.ok(not problems, "the invariant check found nothing stranded at any "
         "of the dispatcher's starts and recoveries", problems[:10])
    p = s.admin("store", "check", check=False)
    t.ok(p.returncode == 0, "mias-admin store check: the store is clean "
         "(exit %d)" % p.returncode, (p.stdout + p.stderr)[-2000:])
    dups = sum(len(i) - 1 for i in ids.values())
    t.diag("figures: kills=%d (dispatcher %d, responders %d) accepted=%d "
           "ended=%d two-webhook-id studies=%d"
           % (kills["dispatcher"] + kills["responder"], kills["dispatcher"],
              kills["responder"], len(accepted),
              sum(1 for u in accepted if "/cb/" + u in ids), dups))
    v = db_verify_all(s.state)
    t.ok(v and all(ok for _, ok, _ in v), "db_verify passes on every "
         "database", [x for x in v if not x[1]])
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
