#!/usr/bin/python3
# test_limits.py -- [limits]: failed authentications per address, requests per second, queued studies
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, envelope_ok  # noqa: E402

t = TAP()


def study(uid):
    return {"studyInstanceUid": uid, "studyType": 4,
            "statusNotifyCallBackUrl": "https://cb.hospital.example/n",
            "accessKeyId": "AK", "accessKeySecret": "SK",
            "endpoint": "oss-cn-beijing.aliyuncs.com",
            "bucketName": "hospital-studies", "key": "knee/%s/" % uid}


# --- failed authentications from one address ------------------------------
s = Stack("limits-auth", server_extra="", egress="")
try:
    with open(s.conf, "a") as f:
        f.write("[limits]\nauth_failures_per_minute = 3\n")
    s.init()
    tok, _ = s.namespace("hosp")
    tok_b, _ = s.namespace("clinic")
    s.start()
    # the counts are per minute: start early enough in one that this
    # section (fifteen requests) falls in it
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    codes = [s.api("POST", "executeAnalysis", study("1.1"), token="x" * 43,
                   ns="hosp").code for _ in range(3)]
    t.eq(codes, ["100003"] * 3, "three wrong tokens: 100003 each")
    r = s.api("POST", "executeAnalysis", study("1.1"), token="x" * 43,
              ns="hosp")
    envelope_ok(t, r, "100010", 429, "the fourth within the minute: "
                "100010/429")
    ra = r.headers.get("retry-after", "")
    t.ok(ra.isdigit() and 0 < int(ra) <= 60, "with Retry-After in seconds",
         r.headers)
    r = s.api("POST", "executeAnalysis", study("1.1"), token=tok, ns="hosp")
    t.eq(r.code, "100010", "even the right token waits out the block")

    # buckets per (address, namespace): one tenant behind a shared address
    # (a hospital's NAT) does not lock out the others
    r = s.api("POST", "executeAnalysis", study("1.2"), token=tok_b,
              ns="clinic")
    t.eq(r.code, "000000", "another namespace's valid token from the same "
         "address is served")
    r = s.api("POST", "executeAnalysis", study("1.2"), token="y" * 43,
              ns="clinic")
    t.eq(r.code, "100003", "and its wrong tokens count in its own bucket")
    # names that do not exist (or are malformed) share one bucket per
    # address, so made-up names cannot fill the table
    codes = [s.api("POST", "executeAnalysis", study("1.3"), token="x" * 43,
                   ns="ghost-%d" % i).code for i in (1, 2)]
    codes.append(s.api("POST", "executeAnalysis", study("1.3"),
                       token="x" * 43, ns="bad name!").code)
    t.eq(codes, ["100003"] * 3, "three failures naming unknown namespaces "
         "(two names, one malformed)")
    codes = [s.api("POST", "executeAnalysis", study("1.3"), token="x" * 43,
                   ns=n).code for n in ("ghost-3", "bad name!")]
    t.eq(codes, ["100010"] * 2, "then any unknown name from the address is "
         "refused: one shared bucket")
    r = s.api("POST", "executeAnalysis", study("1.4"), token=tok_b,
              ns="clinic")
    t.eq(r.code, "000000", "which refuses no known namespace's requests")
    r = s.api("POST", "executeAnalysis", study("1.1"), token=tok, ns="hosp")
    t.eq(r.code, "100010", "the namespace guessed at stays refused")
finally:
    s.cleanup(keep=t.failed > 0)

# --- requests per second and queued studies --------------------------------
s = Stack("limits-rate")
try:
    with open(s.conf, "a") as f:
        f.write("[limits]\nrequests_per_second = 5\nqueued_studies = 2\n")
    s.init()
    tok, _ = s.namespace("hosp")
    tok2, _ = s.namespace("other")
    s.start()
    got = [s.api("GET", "getAnalysisResult", token=tok, ns="hosp",
                 query="?studyInstanceUid=9&studyType=4") for _ in range(12)]
    over = [r for r in got if r.code == "100010"]
    t.ok(len(over) >= 1 and all(r.status == 429 and
                                r.headers.get("retry-after") == "1"
                                for r in over),
         "more than 5 requests in a second: 100010 with Retry-After: 1",
         [r.code for r in got])
    t.ok(got[0].code == "100004", "the first ones are served", got[0])
    r = s.api("GET", "getAnalysisResult", token=tok2, ns="other",
              query="?studyInstanceUid=9&studyType=4")
    t.eq(r.code, "100004", "another namespace has its own budget")

    import time
    time.sleep(1.1)
    codes = []
    for uid in ("2.1", "2.2", "2.3"):
        codes.append(s.api("POST", "executeAnalysis", study(uid), token=tok,
                           ns="hosp").code)
        time.sleep(0.25)
    t.eq(codes, ["000000", "000000", "100010"],
         "queued_studies = 2: the third queued study is refused with 100010")
    r = s.api("POST", "executeAnalysis", study("2.1"), token=tok2,
              ns="other")
    t.eq(r.code, "000000", "the other namespace still submits")

    # --- the audit trail ---------------------------------------------------
    import json
    s.admin("namespace", "rotate", "other")
    out = s.admin("audit", "--namespace", "hosp", "--json").stdout
    log = json.loads(out)
    acts = [(e["action"], e["outcome"], e["from"]) for e in log]
    t.ok(("namespace add", "ok", "mias-admin") in acts,
         "audit: the admin's namespace add", acts)
    t.ok(sum(1 for a in acts if a[0] == "executeAnalysis" and
             a[1] == "000000" and a[2] == "127.0.0.1") == 2 and
         ("executeAnalysis", "100010", "127.0.0.1") in acts,
         "audit: each submission, accepted or refused, with the address",
         acts)
    t.ok(sum(1 for a in acts if a[0] == "getAnalysisResult") == 12,
         "audit: every read of results", acts)
    t.ok(all(e["ns"] == "hosp" for e in log), "audit: --namespace filters")
    t.ok(log == sorted(log, key=lambda e: e["at"]), "audit: oldest first")
    everything = s.admin("audit").stdout
    t.ok("namespace rotate" in everything and tok not in everything and
         tok2 not in everything and "SK" not in everything.split(),
         "audit: admin actions of all namespaces, and never a token")
    t.eq(json.loads(s.admin("audit", "--since", "2999-01-01",
                            "--json").stdout), [],
         "audit: --since in the future: nothing")
    p = s.admin("audit", "--since", "yesterday-ish", check=False)
    t.ok(p.returncode == 2, "audit: a bad time is a usage error")
finally:
    s.cleanup(keep=t.failed > 0)

# --- fair shares of an engine between namespaces ----------------------------
import json
import subprocess
import time
from harness import FIXTURES, wait_for  # noqa: E402

s = Stack("limits-fair", egress="allow_hosts = 127.0.0.1", engines={
    4: "command = /usr/bin/python3 %s/cmd_engine.py --type 4 --mode slow --delay 1 "
       "{input}\nanalysis = OA\nconcurrency = 2\ntimeout = 30\n" % FIXTURES})
try:
    s.init()
    tok_a, _ = s.namespace("big")
    tok_b, _ = s.namespace("small")
    root = os.path.join(s.dir, "oss")
    for prefix, n in (("a/study", 7), ("b/study", 1)):
        subprocess.run(["/usr/bin/python3",
                        os.path.join(FIXTURES, "make_dicom_bucket.py"),
                        "--root", root, "--bucket", "studies", "--prefix",
                        prefix, "--count", str(n)], check=True,
                       capture_output=True)
    creds = os.path.join(s.dir, "creds.json")
    with open(creds, "w") as f:
        json.dump({"keys": {"AKF": "SKF"}}, f)
    oss = s.fixture("oss_server.py", "--root", root, "--creds", creds)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    def submit(tok, ns, prefix):
        return s.api("POST", "executeAnalysis", {
            "studyInstanceUid": "1.1", "studyType": 4,
            "statusNotifyCallBackUrl": sink.base + "/" + ns,
            "accessKeyId": "AKF", "accessKeySecret": "SKF",
            "endpoint": "http://127.0.0.1:%d" % oss.port,
            "bucketName": "studies", "key": prefix + "/"}, token=tok,
            ns=ns).code

    t.eq(submit(tok_a, "big", "a/study"), "000000", "a 7-image study")
    time.sleep(0.5)
    t.eq(submit(tok_b, "small", "b/study"), "000000",
         "then a 1-image study of another namespace")
    got = wait_for(lambda: len(sink.call("GET", "/__control__/received"))
                   >= 2, 60)
    recs = sink.call("GET", "/__control__/received")
    order = [r["path"] for r in recs]
    ok = [json.loads(r["body"]).get("status") == 0 for r in recs]
    t.ok(got and all(ok), "both studies succeeded (statuses %s)" % ok)
    t.ok(got and order[0] == "/small",
         "the small study is not stuck behind the big one's images "
         "(callbacks in order %s)" % order, s.dispatcher_log()[-2000:])
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
