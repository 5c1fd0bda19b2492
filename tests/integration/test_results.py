#!/usr/bin/python3
# test_results.py -- getAnalysisResult, submitAnalysisFeedback, forceAnalysis and triggerAnalysis over HTTP through lighttpd and the real dispatcher
"""
One gateway with a command engine (tests/fixtures/cmd_engine.py) for each of
the four study types, a fake OSS, and a sink for the callbacks.  Every
expected finding is computed with cmd_engine.result_text() from the bytes of
the image, so the checks are field by field against API.md 3. and 6.

The engine's behaviour is switched per run with $MIAS_TEST_ENGINE_MODE_FILE
(ok, slow, fail), so the sections below run one after the other.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, UUID4, FakeOss, Stack, cmd_engine_conf,  # noqa: E402
                     engine_log, envelope_ok, json_exact, load_fixture_module,
                     sink_received, sink_script, verify_webhooks, wait_for)

cmd_engine = load_fixture_module("cmd_engine")

t = TAP()
T0 = time.time()

ANALYSIS = {1: "LN", 2: "CXR", 3: "DR", 4: "OA"}
LISTS = {1: "imageDataList", 2: "xRayDataList", 3: "ocularDataList",
         4: "boxes"}
ENGINE_LISTS = {1: "ImageDataList", 2: "XRayDataList", 3: "OcularDataList",
                4: "Boxes"}
FIELDS = {
    1: {"indexId", "seriesInstanceUid", "spacing", "origin", "x", "y", "z",
        "diameter", "confidence", "credibility", "category", "lung", "lobe"},
    2: {"indexId", "posProb", "posMap", "credibility"},
    3: {"indexId", "analysisInstanceUid", "eye", "dr", "dme", "confidence",
        "imgCenter", "imgQuality", "inspection", "inspectionModel",
        "credibility"},
    4: {"boxUid", "coordinates", "class", "credibility"},
}
for _f in FIELDS.values():
    _f.add("imageKey")      # the object key of the image (API.md 3.)
DELAY = 3          # seconds a "slow" engine run takes
NS, NS2 = "hosp", "other-hosp"
BUCKET = "studies"


def envelope(tap, r, code, status, desc):
    """The API.md envelope, whatever data holds (progress, failures)."""
    j = r.json if isinstance(r.json, dict) else {}
    good = (r.status == status and j.get("returnCode") == code and
            j.get("success") is (code == "000000") and
            isinstance(j.get("returnMessage"), str) and
            j.get("solution") == "" and
            UUID4.match(str(j.get("requestId", ""))) is not None and
            r.headers.get("content-type", "").startswith("application/json"))
    return tap.ok(good, desc, "want %s/HTTP %d, got %r" % (code, status, r))


def msg(r):
    return (r.json or {}).get("returnMessage", "") if isinstance(
        r.json, dict) else ""


def expected_items(data, study_type, key):
    """The API.md 3. form of what cmd_engine prints for a file holding
    data, the image of object key: numbers as their text; "indexId" only
    where the engine sent one (the gateway makes up the others)."""
    res = json_exact(cmd_engine.result_text(data, study_type))
    out = []
    for it in res[ENGINE_LISTS[study_type]]:
        if study_type == 4:
            out.append({"boxUid": it["BoxUid"],
                        "coordinates": it["Coordinates"],
                        "class": it["Class"], "credibility": None,
                        "imageKey": key})
        else:
            e = dict(it)
            e["credibility"] = None
            e["imageKey"] = key
            out.append(e)
    return out


def sans_id(item):
    return json.dumps(dict((k, v) for k, v in item.items()
                           if k != "indexId"), sort_keys=True,
                      ensure_ascii=False)


def check_findings(tap, got, want, study_type, desc):
    """got (parsed with json_exact) holds exactly the items of want, in
    any order, every field equal (numbers as text), engine ids kept,
    the missing ones made up as UUIDv4, all unique."""
    if not tap.ok(isinstance(got, list) and len(got) == len(want),
                  desc + ": %d findings" % len(want),
                  "got %r" % (got,)):
        return False
    ok = True
    for it in got:
        if set(it) != FIELDS[study_type]:
            ok = tap.ok(False, desc + ": fields are exactly API.md 3.'s",
                        "got %s\nwant %s" % (sorted(it),
                                             sorted(FIELDS[study_type])))
            break
    else:
        tap.ok(True, desc + ": fields are exactly API.md 3.'s")
    g = sorted(got, key=sans_id)
    w = sorted(want, key=sans_id)
    ok = tap.eq([sans_id(x) for x in g], [sans_id(x) for x in w],
                desc + ": every value as the engine produced it") and ok
    if study_type != 4 and ok:
        ids = [x.get("indexId") for x in g]
        good = len(set(ids)) == len(ids)
        for gi, wi in zip(g, w):
            if "indexId" in wi:
                good = good and gi.get("indexId") == wi["indexId"]
            else:
                good = good and UUID4.match(str(gi.get("indexId"))) is not None
        ok = tap.ok(good, desc + ": engine indexIds kept, missing ones "
                    "generated as UUIDv4, all unique", repr(ids)) and ok
    if study_type == 4:
        uids = [x.get("boxUid") for x in got]
        ok = tap.ok(len(set(uids)) == len(uids) and
                    all(isinstance(u, str) and len(u) == 5 and u.isdigit()
                        for u in uids),
                    desc + ": boxUids are unique 5-digit strings",
                    repr(uids)) and ok
    return ok


def check_data(tap, r, uid, study_type, want, desc):
    """A DONE result: 000000 and data as API.md 3."""
    envelope_ok(tap, r, "000000", 200, desc + ": 000000", post=False)
    try:
        d = json_exact(r.raw)["data"]
    except (ValueError, KeyError, TypeError):
        tap.ok(False, desc + ": data readable", repr(r))
        return None
    tap.eq((d.get("studyInstanceUid"), d.get("studyType")),
           (uid, study_type), desc + ": studyInstanceUid and studyType "
           "echoed")
    others = [LISTS[x] for x in LISTS if x != study_type]
    tap.ok(all(d.get(n) == [] for n in others),
           desc + ": the other three lists present and empty",
           repr(dict((n, d.get(n)) for n in others)))
    check_findings(tap, d.get(LISTS[study_type]), want, study_type, desc)
    tap.ok(all(x.get("credibility") is None
               for x in d.get(LISTS[study_type]) or [{}]),
           desc + ": credibility null before feedback")
    want_keys = {"studyInstanceUid", "studyType", "boxes", "ocularDataList",
                 "xRayDataList", "imageDataList"}
    if study_type == 4:
        want_keys.add("boxDataList")
        compat = [dict(("classLevel" if k == "class" else k, v)
                       for k, v in b.items()) for b in d.get("boxes") or []]
        tap.eq(d.get("boxDataList"), compat, desc + ": boxDataList carries "
               "the same boxes with classLevel")
    tap.eq(set(d), want_keys, desc + ": data has exactly the members of "
           "API.md 3.")
    return d


def by_id(d, study_type):
    key = "boxUid" if study_type == 4 else "indexId"
    return dict((x[key], x) for x in d[LISTS[study_type]])


s = Stack("results", engines=dict(
    (n, cmd_engine_conf(n, ANALYSIS[n])) for n in ANALYSIS),
    egress="allow_hosts = 127.0.0.1\n\n[dispatcher]\n"
           "retry_schedule = 1s,1s,2s,5s\ncallback_timeout = 5s\n")
MODE_FILE = os.path.join(s.dir, "engine.mode")
ENGINE_LOG = os.path.join(s.dir, "engine-runs.log")


def set_mode(m):
    with open(MODE_FILE + ".tmp", "w") as f:
        f.write(m + "\n")
    os.rename(MODE_FILE + ".tmp", MODE_FILE)


def runs_of(shas, since=0.0):
    return [x for x in engine_log(ENGINE_LOG, since)
            if x.get("phase") == "start" and x.get("sha256") in shas]


try:
    s.init()
    tok, secret = s.namespace(NS)
    tok2, secret2 = s.namespace(NS2)
    A = dict(token=tok, ns=NS)
    B = dict(token=tok2, ns=NS2)
    oss = FakeOss(s)
    sink = s.fixture("sink.py")
    s.start()
    set_mode("ok")
    os.environ["MIAS_TEST_ENGINE_MODE_FILE"] = MODE_FILE
    os.environ["MIAS_TEST_ENGINE_LOG"] = ENGINE_LOG
    os.environ["MIAS_TEST_ENGINE_DELAY"] = str(DELAY)

    def image(key, data):
        oss.put(BUCKET, key, data)
        return data

    def data_of(key):
        with open(os.path.join(oss.root, BUCKET, key), "rb") as f:
            return f.read()

    def submit(uid, study_type, prefix, **over):
        return s.submit(tok, NS, uid, sink.base + "/cb/" + uid, oss, prefix,
                        study_type=study_type, bucket=BUCKET, **over)

    # === 1. studies of every type, queued before the dispatcher runs ======
    UIDS = dict((n, "1.2.826.0.1.3680043.8.498.77.%d" % n) for n in ANALYSIS)
    KEYS = {}
    for n, count in ((1, 3), (2, 2), (3, 3), (4, 3)):
        KEYS[n] = oss.dicom(BUCKET, "type%d/study" % n, count=count)
        envelope_ok(t, submit(UIDS[n], n, "type%d/study/" % n), "000000",
                    200, "executeAnalysis: a %d-image studyType %d study"
                    % (count, n))
    COMMA = "1.2.840.99,7"
    image("comma/a.dcm", b"comma study image\n" * 40)
    envelope_ok(t, submit(COMMA, 4, "comma/"), "000000", 200,
                "executeAnalysis: a studyInstanceUid with a comma")

    # --- progress of a queued study ---------------------------------------
    r = s.get_result(tok, NS, UIDS[4], 4)
    envelope(t, r, "100005", 409, "queued study: 100005 / HTTP 409")
    t.eq((r.json or {}).get("data"), {"state": "QUEUED", "imagesTotal": 0,
                                      "imagesDone": 0, "imagesFailed": 0},
         "queued study: data is the progress {state, imagesTotal, "
         "imagesDone, imagesFailed}")
    r = s.feedback(tok, NS, UIDS[4], 4, [("12345", "Y")])
    envelope_ok(t, r, "100005", 409, "feedback on a QUEUED study: 100005")

    # --- query errors -------------------------------------------------------
    def get(query, auth=A, headers=None, method="GET", body=None):
        return s.api(method, "getAnalysisResult", body=body, query=query,
                     headers=headers, **auth)

    for q, why in (
            ("?studyType=4", "no studyInstanceUid"),
            ("", "no query string at all"),
            ("?studyInstanceUid=" + UIDS[4], "no studyType"),
            ("?studyInstanceUid=&studyType=4", "an empty studyInstanceUid"),
            ("?studyInstanceUid=%s&studyType=x" % UIDS[4], "studyType=x"),
            ("?studyInstanceUid=%s&studyType=5" % UIDS[4], "studyType=5"),
            ("?studyInstanceUid=%s&studyType=0" % UIDS[4], "studyType=0"),
            ("?studyInstanceUid=%s&studyType=4.0" % UIDS[4], "studyType=4.0"),
            ("?studyInstanceUid=1.2%ZZ3&studyType=4", "a bad percent escape"),
            ("?studyInstanceUid=1.2.3%2&studyType=4",
             "a truncated percent escape"),
            ("?studyInstanceUid=%s&studyType=4&studyType=4" % UIDS[4],
             "studyType given twice"),
            ("?studyInstanceUid=%s&studyType=4" % ("9" * 129),
             "a studyInstanceUid of 129 characters")):
        r = get(q)
        envelope_ok(t, r, "100002", 400, "getAnalysisResult, %s: 100002"
                    % why, post=False)
    for q, why in (("?studyInstanceUid=1.2%00.3&studyType=4", "an escaped NUL"),
                   ("?studyInstanceUid=%1Fimg-1&studyType=4",
                    "an escaped control character")):
        # lighttpd itself refuses control characters in the target with
        # its own 400 page before any responder sees them; either is fine
        r = get(q)
        t.ok(r.status == 400 and r.code in ("100002", None),
             "getAnalysisResult, %s: 400 (100002, or lighttpd's own)" % why,
             repr(r))
    r = get("?studyType=4")
    t.ok("studyInstanceUid" in msg(r), "the message names studyInstanceUid",
         msg(r))
    r = get("?studyInstanceUid=%s&studyType=x" % UIDS[4])
    t.ok("studyType" in msg(r), "the message names studyType", msg(r))

    r_missing = get("?studyInstanceUid=1.2.3.404&studyType=4")
    envelope_ok(t, r_missing, "100004", 404, "unknown study: 100004",
                post=False)
    r = get("?studyInstanceUid=%s&studyType=3" % UIDS[4])
    envelope_ok(t, r, "100004", 404, "a study asked for with another "
                "studyType: 100004", post=False)
    r_cross = get("?studyInstanceUid=%s&studyType=4" % UIDS[4], auth=B)
    envelope_ok(t, r_cross, "100004", 404, "another namespace's queued "
                "study: 100004", post=False)
    r_miss2 = get("?studyInstanceUid=1.2.3.404&studyType=4", auth=B)
    t.eq(msg(r_cross).replace(UIDS[4], "U"),
         msg(r_miss2).replace("1.2.3.404", "U"),
         "another namespace's study answers exactly like a missing one")

    for auth, why in ((dict(ns=NS), "no tokenId"),
                      (dict(token="x" * 40, ns=NS), "a wrong tokenId"),
                      (dict(token=tok2, ns=NS),
                       "the token of another namespace"),
                      (dict(token=tok), "no namespace header")):
        r = get("?studyInstanceUid=%s&studyType=4" % UIDS[4], auth=auth)
        envelope_ok(t, r, "100003", 401, "getAnalysisResult with %s: "
                    "100003" % why, post=False)
    # the namespace's check is done in the handler's transaction; one that
    # answers before reading the store is checked after it, and a refusal
    # is still the answer
    for q, auth, why in (
            ("?studyType=4", dict(token="x" * 40, ns=NS),
             "a wrong tokenId and no studyInstanceUid"),
            ("?studyInstanceUid=%s&studyType=x" % UIDS[4],
             dict(token=tok2, ns=NS),
             "another namespace's token and studyType=x"),
            ("?studyInstanceUid=1.2.3.404&studyType=4",
             dict(token="x" * 40, ns=NS),
             "a wrong tokenId and an unknown study")):
        r = get(q, auth=auth)
        envelope_ok(t, r, "100003", 401, "getAnalysisResult with %s: "
                    "100003" % why, post=False)
    r = get("?studyInstanceUid=%s&studyType=4" % UIDS[4], method="POST",
            body={"studyInstanceUid": UIDS[4], "studyType": 4})
    t.ok(r.code == "100007" and r.status in (405, 415),
         "POST to getAnalysisResult: 100007 (405)", repr(r))

    # === the dispatcher runs them ==========================================
    s.start_dispatcher()
    done = {}
    for n in ANALYSIS:
        r = s.wait_result(tok, NS, UIDS[n], n, timeout=40)
        want = []
        for k in KEYS[n]:
            want += expected_items(data_of(k), n, k)
        done[n] = check_data(t, r, UIDS[n], n, want,
                             "studyType %d (%s) result" % (n, LISTS[n]))
        if n in (1, 3):
            t.ok(b'"confidence":0.8900' in r.raw if n == 1 else
                 b'"confidence":0.9100' in r.raw,
                 "studyType %d: confidence keeps its text (0.%s00), not "
                 "0.89 or 0.89000000000000001" % (n, "89" if n == 1 else "91"),
                 r.raw[:600])
        if n == 2:
            t.ok(b'"posProb":0.7300' in r.raw and
                 b'"posProb":0.5100' in r.raw,
                 "studyType 2: posProb keeps its text (0.7300, 0.5100)",
                 r.raw[:600])
        if n == 1:
            t.ok(b'"confidence":0.6500' in r.raw and
                 b'0.89000000000000001' not in r.raw and
                 b'"spacing":[0.703125,0.703125,1.25]' in r.raw,
                 "studyType 1: every number as the engine wrote it",
                 r.raw[:600])

    # --- the status callbacks of those runs --------------------------------
    for n in ANALYSIS:
        recs = wait_for(lambda: sink_received(sink, "/cb/" + UIDS[n]), 10)
        t.ok(recs and json.loads(recs[0]["body"]) == {
            "studyInstanceUid": UIDS[n], "studyType": n, "status": 0,
            "errorCode": None, "errorMessage": None},
            "studyType %d: status callback status 0" % n,
            recs and recs[0]["body"])

    # --- reading options ------------------------------------------------------
    r = s.wait_result(tok, NS, COMMA, 4)
    envelope_ok(t, r, "000000", 200, "a studyInstanceUid with a comma, "
                "sent as %2C: 000000", post=False)
    t.eq((r.json or {}).get("data", {}).get("studyInstanceUid"), COMMA,
         "  ... and the comma comes back")
    r = get("?studyInstanceUid=%s&studyType=4" % UIDS[4],
            headers={"Content-Type": "application/json"})
    envelope_ok(t, r, "000000", 200, "GET with Content-Type: "
                "application/json and no body is accepted", post=False)
    r = get("?studyType=4&studyInstanceUid=%s" % UIDS[4].replace(".", "%2E"))
    envelope_ok(t, r, "000000", 200, "parameters in any order, "
                "percent-encoded dots decoded", post=False)
    r_cross = get("?studyInstanceUid=%s&studyType=4" % UIDS[4], auth=B)
    envelope_ok(t, r_cross, "100004", 404, "another namespace's DONE "
                "study: 100004", post=False)
    t.eq(msg(r_cross).replace(UIDS[4], "U"),
         msg(r_miss2).replace("1.2.3.404", "U"),
         "  ... exactly like a missing one")

    # === 5. feedback ==========================================================
    d1 = done[1]
    ids1 = [x["indexId"] for x in d1["imageDataList"]] if d1 else []
    n1 = len(ids1)

    def creds_of(uid, study_type, auth=A):
        r = s.get_result(auth["token"], auth["ns"], uid, study_type)
        d = (r.json or {}).get("data") or {}
        return dict((x.get("indexId") or x.get("boxUid"), x["credibility"])
                    for x in d.get(LISTS[study_type], []))

    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[0], "Y"), (ids1[1], "N"),
                                         (ids1[2], "UN")])
    envelope_ok(t, r, "000000", 200, "feedback accepted: 000000")
    t.ok(r.json and r.json.get("data") is True, "  ... data true")
    c = creds_of(UIDS[1], 1)
    t.eq([c.get(i) for i in ids1], ["Y", "N", "UN"] + [None] * (n1 - 3),
         "feedback reflected as credibility in getAnalysisResult")
    before = dict(c)

    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[3], "Y"),
                                         ("0b0e2a4c-1111-4222-8333-"
                                          "444455556666", "N")])
    envelope_ok(t, r, "100002", 400, "feedback with one unknown indexId: "
                "100002")
    t.ok("data[1]" in msg(r), "  ... the message names data[1]", msg(r))
    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[3], "Y"), (ids1[0], "maybe")])
    envelope_ok(t, r, "100002", 400, "feedback with credibility \"maybe\": "
                "100002")
    t.ok("data[1].credibility" in msg(r), "  ... the message names "
         "data[1].credibility", msg(r))
    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[3], "Y"), (ids1[0], "N"),
                                         (ids1[3], "N")])
    envelope_ok(t, r, "100002", 400, "feedback naming an indexId twice: "
                "100002")
    t.ok("data[2]" in msg(r), "  ... the message names data[2]", msg(r))
    r = s.feedback(tok, NS, UIDS[1], 1,
                   [(i, "Y") for i in ids1] + [(ids1[0], "Y")])
    envelope_ok(t, r, "100002", 400, "feedback with more items than "
                "findings: 100002")
    t.ok("data" in msg(r), "  ... the message names data", msg(r))
    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[3], "Y"), {"credibility": "Y"}])
    envelope_ok(t, r, "100002", 400, "feedback item without indexId: "
                "100002")
    t.ok("data[1].indexId" in msg(r), "  ... the message names "
         "data[1].indexId", msg(r))
    r = s.api("POST", "submitAnalysisFeedback", {
        "studyInstanceUid": UIDS[1], "studyType": 1,
        "data": [{"indexId": ids1[3], "credibility": "Y"}, "Y"]}, **A)
    envelope_ok(t, r, "100002", 400, "feedback item that is not an object: "
                "100002")
    other_id = done[2]["xRayDataList"][0]["indexId"] if done[2] else "x"
    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[3], "Y"), (other_id, "Y")])
    envelope_ok(t, r, "100002", 400, "feedback naming another study's "
                "finding: 100002")
    r = s.feedback(tok, NS, UIDS[1], 1, [])
    envelope_ok(t, r, "100002", 400, "feedback with empty data: 100002")
    r = s.api("POST", "submitAnalysisFeedback", {"studyInstanceUid": UIDS[1],
              "studyType": 1}, **A)
    envelope_ok(t, r, "100002", 400, "feedback without data: 100002")
    r = s.api("POST", "submitAnalysisFeedback", "{\"studyInstanceUid\": ",
              **A)
    envelope_ok(t, r, "100002", 400, "feedback with malformed JSON: 100002")
    t.eq(creds_of(UIDS[1], 1), before, "after the refused calls nothing was "
         "applied (all or nothing)")

    r = s.feedback(tok, NS, UIDS[1], 1, [(ids1[0], "N"), (ids1[3], "Y")])
    envelope_ok(t, r, "000000", 200, "a later feedback is accepted")
    c = creds_of(UIDS[1], 1)
    t.eq([c.get(i) for i in ids1[:4]], ["N", "N", "UN", "Y"],
         "  ... it replaces the earlier verdict and keeps the others")

    r = s.feedback(tok, NS, "1.2.3.404", 1, [(ids1[0], "Y")])
    envelope_ok(t, r, "100004", 404, "feedback on an unknown study: 100004")
    r = s.feedback(tok, NS, UIDS[1], 2, [(ids1[0], "Y")])
    envelope_ok(t, r, "100004", 404, "feedback with the wrong studyType: "
                "100004")
    r = s.feedback(tok2, NS2, UIDS[1], 1, [(ids1[0], "Y")])
    envelope_ok(t, r, "100004", 404, "feedback on another namespace's "
                "study: 100004")
    r2 = s.feedback(tok2, NS2, "1.2.3.404", 1, [(ids1[0], "Y")])
    t.eq(msg(r).replace(UIDS[1], "U"), msg(r2).replace("1.2.3.404", "U"),
         "  ... exactly like a missing one")
    t.eq(creds_of(UIDS[1], 1).get(ids1[0]), "N", "  ... and it changed "
         "nothing")
    r = s.api("POST", "submitAnalysisFeedback", {
        "studyInstanceUid": UIDS[1], "studyType": 1,
        "data": [{"indexId": ids1[0], "credibility": "Y"}]}, ns=NS)
    envelope_ok(t, r, "100003", 401, "feedback without tokenId: 100003")
    r = s.api("GET", "submitAnalysisFeedback", **A)
    t.ok(r.code == "100007", "GET submitAnalysisFeedback: 100007", repr(r))

    # boxes: boxUid is the id
    d4 = done[4]
    boxes = [b["boxUid"] for b in d4["boxes"]] if d4 else []
    r = s.feedback(tok, NS, UIDS[4], 4, [(boxes[0], "Y"), (boxes[2], "UN")])
    envelope_ok(t, r, "000000", 200, "feedback naming boxes by boxUid is "
                "accepted")
    r = s.get_result(tok, NS, UIDS[4], 4)
    d = (r.json or {}).get("data") or {}
    t.eq([b.get("credibility") for b in d.get("boxes", [])],
         ["Y", None, "UN"], "  ... reflected in boxes")
    t.eq([b.get("credibility") for b in d.get("boxDataList", [])],
         ["Y", None, "UN"], "  ... and in boxDataList")
    r = s.feedback(tok, NS, UIDS[4], 4, [(boxes[1], "N"), ("00000" if
                                         "00000" not in boxes else "99999",
                                         "Y")])
    envelope_ok(t, r, "100002", 400, "feedback naming an unknown boxUid: "
                "100002")
    t.eq(creds_of(UIDS[4], 4).get(boxes[1]), None, "  ... nothing applied")

    # types 2 and 3 take feedback too
    for n in (2, 3):
        i0 = done[n][LISTS[n]][0]["indexId"] if done[n] else "x"
        r = s.feedback(tok, NS, UIDS[n], n, [(i0, "Y")])
        envelope_ok(t, r, "000000", 200, "studyType %d: feedback accepted"
                    % n)
        t.eq(creds_of(UIDS[n], n).get(i0), "Y", "studyType %d: reflected"
             % n)

    p = s.admin("studies", "show", NS, "1", UIDS[1], check=False)
    lines = [x for x in p.stdout.splitlines() if x.startswith("feedback:")]
    t.ok(p.returncode == 0 and any(ids1[0] in x and " N " in x and
                                   "by " + NS in x for x in lines) and
         len(lines) >= 4,
         "mias-admin studies show lists the feedback: id, verdict, who "
         "(namespace) and when", p.stdout + p.stderr)
    t.ok(all(any(ch.isdigit() for ch in x.split(" at ")[-1]) for x in lines)
         and lines, "  ... with a time", "\n".join(lines))
    j = s.admin_json("studies", "show", NS, "1", UIDS[1])
    fb = ((j or {}).get("result") or {}).get("feedback") or {}
    e = fb.get(ids1[0]) or {}
    t.ok(e.get("credibility") == "N" and e.get("by") == NS and
         isinstance(e.get("at"), int) and e.get("at") > T0 * 1000 - 60000,
         "studies show --json: feedback with credibility, by and at", e)

    # === 2. progress while running ===========================================
    PROG = "1.2.826.0.1.3680043.8.498.77.20"
    prog_keys = ["prog/img%d.dcm" % i for i in range(3)]
    for i, k in enumerate(prog_keys):
        image(k, ("progress image %d\n" % i).encode() * (50 + i))
    set_mode("slow 1")
    envelope_ok(t, submit(PROG, 4, "prog/"), "000000", 200,
                "executeAnalysis: a 3-image study, one image slow")
    seen = []

    def partly():
        r = s.get_result(tok, NS, PROG, 4)
        seen.append((r.status, r.code, (r.json or {}).get("data")))
        d = (r.json or {}).get("data") or {}
        return r if (r.code == "100005" and d.get("imagesDone") == 2) \
            else None
    r = wait_for(partly, DELAY + 5, 0.05)
    t.ok(r is not None, "while running: getAnalysisResult answers 100005 "
         "with imagesDone 2 of 3", seen[-3:])
    if r is not None:
        envelope(t, r, "100005", 409, "  ... HTTP 409, the envelope")
        t.eq(r.json.get("data"), {"state": "RUNNING", "imagesTotal": 3,
                                  "imagesDone": 2, "imagesFailed": 0},
             "  ... data {state RUNNING, imagesTotal 3, imagesDone 2, "
             "imagesFailed 0}")
        t.ok(r.json.get("success") is False and "not finished" in msg(r),
             "  ... success false, the message says not finished", msg(r))
    states = set(x[2].get("state") for x in seen
                 if x[1] == "100005" and isinstance(x[2], dict))
    t.ok(states <= {"QUEUED", "RUNNING"} and
         all(x[0] == 409 for x in seen if x[1] == "100005"),
         "every progress answer is 409 with state QUEUED or RUNNING",
         states)
    r = s.feedback(tok, NS, PROG, 4, [("12345", "Y")])
    envelope_ok(t, r, "100005", 409, "feedback on a RUNNING study: 100005")
    r = s.wait_result(tok, NS, PROG, 4, timeout=DELAY + 10)
    check_data(t, r, PROG, 4, sum((expected_items(data_of(k), 4, k)
                                   for k in prog_keys), []),
               "the slow study, once done")

    # === 3. a failed study ====================================================
    FAIL = "1.2.826.0.1.3680043.8.498.77.30"
    fail_keys = ["fail/img%d.dcm" % i for i in range(3)]
    for i, k in enumerate(fail_keys):
        image(k, ("failing study image %d\n" % i).encode() * (70 + i))
    set_mode("fail 1")
    envelope_ok(t, submit(FAIL, 4, "fail/"), "000000", 200,
                "executeAnalysis: a 3-image study, one image failing")
    r = s.wait_result(tok, NS, FAIL, 4, timeout=20)
    envelope(t, r, "100006", 200, "failed study: 100006 / HTTP 200")
    d = json_exact(r.raw).get("data") if r.json else None
    d = d if isinstance(d, dict) else {}
    t.eq(d.get("errorCode"), "ENGINE_ERROR", "  ... data.errorCode "
         "ENGINE_ERROR")
    em = d.get("errorMessage") or ""
    t.ok("1 of 3" in em and "image unreadable" in em,
         "  ... data.errorMessage says 1 of 3 images failed and why", em)
    t.ok(em in msg(r), "  ... returnMessage carries it", msg(r))
    t.eq((d.get("studyInstanceUid"), d.get("studyType")), (FAIL, 4),
         "  ... studyInstanceUid, studyType echoed")
    allw = dict((sans_id(x), x) for k in fail_keys
                for x in expected_items(data_of(k), 4, k))
    got = d.get("boxes") or []
    t.ok(len(got) == 2 and all(sans_id(x) in allw for x in got) and
         len(set(sans_id(x) for x in got)) == 2,
         "  ... data.boxes holds the findings of the 2 images that "
         "succeeded", got)
    t.eq(len(d.get("boxDataList") or []), 2, "  ... boxDataList too")
    t.ok(all(d.get(n) == [] for n in ("imageDataList", "xRayDataList",
                                      "ocularDataList")),
         "  ... the other lists present and empty")
    r = s.feedback(tok, NS, FAIL, 4, [(got[0]["boxUid"] if got else "12345",
                                       "Y")])
    envelope_ok(t, r, "100005", 409, "feedback on a FAILED study: 100005")
    recs = wait_for(lambda: sink_received(sink, "/cb/" + FAIL), 10)
    b = json.loads(recs[0]["body"]) if recs else {}
    t.ok(b.get("status") == -1 and b.get("errorCode") == "ENGINE_ERROR",
         "failed study: status callback -1 with errorCode", b)

    EMPTY = "1.2.826.0.1.3680043.8.498.77.31"
    oss.bucket(BUCKET)
    r = submit(EMPTY, 2, "nothing-here/")
    r = s.wait_result(tok, NS, EMPTY, 2, timeout=20)
    envelope(t, r, "100006", 200, "a study with no image: 100006")
    d = (r.json or {}).get("data") or {}
    t.ok(d.get("errorCode") == "OSS_EMPTY" and
         all(d.get(n) == [] for n in ("boxes", "imageDataList",
                                      "xRayDataList", "ocularDataList")),
         "  ... errorCode OSS_EMPTY, every list present and empty", d)

    # === 6. forceAnalysis ======================================================
    FR = "1.2.826.0.1.3680043.8.498.77.40"
    fr_keys = ["forcerun/img%d.dcm" % i for i in range(3)]
    shas = set()
    for i, k in enumerate(fr_keys):
        image(k, ("force while running %d\n" % i).encode() * (30 + i))
        shas.add(oss.sha256(BUCKET, k))
    set_mode("slow 3")
    since = time.time()
    envelope_ok(t, submit(FR, 4, "forcerun/"), "000000", 200,
                "forceAnalysis: a slow study submitted")
    running = wait_for(lambda: (s.get_result(tok, NS, FR, 4).json or {})
                       .get("data", {}).get("state") == "RUNNING", 10, 0.05)
    t.ok(running, "  ... it is RUNNING")
    r = submit(FR, 4, "forcerun/", forceAnalysis=True)
    envelope_ok(t, r, "000000", 200, "forceAnalysis while running: "
                "accepted")
    j = s.admin_json("studies", "show", NS, "4", FR)
    t.eq((j or {}).get("run"), 1, "  ... studies show --json: still run 1")
    r = s.wait_result(tok, NS, FR, 4, timeout=DELAY + 15)
    envelope_ok(t, r, "000000", 200, "  ... the study ends DONE",
                post=False)
    time.sleep(1)
    j = s.admin_json("studies", "show", NS, "4", FR)
    t.eq(((j or {}).get("run"), (j or {}).get("state")), (1, "DONE"),
         "  ... run stays 1 after it is done")
    t.eq(len(runs_of(shas, since)), 3, "  ... each image ran once (3 engine "
         "runs, no second run)")

    FD = "1.2.826.0.1.3680043.8.498.77.41"
    fd_keys = ["forcedone/a.dcm", "forcedone/b.dcm"]
    image(fd_keys[0], b"force after done, image a\n" * 33)
    image(fd_keys[1], b"force after done, image b, first version\n" * 21)
    envelope_ok(t, submit(FD, 1, "forcedone/"), "000000", 200,
                "forceAnalysis: a study run to the end first")
    r = s.wait_result(tok, NS, FD, 1, timeout=20)
    old = check_data(t, r, FD, 1, sum((expected_items(data_of(k), 1, k)
                                       for k in fd_keys), []),
                     "first run")
    old_ids = [x["indexId"] for x in old["imageDataList"]] if old else []
    keep_id = expected_items(data_of(fd_keys[0]), 1, fd_keys[0])[0]["indexId"]
    r = s.feedback(tok, NS, FD, 1, [(keep_id.upper(), "Y"),
                                    (old_ids[1], "N")])
    envelope_ok(t, r, "000000", 200, "  ... feedback on it (an indexId in "
                "capitals matches: UUIDs ignore case)")
    image(fd_keys[1], b"force after done, image b, SECOND version\n" * 22)
    set_mode("slow 2")
    since = time.time()
    r = submit(FD, 1, "forcedone/", forceAnalysis=True)
    envelope_ok(t, r, "000000", 200, "forceAnalysis on a DONE study: "
                "accepted")
    j = s.admin_json("studies", "show", NS, "1", FD)
    t.ok((j or {}).get("run") == 2 and (j or {}).get("state") in
         ("QUEUED", "RUNNING"), "  ... a new run (run 2) starts",
         j and (j.get("run"), j.get("state")))
    r = s.feedback(tok, NS, FD, 1, [(keep_id, "N")])
    envelope_ok(t, r, "100005", 409, "  ... feedback while it runs: 100005 "
                "(the findings are about to change)")
    reads = []

    def new_result():
        r = s.get_result(tok, NS, FD, 1)
        d = (r.json or {}).get("data") or {}
        ids = [x.get("indexId") for x in d.get("imageDataList", [])]
        reads.append((r.code, ids == old_ids))
        return r if r.code == "000000" and ids != old_ids else None
    r = wait_for(new_result, DELAY + 15, 0.1)
    olds = [x for x in reads if x[1]]
    t.ok(len(olds) >= 5 and all(x[0] == "000000" for x in olds),
         "  ... meanwhile the old result stays readable (000000, old "
         "findings)", reads[:8])
    t.ok(all(x[0] == "000000" for x in reads),
         "  ... no 100005 while the new run is under way",
         [x for x in reads if x[0] != "000000"][:3])
    t.ok(r is not None, "  ... the new run's result replaces it")
    if r is not None:
        new = check_data(t, r, FD, 1, sum((expected_items(data_of(k), 1, k)
                                           for k in fd_keys), []),
                         "after forceAnalysis")
        ids = [x["indexId"] for x in (new or {}).get("imageDataList", [])]
        t.ok(keep_id in ids and
             by_id(new, 1)[keep_id]["credibility"] is None,
             "  ... earlier feedback does not carry over (same indexId, "
             "credibility null again)")
    t.eq(len(runs_of(set(oss.sha256(BUCKET, k) for k in fd_keys), since)),
         2, "  ... the new run analysed both images once")
    j = s.admin_json("studies", "show", NS, "1", FD)
    t.ok(not (((j or {}).get("result") or {}).get("feedback")),
         "  ... studies show: the new result has no feedback")

    # --- two identical images: their boxes still get distinct boxUids -------
    TWIN = "1.2.826.0.1.3680043.8.498.77.42"
    for k in ("twin/a.dcm", "twin/b.dcm"):
        image(k, b"identical twin image\n" * 44)
    envelope_ok(t, submit(TWIN, 4, "twin/"), "000000", 200,
                "a study of two identical images")
    r = s.wait_result(tok, NS, TWIN, 4, timeout=20)
    d = (r.json or {}).get("data") or {}
    eb = expected_items(data_of("twin/a.dcm"), 4, "twin/a.dcm")[0]["boxUid"]
    uids = sorted(b.get("boxUid") for b in d.get("boxes", []))
    t.ok(len(uids) == 2 and eb in uids and len(set(uids)) == 2 and
         all(len(u) == 5 and u.isdigit() for u in uids),
         "  ... the engine's boxUid twice becomes two distinct 5-digit "
         "boxUids", uids)
    t.eq(sorted(b.get("boxUid") for b in d.get("boxDataList", [])), uids,
         "  ... the same in boxDataList")
    r = s.feedback(tok, NS, TWIN, 4, [(uids[0], "Y"), (uids[1], "N")])
    envelope_ok(t, r, "000000", 200, "  ... each can be given feedback")
    c = creds_of(TWIN, 4)
    t.eq((c.get(uids[0]), c.get(uids[1])), ("Y", "N"), "  ... separately")

    # === 7. triggerAnalysis (push) =============================================
    P_KEY = "push/knee-0001.dcm"
    image(P_KEY, b"push style knee image\n" * 57)

    def trig(uid, obj, cb, analysis="OA", **over):
        b = {"namespace": NS, "ImageUid": uid, "accessKeyId": oss.ak,
             "accessKeySecret": oss.sk, "securityToken": "",
             "endpoint": oss.endpoint, "bucketName": BUCKET, "key": obj,
             "analysis": analysis, "resultCallBackUrl": sink.base + cb}
        b.update(over)
        return dict((k, v) for k, v in b.items() if v is not KeyError)

    def push(body, auth=A):
        return s.api("POST", "triggerAnalysis", body, **auth)

    envelope_ok(t, push(trig("e1", P_KEY, "/result/e"), auth=dict(ns=NS)),
                "100003", 401, "triggerAnalysis without tokenId: 100003")
    envelope_ok(t, push(trig("e1", P_KEY, "/result/e"),
                        auth=dict(token="y" * 40, ns=NS)),
                "100003", 401, "triggerAnalysis with a wrong tokenId: 100003")
    envelope_ok(t, push(trig("e1", P_KEY, "/result/e", namespace=NS2)),
                "100003", 401, "triggerAnalysis whose body namespace is not "
                "the header's: 100003")
    envelope_ok(t, push(trig("e1", P_KEY, "/result/e"),
                        auth=dict(token=tok, ns=NS2)),
                "100003", 401, "triggerAnalysis with the token of the body's "
                "namespace but another namespace header: 100003")
    for f in ("namespace", "ImageUid", "key", "resultCallBackUrl",
              "accessKeyId", "analysis"):
        r = push(trig("e1", P_KEY, "/result/e", **{f: KeyError}))
        envelope_ok(t, r, "100002", 400, "triggerAnalysis without %s: "
                    "100002" % f) if f != "namespace" else \
            t.ok(r.code in ("100002", "100003"), "triggerAnalysis without "
                 "namespace: refused (100002 or 100003)", repr(r))
        if f != "namespace":
            t.ok(f in msg(r), "  ... the message names %s" % f, msg(r))
    envelope_ok(t, push(trig("", P_KEY, "/result/e")), "100002", 400,
                "triggerAnalysis with an empty ImageUid: 100002")
    envelope_ok(t, push(trig("e1", P_KEY, "/result/e", analysis="XYZ")),
                "100011", 400, "triggerAnalysis of an unknown analysis: "
                "100011")
    r = push(trig("e1", P_KEY, "/x", resultCallBackUrl="http://10.1.2.3/x"))
    envelope_ok(t, r, "100009", 400, "resultCallBackUrl http://10.1.2.3/x: "
                "100009")
    r = push(trig("e1", P_KEY, "/x",
                  resultCallBackUrl="http://169.254.169.254/latest"))
    envelope_ok(t, r, "100009", 400, "resultCallBackUrl to the metadata "
                "address: 100009")
    r = push(trig("e1", P_KEY, "/x", resultCallBackUrl="ftp://127.0.0.1/x"))
    t.ok(r.code in ("100009", "100002") and r.status == 400,
         "resultCallBackUrl ftp://: refused", repr(r))
    r = push(trig("e1", P_KEY, "/x", endpoint="http://10.1.2.3"))
    envelope_ok(t, r, "100009", 400, "an OSS endpoint at 10.1.2.3: 100009")
    tok3, _ = s.namespace("cb-limited", "--callback-host",
                          "cb.hospital.example")
    r = push(trig("e1", P_KEY, "/result/e", namespace="cb-limited"),
             auth=dict(token=tok3, ns="cb-limited"))
    envelope_ok(t, r, "100009", 400, "resultCallBackUrl not on the "
                "namespace's callback hosts: 100009")
    s.admin("namespace", "disable", "cb-limited")
    r = push(trig("e1", P_KEY, "/result/e", namespace="cb-limited",
                  resultCallBackUrl="https://cb.hospital.example/r"),
             auth=dict(token=tok3, ns="cb-limited"))
    envelope_ok(t, r, "100003", 401, "triggerAnalysis for a disabled "
                "namespace: 100003")
    r = s.api("GET", "triggerAnalysis", **A)
    t.ok(r.code == "100007", "GET triggerAnalysis: 100007", repr(r))
    time.sleep(0.5)
    t.eq(sink_received(sink, "/result/e"), [], "nothing refused was run")

    # --- accepted, delivered, signed --------------------------------------
    IMG_UID = "IMG 0001/knee-影像.dcm"
    r = push(trig(IMG_UID, P_KEY, "/result/p1"))
    envelope_ok(t, r, "000000", 200, "triggerAnalysis accepted: 000000")
    recs = wait_for(lambda: sink_received(sink, "/result/p1"), 20)
    t.ok(recs and len(recs) == 1, "the sink receives the result")
    if recs:
        rec = recs[0]
        body = json_exact(rec["body"])
        want = json_exact(cmd_engine.result_text(data_of(P_KEY), 4))
        t.eq(body.get("returnCode"), "000000", "result: returnCode 000000")
        t.eq(body.get("returnMessage"), "OK", "result: returnMessage OK")
        t.eq(body.get("namespace"), NS, "result: namespace")
        t.eq(body.get("ImageUid"), IMG_UID, "result: the caller's ImageUid, "
             "unchanged")
        t.eq(body.get("Boxes"), [dict(b, imageKey=P_KEY)
                                 for b in want["Boxes"]], "result: Boxes "
             "[{BoxUid, Coordinates, Class, imageKey}] as the engine found "
             "them, each with the image's object key")
        t.ok(set(body) <= {"returnCode", "returnMessage", "namespace",
                           "ImageUid", "Boxes"},
             "result: nothing but the members of API.md 6.", sorted(body))
        t.ok(rec["method"] == "POST" and
             rec["headers"].get("content-type", "").startswith(
                 "application/json"), "result: POSTed as application/json",
             rec["headers"])
        t.ok(rec.get("webhook_id") and rec.get("webhook_timestamp") and
             (rec.get("webhook_signature") or "").startswith("v1,"),
             "result: webhook-id, webhook-timestamp, webhook-signature",
             rec["headers"])
        rc, out = verify_webhooks(recs, secret)
        if rc is None:
            t.ok(True, "# SKIP standardwebhooks: " + out)
        else:
            t.ok(rc == 0, "the signature verifies with standardwebhooks and "
                 "the namespace's signing secret", out)
            rc2, out2 = verify_webhooks(recs, secret2)
            t.ok(rc2 == 1, "  ... and not with another namespace's", out2)

    # --- studyType 1 through push ----------------------------------------
    L_KEY = "push/lung-0001.dcm"
    image(L_KEY, b"push style lung image\n" * 41)
    r = push(trig("lung-1", L_KEY, "/result/p-ln", analysis="LN"))
    envelope_ok(t, r, "000000", 200, "triggerAnalysis LN (studyType 1)")
    recs = wait_for(lambda: sink_received(sink, "/result/p-ln"), 20)
    body = json_exact(recs[0]["body"]) if recs else {}
    want = expected_items(data_of(L_KEY), 1, L_KEY)
    got = body.get("ImageDataList") or []
    t.ok(body.get("returnCode") == "000000" and body.get("Boxes") == [] and
         body.get("ImageUid") == "lung-1",
         "LN result: 000000, Boxes [], ImageUid", body)
    t.eq([sans_id(dict(x, credibility=None)) for x in got],
         [sans_id(x) for x in want], "LN result: ImageDataList as the "
         "engine found it")
    t.ok(len(got) == 2 and got[0].get("indexId") == want[0]["indexId"] and
         UUID4.match(str(got[1].get("indexId"))),
         "LN result: indexIds, the missing one generated", got)
    t.ok(recs and b'"confidence":0.8900' in recs[0]["body"].encode(),
         "LN result: confidence keeps its text 0.8900",
         recs and recs[0]["body"])

    # --- repeated while pending: runs once ----------------------------------
    D_KEY = "push/dup.dcm"
    image(D_KEY, b"push duplicate\n" * 63)
    dsha = {oss.sha256(BUCKET, D_KEY)}
    set_mode("slow 1")
    since = time.time()
    r1 = push(trig("dup-1", D_KEY, "/result/dup"))
    time.sleep(0.3)
    r2 = push(trig("dup-1", D_KEY, "/result/dup"))
    envelope_ok(t, r1, "000000", 200, "a slow push job accepted")
    envelope_ok(t, r2, "000000", 200, "the same ImageUid again while it is "
                "pending: accepted")
    recs = wait_for(lambda: sink_received(sink, "/result/dup"), DELAY + 10)
    time.sleep(1.5)
    recs = sink_received(sink, "/result/dup")
    t.eq(len(recs), 1, "  ... the sink gets one result")
    t.eq(len(runs_of(dsha, since)), 1, "  ... the engine ran once")
    r3 = push(trig("dup-1", D_KEY, "/result/dup"))
    envelope_ok(t, r3, "000000", 200, "the same ImageUid after its result: "
                "accepted")
    recs = wait_for(lambda: (lambda x: x if len(x) >= 2 else None)(
        sink_received(sink, "/result/dup")), 15)
    t.ok(recs and len(recs) == 2 and recs[0]["webhook_id"] !=
         recs[1]["webhook_id"], "  ... and analysed again (a new result, "
         "a new webhook-id)")

    # --- other namespaces are apart -----------------------------------------
    sink_script(sink, "/result/ns2")
    r = s.api("POST", "triggerAnalysis", trig("e1", P_KEY, "/result/ns2",
                                              namespace=NS2), **B)
    envelope_ok(t, r, "000000", 200, "another namespace triggers the same "
                "ImageUid")
    recs = wait_for(lambda: sink_received(sink, "/result/ns2"), 15)
    b = json.loads(recs[0]["body"]) if recs else {}
    t.ok(b.get("namespace") == NS2 and b.get("ImageUid") == "e1",
         "  ... its own result, with its namespace", b)
    rc, out = verify_webhooks(recs, secret2) if recs else (1, "none")
    t.ok(rc in (0, None), "  ... signed with its own secret", out)

    # --- push retried -------------------------------------------------------
    sink_script(sink, "/result/retry", {"status": 500})
    r = push(trig("retry-1", P_KEY, "/result/retry"))
    envelope_ok(t, r, "000000", 200, "push to a sink answering 500 first")
    recs = wait_for(lambda: (lambda x: x if len(x) >= 2 else None)(
        sink_received(sink, "/result/retry")), 15)
    t.ok(recs and len(recs) == 2, "  ... delivered again after the 500",
         recs and [x["answer"] for x in recs])
    if recs and len(recs) >= 2:
        t.ok(recs[0]["webhook_id"] == recs[1]["webhook_id"] and
             recs[0]["body"] == recs[1]["body"],
             "  ... the same webhook-id and body both times")
        t.eq([x["answer"]["status"] for x in recs], [500, 200],
             "  ... answered 500, then 200")
        rc, out = verify_webhooks(recs, secret)
        t.ok(rc in (0, None), "  ... both attempts verify", out)
    time.sleep(1.5)
    t.eq(len(sink_received(sink, "/result/retry")), 2, "  ... then no more "
         "attempts")

    sink_script(sink, "/result/retry2", {"status": 200, "body": {
        "returnCode": "100001", "returnMessage": "busy"}})
    r = push(trig("retry-2", P_KEY, "/result/retry2"))
    recs = wait_for(lambda: (lambda x: x if len(x) >= 2 else None)(
        sink_received(sink, "/result/retry2")), 15)
    t.ok(recs and len(recs) == 2 and
         recs[0]["webhook_id"] == recs[1]["webhook_id"],
         "an answer 200 with returnCode 100001 is not a delivery: retried "
         "with the same webhook-id", recs and [x["answer"] for x in recs])

    # --- engine failure ---------------------------------------------------------
    set_mode("fail 1")
    r = push(trig("fail-1", P_KEY, "/result/fail"))
    envelope_ok(t, r, "000000", 200, "push job whose engine fails: accepted")
    recs = wait_for(lambda: sink_received(sink, "/result/fail"), 15)
    b = json.loads(recs[0]["body"]) if recs else {}
    t.ok(b.get("returnCode") not in (None, "000000") and
         "image unreadable" in (b.get("returnMessage") or ""),
         "  ... result with returnCode != 000000 and the error in "
         "returnMessage", b)
    t.ok(b.get("ImageUid") == "fail-1" and b.get("namespace") == NS and
         b.get("Boxes") == [], "  ... ImageUid, namespace, Boxes []", b)
    rc, out = verify_webhooks(recs, secret) if recs else (1, "none")
    t.ok(rc in (0, None), "  ... signed", out)

    r = push(trig("missing-1", "push/no-such-object.dcm", "/result/missing"))
    envelope_ok(t, r, "000000", 200, "push job for a missing object: "
                "accepted")
    recs = wait_for(lambda: sink_received(sink, "/result/missing"), 15)
    b = json.loads(recs[0]["body"]) if recs else {}
    t.ok(b.get("returnCode") not in (None, "000000") and
         b.get("returnMessage") and b.get("Boxes") == [] and
         b.get("ImageUid") == "missing-1",
         "  ... result with returnCode != 000000, a message, Boxes []", b)

    # push jobs are not studies
    r = get("?studyInstanceUid=e1&studyType=4")
    envelope_ok(t, r, "100004", 404, "a push job's ImageUid is not a study "
                "for getAnalysisResult", post=False)
    r = s.api("POST", "submitAnalysisFeedback", {
        "studyInstanceUid": "\x1fe1", "studyType": 4,
        "data": [{"indexId": "12345", "credibility": "Y"}]}, **A)
    envelope_ok(t, r, "100002", 400, "feedback cannot name a push job")

    t.diag("runtime %.1f s" % (time.time() - T0))
finally:
    if t.failed:
        t.diag("kept " + s.dir)
        t.diag(s.dispatcher_log()[-3000:])
    s.cleanup(keep=t.failed > 0)
t.done()
