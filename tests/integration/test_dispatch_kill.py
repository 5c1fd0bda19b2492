#!/usr/bin/python3
# test_dispatch_kill.py -- kill -9 of mias-dispatcher at several points of a running study, then a restart
"""
Each round runs one study per kill point through lighttpd, the real
dispatcher and the fixtures, kills the dispatcher with SIGKILL at that
point and starts it again:

  submit     right after executeAnalysis answered (0-50 ms)
  listing    while its OSS listing is in flight (the fake OSS stalls it)
  command    while a slow command engine works on the images
  remote     remote engine triggered; its results arrive while the
             dispatcher is down
  pending    result stored, first callback try failed (500), retry pending
  delivery   while the callback request is in flight (the sink delays)
  random     at a random instant of a 3-image study, then once more
             just after the restart

After the restart every study must reach exactly one terminal outcome
(DONE, one outbox message, DELIVERED) and its callback; every request the
sink saw for a study carries the same webhook-id.  At the end the store
passes db_verify.  MIAS_KILL_ROUNDS (default 3) sets the number of rounds;
MIAS_KILL_SEED the random seed (printed); MIAS_TEST_KEEP=1 keeps the
temporary directory.
"""
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Stack, FakeOss, FIXTURES, wait_for,  # noqa: E402
                     sink_received, sink_script, delivered, verify_webhooks,
                     db_verify_all, db_tool)

t = TAP()
T_START = time.time()
ROUNDS = int(os.environ.get("MIAS_KILL_ROUNDS", "3"))
SEED = int(os.environ.get("MIAS_KILL_SEED", str(int(time.time() * 1000) %
                                                 1000000)))
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
rnd = random.Random(SEED)
CMD = "/usr/bin/python3 %s/cmd_engine.py" % FIXTURES
CB_TIMEOUT = 5
stacks = []

if db_tool("verify") is None or db_tool("dump") is None:
    t.skip_all("Berkeley DB utilities (db_dump, db_verify) not found")


def write_conf(s, engines):
    text = ("[server]\nstate_dir = %s\nkey_file = %s\npublic_url = %s\n"
            "max_body_bytes = 65536\n\n"
            "[dispatcher]\nconcurrency = 16\ncallback_timeout = %d\n"
            "retry_schedule = %s\n\n[egress]\nallow_hosts = 127.0.0.1\n\n"
            % (s.state, os.path.join(s.dir, "master.key"), s.base,
               CB_TIMEOUT, ",".join(["1s"] * 12)))
    for n, body in sorted(engines.items()):
        text += "[engine.%d]\n%s\n" % (n, body)
    with open(s.conf, "w") as f:
        f.write(text)


def set_cmd_mode(path, mode):
    with open(path + ".new", "w") as f:
        f.write(mode + "\n")
    os.rename(path + ".new", path)


def cmd_log(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def main():
    K = Stack("dispatch-kill")
    stacks.append(K)
    mode_file = os.path.join(K.dir, "engine.mode")
    eng_log = os.path.join(K.dir, "cmd_engine.jsonl")
    set_cmd_mode(mode_file, "ok")
    os.environ["MIAS_TEST_ENGINE_MODE_FILE"] = mode_file
    os.environ["MIAS_TEST_ENGINE_LOG"] = eng_log
    os.environ["MIAS_TEST_ENGINE_DELAY"] = "1.0"
    eng = K.fixture("engine.py", "--delay", "1.0")
    write_conf(K, {
        4: "command = %s --type 4 {input}\nanalysis = OA\ntimeout = 30\n"
           "concurrency = 2\n" % CMD,
        1: "url = %s/trigger\nanalysis = LN\ntimeout = 30\n"
           "concurrency = 4\n" % eng.base})
    K.init()
    tok, secret = K.namespace("hosp-k")
    oss = FakeOss(K)
    sink = K.fixture("sink.py")
    keys = oss.dicom("studies", "ct/k", 3)
    one = keys[0]
    K.start()
    K.start_dispatcher()
    t.diag("seed %d (MIAS_KILL_SEED), %d rounds (MIAS_KILL_ROUNDS)"
           % (SEED, ROUNDS))
    kills = [0]
    studies = []

    slow_submits = []

    def submit(uid, path, key, **over):
        t0 = time.time()
        r = K.submit(tok, "hosp-k", uid, sink.base + path, oss, key, **over)
        took = time.time() - t0
        if took > 1:
            slow_submits.append((uid, round(took, 2)))
            t.diag("executeAnalysis %s took %.2f s" % (uid, took))
        if r.code != "000000":
            t.ok(False, "executeAnalysis %s after the kills" % uid, r)
        return r

    def kill_restart(pause=0.0):
        p = K.dispatcher
        rc = K.kill_dispatcher()
        kills[0] += 1
        if rc != -signal.SIGKILL:
            t.ok(False, "the dispatcher died of SIGKILL (pid %s, status %r)"
                 % (p.pid if p else None, rc), K.dispatcher_log()[-2000:])
        if pause:
            time.sleep(pause)
        K.start_dispatcher()

    def settle(label, uid, path, n_images, study_type=4):
        """The study's single terminal outcome and its callback."""
        recs = wait_for(lambda: (lambda r: r if any(delivered(x) for x in r)
                                 else None)(sink_received(sink, path)), 90)
        recs = recs or sink_received(sink, path)
        good = [r for r in recs if delivered(r)]
        body = {}
        if good:
            try:
                body = json.loads(good[-1]["body"])
            except ValueError:
                pass
        ids = sorted({r.get("webhook_id") for r in recs})
        msgs = wait_for(lambda: (lambda m: m if m and all(
            x.get("state") == "DELIVERED" for x in m) else None)(
            [m for m in K.outbox().values()
             if m.get("url", "").endswith(path)]), 20) or \
            [m for m in K.outbox().values()
             if m.get("url", "").endswith(path)]
        recs = sink_received(sink, path)
        ids = sorted({r.get("webhook_id") for r in recs})
        st = wait_for(lambda: (lambda x: x if x and x.get("state") == "DONE"
                               else None)(K.study("hosp-k", study_type, uid)),
                      10) or K.study("hosp-k", study_type, uid) or {}
        res = wait_for(lambda: K.result("hosp-k", study_type, uid), 10) or {}
        lst = (res.get("data") or {}).get(
            "boxes" if study_type == 4 else "imageDataList") or []
        per = 1 if study_type == 4 else 2
        problems = []
        if not good:
            problems.append("no delivered callback")
        if body.get("status") != 0 or body.get("studyInstanceUid") != uid:
            problems.append("callback body %r" % body)
        if len(msgs) != 1 or msgs[0].get("state") != "DELIVERED":
            problems.append("outbox messages %r" % [
                (m.get("id"), m.get("state"), m.get("attempts"))
                for m in msgs])
        if st.get("state") != "DONE" or st.get("imagesDone") != n_images \
                or st.get("imagesFailed") or \
                st.get("imagesTotal") != n_images:
            problems.append("study %r" % {k: st.get(k) for k in (
                "state", "imagesDone", "imagesFailed", "imagesTotal",
                "errorCode", "errorMessage")})
        if res.get("state") != "DONE" or len(lst) != n_images * per:
            problems.append("result %s with %d findings" % (
                res.get("state"), len(lst)))
        t.ok(not problems, "%s: one DONE outcome, one message, callback "
             "delivered (%d request%s)" % (label, len(recs),
                                            "" if len(recs) == 1 else "s"),
             "\n".join(problems))
        rc, out = verify_webhooks(recs, secret)
        if rc not in (0, None):
            problems.append("signatures: " + out)
        t.ok(len(ids) == 1 and ids[0] and rc in (0, None) and
             (not msgs or msgs[0].get("id") == ids[0]),
             "%s: every request carried the same webhook-id, each signed"
             % label,
             [(r.get("webhook_id"), (r.get("answer") or {}).get("status"))
              for r in recs])
        studies.append((uid, path))

    for rnd_no in range(1, ROUNDS + 1):
        t.diag("--- round %d (%.1f s)" % (rnd_no, time.time() - T_START))
        pre = "1.2.99.%d." % rnd_no
        P = "/k/%d/" % rnd_no

        # 1. right after the submit
        submit(pre + "1", P + "submit", "ct/k/")
        time.sleep(rnd.uniform(0, 0.05))
        kill_restart()
        settle("round %d, kill after submit" % rnd_no, pre + "1",
               P + "submit", 3)

        # 2. while the listing is in flight
        oss.faults({"stall": {"seconds": 2, "count": 1,
                              "path_contains": "list-type"}})
        submit(pre + "2", P + "listing", "ct/k/")
        time.sleep(rnd.uniform(0.1, 0.5))
        kill_restart()
        settle("round %d, kill during the OSS listing" % rnd_no, pre + "2",
               P + "listing", 3)

        # 3. while a slow command engine runs
        n0 = len(cmd_log(eng_log))
        set_cmd_mode(mode_file, "slow 3")
        submit(pre + "3", P + "command", "ct/k/")
        wait_for(lambda: [x for x in cmd_log(eng_log)[n0:]
                          if x.get("phase") == "start"], 20, 0.02)
        time.sleep(rnd.uniform(0, 1.0))
        kill_restart()
        settle("round %d, kill during the command engine" % rnd_no,
               pre + "3", P + "command", 3)
        set_cmd_mode(mode_file, "ok")

        # 4. remote engine triggered; results come while the dispatcher
        # is down
        seq = max([e["seq"] for e in eng.call("GET", "/__control__/log")]
                  or [0])
        eng.call("POST", "/__control__", {"mode": "slow", "delay": 1.0})
        submit(pre + "4", P + "remote", "ct/k/", studyType=1)
        early = rnd.random() < 0.5
        wait_for(lambda: len([e for e in eng.call(
            "GET", "/__control__/log?since=%d" % seq)
            if e.get("trigger")]) >= (1 if early else 3), 20, 0.02)
        p = K.dispatcher
        K.kill_dispatcher()
        kills[0] += 1
        posted = wait_for(lambda: (lambda L: L if L and all(
            e.get("callbacks") for e in L) else None)(
            [e for e in eng.call("GET", "/__control__/log?since=%d" % seq)
             if (e.get("answer") or {}).get("status") == 200]), 20) or []
        t.ok(p is not None and posted and
             all(c.get("status") == 200 for e in posted
                 for c in e["callbacks"]),
             "round %d: results posted while the dispatcher was down were "
             "accepted" % rnd_no, [c for e in posted for c in e["callbacks"]])
        eng.call("POST", "/__control__", {"mode": "ok"})
        K.start_dispatcher()
        settle("round %d, kill with remote results in flight (%s)"
               % (rnd_no, "first trigger" if early else "all triggered"),
               pre + "4", P + "remote", 3, study_type=1)

        # 5. result stored, the first callback try failed, retry pending
        sink_script(sink, P + "pending", {"status": 500})
        submit(pre + "5", P + "pending", one)
        wait_for(lambda: sink_received(sink, P + "pending"), 30, 0.02)
        kill_restart(rnd.uniform(0, 1.5))
        settle("round %d, kill with a callback retry pending" % rnd_no,
               pre + "5", P + "pending", 1)

        # 6. while the callback request is in flight
        sink_script(sink, P + "delivery", {"status": 200, "delay": 2})
        submit(pre + "6", P + "delivery", one)
        wait_for(lambda: sink_received(sink, P + "delivery"), 30, 0.02)
        time.sleep(rnd.uniform(0, 1.0))
        kill_restart()
        settle("round %d, kill during the callback delivery" % rnd_no,
               pre + "6", P + "delivery", 1)

        # 7. a random instant, and again just after the restart
        t0 = time.time()
        submit(pre + "7", P + "random", "ct/k/")
        at = rnd.uniform(0, 1.5)
        time.sleep(at)
        kill_restart()
        again = rnd.uniform(0, 0.3)
        time.sleep(again)
        kill_restart()
        settle("round %d, kill at +%.0f ms and +%.0f ms after the restart"
               % (rnd_no, at * 1000, again * 1000), pre + "7", P + "random",
               3)
        t.diag("round %d took %.1f s" % (rnd_no, time.time() - t0))

    # a delivery recorded without waiting for the disk is flushed by the
    # main loop within 50 ms (deliver.c): killed 0.5 s after a callback
    # in a quiet system, the dispatcher does not send it again
    submit("1.2.99.0.8", "/k/quiet", one)
    wait_for(lambda: [r for r in sink_received(sink, "/k/quiet")
                      if delivered(r)], 30, 0.02)
    time.sleep(0.5)
    kill_restart()
    time.sleep(3)
    quiet = sink_received(sink, "/k/quiet")
    t.ok(len(quiet) == 1 and delivered(quiet[0]),
         "a callback delivered 0.5 s before a kill -9 is not sent again "
         "after the restart (its record was on disk)",
         [(r.get("webhook_id"), r.get("answer")) for r in quiet])

    # every study once more, now that all are done: nothing was sent again
    time.sleep(0)
    dup = []
    for uid, path in studies:
        recs = sink_received(sink, path)
        if len({r.get("webhook_id") for r in recs}) != 1:
            dup.append((uid, [r.get("webhook_id") for r in recs]))
    t.ok(len(slow_submits) <= max(1, kills[0] // 4),
         "executeAnalysis stays quick after the kills and restarts "
         "(%d of %d took over 1 s)" % (len(slow_submits), 7 * ROUNDS),
         slow_submits)
    t.ok(not dup, "after %d kills: no study's callbacks carry two "
         "webhook-ids" % kills[0], dup)
    tmp = os.path.join(K.state, "tmp")
    t.ok(wait_for(lambda: not os.listdir(tmp), 10),
         "no temporary image file left", os.listdir(tmp))
    rc = K.stop_dispatcher(signal.SIGTERM, 30)
    t.eq(rc, 0, "SIGTERM after the rounds: exit 0")
    K.stop()
    for f, ok, out in db_verify_all(K.state):
        t.ok(ok, "db_verify %s" % f, out)


try:
    main()
except Exception:  # noqa: BLE001
    import traceback
    t.ok(False, "the test ran to its end", traceback.format_exc())
finally:
    t.diag("runtime %.1f s" % (time.time() - T_START))
    for s in stacks:
        keep = KEEP or (t.failed and os.environ.get("MIAS_TEST_KEEP_FAILED"))
        s.cleanup(keep=bool(keep))
        if keep:
            t.diag("kept %s" % s.dir)
t.done()
