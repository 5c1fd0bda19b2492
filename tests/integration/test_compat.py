#!/usr/bin/python3
# test_compat.py -- a browser client of the original platform, replayed with curl: CORS, legacy names, imported tokens
"""
The request sequence of the deployed jQuery client examined in issue 8,
sent with curl exactly as a browser sends it: preflights without tokenId
or namespace, a POST whose studyInstanceUid holds a comma and whose key
names one JPEG, polling GETs with a JSON Content-Type and no body, findings
read as data.boxDataList[i].classLevel, and a token compiled into the page
(imported with --token-file).
"""
import base64
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, FIXTURES, wait_for  # noqa: E402

sys.path.insert(0, FIXTURES)
from test_fixtures import JPEG_24x16  # noqa: E402

t = TAP()
ORIGIN = "https://pacs.hospital.example"
EVIL = "https://evil.example"
UID = "1543312345678,4567"


def curl(stack, method, path, headers=(), data=None):
    """One request with curl; returns (status, headers dict, body)."""
    cmd = ["curl", "-s", "-i", "-X", method, stack.base + path]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", data]
    out = subprocess.run(cmd, capture_output=True).stdout.decode("utf-8",
                                                                 "replace")
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return status, hdrs, body


def preflight(stack, path, origin, method):
    return curl(stack, "OPTIONS", path, [
        "Origin: " + origin, "Access-Control-Request-Method: " + method,
        "Access-Control-Request-Headers: content-type,namespace,tokenid"])


s = Stack("compat", engines={4: "command = /usr/bin/python3 %s/cmd_engine.py "
                                "--type 4 {input}\nanalysis = OA\n" % FIXTURES},
          egress="allow_hosts = 127.0.0.1")
try:
    s.init()
    # the token compiled into the deployed page: short, so --weak-token
    tokfile = os.path.join(s.dir, "token")
    with open(tokfile, "w") as f:
        f.write("hospital2019\n")
    p = s.admin("namespace", "add", "pacs", "--origin", ORIGIN,
                "--token-file", tokfile, check=False)
    t.ok(p.returncode != 0 and "--weak-token" in p.stderr,
         "a short imported token needs --weak-token", p.stderr)
    out = s.admin("namespace", "add", "pacs", "--origin", ORIGIN,
                  "--token-file", tokfile, "--weak-token").stdout
    t.ok("token=hospital2019" in out, "the imported token is the one printed")
    other_tok, _ = s.namespace("other", "--origin", "https://other.example")
    lst = s.admin("namespace", "list").stdout
    t.ok(any(l.startswith("pacs\tenabled\tweak") for l in lst.splitlines()),
         "namespace list marks the imported token weak", lst)

    root = os.path.join(s.dir, "oss")
    os.makedirs(os.path.join(root, "xray", "knee", "2019"))
    with open(os.path.join(root, "xray", "knee", "2019", "0001.jpg"),
              "wb") as f:
        f.write(JPEG_24x16)
    creds = os.path.join(s.dir, "creds.json")
    with open(creds, "w") as f:
        json.dump({"keys": {"AKIDCOMPAT": "compat-secret"}}, f)
    oss = s.fixture("oss_server.py", "--root", root, "--creds", creds)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    # --- preflights -------------------------------------------------------
    for name, method in (("executeAnalysis", "POST"),
                         ("getAnalysisResult", "GET")):
        st, h, _ = preflight(s, "/dicom/api/" + name, ORIGIN, method)
        t.ok(st == 204 and h.get("access-control-allow-origin") == [ORIGIN],
             "preflight of %s from an allowed origin: 204 with that origin"
             % name, (st, h))
        allow_h = ",".join(h.get("access-control-allow-headers", [])).lower()
        t.ok(all(x in allow_h for x in ("tokenid", "namespace",
                                        "content-type")) and
             method in ",".join(h.get("access-control-allow-methods", [])) and
             h.get("access-control-max-age") and "Origin" in
             ",".join(h.get("vary", [])),
             "preflight of %s: methods, headers, max-age, Vary" % name, h)
    st, h, _ = preflight(s, "/dicom/api/executeAnalysis", EVIL, "POST")
    t.ok(not any(k.startswith("access-control-") for k in h),
         "preflight from an origin no namespace allows: no CORS headers", h)
    t.ok(all("*" not in v for k, vs in h.items() for v in vs
             if k.startswith("access-control-allow-origin")),
         "never Access-Control-Allow-Origin: *")

    # --- the POST, as jQuery sends it -------------------------------------
    body = json.dumps({
        "studyInstanceUid": UID, "studyType": 4,
        "statusNotifyCallBackUrl": sink.base + "/notify",
        "accessKeyId": "AKIDCOMPAT", "accessKeySecret": "compat-secret",
        "securityToken": "", "endpoint": "http://127.0.0.1:%d" % oss.port,
        "bucketName": "xray", "key": "knee/2019/0001.jpg",
        "forceAnalysis": True})
    hdrs = ["Origin: " + ORIGIN, "Content-Type: application/json",
            "tokenId: hospital2019", "namespace: pacs"]
    st, h, b = curl(s, "POST", "/dicom/api/executeAnalysis", hdrs, body)
    t.ok(st == 200 and '"returnCode":"000000"' in b,
         "executeAnalysis with a comma id and one JPEG key", b)
    t.ok(h.get("access-control-allow-origin") == [ORIGIN],
         "the real response carries the allowed origin", h)
    st, h, b = curl(s, "POST", "/dicom/api/executeAnalysis",
                    ["Origin: https://other.example",
                     "Content-Type: application/json",
                     "tokenId: hospital2019", "namespace: pacs"], body)
    t.ok("access-control-allow-origin" not in h,
         "an origin allowed only for another namespace gets no "
         "Access-Control-Allow-Origin", h)

    # --- polling, the way the page does it --------------------------------
    q = "/dicom/api/getAnalysisResult?studyInstanceUid=%s&studyType=4" % \
        UID.replace(",", "%2C")
    ghdrs = ["Origin: " + ORIGIN, "Content-Type: application/json",
             "tokenId: hospital2019", "namespace: pacs"]
    polls = []

    def poll():
        st, h, b = curl(s, "GET", q, ghdrs)
        polls.append(b)
        try:
            j = json.loads(b)
        except ValueError:
            return None
        return (st, h, j) if j.get("returnCode") == "000000" else None

    got = wait_for(poll, 60, 0.5)
    t.ok(got is not None, "polling with a JSON Content-Type and no body "
         "reaches 000000", polls[-3:])
    if got:
        st, h, j = got
        t.ok(h.get("access-control-allow-origin") == [ORIGIN],
             "the poll's response carries the allowed origin")
        d = j["data"]
        bl = d.get("boxDataList") or []
        t.ok(len(bl) == 1 and "classLevel" in bl[0] and
             len(bl[0]["coordinates"]) == 4 and "class" not in bl[0],
             "data.boxDataList[i].coordinates and .classLevel", d)
        t.ok(len(d.get("boxes", [])) == 1 and
             d["boxes"][0]["class"] == bl[0]["classLevel"] and
             d["boxes"][0]["boxUid"] == bl[0]["boxUid"],
             "data.boxes carries the same items with class", d)
        t.eq(d.get("studyInstanceUid"), UID, "the comma id comes back whole")

    # --- origins changed with namespace set --------------------------------
    s.admin("namespace", "set", "other", "--origin", "https://new.example")
    st, h, _ = preflight(s, "/dicom/api/executeAnalysis",
                         "https://other.example", "POST")
    t.ok("access-control-allow-origin" not in h,
         "namespace set: an origin taken away is no longer allowed", h)
    st, h, _ = preflight(s, "/dicom/api/executeAnalysis",
                         "https://new.example", "POST")
    t.ok(h.get("access-control-allow-origin") == ["https://new.example"],
         "namespace set: the new origin is allowed", h)
    st, h, _ = preflight(s, "/dicom/api/executeAnalysis",
                         ORIGIN + ".evil", "POST")
    t.ok("access-control-allow-origin" not in h,
         "an origin that merely starts with an allowed one is refused", h)

    # --- the URL prefix as one setting ------------------------------------
    s2 = Stack("compat-root", url_prefix="", engines={
        4: "command = /bin/true\nanalysis = OA\n"})
    try:
        s2.init()
        s2.start()
        r = s2.request("GET", "/health")
        t.ok(r.status == 200 and r.code == "000000",
             "with var.mias_url_prefix = \"\" the endpoints are at the root",
             r)
        r = s2.request("GET", "/dicom/api/health")
        t.ok(r.status == 404, "... and not under /dicom/api", r)
    finally:
        s2.cleanup(keep=t.failed > 0)
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
