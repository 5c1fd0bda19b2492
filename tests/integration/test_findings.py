#!/usr/bin/python3
# test_findings.py -- analyses by name, push results read back by ImageUid and an engine's second post, through lighttpd (test_apache.py runs the same scenario under Apache)
"""
One gateway with three engine sections -- [engine.4] (command, analysis =
OA, Ballooning), [engine.retina] (command, analysis = DR, studyType = 3)
and [engine.remote] (tests/fixtures/engine.py, analysis = Meniscus) -- a
fake OSS and a callback sink; two namespaces.

- an analysis listed by two sections is a configuration error (file:line);
  triggers reach the section that lists their analysis, which runs it
  with that analysis; executeAnalysis goes by studyType with the first
  analysis of the section ([engine.retina] serves studyType 3); an
  analysis nobody lists, or a studyType nobody serves, is 100011.
- getAnalysisResult?imageUid=: 100005 while the push job waits, then
  000000 with data equal to the result callback's body (Boxes with
  imageKey); 100006 with the failure when it failed; 100004 for an
  ImageUid the namespace never triggered, including another namespace's.
- algorithmResult posted again after the job ended (the remote engine's):
  the same result
  (reordered) 000000, a different one 100012 (HTTP 409), and the stored
  result is the first.

scenario(t, s) runs on any Stack made but not yet initialised, so that
test_apache.py runs it under Apache as www-data.
"""
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, FIXTURES, FakeOss, Stack, cmd_engine_conf,  # noqa
                     engine_log, envelope_ok, json_exact, sink_received,
                     wait_for)

sys.path.insert(0, FIXTURES)
import engine as engine_fixture  # noqa: E402

BUCKET = "studies"
NS, NS2 = "hosp", "other-hosp"


def with_data(t, r, code, status, desc):
    """The envelope of an answer whose data is an object (100005,
    100006), as envelope_ok checks the others."""
    j = r.json if isinstance(r.json, dict) else {}
    return t.ok(r.status == status and j.get("returnCode") == code and
                j.get("success") is (code == "000000") and
                isinstance(j.get("returnMessage"), str) and
                isinstance(j.get("data"), dict), desc,
                "want %s/HTTP %d, got %r" % (code, status, r))


def write_conf(s, engines):
    """The stack's configuration with these [engine.X] sections."""
    text = ("[server]\nstate_dir = %s\nkey_file = %s\npublic_url = %s\n"
            "max_body_bytes = 65536\n\n"
            "[dispatcher]\nretry_schedule = 1s,1s,2s\ncallback_timeout = 5\n"
            "\n[egress]\nallow_hosts = 127.0.0.1\n\n"
            % (s.state, os.path.join(s.dir, "master.key"), s.base))
    for name, body in engines:
        text += "[engine.%s]\n%s\n" % (name, body)
    with open(s.conf, "w") as f:      # (in place: keeps its mode)
        f.write(text)


def engine_runs(log, since=0.0):
    """The runs cmd_engine.py logged in log ("start" records) from since
    on."""
    return [x for x in engine_log(log, since) if x.get("phase") == "start"]


def scenario(t, s):
    eng = s.fixture("engine.py", "--types", "Meniscus=4")
    log4 = os.path.join(s.dir, "engine4.jsonl")
    log3 = os.path.join(s.dir, "retina.jsonl")
    engines = [
        ("4", cmd_engine_conf(4, "OA, Ballooning", args="--log " + log4)),
        ("retina", cmd_engine_conf(3, "DR", args="--log " + log3) +
         "studyType = 3\n"),
        ("remote", "url = %s/trigger\nanalysis = Meniscus\ntimeout = 20\n"
         "concurrency = 1\n" % eng.base),
    ]
    # an analysis in two sections: a configuration error, file:line
    write_conf(s, engines + [("other", cmd_engine_conf(4, "XR, Ballooning"))])
    p = s.admin("namespace", "list", check=False)
    with open(s.conf) as f:
        line = [i + 1 for i, x in enumerate(f.read().splitlines())
                if x.startswith("analysis") and "XR" in x]
    t.ok(p.returncode != 0 and "%s:%d: analysis Ballooning is listed by "
         "[engine.4] and [engine.other]" % (s.conf, line[0]) in p.stderr,
         "an analysis in two sections is a configuration error (file:line)",
         (p.returncode, p.stderr))
    write_conf(s, engines)
    s.init()
    tok, _ = s.namespace(NS)
    tok2, _ = s.namespace(NS2)
    A = dict(token=tok, ns=NS)
    B = dict(token=tok2, ns=NS2)
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    s.start()

    def trig(auth, uid, key, cb, analysis="OA"):
        return s.api("POST", "triggerAnalysis", {
            "namespace": auth["ns"], "ImageUid": uid,
            "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
            "securityToken": "", "endpoint": oss.endpoint,
            "bucketName": BUCKET, "key": key, "analysis": analysis,
            "resultCallBackUrl": sink.base + cb}, **auth)

    def get(auth, image_uid, extra=""):
        return s.api("GET", "getAnalysisResult", **auth, query="?imageUid="
                     + urllib.parse.quote(image_uid, safe="") + extra)

    def callback(path):
        recs = wait_for(lambda: sink_received(sink, path), 30) or []
        return json_exact(recs[0]["body"]) if recs else None

    keys = oss.dicom(BUCKET, "push/p1", 2)
    rkeys = oss.dicom(BUCKET, "push/r1", 4)

    # --- item 3: a push job read back by its ImageUid ---------------------
    uid = "IMG 0001/knee-影像.dcm"
    envelope_ok(t, trig(A, uid, keys[0], "/result/1"), "000000", 200,
                "triggerAnalysis accepted (no dispatcher yet)")
    r = get(A, uid)
    with_data(t, r, "100005", 409, "getAnalysisResult?imageUid= while the "
              "push job waits: 100005 (HTTP 409)")
    d = (r.json or {}).get("data") or {}
    t.ok(d.get("state") == "QUEUED" and d.get("imagesDone") == 0,
         "  ... data is its progress (QUEUED)", d)
    envelope_ok(t, get(B, uid), "100004", 404, "  ... another namespace "
                "asking for that ImageUid: 100004", post=False)

    s.start_dispatcher()
    body = callback("/result/1")
    t.ok(body is not None and body.get("returnCode") == "000000",
         "the result callback is delivered", body)
    r = get(A, uid)
    envelope_ok(t, r, "000000", 200, "getAnalysisResult?imageUid= once done: "
                "000000", post=False)
    data = json_exact(r.raw).get("data") if r.json else None
    t.eq(data, body, "  ... data is exactly what the result callback "
         "carried")
    t.ok(isinstance(data, dict) and data.get("namespace") == NS and
         data.get("ImageUid") == uid and data.get("Boxes") and
         all(b.get("imageKey") == keys[0] for b in data["Boxes"]),
         "  ... namespace, ImageUid, Boxes each with the image's imageKey",
         data)
    envelope_ok(t, get(A, uid, "&studyType=4"), "000000", 200,
                "  ... with its studyType as well", post=False)
    envelope_ok(t, get(A, uid, "&studyType=1"), "100004", 404,
                "  ... with another studyType: 100004", post=False)
    envelope_ok(t, get(B, uid), "100004", 404, "  ... another namespace: "
                "100004, never this one's job", post=False)
    r = s.get_result(tok, NS, "\x1f" + uid, 4)
    t.ok(r.status == 400 and r.code != "000000", "a push job cannot be "
         "named as a studyInstanceUid (control character refused)", r)
    envelope_ok(t, get(A, "no-such-image"), "100004", 404,
                "an ImageUid never triggered: 100004", post=False)
    r = s.api("GET", "getAnalysisResult", **A,
              query="?imageUid=x&studyInstanceUid=1.2&studyType=4")
    envelope_ok(t, r, "100002", 400, "imageUid with a studyInstanceUid: "
                "100002", post=False)

    # the other namespace's own push job, with the same ImageUid
    envelope_ok(t, trig(B, uid, keys[1], "/result/b"), "000000", 200,
                "another namespace triggers the same ImageUid")
    body_b = callback("/result/b")
    r = get(B, uid)
    t.ok(r.code == "000000" and (r.json.get("data") or {}).get(
        "namespace") == NS2 and json_exact(r.raw)["data"] == body_b,
         "  ... reads its own result", r)
    r = get(A, uid)
    t.ok(r.code == "000000" and json_exact(r.raw)["data"] == body,
         "  ... and the first namespace still reads its own", r)

    # a push job that failed
    envelope_ok(t, trig(A, "gone-1", "push/no-such-object.dcm",
                        "/result/gone"), "000000", 200,
                "triggerAnalysis of an object that does not exist")
    gone = callback("/result/gone")
    r = get(A, "gone-1")
    with_data(t, r, "100006", 200, "getAnalysisResult?imageUid= of a "
              "failed push job: 100006 (HTTP 200)")
    d = json_exact(r.raw).get("data") if r.json else None
    t.eq(d, gone, "  ... data is the failure the callback carried")
    t.ok(isinstance(d, dict) and d.get("returnCode") == "100006" and
         d.get("errorCode") and d.get("Boxes") == [],
         "  ... returnCode 100006, an errorCode, Boxes []", d)

    # --- item 2: analyses by name ------------------------------------------
    # [engine.4] OA, Ballooning (command); [engine.retina] DR, studyType 3
    # (command; no [engine.3], so it serves studyType 3 studies too);
    # [engine.remote] Meniscus (remote, box findings, triggers only)
    routed = {}
    since = time.time()
    for i, (analysis, log) in enumerate((("OA", log4),
                                         ("Ballooning", log4),
                                         ("DR", log3))):
        sha = oss.sha256(BUCKET, rkeys[i])
        envelope_ok(t, trig(A, "route-%d" % i, rkeys[i], "/result/r%d" % i,
                            analysis), "000000", 200,
                    "triggerAnalysis %s accepted" % analysis)
        routed[analysis] = (callback("/result/r%d" % i), log, sha)
    for analysis, (body, log, sha) in routed.items():
        runs = [x for x in engine_runs(log, since) if x.get("sha256") == sha]
        other = log3 if log == log4 else log4
        t.ok(len(runs) == 1 and runs[0].get("analysis") == analysis and
             not [x for x in engine_runs(other, since)
                  if x.get("sha256") == sha],
             "%s ran once on its own section's engine, asked for %s"
             % (analysis, analysis), runs)
    b = routed["Ballooning"][0] or {}
    t.ok(b.get("returnCode") == "000000" and b.get("Boxes") and
         "OcularDataList" not in b, "  ... Ballooning's result: Boxes", b)
    b = routed["DR"][0] or {}
    t.ok(b.get("returnCode") == "000000" and b.get("Boxes") == [] and
         len(b.get("OcularDataList") or []) == 2 and
         all(x.get("imageKey") == rkeys[2] for x in b["OcularDataList"]),
         "  ... DR's result: OcularDataList (studyType 3), Boxes []", b)
    t.ok(all(x.get("studyType") == ("3" if a == "DR" else "4")
             for a, (_, log, _) in routed.items()
             for x in engine_runs(log, since)),
         "  ... each run with the studyType of its section")
    envelope_ok(t, trig(A, "route-x", rkeys[0], "/result/rx", "XYZ"),
                "100011", 400, "triggerAnalysis of an analysis no section "
                "lists: 100011")
    envelope_ok(t, trig(A, "route-x", rkeys[0], "/result/rx", "oa"),
                "100011", 400, "  ... names match exactly (oa is not OA)")
    # executeAnalysis by studyType, with the first analysis of the section
    n3 = len(engine_runs(log3))
    r = s.submit(tok, NS, "1.2.3.fundus", sink.base + "/cb/fundus", oss,
                 "push/r1/", study_type=3)
    envelope_ok(t, r, "000000", 200, "executeAnalysis studyType 3: "
                "[engine.retina] (studyType = 3) serves it")
    r = s.wait_result(tok, NS, "1.2.3.fundus", 3, timeout=60)
    d = (r.json or {}).get("data") or {}
    t.ok(r.code == "000000" and len(d.get("ocularDataList") or []) == 8,
         "  ... its 4 images' fundus findings", r)
    runs = engine_runs(log3)[n3:]
    t.ok(len(runs) == 4 and all(x.get("analysis") == "DR" for x in runs),
         "  ... run by the retina engine with analysis DR", runs)
    n4 = len(engine_runs(log4))
    r = s.submit(tok, NS, "1.2.3.knee", sink.base + "/cb/knee", oss,
                 "push/p1/", study_type=4)
    r = s.wait_result(tok, NS, "1.2.3.knee", 4, timeout=60)
    runs = engine_runs(log4)[n4:]
    t.ok(r.code == "000000" and len(runs) == 2 and
         all(x.get("analysis") == "OA" for x in runs),
         "executeAnalysis studyType 4: [engine.4] with its first analysis, "
         "OA", runs)
    r = s.submit(tok, NS, "1.2.3.lung", sink.base + "/cb/lung", oss,
                 "push/p1/", study_type=1)
    envelope_ok(t, r, "100011", 400, "executeAnalysis studyType 1 (no "
                "section serves it): 100011")

    # --- item 4: an engine posts again after its job ended -----------------
    envelope_ok(t, trig(A, "men-1", keys[1], "/result/men", "Meniscus"),
                "000000", 200, "triggerAnalysis Meniscus: [engine.remote], "
                "a named section without studyType")
    body_m = callback("/result/men")
    t.ok(body_m is not None and body_m.get("returnCode") == "000000" and
         body_m.get("Boxes") and all(x.get("imageKey") == keys[1]
                                     for x in body_m["Boxes"]),
         "  ... its result is delivered, box findings", body_m)
    log = [e for e in (eng.call("GET", "/__control__/log?since=0") or [])
           if (e.get("trigger") or {}).get("key") == keys[1]]
    t.ok(len(log) == 1 and log[0]["trigger"].get("analysis") == "Meniscus",
         "the remote engine got one trigger for it, analysis Meniscus", log)
    if log:
        tr = log[0]["trigger"]
        first = json.loads(engine_fixture.result_text(
            4, tr.get("namespace"), tr["ImageUid"],
            oss.sha256(BUCKET, keys[1])))
        path = tr["resultCallBackUrl"][len(s.base):]
        same = dict(reversed(list(first.items())))
        r = s.request("POST", path, json.dumps(same, indent=1))
        envelope_ok(t, r, "000000", 200, "the engine posts the same result "
                    "again (reordered): 000000")
        other = dict(first, Boxes=[dict(x, Class="KL4级")
                                   for x in first["Boxes"]])
        r = s.request("POST", path, json.dumps(other))
        envelope_ok(t, r, "100012", 409, "a different result after the "
                    "first: 100012 (HTTP 409)")
        t.ok("first result stands" in ((r.json or {}).get(
            "returnMessage") or ""), "  ... the message says the first "
             "result stands", r)
        r = get(A, "men-1")
        t.ok(r.code == "000000" and json_exact(r.raw)["data"] == body_m,
             "  ... and the result read back is still the first", r)
    # --- a reload that moves the sections: a push job keeps its engine ------
    # [engine.remote] is slot 6 ([engine.retina], first given 5, moved to
    # 3); with the engine slow and its concurrency 1, a second image waits
    # queued under slot 6.  The reload puts [engine.remote] first (slot 5)
    # and leaves slot 6 empty: the waiting image still reaches it.
    eng.call("POST", "/__control__", {"mode": "slow", "delay": 2})
    envelope_ok(t, trig(A, "men-2", rkeys[0], "/result/men2", "Meniscus"),
                "000000", 200, "a slow Meniscus job")
    t.ok(wait_for(lambda: [e for e in (eng.call(
        "GET", "/__control__/log?since=0") or []) if (e.get("trigger") or
        {}).get("key") == rkeys[0]], 20), "  ... at the engine")
    envelope_ok(t, trig(A, "men-3", rkeys[3], "/result/men3", "Meniscus"),
                "000000", 200, "  ... and a second one, queued behind it")
    write_conf(s, [engines[0], engines[2], engines[1]])
    mark = len(s.dispatcher_log())
    s.dispatcher.send_signal(signal.SIGHUP)
    t.ok(wait_for(lambda: "reload" in s.dispatcher_log()[mark:], 10),
         "SIGHUP: the sections renumbered", s.dispatcher_log()[mark:])
    eng.call("POST", "/__control__", {"mode": "ok"})
    b2, b3 = callback("/result/men2"), callback("/result/men3")
    t.ok(b2 is not None and b2.get("returnCode") == "000000" and
         b3 is not None and b3.get("returnCode") == "000000" and
         b3.get("Boxes") and all(x.get("imageKey") == rkeys[3]
                                 for x in b3["Boxes"]),
         "  ... both results arrive", (b2, b3))
    t.ok([e for e in (eng.call("GET", "/__control__/log?since=0") or [])
          if (e.get("trigger") or {}).get("key") == rkeys[3] and
          e["trigger"].get("analysis") == "Meniscus"],
         "  ... the queued image went to [engine.remote], by its name")
    rc = s.stop_dispatcher()
    t.eq(rc, 0, "the dispatcher stops on SIGTERM with status 0")


def main():
    t = TAP()
    t0 = time.time()
    s = Stack("findings")
    try:
        scenario(t, s)
        t.diag("runtime %.1f s" % (time.time() - t0))
    except Exception:  # noqa: BLE001
        import traceback
        t.ok(False, "the scenario runs to its end", traceback.format_exc())
    finally:
        if t.failed:
            t.diag("kept " + s.dir)
            t.diag(s.dispatcher_log()[-3000:])
        s.cleanup(keep=t.failed > 0)
    t.done()


if __name__ == "__main__":
    main()
