#!/usr/bin/python3
# test_chain.py -- one mias as the remote engine of another: gateway A's engine URL is gateway B's triggerAnalysis, B runs a command engine
"""
Gateway A (its own state, key and lighttpd) has remote engines for studyTypes
4 (OA) and 1 (LN) whose url is B's /dicom/api/triggerAnalysis, with the
namespace and token of a namespace in B.  Gateway B runs
tests/fixtures/cmd_engine.py for those analyses and allows 127.0.0.1 as an
egress host, so it accepts A's algorithmResult URL as resultCallBackUrl and
the fake OSS both share as endpoint.

A study submitted to A: A's dispatcher lists OSS and triggers B once per
image (ImageUid = A's job id); B fetches the image with the credentials A
passed on, runs the command engine, and POSTs the API.md 6. result to A's
algorithmResult URL; A assembles the study and calls its caller back.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, UUID4, FakeOss, Stack, cmd_engine_conf,  # noqa: E402
                     engine_log, envelope_ok, json_exact, load_fixture_module,
                     sink_received, verify_webhooks, wait_for)

cmd_engine = load_fixture_module("cmd_engine")

t = TAP()
T0 = time.time()
B_NS = "gateway-a"          # A's namespace in B
A_NS = "hospital"           # the caller's namespace in A
BUCKET = "studies"
DISPATCH = "\n[dispatcher]\nretry_schedule = 1s,1s,2s,5s\n" \
           "callback_timeout = 5s\n"


def expected_items(data, study_type, key):
    """What A serves for the image of object key: B's findings, with A's
    own imageKey (B's, in its result, is not passed through)."""
    res = json_exact(cmd_engine.result_text(data, study_type))
    if study_type == 4:
        return [{"boxUid": b["BoxUid"], "coordinates": b["Coordinates"],
                 "class": b["Class"], "credibility": None, "imageKey": key}
                for b in res["Boxes"]]
    return [dict(x, credibility=None, imageKey=key)
            for x in res["ImageDataList"]]


def sans_id(item):
    return json.dumps(dict((k, v) for k, v in item.items()
                           if k != "indexId"), sort_keys=True,
                      ensure_ascii=False)


B = Stack("chainB", engines={4: cmd_engine_conf(4, "OA"),
                             1: cmd_engine_conf(1, "LN")},
          egress="allow_hosts = 127.0.0.1\n" + DISPATCH)
A = None
try:
    B.init()
    tok_b, secret_b = B.namespace(B_NS)
    B_URL = B.base + "/dicom/api/triggerAnalysis"
    remote = ("url = %s\nanalysis = %%s\nnamespace = %s\ntoken = %s\n"
              "timeout = 30\nconcurrency = 4\n" % (B_URL, B_NS, tok_b))
    bad_token = ("url = %s\nanalysis = LN\nnamespace = %s\ntoken = %s\n"
                 "timeout = 30\n" % (B_URL, B_NS, "not-the-token-" * 3))
    A = Stack("chainA", engines={4: remote % "OA", 1: remote % "LN",
                                 2: remote % "CXR", 3: bad_token},
              egress="allow_hosts = 127.0.0.1\n" + DISPATCH)
    A.init()
    tok_a, secret_a = A.namespace(A_NS)
    oss = FakeOss(A)
    sink = A.fixture("sink.py")
    MODE_FILE = os.path.join(B.dir, "engine.mode")
    ENGINE_LOG = os.path.join(B.dir, "engine-runs.log")
    with open(MODE_FILE, "w") as f:
        f.write("ok\n")
    os.environ["MIAS_TEST_ENGINE_MODE_FILE"] = MODE_FILE
    os.environ["MIAS_TEST_ENGINE_LOG"] = ENGINE_LOG
    B.start()
    A.start()
    B.start_dispatcher()
    A.start_dispatcher()

    def data_of(key):
        with open(os.path.join(oss.root, BUCKET, key), "rb") as f:
            return f.read()

    def submit(uid, study_type, prefix):
        return A.submit(tok_a, A_NS, uid, sink.base + "/cb/" + uid, oss,
                        prefix, study_type=study_type, bucket=BUCKET)

    # --- a knee study (boxes) through both gateways -----------------------
    U4 = "1.2.826.0.1.3680043.8.498.88.4"
    keys4 = oss.dicom(BUCKET, "knee/0001", count=3)
    envelope_ok(t, submit(U4, 4, "knee/0001/"), "000000", 200,
                "A: executeAnalysis accepted")
    r = A.wait_result(tok_a, A_NS, U4, 4, timeout=60)
    envelope_ok(t, r, "000000", 200, "A: the study is DONE (000000)",
                post=False)
    d = json_exact(r.raw).get("data", {}) if r.json else {}
    want = sum((expected_items(data_of(k), 4, k) for k in keys4), [])
    t.eq(sorted(sans_id(x) for x in d.get("boxes", [])),
         sorted(sans_id(x) for x in want),
         "A: boxes are the findings B's command engine made of each image")
    t.eq(d.get("boxDataList"),
         [dict(("classLevel" if k == "class" else k, v) for k, v in
               b.items()) for b in d.get("boxes", [])],
         "A: boxDataList with classLevel as well")
    t.ok(all(d.get(n) == [] for n in ("imageDataList", "xRayDataList",
                                      "ocularDataList")) and
         d.get("studyInstanceUid") == U4 and d.get("studyType") == 4,
         "A: other lists empty, studyInstanceUid and studyType echoed")
    recs = wait_for(lambda: sink_received(sink, "/cb/" + U4), 15)
    t.ok(recs and json.loads(recs[0]["body"]).get("status") == 0,
         "A: status callback status 0 to the caller",
         recs and recs[0]["body"])
    rc, out = verify_webhooks(recs, secret_a) if recs else (1, "none")
    t.ok(rc in (0, None), "A: the callback is signed with A's secret", out)

    # what B saw: one push job per image, ImageUid = A's job id
    jobs_a = A.jobs(A_NS, 4, U4)
    ids_a = sorted(j.get("id") for j in jobs_a)
    studies_b = B.admin_json("studies", "list", "--namespace", B_NS) or []
    push_b = [x for x in studies_b if x.get("push")]
    t.eq(sorted(x.get("imageUid") for x in push_b), ids_a,
         "B: one push job per image of A's study, its ImageUid A's job id")
    t.ok(push_b and all(x.get("state") == "DONE" and
                        x.get("studyType") == 4 for x in push_b),
         "B: the push jobs ran as studyType 4 (analysis OA) and are DONE",
         [(x.get("state"), x.get("studyType")) for x in push_b])
    t.ok(len(jobs_a) == 3 and all(j.get("state") == "DONE" for j in jobs_a),
         "A: its 3 image jobs DONE", [j.get("state") for j in jobs_a])
    shas = set(oss.sha256(BUCKET, k) for k in keys4)
    runs = [x for x in engine_log(ENGINE_LOG) if x.get("phase") == "start"]
    t.eq(sorted(x.get("sha256") for x in runs), sorted(
        oss.sha256(BUCKET, k) for k in keys4),
        "B: its command engine ran once per image, on the image's bytes")
    t.ok(shas, "  ... (%d distinct images)" % len(shas))

    # feedback at A on findings that came through B
    box = (d.get("boxes") or [{}])[0].get("boxUid")
    r = A.feedback(tok_a, A_NS, U4, 4, [(box, "Y")])
    envelope_ok(t, r, "000000", 200, "A: feedback on a chained finding")
    r = A.get_result(tok_a, A_NS, U4, 4)
    t.eq(((r.json or {}).get("data") or {}).get("boxes", [{}])[0]
         .get("credibility"), "Y", "A: reflected")

    # --- a lung study (imageDataList): ids and number text survive --------
    U1 = "1.2.826.0.1.3680043.8.498.88.1"
    keys1 = oss.dicom(BUCKET, "lung/0001", count=2)
    envelope_ok(t, submit(U1, 1, "lung/0001/"), "000000", 200,
                "A: a studyType 1 study accepted")
    r = A.wait_result(tok_a, A_NS, U1, 1, timeout=60)
    envelope_ok(t, r, "000000", 200, "A: studyType 1 DONE", post=False)
    d = json_exact(r.raw).get("data", {}) if r.json else {}
    got = d.get("imageDataList") or []
    want = sum((expected_items(data_of(k), 1, k) for k in keys1), [])
    t.eq(sorted(sans_id(x) for x in got), sorted(sans_id(x) for x in want),
         "A: imageDataList as B's command engine found it, field by field")
    t.ok(b'"confidence":0.8900' in r.raw and b'"confidence":0.6500' in r.raw,
         "A: confidence still 0.8900 / 0.6500 after two gateways",
         r.raw[:500])
    t.ok(all(UUID4.match(str(x.get("indexId"))) for x in got) and
         len(set(x.get("indexId") for x in got)) == len(got),
         "A: every indexId a unique UUIDv4")
    engine_ids = set(x["indexId"] for x in want if "indexId" in x)
    t.ok(engine_ids <= set(x.get("indexId") for x in got),
         "A: the engine's own indexIds kept through both gateways")
    ids_b = set()
    for j in A.jobs(A_NS, 1, U1):
        res = B.result(B_NS, 1, "\x1f" + j.get("id", ""))
        for x in ((res or {}).get("data") or {}).get("imageDataList", []):
            ids_b.add(x.get("indexId"))
    t.eq(set(x.get("indexId") for x in got), ids_b,
         "A: the indexIds B generated are the ones A shows (not made up "
         "again)")

    # --- a failure in B's engine reaches A's caller ------------------------
    U5 = "1.2.826.0.1.3680043.8.498.88.5"
    for i in range(2):
        oss.put(BUCKET, "knee/0005/img%d.dcm" % i,
                ("chained failing study %d\n" % i).encode() * (40 + i))
    with open(MODE_FILE, "w") as f:
        f.write("fail 1\n")
    envelope_ok(t, submit(U5, 4, "knee/0005/"), "000000", 200,
                "A: a study whose one image fails in B's engine")
    r = A.wait_result(tok_a, A_NS, U5, 4, timeout=60)
    t.ok(r.code == "100006" and r.status == 200, "A: 100006 (HTTP 200)",
         repr(r))
    d = (r.json or {}).get("data") or {}
    em = d.get("errorMessage") or ""
    t.ok(d.get("errorCode") == "ENGINE_ERROR" and "1 of 2" in em and
         "image unreadable" in em,
         "A: errorCode ENGINE_ERROR, the message carries B's engine error",
         (d.get("errorCode"), em))
    ok_box = [expected_items(data_of("knee/0005/img%d.dcm" % i), 4,
                             "knee/0005/img%d.dcm" % i)[0]
              for i in range(2)]
    t.ok(len(d.get("boxes") or []) == 1 and
         sans_id(json_exact(json.dumps(d["boxes"][0]))) in
         [sans_id(x) for x in ok_box],
         "A: the image that succeeded keeps its finding", d.get("boxes"))
    recs = wait_for(lambda: sink_received(sink, "/cb/" + U5), 15)
    b = json.loads(recs[0]["body"]) if recs else {}
    t.ok(b.get("status") == -1 and b.get("errorCode") == "ENGINE_ERROR",
         "A: status callback -1 to the caller", b)

    # --- B refuses: the refusal reaches A's caller ---------------------------
    for n, uid, why, code in (
            (2, "1.2.826.0.1.3680043.8.498.88.2", "an analysis B does not "
             "serve (CXR)", "100011"),
            (3, "1.2.826.0.1.3680043.8.498.88.3", "a wrong token for B",
             "100003")):
        oss.put(BUCKET, "refused/%d/a.dcm" % n, b"refused image\n" * 9)
        envelope_ok(t, submit(uid, n, "refused/%d/" % n), "000000", 200,
                    "A: a study whose engine is B with %s" % why)
    for n, uid, why, code in (
            (2, "1.2.826.0.1.3680043.8.498.88.2", "CXR", "100011"),
            (3, "1.2.826.0.1.3680043.8.498.88.3", "token", "100003")):
        r = A.wait_result(tok_a, A_NS, uid, n, timeout=30)
        d = (r.json or {}).get("data") or {}
        t.ok(r.code == "100006" and d.get("errorCode") == "ENGINE_REJECTED"
             and code in (d.get("errorMessage") or ""),
             "A: %s: the study fails with ENGINE_REJECTED and B's %s"
             % (why, code), (r.code, d.get("errorCode"),
                             d.get("errorMessage")))
    t.eq([x for x in (B.admin_json("studies", "list") or [])
          if x.get("studyType") in (2, 3)], [],
         "B: nothing refused was stored")

    t.diag("runtime %.1f s" % (time.time() - T0))
finally:
    if t.failed:
        for st in (A, B):
            if st is not None:
                t.diag("kept " + st.dir)
                t.diag(st.dispatcher_log()[-2000:])
    if A is not None:
        A.cleanup(keep=t.failed > 0)
    B.cleanup(keep=t.failed > 0)
t.done()
