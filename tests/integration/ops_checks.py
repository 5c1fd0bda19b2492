# ops_checks.py -- the operations API and the metrics, checked through any web server (test_ops.py: lighttpd; test_apache.py: Apache)
"""
run(t, s) drives listAnalyses, cancelAnalysis, redeliverCallbacks and
metrics against a started Stack (lighttpd) or ApacheStack, with two
namespaces of its own (ops-a, ops-b), so that it can follow other checks
on the same stack.  Before s.start(), enable_metrics(s) adds the
[metrics] section.  The stack needs [engine.4] (cmd_engine.py) and an
egress policy that allows 127.0.0.1.  The dispatcher is stopped while
studies must stay QUEUED and started again for the callbacks.
"""
import calendar
import json
import os
import shutil
import subprocess
import time
import urllib.parse

from harness import (FakeOss, cmd_engine_runs, db_json, delivered,
                     envelope_ok, sink_received, sink_script, wait_for)

TOKEN = "metrics-token-0123456789abcdefABCDEF"


def enable_metrics(s, owner=None):
    """[metrics] token_file = DIR/metrics.token (owner: (uid, gid) of the
    user the responders run as)."""
    s.metrics_token = os.path.join(s.dir, "metrics.token")
    with open(s.metrics_token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(s.metrics_token, 0o640)
    if owner is not None:
        os.chown(s.metrics_token, *owner)
    with open(s.conf, "a") as f:
        f.write("[metrics]\ntoken_file = %s\n" % s.metrics_token)


def listing(s, tok, ns, query=""):
    r = s.api("GET", "listAnalyses", token=tok, ns=ns, query=query)
    data = (r.json or {}).get("data") if isinstance(r.json, dict) else None
    return r, data if isinstance(data, dict) else {}


def uids(data):
    return [i.get("studyInstanceUid") or "push:" + str(i.get("imageUid"))
            for i in data.get("items") or []]


def run(t, s):
    if s.dispatcher is not None:
        s.stop_dispatcher()
    tok_a, secret_a = s.namespace("ops-a")
    tok_b, _ = s.namespace("ops-b")
    A = dict(token=tok_a, ns="ops-a")
    B = dict(token=tok_b, ns="ops-b")
    oss = FakeOss(s)
    keys = oss.dicom("studies", "ops/s", 2)
    sink = s.fixture("sink.py")

    # --- listAnalyses --------------------------------------------------------
    envelope_ok(t, s.api("GET", "listAnalyses", ns="ops-a"), "100003", 401,
                "listAnalyses without tokenId: 100003/401", post=False)
    envelope_ok(t, s.api("GET", "listAnalyses", token=tok_b, ns="ops-a"),
                "100003", 401, "listAnalyses with another namespace's "
                "token: 100003/401", post=False)
    r, d = listing(s, tok_a, "ops-a")
    envelope_ok(t, r, "000000", 200, "listAnalyses of an empty namespace: "
                "000000", post=False)
    t.ok(d.get("items") == [] and d.get("nextCursor") is None,
         "no items, nextCursor null", r)

    before = int(time.time()) - 1
    names = ["1.2.840.ops.1", "1.2.840.ops.2", "1.2.840.ops.3"]
    for i, uid in enumerate(names):
        r = s.submit(tok_a, "ops-a", uid, sink.base + "/ops/%d" % i, oss,
                     "ops/s/")
        envelope_ok(t, r, "000000", 200, "executeAnalysis %s" % uid)
        time.sleep(0.01)        # submission times in milliseconds differ
    r = s.submit(tok_b, "ops-b", "1.2.840.ops.b", sink.base + "/ops/b", oss,
                 "ops/s/")
    envelope_ok(t, r, "000000", 200, "executeAnalysis in ops-b")
    r = s.api("POST", "triggerAnalysis", {
        "namespace": "ops-a", "ImageUid": "img-ops-1",
        "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
        "securityToken": "", "endpoint": oss.endpoint,
        "bucketName": "studies", "key": keys[0], "analysis": "OA",
        "resultCallBackUrl": sink.base + "/result/ops"}, **A)
    envelope_ok(t, r, "000000", 200, "triggerAnalysis in ops-a")

    r, d = listing(s, tok_a, "ops-a")
    envelope_ok(t, r, "000000", 200, "listAnalyses: 000000", post=False)
    want = ["push:img-ops-1"] + names[::-1]
    t.ok(uids(d) == want, "the namespace's studies and its push job, "
         "newest first", (uids(d), want))
    items = d.get("items") or []
    t.ok(all(i.get("state") == "QUEUED" and i.get("studyType") == 4 and
             isinstance(i.get("submittedAt"), str) and
             i.get("endedAt") is None and i.get("imagesTotal") == 0 and
             i.get("imagesDone") == 0 for i in items) and len(items) == 4,
         "each item: QUEUED, studyType, submittedAt, endedAt null, counts",
         items)
    t.ok(d.get("nextCursor") is None, "one page: nextCursor null", d)
    r, d = listing(s, tok_b, "ops-b")
    t.ok(uids(d) == ["1.2.840.ops.b"], "ops-b lists its own study only", d)

    # pages, and a cursor that cannot leave the caller's namespace
    r, d = listing(s, tok_a, "ops-a", "?limit=2")
    cur = d.get("nextCursor")
    t.ok(uids(d) == want[:2] and isinstance(cur, str) and cur,
         "limit=2: the two newest and a nextCursor", d)
    r, d2 = listing(s, tok_a, "ops-a", "?limit=2&cursor=" +
                    urllib.parse.quote(cur or ""))
    t.ok(uids(d2) == want[2:], "the cursor gives the next page", d2)
    r, d3 = listing(s, tok_a, "ops-a", "?limit=2&cursor=" +
                    urllib.parse.quote(d2.get("nextCursor") or "x"))
    t.ok(d2.get("nextCursor") is None or
         (uids(d3) == [] and d3.get("nextCursor") is None),
         "and the last page ends the walk", (d2, d3))
    r, db = listing(s, tok_b, "ops-b", "?cursor=" +
                    urllib.parse.quote(cur or ""))
    t.ok(r.code == "000000" and not set(uids(db)) & set(want),
         "another namespace's cursor lists nothing of ops-a", db)

    # filters
    r, d = listing(s, tok_a, "ops-a", "?studyType=4&state=QUEUED")
    t.ok(uids(d) == want, "studyType=4&state=QUEUED: all four", d)
    for q in ("?state=DONE", "?studyType=3", "?since=%d" % (before + 3600),
              "?until=1000000000", "?until=2001-09-09T01:46:40Z"):
        r, d = listing(s, tok_a, "ops-a", q)
        t.ok(r.code == "000000" and uids(d) == [], "%s: nothing" % q, d)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before))
    r, d = listing(s, tok_a, "ops-a", "?since=" + urllib.parse.quote(since))
    t.ok(uids(d) == want, "since=%s (RFC 3339): all four" % since, d)
    r, d = listing(s, tok_a, "ops-a", "?since=%d&until=%d" %
                   (before, before + 3600))
    t.ok(uids(d) == want, "since/until in epoch seconds: all four", d)
    for q, what in (("?state=BOGUS", "state"), ("?limit=0", "limit"),
                    ("?limit=1001", "limit"), ("?cursor=zz", "cursor"),
                    ("?since=yesterday", "since"), ("?studyType=5",
                                                    "studyType")):
        r = s.api("GET", "listAnalyses", query=q, **A)
        envelope_ok(t, r, "100002", 400, "listAnalyses%s: 100002/400" % q,
                    post=False)
        t.ok(what in ((r.json or {}).get("returnMessage") or ""),
             "the message names %s" % what, r)

    # --- cancelAnalysis -------------------------------------------------------
    c1 = {"studyInstanceUid": names[0], "studyType": 4}
    envelope_ok(t, s.api("POST", "cancelAnalysis", c1, ns="ops-a"),
                "100003", 401, "cancelAnalysis without tokenId: 100003/401")
    envelope_ok(t, s.api("POST", "cancelAnalysis", c1, **B), "100004", 404,
                "cancelAnalysis of another namespace's study: 100004/404")
    envelope_ok(t, s.api("POST", "cancelAnalysis", {"studyType": 4}, **A),
                "100002", 400, "cancelAnalysis without studyInstanceUid: "
                "100002/400")
    envelope_ok(t, s.api("POST", "cancelAnalysis", {
        "studyInstanceUid": "1.2.840.none", "studyType": 4}, **A),
        "100004", 404, "cancelAnalysis of an unknown study: 100004/404")
    # the cancelled study's callback is answered 410: a dead letter at once
    sink_script(sink, "/ops/0", {"status": 410, "count": 100})
    envelope_ok(t, s.api("POST", "cancelAnalysis", c1, **A), "000000", 200,
                "cancelAnalysis of a QUEUED study: 000000")
    envelope_ok(t, s.api("POST", "cancelAnalysis", c1, **A), "100012", 409,
                "cancelAnalysis again: 100012/409 (already final)")
    r, d = listing(s, tok_a, "ops-a", "?state=CANCELLED")
    it = (d.get("items") or [{}])[0]
    t.ok(uids(d) == [names[0]] and isinstance(it.get("endedAt"), str),
         "state=CANCELLED lists it, with endedAt", d)
    r = s.get_result(tok_a, "ops-a", names[0], 4)
    t.ok(r.code == "100006" and ((r.json or {}).get("data") or {}).get(
        "errorCode") in (None, "CANCELLED"),
         "getAnalysisResult of the cancelled study: 100006", r)
    r, d = listing(s, tok_b, "ops-b")
    t.ok([i.get("state") for i in d.get("items") or []] == ["QUEUED"],
         "ops-b's study is untouched", d)

    # --- the dispatcher: the rest runs, the cancelled study stays ------------
    s.start_dispatcher()
    done = wait_for(lambda: (lambda d: d if [i.get("state") for i in
                             d.get("items") or []].count("DONE") == 3
                             else None)(listing(s, tok_a, "ops-a")[1]), 90)
    t.ok(done is not None, "the other studies and the push job run to DONE",
         listing(s, tok_a, "ops-a")[1])
    r, d = listing(s, tok_a, "ops-a", "?state=DONE")
    t.ok(uids(d) == want[:3] and all(
        i.get("imagesTotal") == i.get("imagesDone") and
        isinstance(i.get("endedAt"), str) for i in d.get("items") or []),
        "state=DONE: newest first, every image done, endedAt", d)
    r, d = listing(s, tok_a, "ops-a", "?state=CANCELLED")
    t.ok(uids(d) == [names[0]], "the cancelled study stays CANCELLED", d)
    dead = wait_for(lambda: [k for k, v in s.outbox().items()
                             if v.get("ns") == "ops-a" and
                             v.get("state") == "DEAD"], 60) or []
    got = sink_received(sink, "/ops/0")
    try:
        body = json.loads(got[0]["body"]) if got else {}
    except ValueError:
        body = {}
    t.ok(body.get("status") == -1 and body.get("errorCode") == "CANCELLED"
         and body.get("studyInstanceUid") == names[0],
         "the status callback: status -1, errorCode CANCELLED", got)
    t.ok(len(dead) == 1, "answered 410, it is a dead letter", s.outbox())
    hook_id = got[0].get("webhook_id") if got else None

    # --- redeliverCallbacks ---------------------------------------------------
    envelope_ok(t, s.api("POST", "redeliverCallbacks", {}, ns="ops-a"),
                "100003", 401, "redeliverCallbacks without tokenId: "
                "100003/401")
    r = s.api("POST", "redeliverCallbacks", {}, **B)
    envelope_ok(t, r, "000000", 200, "redeliverCallbacks of ops-b: 000000")
    t.ok(((r.json or {}).get("data") or {}).get("redelivered") == 0,
         "ops-b has no dead letters: ops-a's are not its to send", r)
    envelope_ok(t, s.api("POST", "redeliverCallbacks", {
        "studyInstanceUid": names[0]}, **A), "100002", 400,
        "studyInstanceUid without studyType: 100002/400")
    r = s.api("POST", "redeliverCallbacks", {
        "studyInstanceUid": names[1], "studyType": 4}, **A)
    t.ok(((r.json or {}).get("data") or {}).get("redelivered") == 0,
         "another study of ops-a: nothing to send", r)
    sink_script(sink, "/ops/0", {"status": 200, "body": {"code": 0}})
    r = s.api("POST", "redeliverCallbacks", c1, **A)
    envelope_ok(t, r, "000000", 200, "redeliverCallbacks of the study: "
                "000000")
    data = (r.json or {}).get("data") or {}
    t.ok(data.get("redelivered") == 1 and data.get("webhookIds") == dead,
         "one callback sent again, named by its webhook-id", r)
    ok = wait_for(lambda: [x for x in sink_received(sink, "/ops/0")
                           if delivered(x)], 60) or []
    t.ok(len(ok) == 1 and ok[0].get("webhook_id") == hook_id and hook_id,
         "delivered now, with its original webhook-id",
         (ok, hook_id))

    # --- metrics --------------------------------------------------------------
    # each delivery is counted in the transaction that records it
    wait_for(lambda: all(v.get("state") == "DELIVERED" for v in
                         s.outbox().values() if v.get("ns") == "ops-a"), 30)
    r = s.api("GET", "metrics")
    envelope_ok(t, r, "100003", 401, "metrics without Authorization: "
                "100003/401", post=False)
    r = s.api("GET", "metrics", headers={"Authorization": "Bearer nope"})
    envelope_ok(t, r, "100003", 401, "metrics with a wrong token: "
                "100003/401", post=False)
    r = s.api("GET", "metrics", headers={"Authorization": "Bearer " +
                                         TOKEN[:-1]})
    envelope_ok(t, r, "100003", 401, "metrics with a prefix of the token: "
                "100003/401", post=False)
    r = s.api("GET", "metrics", headers={"Authorization": "Bearer " + TOKEN})
    text = r.raw.decode("utf-8", "replace")
    t.ok(r.status == 200 and r.headers.get("content-type", "").startswith(
        "text/plain; version=0.0.4"), "metrics with the token: 200, the "
        "Prometheus text format", r)
    promtool = shutil.which("promtool")
    if promtool is None:
        t.ok(False, "promtool check metrics (tools/install-deps.sh --tests "
             "installs prometheus)")
    else:
        p = subprocess.run([promtool, "check", "metrics"], input=text,
                           capture_output=True, text=True)
        t.ok(p.returncode == 0, "promtool check metrics accepts it",
             p.stdout + p.stderr + text)
    lines = set(text.splitlines())
    for want_line in (
            'mias_studies{namespace="ops-a",study_type="4",state="DONE"} 3',
            'mias_studies{namespace="ops-a",study_type="4",'
            'state="CANCELLED"} 1',
            'mias_callbacks_delivered_total{namespace="ops-a"} 4'):
        t.ok(want_line in lines, "metrics: " + want_line, text)
    t.ok(not any(x.startswith('mias_callbacks_dead_letters{namespace='
                              '"ops-a"}') for x in lines),
         "metrics: no dead letter of ops-a left", text)
    t.ok(any(x.startswith('mias_engine_latency_seconds_count{study_type='
                          '"4"}') for x in lines) and
         any(x.startswith("mias_store_bytes ") for x in lines),
         "metrics: engine latencies and the store's size", text)
    # a token file that is gone: no metrics, to anyone
    os.rename(s.metrics_token, s.metrics_token + ".off")
    r = s.api("GET", "metrics", headers={"Authorization": "Bearer " + TOKEN})
    envelope_ok(t, r, "100003", 401, "no token configured: no metrics even "
                "with the old token", post=False)
    os.rename(s.metrics_token + ".off", s.metrics_token)


def run_running_cancel(t, s, study_type, engine_log):
    """A RUNNING study cancelled while its engine (study_type, a slow
    cmd_engine.py with concurrency 1 that logs to engine_log) works on its
    first image of two: the second is dropped, never run; the first's late
    outcome counts for nothing; the study stays CANCELLED."""
    tok, _ = s.namespace("ops-run")
    A = dict(token=tok, ns="ops-run")
    oss = FakeOss(s)
    oss.dicom("studies", "run/s", 2)
    sink = s.fixture("sink.py")
    if s.dispatcher is None:
        s.start_dispatcher()
    uid = "1.2.840.ops.run"
    r = s.submit(tok, "ops-run", uid, sink.base + "/run", oss, "run/s/",
                 study_type=study_type)
    envelope_ok(t, r, "000000", 200, "executeAnalysis for the slow engine")
    running = wait_for(lambda: (lambda d: d if [
        (i.get("state"), i.get("imagesTotal")) for i in d.get("items") or []]
        == [("RUNNING", 2)] and cmd_engine_runs(engine_log) else None)(
        listing(s, tok, "ops-run")[1]), 60, 0.05)
    t.ok(running is not None, "the study is RUNNING, its first image with "
         "the engine", listing(s, tok, "ops-run")[1])
    envelope_ok(t, s.api("POST", "cancelAnalysis", {
        "studyInstanceUid": uid, "studyType": study_type}, **A),
        "000000", 200, "cancelAnalysis of a RUNNING study: 000000")
    jobs = s.jobs("ops-run", study_type, uid)
    ids = [j.get("id") for j in jobs]

    def settled():
        """Both jobs done with: one final, the other out of the queue."""
        js = s.jobs("ops-run", study_type, uid)
        final = [j for j in js if j.get("state") in ("DONE", "FAILED")]
        queued = b"".join(db_json(s.state, "queue.db").keys())
        return js if final and not any(
            i and i.encode() in queued for i in ids) else None
    js = wait_for(settled, 60) or s.jobs("ops-run", study_type, uid)
    states = sorted(j.get("state") for j in js)
    t.ok(len(js) == 2 and states[1] == "QUEUED" and
         states[0] in ("DONE", "FAILED"),
         "the image under way ended; the other was dropped, never run",
         js)
    t.ok(len(cmd_engine_runs(engine_log)) == 1, "the engine ran one image",
         cmd_engine_runs(engine_log))
    r, d = listing(s, tok, "ops-run")
    items = d.get("items") or []
    t.ok(len(items) == 1 and items[0].get("state") == "CANCELLED" and
         items[0].get("imagesDone") == 0,
         "the study stays CANCELLED; the late outcome counted for nothing",
         d)
    got = wait_for(lambda: [x for x in sink_received(sink, "/run")
                            if delivered(x)], 30) or []
    try:
        body = json.loads(got[0]["body"]) if got else {}
    except ValueError:
        body = {}
    t.ok(len(got) == 1 and body.get("errorCode") == "CANCELLED" and
         body.get("status") == -1, "one status callback: CANCELLED", got)
