#!/usr/bin/python3
# test_hostile_input.py -- hosts that are not ASCII, egress refusals that name no address, study uids that are not ASCII in the dispatcher's log (issue 16, items 5-7)
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     envelope_ok, sink_received, wait_for)

t = TAP()

NOT_ASCII = "host is not ASCII; write an internationalised name in its " \
    "ASCII (xn--) form"
EGRESS = "not allowed by the gateway's egress rules"

# allow_hosts = localhost: callbacks and OSS at http://localhost:PORT pass;
# another name that resolves to 127.0.0.1 is refused at connect time
s = Stack("hostile-input", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = localhost")
try:
    s.init()
    tok, _ = s.namespace("hosp")
    oss = FakeOss(s)
    oss.endpoint = "http://localhost:%d" % oss.port
    keys = oss.dicom("studies", "ct/a", 1)
    sink = s.fixture("sink.py")
    cb = "http://localhost:%d" % sink.port
    s.start()
    s.start_dispatcher()

    # --- item 6: hosts that are not ASCII, refused at submission ----------
    ideo = "127\u30020\u30020\u30021"          # U+3002 ideographic full stop
    pct = "127%E3%80%820%E3%80%820%E3%80%821"  # the same, percent-encoded
    full = "127\uff0e0\uff0e0\uff0e1"          # U+FF0E fullwidth full stop
    half = "127\uff610\uff610\uff611"          # U+FF61 halfwidth
    for i, (host, how) in enumerate(((ideo, "U+3002 dots"),
                                     (pct, "percent-encoded U+3002 dots"),
                                     (full, "U+FF0E dots"),
                                     ("b\u00fccher.example", "an IDN"))):
        uid = "6.1.%d" % i
        r = s.submit(tok, "hosp", uid, "http://%s:%d/cb" % (host, sink.port),
                     oss, keys[0])
        envelope_ok(t, r, "100009", 400, "executeAnalysis: a callback host "
                    "with %s: 100009" % how)
        t.eq(r.json.get("returnMessage") if r.json else None,
             "statusNotifyCallBackUrl: " + NOT_ASCII,
             "the message names the field (%s)" % how)
        t.ok(s.study("hosp", 4, uid) is None, "nothing stored (%s)" % how)
    r = s.submit(tok, "hosp", "6.2", cb + "/cb", oss, keys[0],
                 endpoint="http://%s:%d" % (half, oss.port))
    envelope_ok(t, r, "100009", 400, "executeAnalysis: an endpoint with "
                "U+FF61 dots: 100009")
    t.eq(r.json.get("returnMessage") if r.json else None,
         "endpoint: " + NOT_ASCII, "the message names the field")

    def trigger(callback, endpoint):
        return s.api("POST", "triggerAnalysis", {
            "namespace": "hosp", "ImageUid": "img-6", "accessKeyId": oss.ak,
            "accessKeySecret": oss.sk, "securityToken": "",
            "endpoint": endpoint, "bucketName": "studies", "key": keys[0],
            "analysis": "OA", "resultCallBackUrl": callback},
            token=tok, ns="hosp")

    r = trigger("http://%s:%d/r" % (full, sink.port), oss.endpoint)
    envelope_ok(t, r, "100009", 400, "triggerAnalysis: a callback host with "
                "U+FF0E dots: 100009")
    t.eq(r.json.get("returnMessage") if r.json else None,
         "resultCallBackUrl: " + NOT_ASCII, "the message names the field")
    r = trigger(cb + "/r", "http://%s:%d" % (ideo, oss.port))
    envelope_ok(t, r, "100009", 400, "triggerAnalysis: an endpoint with "
                "U+3002 dots: 100009")
    t.eq(r.json.get("returnMessage") if r.json else None,
         "endpoint: " + NOT_ASCII, "the message names the field")

    # --- item 5: an egress refusal names no address to the caller ----------
    r = s.submit(tok, "hosp", "5.1", cb + "/cb/lit", oss, keys[0],
                 endpoint="http://127.0.0.2:%d" % oss.port)
    envelope_ok(t, r, "100009", 400, "an endpoint literal outside the "
                "policy: 100009")
    t.eq(r.json.get("returnMessage") if r.json else None,
         "endpoint: host 127.0.0.2 is " + EGRESS,
         "the caller is told the rule, not the address's class")
    # --- item 7: study uids that are not ASCII in the dispatcher's log -----
    uid = "7.1\u2028x\U0001F600"
    r = s.submit(tok, "hosp", uid, cb + "/cb/uid", oss, keys[0])
    envelope_ok(t, r, "000000", 200, "a study uid with U+2028 and an emoji "
                "is accepted")
    got = wait_for(lambda: sink_received(sink, "/cb/uid"), 60) or []
    t.ok(got, "its callback came")
    with open(s.displog, "rb") as f:
        raw = f.read()
    bad = [ln for ln in raw.split(b"\n") if any(c >= 0x80 or c < 0x20
                                                for c in ln)]
    t.ok(raw and not bad, "the dispatcher's log is printable ASCII (%d "
         "bytes)" % len(raw), bad[:3])
    t.ok(b"7.1\\u{2028}x\\u{1f600}" in raw,
         "the uid is in it, escaped", raw[-2000:])

    # --- item 5 at connect time: the policy changed after submission, so
    # the dispatcher refuses the endpoint's address (after DNS) -----------
    s.stop_dispatcher()
    r = s.submit(tok, "hosp", "5.2", cb + "/cb/egress", oss, keys[0])
    envelope_ok(t, r, "000000", 200, "a study on http://localhost:PORT, "
                "allowed when submitted")
    with open(s.conf) as f:
        conf = f.read()
    with open(s.conf, "w") as f:
        f.write(conf.replace("allow_hosts = localhost",
                             "allow_hosts = oss.hospital.example"))
    s.start_dispatcher()

    def failed():
        r = s.api("GET", "getAnalysisResult", token=tok, ns="hosp",
                  query="?studyInstanceUid=5.2&studyType=4")
        return r if r.code == "100006" else None
    r = wait_for(failed, 60)
    data = (r.json or {}).get("data") or {} if r else {}
    shown = r.raw.decode("utf-8", "replace") if r else ""
    t.eq(data.get("errorCode"), "OSS_EGRESS_REFUSED", "the dispatcher "
         "refuses localhost (127.0.0.1) under the new policy")
    t.eq(data.get("errorMessage"), "the OSS endpoint is " + EGRESS,
         "the study's errorMessage is the fixed text")
    t.ok(r is not None and "127.0.0.1" not in shown and "loopback" not in
         shown and "resolves" not in shown, "getAnalysisResult names no "
         "address", shown)
    log = s.dispatcher_log()
    t.ok(re.search(r"study hosp/5\.2: localhost resolves to (127\.0\.0\.1|"
                   r"::1), a loopback address, not allowed by \[egress\]",
                   log), "the dispatcher's log keeps the detail",
         log[-2000:])
finally:
    s.cleanup(keep=t.failed > 0)

t.done()
