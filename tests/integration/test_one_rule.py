#!/usr/bin/python3
# test_one_rule.py -- executeAnalysis, triggerAnalysis and the OSS client (mias-admin oss, the dispatcher) refuse the same endpoints and buckets with the same words (issue 18, item 1)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, cmd_engine_conf, envelope_ok  # noqa: E402

t = TAP()

HOSTNAME = "endpoint: not a valid host name: labels of letters, digits, " \
    "'-' and '_', none empty, none starting or ending with '-'"
BUCKET = "bucketName: may hold only lower-case letters, digits and '-'"
EGRESS = "not allowed by the gateway's egress rules"

# Before: executeAnalysis took the first three endpoints (000000) and the
# dispatcher then failed them; triggerAnalysis took Foo_Bar.
CASES = (
    ("endpoint", "http://a..b.example.com", "100002", HOSTNAME),
    ("endpoint", "http://-x.example.com", "100002", HOSTNAME),
    ("endpoint", "http://x-.example.com", "100002", HOSTNAME),
    ("endpoint", "http://[not-v6]:9000", "100002",
     "endpoint: not a valid IPv6 address"),
    ("bucketName", "Foo_Bar", "100002", BUCKET),
    ("endpoint", "http://127.0.0.2:9000", "100009",
     "endpoint: host 127.0.0.2 is " + EGRESS),
)

s = Stack("one-rule", engines={4: cmd_engine_conf(4, "OA")},
          egress="allow_hosts = localhost")
try:
    s.init()
    tok, _ = s.namespace("hosp")
    s.start()
    base = {"accessKeyId": "AK", "accessKeySecret": "SK",
            "endpoint": "http://localhost:9", "bucketName": "studies",
            "key": "ct/a/1.dcm"}
    for i, (field, value, code, msg) in enumerate(CASES):
        ex = dict(base, studyInstanceUid="18.1.%d" % i, studyType=4,
                  statusNotifyCallBackUrl="http://localhost:9/cb")
        ex[field] = value
        tr = dict(base, namespace="hosp", ImageUid="img-18-%d" % i,
                  securityToken="", analysis="OA",
                  resultCallBackUrl="http://localhost:9/r")
        tr[field] = value
        re_ = s.api("POST", "executeAnalysis", ex, token=tok, ns="hosp")
        rt = s.api("POST", "triggerAnalysis", tr, token=tok, ns="hosp")
        envelope_ok(t, re_, code, 400, "executeAnalysis: %s %s: %s"
                    % (field, value, code))
        envelope_ok(t, rt, code, 400, "triggerAnalysis: %s %s: %s"
                    % (field, value, code))
        t.eq(re_.json.get("returnMessage") if re_.json else None, msg,
             "executeAnalysis: the message names the field")
        t.eq(rt.json.get("returnMessage") if rt.json else None, msg,
             "triggerAnalysis: the same message")
    # the dispatcher's OSS client, which mias-admin oss uses too, refuses
    # them by the same rule with the same words
    os.environ["OSS_ACCESS_KEY_ID"] = "AK"
    os.environ["OSS_ACCESS_KEY_SECRET"] = "SK"
    for field, value, code, msg in CASES:
        args = {"endpoint": "http://localhost:9", "bucketName": "studies"}
        args[field] = value
        p = s.admin("oss", "ls", "--endpoint", args["endpoint"], "--bucket",
                    args["bucketName"], check=False)
        want = {"endpoint": "OSS_BAD_ENDPOINT",
                "bucketName": "OSS_INVALID_ARGUMENT"}[field]
        if code == "100009":
            want, msg = "OSS_EGRESS_REFUSED", "the OSS endpoint is " + EGRESS
        t.ok(p.returncode == 1 and ("%s: %s" % (want, msg)) in p.stderr,
             "mias-admin oss ls: %s %s: %s: %s" % (field, value, want, msg),
             p.stderr)
    # the same bodies with a good value are taken by both
    ex = dict(base, studyInstanceUid="18.2", studyType=4,
              statusNotifyCallBackUrl="http://localhost:9/cb")
    r = s.api("POST", "executeAnalysis", ex, token=tok, ns="hosp")
    envelope_ok(t, r, "000000", 200, "executeAnalysis: the good body")
    tr = dict(base, namespace="hosp", ImageUid="img-18-ok",
              securityToken="", analysis="OA",
              resultCallBackUrl="http://localhost:9/r")
    r = s.api("POST", "triggerAnalysis", tr, token=tok, ns="hosp")
    envelope_ok(t, r, "000000", 200, "triggerAnalysis: the good body")
finally:
    s.cleanup(keep=t.failed > 0)

t.done()
