#!/usr/bin/python3
# test_execute.py -- executeAnalysis and health through a real lighttpd with the installed snippet
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, envelope_ok, installed  # noqa: E402

t = TAP()
SECRET = "sk-Very-Secret-Value-0123456789"
STS = "sts-Token-Value-abcdefghijklmnopqrstuvwxyz"


def study(uid="1.2.840.10008.1", **over):
    b = {"studyInstanceUid": uid, "studyType": 4,
         "statusNotifyCallBackUrl": "https://cb.hospital.example/notify",
         "accessKeyId": "AKIDexample", "accessKeySecret": SECRET,
         "securityToken": STS, "endpoint": "oss-cn-beijing.aliyuncs.com",
         "bucketName": "hospital-studies", "key": "knee/2024/0001/",
         "forceAnalysis": False}
    b.update(over)
    return {k: v for k, v in b.items() if v is not KeyError}


def dump_studies(stack):
    """Keys and values of studies.db through Berkeley DB's own tool."""
    for tool in ("db5.3_dump", "db_dump"):
        try:
            p = subprocess.run([tool, "-p", "-h", stack.state, "studies.db"],
                               capture_output=True, text=True)
            if p.returncode == 0:
                return p.stdout
        except FileNotFoundError:
            continue
    return None


s = Stack("execute", engines={
    1: "command = /bin/true\nanalysis = LN\n",
    2: "command = /bin/true\nanalysis = CXR\n",
    4: "command = /bin/true\nanalysis = OA\n"})
try:
    s.init()
    tok_a, secret_a = s.namespace("hospital-a")
    tok_b, _ = s.namespace("hospital-b")
    tok_c, _ = s.namespace("hospital-c", "--callback-host",
                           "cb.hospital-c.example")
    t.ok(secret_a.startswith("whsec_") and len(tok_a) >= 32,
         "namespace add prints token= and signing_secret=whsec_...")
    s.start()

    # --- health --------------------------------------------------------
    r = s.api("GET", "health")
    envelope_ok(t, r, "000000", 200, "health answers 000000", post=False)
    t.eq(r.json and r.json.get("data"), "ok", "health data is \"ok\"")
    r2 = s.api("GET", "health")
    t.ok(r.json and r2.json and
         r.json["requestId"] != r2.json["requestId"],
         "every call gets a fresh requestId")
    envelope_ok(t, s.api("POST", "health", {}), "100007", 405,
                "health refuses POST with 100007/405")

    # --- success and repeat -----------------------------------------------
    A = dict(token=tok_a, ns="hospital-a")
    r = s.api("POST", "executeAnalysis", study(), **A)
    envelope_ok(t, r, "000000", 200, "executeAnalysis accepts a study")
    t.ok(r.json and r.json.get("data") is True, "data is true")
    r = s.api("POST", "executeAnalysis", study(), **A)
    envelope_ok(t, r, "000000", 200, "a repeated study is accepted")
    r = s.api("POST", "executeAnalysis", study(forceAnalysis=True), **A)
    envelope_ok(t, r, "000000", 200,
                "forceAnalysis on a queued study is accepted")
    dump = dump_studies(s)
    if dump is None:
        t.ok(False, "db_dump available to inspect the store")
    else:
        t.ok("QUEUED" in dump and "hospital-a" in dump,
             "the study is stored as QUEUED under its namespace")
        t.ok("\\22run\\22:1" in dump or '"run":1' in dump,
             "the repeats did not start a second run", dump[-400:])
    leaked = []
    for root, _, files in os.walk(s.state):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                data = fh.read()
            for secret in (SECRET, STS, tok_a):
                if secret.encode() in data:
                    leaked.append((f, secret[:6]))
    t.ok(not leaked, "no OSS secret, STS token or tokenId in any store or "
         "log file", leaked)
    r = s.api("POST", "executeAnalysis", study(uid="1543312345678,4567",
              securityToken=""), **A)
    envelope_ok(t, r, "000000", 200,
                "a printable id with a comma and an empty securityToken")
    r = s.api("POST", "executeAnalysis", study(uid="1.2.3", securityToken=None),
              **A)
    envelope_ok(t, r, "000000", 200, "securityToken null is accepted")
    r = s.api("POST", "executeAnalysis", study(uid="1.2.4", studyType=1), **A)
    envelope_ok(t, r, "000000", 200, "studyType 1 with its engine")
    body = study(uid="1.2.5")
    del body["securityToken"], body["forceAnalysis"]
    envelope_ok(t, s.api("POST", "executeAnalysis", body, **A), "000000", 200,
                "optional fields may be absent")
    r = s.api("POST", "executeAnalysis", study(uid="1.2.6"), **A,
              headers={"Content-Type": "application/json"})
    envelope_ok(t, r, "000000", 200, "Content-Type without charset")

    # --- 100002 ---------------------------------------------------------
    def invalid(desc, body, needle, **kw):
        r = s.api("POST", "executeAnalysis", body, **A, **kw)
        ok = envelope_ok(t, r, "100002", 400, desc + ": 100002/400")
        msg = r.json.get("returnMessage", "") if r.json else ""
        t.ok(needle in msg, desc + ": message names the fault",
             "message %r lacks %r" % (msg, needle))
        return ok

    invalid("malformed JSON", '{"studyInstanceUid": "1.2",', "not valid JSON")
    invalid("a JSON array", "[1,2]", "must be a JSON object")
    invalid("an empty body", "", "empty",
            headers={"Content-Type": "application/json"})
    body = study()
    del body["bucketName"]
    invalid("a missing field", body, "bucketName: required field missing")
    invalid("studyType as a string", study(studyType="4"),
            "studyType: must be an integer from 1 to 4")
    invalid("studyType out of range", study(studyType=9),
            "studyType: must be an integer from 1 to 4")
    invalid("an over-long studyInstanceUid", study(uid="1" * 129),
            "studyInstanceUid: longer than 128 bytes")
    invalid("a control character in studyInstanceUid",
            study(uid="1.2\n3"), "studyInstanceUid: must not contain "
            "control characters")
    invalid("forceAnalysis as a string", study(forceAnalysis="yes"),
            "forceAnalysis: must be true or false")
    invalid("an empty accessKeyId", study(accessKeyId=""),
            "accessKeyId: must not be empty")
    invalid("a bad bucket name", study(bucketName="Bad_Bucket"),
            "bucketName:")
    invalid("a malformed endpoint", study(endpoint="oss cn/beijing"),
            "endpoint:")
    invalid("JSON with NaN", '{"studyType": NaN}', "not valid JSON")
    invalid("invalid UTF-8", b'{"studyInstanceUid": "\xff"}',
            "not valid JSON")
    invalid("nesting too deep", "[" * 40 + "]" * 40, "nested deeper")

    # --- 100011 ---------------------------------------------------------
    r = s.api("POST", "executeAnalysis", study(studyType=3), **A)
    envelope_ok(t, r, "100011", 400, "studyType without an engine: 100011")

    # --- 100009 ---------------------------------------------------------
    def refused(desc, **over):
        r = s.api("POST", "executeAnalysis", study(uid="9.9", **over), **A)
        envelope_ok(t, r, "100009", 400, desc + ": 100009/400")

    refused("an ftp callback", statusNotifyCallBackUrl="ftp://cb.example/x")
    refused("a loopback callback",
            statusNotifyCallBackUrl="http://127.0.0.1:8080/cb")
    refused("a decimal loopback callback",
            statusNotifyCallBackUrl="http://2130706433/cb")
    refused("a metadata callback",
            statusNotifyCallBackUrl="http://169.254.169.254/latest")
    refused("an IPv6 loopback callback",
            statusNotifyCallBackUrl="http://[::1]/cb")
    refused("a localhost callback",
            statusNotifyCallBackUrl="http://localhost/cb")
    refused("a private OSS endpoint", endpoint="10.1.2.3")
    refused("a loopback OSS endpoint with scheme and port",
            endpoint="http://127.0.0.1:9000")
    C = dict(token=tok_c, ns="hospital-c")
    r = s.api("POST", "executeAnalysis", study(
        statusNotifyCallBackUrl="https://other.example/cb"), **C)
    envelope_ok(t, r, "100009", 400,
                "a host outside the namespace's callback hosts: 100009")
    r = s.api("POST", "executeAnalysis", study(
        statusNotifyCallBackUrl="https://CB.hospital-c.example/cb"), **C)
    envelope_ok(t, r, "000000", 200, "the namespace's callback host passes")

    # --- 100003 ---------------------------------------------------------
    def unauth(desc, **kw):
        r = s.api("POST", "executeAnalysis", study(), **kw)
        envelope_ok(t, r, "100003", 401, desc + ": 100003/401")
        return r

    unauth("no tokenId", ns="hospital-a")
    unauth("no namespace header", token=tok_a)
    r = unauth("a wrong token", token="x" * 43, ns="hospital-a")
    t.ok("x" * 20 not in r.raw.decode(), "the token is not echoed")
    unauth("the token of another namespace", token=tok_b, ns="hospital-a")
    unauth("an unknown namespace", token=tok_a, ns="nobody")
    s.admin("namespace", "disable", "hospital-b")
    unauth("a disabled namespace", token=tok_b, ns="hospital-b")
    s.admin("namespace", "enable", "hospital-b")
    envelope_ok(t, s.api("POST", "executeAnalysis", study(), token=tok_b,
                         ns="hospital-b"), "000000", 200,
                "a re-enabled namespace works again")
    out = s.admin("namespace", "rotate", "hospital-b").stdout
    new_b = out.strip().split("=", 1)[1]
    unauth("the old token after rotate", token=tok_b, ns="hospital-b")
    envelope_ok(t, s.api("POST", "executeAnalysis", study(), token=new_b,
                         ns="hospital-b"), "000000", 200,
                "the rotated token works")

    # --- 100007 / 100008 ------------------------------------------------------
    r = s.api("GET", "executeAnalysis", **A)
    envelope_ok(t, r, "100007", 405, "GET executeAnalysis: 100007/405",
                post=False)
    t.ok(r.headers.get("allow") is not None, "405 carries Allow")
    r = s.api("PUT", "executeAnalysis", "{}", **A,
              headers={"Content-Type": "application/json"})
    t.ok(r.code == "100007" and r.status == 405, "PUT: 100007/405", r)
    r = s.api("POST", "executeAnalysis", "studyType=4", **A,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    envelope_ok(t, r, "100007", 415, "a form body: 100007/415")
    r = s.api("POST", "executeAnalysis", "{}", **A,
              headers={"Content-Type": "application/json; charset=latin1"})
    envelope_ok(t, r, "100007", 415, "a non-UTF-8 charset: 100007/415")
    big = study(key="k" * 1000)
    big["padding"] = "p" * 5000
    r = s.api("POST", "executeAnalysis", big, **A)
    envelope_ok(t, r, "100008", 413, "a body over max_body_bytes: 100008/413")
    envelope_ok(t, s.api("POST", "executeAnalysis", big, headers={
        "Content-Type": "application/json"}), "100008", 413,
        "the size is checked before authentication")

    # --- no secret in the web server's log -----------------------------------
    log = s.log()
    t.ok(SECRET not in log and STS not in log and tok_a not in log,
         "no secret in lighttpd's error log")

    # --- namespace list -------------------------------------------------------
    out = s.admin("namespace", "list").stdout
    t.ok("hospital-a\tenabled" in out and "cb.hospital-c.example" in out and
         tok_a not in out, "namespace list shows state and callback hosts, "
         "never tokens", out)

    # --- programs refuse a state directory owned by someone else -----------
    if os.geteuid() == 0:
        st = os.stat(s.state)
        os.chown(s.state, 65534, 65534)      # nobody
        p = subprocess.run([installed("sbin", "mias-dispatcher"), "-f", "-c",
                            s.conf], capture_output=True, text=True,
                           timeout=20)
        t.ok(p.returncode != 0 and "belongs to nobody" in p.stderr and
             "runuser -u nobody -- mias-dispatcher" in p.stderr and
             "sudo" not in p.stderr,
             "mias-dispatcher refuses a state directory it does not own, "
             "saying to run it with runuser", p.stderr)
        # mias-admin run as root becomes the directory's owner (nobody),
        # who cannot read this key file (root's, 0600)
        mode = os.stat(s.dir).st_mode
        os.chmod(s.dir, 0o711)
        p = s.admin("namespace", "list", check=False)
        os.chmod(s.dir, mode)
        t.ok(p.returncode != 0 and "Permission denied" in p.stderr and
             "master.key" in p.stderr,
             "mias-admin as root acts as the owner of the state directory",
             p.stderr)
        os.chown(s.state, st.st_uid, st.st_gid)

    # --- plain CGI ------------------------------------------------------------
    env = {"REQUEST_METHOD": "GET", "MIAS_CONF": s.conf, "PATH": "/usr/bin"}
    p = subprocess.run([installed("libexec", "mias", "health.fcgi")],
                       env=env, capture_output=True, stdin=subprocess.PIPE)
    out = p.stdout.decode()
    t.ok(p.returncode == 0 and out.startswith("Status: 200 OK\r\n") and
         '"returnCode":"000000"' in out, "health.fcgi works as plain CGI",
         out + p.stderr.decode())
finally:
    s.cleanup(keep=t.failed > 0)

# --- a store that does not open: 100001 -------------------------------------
s = Stack("broken", state_dir="/nonexistent/mias-state")
try:
    with open(os.path.join(s.dir, "master.key"), "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(os.urandom(32))
    s.start()
    r = s.api("GET", "health")
    envelope_ok(t, r, "100001", 500, "health answers 100001 when the store "
                "does not open", post=False)
    r = s.api("POST", "executeAnalysis", study(), token="t" * 43, ns="x")
    envelope_ok(t, r, "100001", 500, "executeAnalysis answers 100001 too")
    t.ok("/nonexistent" not in r.raw.decode(),
         "the reason stays in the log, not in the answer")
    t.ok("/nonexistent/mias-state" in s.log(),
         "the reason is in the web server's error log")
finally:
    s.cleanup(keep=t.failed > 0)
t.done()
