#!/usr/bin/python3
# test_apache.py -- the whole study flow through Apache 2.4 (mod_fcgid, then mod_proxy_fcgi + spawn-fcgi) with the installed snippets, as www-data
"""
Starts Apache 2.4 on a free loopback port with a minimal configuration of
its own (ServerRoot in a temporary directory, only the modules the snippet
needs) that includes the installed share/mias/apache/mias.conf exactly as
an administrator would, with MIAS_CONF pointed at the test's
configuration.  Apache runs the responders as www-data; mias-admin and
mias-dispatcher run as www-data too, so the state directory, the key file
and every Berkeley DB file belong to www-data, as on a real host.  Then
the same with share/mias/apache/mias-proxy-fcgi.conf: mod_proxy_fcgi and
responders started by spawn-fcgi on Unix sockets, as apache/README.md
says.

Needs root (to start Apache and to become www-data) and Debian's apache2-bin
and libapache2-mod-fcgid (and spawn-fcgi for the second variant); skipped
otherwise.  When a snippet is not installed yet, it is made from its .in
file in apache/ with the same substitutions as Makefile.am's edit rule.

MIAS_TEST_KEEP=1 keeps the temporary directory.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Stack, FakeOss, PREFIX, SRCDIR,  # noqa: E402
                     Response, cmd_engine_conf, delivered, envelope_ok,
                     installed, sink_received, verify_webhooks, wait_for,
                     wait_port)
import ops_checks  # noqa: E402
import test_findings  # noqa: E402  (its scenario, run under Apache too)


class PrefixTAP(TAP):
    """TAP whose descriptions name the variant under test."""
    prefix = ""

    def ok(self, cond, desc, diag=None):
        return TAP.ok(self, cond, self.prefix + desc, diag)


t = PrefixTAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
USER = "www-data"
APACHE = os.environ.get("APACHE2") or shutil.which("apache2") or \
    "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
MODULES = (("mpm_event_module", "mod_mpm_event.so"),
           ("authz_core_module", "mod_authz_core.so"),
           ("alias_module", "mod_alias.so"),
           ("fcgid_module", "mod_fcgid.so"))
PROXY_MODULES = (("mpm_event_module", "mod_mpm_event.so"),
                 ("authz_core_module", "mod_authz_core.so"),
                 ("alias_module", "mod_alias.so"),
                 ("proxy_module", "mod_proxy.so"),
                 ("proxy_fcgi_module", "mod_proxy_fcgi.so"))
ENDPOINTS = ("executeAnalysis", "getAnalysisResult", "submitAnalysisFeedback",
             "triggerAnalysis", "algorithmResult", "health", "listAnalyses",
             "cancelAnalysis", "redeliverCallbacks", "metrics")
SPAWN_FCGI = shutil.which("spawn-fcgi")
MAX_BODY = 4096             # max_body_bytes of the test's mias.conf
MAX_REQUEST = 65536         # MIAS_MAX_REQUEST_LEN defined for the snippet

if os.geteuid() != 0:
    t.skip_all("not root: Apache runs the responders as www-data")
if not os.access(APACHE, os.X_OK):
    t.skip_all("no apache2 (apt-get install apache2-bin libapache2-mod-fcgid)")
for _, so in MODULES:
    if not os.path.exists(os.path.join(MODDIR, so)):
        t.skip_all("no %s (apt-get install apache2-bin libapache2-mod-fcgid)"
                   % so)
try:
    PW = pwd.getpwnam(USER)
except KeyError:
    t.skip_all("no user %s" % USER)
SETPRIV = shutil.which("setpriv")
if SETPRIV is None:
    t.skip_all("no setpriv (util-linux)")
if not PREFIX or not os.path.exists(installed("bin", "mias-admin")):
    t.skip_all("MIAS_PREFIX does not hold an installed mias")

# setpriv execs the program itself, so a Popen's pid is the program's.
AS_USER = [SETPRIV, "--reuid=%d" % PW.pw_uid, "--regid=%d" % PW.pw_gid,
           "--init-groups", "--reset-env", "--"]


def snippet(workdir, name="mias.conf"):
    """The installed Apache snippet, or one made like `make install`
    would (the tree under MIAS_PREFIX has the layout of tests/inst)."""
    path = installed("share", "mias", "apache", name)
    if os.path.exists(path):
        return path, False
    subst = {"pkglibexecdir": installed("libexec", "mias"),
             "sysconfdir": installed("etc"),
             "localstatedir": installed("var"),
             "runstatedir": installed("var", "run"),
             "bindir": installed("bin"),
             "sbindir": installed("sbin"),
             "pkgdatadir": installed("share", "mias")}
    with open(os.path.join(SRCDIR, "apache", name + ".in")) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, v)
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path, True


def chown_user(path):
    os.chown(path, PW.pw_uid, PW.pw_gid)


class ApacheStack(Stack):
    """A Stack whose web server is Apache, and whose programs run as
    www-data.  proxy: mod_proxy_fcgi and responders started with
    spawn-fcgi (mias-proxy-fcgi.conf) instead of mod_fcgid (mias.conf)."""

    def __init__(self, name, proxy=False, **kw):
        Stack.__init__(self, name, **kw)
        self.user = USER
        self.apache = None
        self.proxy = proxy
        self.spawned = []
        # www-data creates the key file and the state directory here
        chown_user(self.dir)
        os.chmod(self.dir, 0o755)
        os.chmod(self.conf, 0o644)

    def admin(self, *args, check=True, input=None):
        p = subprocess.run(AS_USER + [installed("bin", "mias-admin"), "-c",
                                      self.conf] + list(args),
                           capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise RuntimeError("mias-admin %s: %s"
                               % (" ".join(args), p.stderr))
        return p

    def start(self):
        root = os.path.join(self.dir, "apache")
        run = os.path.join(root, "run")
        www = os.path.join(root, "www")
        for d in (root, run, www):
            os.makedirs(d, exist_ok=True)
        self.snippet, self.generated = snippet(
            root, "mias-proxy-fcgi.conf" if self.proxy else "mias.conf")
        self.errorlog = os.path.join(self.dir, "apache-error.log")
        self.httpd_conf = os.path.join(root, "httpd.conf")
        loads = "".join("LoadModule %s %s\n" % (m, os.path.join(MODDIR, so))
                        for m, so in (PROXY_MODULES if self.proxy
                                      else MODULES))
        if self.proxy:
            local = 'Define MIAS_SOCKET_DIR "%s"\n' % self.spawn()
        else:
            local = ('FcgidIPCDir "{run}/fcgid"\n'
                     'FcgidProcessTableFile "{run}/fcgid_shm"\n\n'
                     'Define MIAS_CONF "{conf}"\n'.format(run=run,
                                                          conf=self.conf))
        text = """# test_apache.py: a private Apache for one test
ServerRoot "{root}"
DefaultRuntimeDir "{run}"
PidFile "{run}/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
{loads}
User {user}
Group {user}
StartServers 1
ErrorLog "{errorlog}"
LogLevel warn
DocumentRoot "{www}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>

# what an administrator writes to change the snippet's defaults
{local}Define MIAS_MAX_REQUEST_LEN {maxreq}
Include "{snippet}"
"""
        with open(self.httpd_conf, "w") as f:
            f.write(text.format(root=root, run=run, www=www, port=self.port,
                                loads=loads, user=USER,
                                errorlog=self.errorlog, local=local,
                                maxreq=MAX_REQUEST, snippet=self.snippet))
        p = subprocess.run([APACHE, "-t", "-f", self.httpd_conf],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("apache2 -t: " + p.stdout + p.stderr)
        self.apache = subprocess.Popen(
            [APACHE, "-f", self.httpd_conf, "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "apache.out"), "w"),
            start_new_session=True)
        if not wait_port(self.port):
            raise RuntimeError("apache did not start: see %s" % self.dir)
        return self

    def spawn(self):
        """One responder per endpoint, started by spawn-fcgi as the
        README says (-n: in the foreground, so that we hold its pid);
        the socket directory."""
        sockdir = os.path.join(self.dir, "sock")
        os.makedirs(sockdir, exist_ok=True)
        chown_user(sockdir)
        out = open(os.path.join(self.dir, "responders.log"), "a")
        for e in ENDPOINTS:
            sock = os.path.join(sockdir, e + ".sock")
            self.spawned.append(subprocess.Popen(
                [SPAWN_FCGI, "-n", "-s", sock, "-M", "0660", "-u", USER,
                 "-U", USER, "-G", USER, "--",
                 installed("libexec", "mias", e + ".fcgi")],
                env={"MIAS_CONF": self.conf, "PATH": "/usr/bin:/bin"},
                stdout=out, stderr=out, start_new_session=True))
        for e in ENDPOINTS:
            sock = os.path.join(sockdir, e + ".sock")
            wait_for(lambda: os.path.exists(sock), 10, 0.02)
        return sockdir

    def stop(self):
        p, self.apache = self.apache, None
        if p is not None:
            try:
                p.send_signal(signal.SIGTERM)     # apache2 -k stop
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            except ProcessLookupError:
                pass
        for p in self.spawned:
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.spawned = []

    def start_dispatcher(self):
        self.displog = os.path.join(self.dir, "dispatcher.log")
        self.dispatcher = subprocess.Popen(
            AS_USER + [installed("sbin", "mias-dispatcher"), "-f", "-d",
                       "-c", self.conf], stdout=subprocess.DEVNULL,
            stderr=open(self.displog, "a"), start_new_session=True)
        sock = os.path.join(self.state, "dispatcher.sock")
        wait_for(lambda: os.path.exists(sock), 10, 0.02)
        return self.dispatcher

    def log(self):
        text = ""
        for name in ("apache-error.log", "apache.out", "responders.log"):
            try:
                with open(os.path.join(self.dir, name),
                          errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def ours(self):
        """Processes still running that this stack started: its Apache
        (its configuration file on the command line) or a responder or
        dispatcher with its configuration (MIAS_CONF or -c)."""
        found = []
        me = os.getpid()
        needle_env = ("MIAS_CONF=" + self.conf).encode() + b"\0"
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = b"\0" + f.read()
                with open("/proc/%s/stat" % pid) as f:
                    if f.read().split(") ")[-1][:1] == "Z":
                        continue
            except OSError:
                continue
            if self.dir.encode() in cmd or b"\0" + needle_env in env:
                found.append((int(pid), cmd.replace(b"\0", b" ").decode(
                    errors="replace")))
        return found


def signature_ok(rec, secret):
    """The Standard Webhooks signature of a sink record, checked here."""
    try:
        key = base64.b64decode(secret[len("whsec_"):])
        msg = ("%s.%s." % (rec["webhook_id"], rec["webhook_timestamp"])
               ).encode() + base64.b64decode(rec["body_base64"])
        want = base64.b64encode(hmac.new(key, msg, hashlib.sha256)
                                .digest()).decode()
        return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want)
                   for s in rec["webhook_signature"].split())
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def main():
    variants = [("mod_fcgid", False)]
    missing = [so for _, so in PROXY_MODULES
               if not os.path.exists(os.path.join(MODDIR, so))]
    if SPAWN_FCGI is None or missing:
        t.diag("mod_proxy_fcgi variant skipped: needs spawn-fcgi and %s"
               % ", ".join(so for _, so in PROXY_MODULES))
    else:
        variants.append(("mod_proxy_fcgi", True))
    for label, proxy, flow in [(label, proxy, flow) for label, proxy in
                               variants for flow in ("flow", "findings")]:
        t.prefix = label + ": " + ("" if flow == "flow" else flow + ": ")
        s = ApacheStack("apache-" + label, proxy=proxy, max_body=MAX_BODY,
                        egress="allow_hosts = 127.0.0.1",
                        engines={4: cmd_engine_conf(4, "OA")})
        ops_checks.enable_metrics(s, owner=(PW.pw_uid, PW.pw_gid))
        failed = t.failed
        try:
            if flow == "flow":
                run(s)
            else:
                # test_findings.py's scenario: push results by ImageUid,
                # an engine's second post
                test_findings.scenario(t, s)
        except Exception:
            t.ok(False, "the flow runs to its end", traceback.format_exc())
        finally:
            s.cleanup(keep=KEEP or t.failed > failed)
            # nothing of ours may be left running
            left = wait_for(lambda: not s.ours(), 15, 0.2)
            rest = s.ours()
            t.ok(left is not None and not rest, "Apache, the responders "
                 "and the dispatcher are all stopped", rest)
            for pid, _ in rest:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if t.failed > failed:
                t.diag("kept %s" % s.dir)
    t.done()


def run(s):
    s.init()
    st = os.stat(s.state)
    key = os.stat(os.path.join(s.dir, "master.key"))
    t.ok(st.st_uid == PW.pw_uid and key.st_uid == PW.pw_uid and
         (key.st_mode & 0o777) == 0o600 and (st.st_mode & 0o077) == 0,
         "mias-admin init as www-data: state directory and key file "
         "owned by www-data, private")
    tok, secret = s.namespace("hosp")
    tok_b, _ = s.namespace("hosp-b")
    s.start()
    if s.generated:
        t.diag("%s made from its .in file (not installed)" % s.snippet)
    A = dict(token=tok, ns="hosp")

    # --- health and the mapping ----------------------------------------------
    r = s.api("GET", "health")
    envelope_ok(t, r, "000000", 200, "health through Apache: 000000",
                post=False)
    r2 = s.api("GET", "health")
    t.ok(r.json and r2.json and r.json["requestId"] != r2.json["requestId"],
         "a fresh requestId per call")
    r = s.api("POST", "health", {})
    envelope_ok(t, r, "100007", 405, "POST health: 100007/405")
    t.ok("GET" in r.headers.get("allow", ""), "the 405 carries Allow",
         r.headers)
    for path in ("/dicom/api/health.fcgi", "/dicom/api/nothing",
                 "/dicom/api/health/extra"):
        r = s.request("GET", path)
        t.ok(r.status in (403, 404) and r.code is None,
             "%s is not a responder (HTTP %d)" % (path, r.status))
    r = s.request("GET", "/dicom/api/executeAnalysis.fcgi")
    t.ok(r.code is None, "the .fcgi files are not reachable by name")

    # --- executeAnalysis errors --------------------------------------------
    good = {"studyInstanceUid": "1.2.3.0", "studyType": 4,
            "statusNotifyCallBackUrl": "http://127.0.0.1:9/cb",
            "accessKeyId": "AK", "accessKeySecret": "SK-not-used-0001",
            "endpoint": "http://127.0.0.1:9", "bucketName": "nobucket",
            "key": "k/"}
    envelope_ok(t, s.api("POST", "executeAnalysis", good, ns="hosp"),
                "100003", 401, "no tokenId: 100003/401")
    envelope_ok(t, s.api("POST", "executeAnalysis", good, token=tok),
                "100003", 401, "no namespace header: 100003/401")
    envelope_ok(t, s.api("POST", "executeAnalysis", good, token="x" * 43,
                         ns="hosp"), "100003", 401,
                "a wrong token: 100003/401")
    envelope_ok(t, s.api("POST", "executeAnalysis", good, token=tok_b,
                         ns="hosp"), "100003", 401,
                "another namespace's token: 100003/401")
    r = s.api("GET", "executeAnalysis", **A)
    envelope_ok(t, r, "100007", 405, "GET executeAnalysis: 100007/405",
                post=False)
    envelope_ok(t, s.api("POST", "executeAnalysis", "studyType=4", **A,
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded"}),
                "100007", 415, "a form body: 100007/415")
    r = s.api("POST", "executeAnalysis", '{"studyType": 4,', **A)
    envelope_ok(t, r, "100002", 400, "malformed JSON: 100002/400")
    body = dict(good)
    del body["bucketName"]
    r = s.api("POST", "executeAnalysis", body, **A)
    envelope_ok(t, r, "100002", 400, "a missing field: 100002/400")
    t.ok("bucketName" in (r.json or {}).get("returnMessage", ""),
         "the message names the field")
    big = dict(good, padding="p" * (MAX_BODY + 100))
    r = s.api("POST", "executeAnalysis", big, **A)
    envelope_ok(t, r, "100008", 413, "a body over max_body_bytes: 100008/413")
    envelope_ok(t, s.api("POST", "executeAnalysis", big, headers={
        "Content-Type": "application/json"}), "100008", 413,
        "the size is checked before authentication")
    # mod_proxy_fcgi passes CONTENT_LENGTH only for a chunked body that
    # has all arrived when it looks; without it the responders read
    # nothing.  So there the body goes in one piece.
    r = chunked(s, "/dicom/api/executeAnalysis", json.dumps(big).encode(),
                {"tokenId": tok, "namespace": "hosp"}, whole=s.proxy)
    envelope_ok(t, r, "100008", 413,
                "a chunked body over max_body_bytes: 100008/413")
    r = chunked(s, "/dicom/api/executeAnalysis", json.dumps(
        dict(good, studyInstanceUid="1.2.3.chunked")).encode(),
        {"tokenId": tok, "namespace": "hosp"}, whole=s.proxy)
    envelope_ok(t, r, "000000", 200, "a chunked body within the limit is "
                "accepted (mod_fcgid passes its length)")
    r, sent = declared(s, "/dicom/api/executeAnalysis", MAX_REQUEST + 1,
                       {"tokenId": tok, "namespace": "hosp"})
    t.ok(r is not None and r[0] == 413 and sent < MAX_REQUEST,
         "a Content-Length over MIAS_MAX_REQUEST_LEN: Apache answers 413 "
         "before the body is sent", r)
    for length in (300 * 1024 * 1024, 10 ** 12):
        r, sent = declared(s, "/dicom/api/executeAnalysis", length, {})
        t.ok(r is not None and r[0] == 413 and sent < MAX_REQUEST,
             "Content-Length: %d without a token: Apache answers 413 "
             "before the body is sent (%d bytes sent)" % (length, sent), r)

    # --- the whole study flow, dispatcher as www-data -----------------------
    oss = FakeOss(s)
    keys = oss.dicom("studies", "ct/s1", 3)
    sink = s.fixture("sink.py")
    disp = s.start_dispatcher()
    t.ok(disp.poll() is None, "mias-dispatcher starts as www-data",
         s.dispatcher_log())
    uid = "1.2.826.0.1.3680043.8.498.77"
    r = s.submit(tok, "hosp", uid, sink.base + "/cb/1", oss, "ct/s1/")
    envelope_ok(t, r, "000000", 200, "executeAnalysis accepts a study in OSS")
    recs = wait_for(lambda: (lambda x: x if any(delivered(y) for y in x)
                             else None)(sink_received(sink, "/cb/1")), 60)
    recs = recs or sink_received(sink, "/cb/1")
    d = [x for x in recs if delivered(x)]
    try:
        cb = json.loads(d[-1]["body"]) if d else None
    except ValueError:
        cb = None
    t.ok(isinstance(cb, dict) and cb.get("status") == 0 and
         cb.get("studyInstanceUid") == uid and cb.get("studyType") == 4 and
         cb.get("errorCode") is None, "the status callback: status 0",
         "%r\n%s" % (recs, s.dispatcher_log()[-2000:]))
    t.ok(bool(d) and signature_ok(d[-1], secret),
         "the callback carries a valid webhook-signature", d)
    rc, out = verify_webhooks(d, secret)
    if rc is None:
        t.diag("standardwebhooks check skipped: " + out)
    else:
        t.ok(rc == 0, "standardwebhooks verifies the callback", out)

    r = s.get_result(tok, "hosp", uid, 4)
    envelope_ok(t, r, "000000", 200, "getAnalysisResult: 000000", post=False)
    data = (r.json or {}).get("data") or {}
    boxes = data.get("boxes") or []
    t.ok(data.get("studyInstanceUid") == uid and len(boxes) == len(keys) and
         len(data.get("boxDataList") or []) == len(keys),
         "one box per image, in boxes and boxDataList", r)
    t.ok(all(b.get("credibility", None) is None for b in boxes),
         "no credibility before feedback")
    t.eq(sorted(b.get("imageKey") for b in boxes), sorted(keys),
         "each box names its image: imageKey is the object key")
    t.eq([b.get("imageKey") for b in data.get("boxDataList") or []],
         [b.get("imageKey") for b in boxes], "  ... in boxDataList too")
    r = s.get_result(tok, "hosp", uid, 4,
                     headers={"Content-Type": "application/json"})
    envelope_ok(t, r, "000000", 200, "getAnalysisResult with a Content-Type "
                "on the GET", post=False)
    envelope_ok(t, s.get_result(tok_b, "hosp-b", uid, 4), "100004", 404,
                "another namespace does not see the study: 100004/404",
                post=False)
    if boxes:
        r = s.feedback(tok, "hosp", uid, 4, [(boxes[0]["boxUid"], "Y")])
        envelope_ok(t, r, "000000", 200, "submitAnalysisFeedback: 000000")
        r = s.get_result(tok, "hosp", uid, 4)
        b0 = [b for b in ((r.json or {}).get("data") or {}).get("boxes", [])
              if b.get("boxUid") == boxes[0]["boxUid"]]
        t.ok(b0 and b0[0].get("credibility") == "Y",
             "the feedback shows in the result", r)
        r = s.feedback(tok, "hosp", uid, 4, [("no-such-index", "N")])
        t.ok(r.code not in (None, "000000"),
             "feedback for an unknown indexId is refused", r)

    # triggerAnalysis (push) and its result callback
    r = s.api("POST", "triggerAnalysis", {
        "namespace": "hosp", "ImageUid": "img-apache-1",
        "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
        "securityToken": "", "endpoint": oss.endpoint,
        "bucketName": "studies", "key": keys[0], "analysis": "OA",
        "resultCallBackUrl": sink.base + "/result/1"}, **A)
    t.ok(r.status == 200 and r.code == "000000", "triggerAnalysis: 000000", r)
    got = wait_for(lambda: sink_received(sink, "/result/1"), 60) or []
    try:
        res = json.loads(got[0]["body"]) if got else {}
    except ValueError:
        res = {}
    t.ok(res.get("returnCode") == "000000" and
         res.get("ImageUid") == "img-apache-1" and
         len(res.get("Boxes") or []) >= 1,
         "the push result reaches resultCallBackUrl", got)
    t.ok(bool(res.get("Boxes")) and
         all(b.get("imageKey") == keys[0] for b in res["Boxes"]),
         "  ... its Boxes carry the trigger's key as imageKey", res)

    # algorithmResult is mapped, and refuses a URL it did not issue
    r = s.api("POST", "algorithmResult", {"returnCode": "000000"},
              query="?job=nope&sig=nope")
    t.ok(r.code is not None and r.code != "000000" and r.status >= 400,
         "algorithmResult answers, and refuses a forged URL", r)

    # --- who owns what, who ran what -----------------------------------------
    wrong = []
    for dirpath, dirs, files in os.walk(s.state):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if os.lstat(p).st_uid != PW.pw_uid:
                wrong.append(p)
    t.ok(not wrong and os.lstat(s.state).st_uid == PW.pw_uid,
         "every file of the state directory belongs to www-data", wrong)
    users = {}
    for pid, cmd in s.ours():
        try:
            users[cmd.split()[0]] = os.stat("/proc/%d" % pid).st_uid
        except (OSError, IndexError):
            pass
    resp = {c: u for c, u in users.items() if c.endswith(".fcgi")}
    t.ok(resp and all(u == PW.pw_uid for u in resp.values()),
         "the responders run as www-data", users)
    t.ok(disp.poll() is None and os.stat("/proc/%d" % disp.pid).st_uid ==
         PW.pw_uid, "the dispatcher runs as www-data")

    log = s.log()
    t.ok(oss.sk not in log and tok not in log and secret not in log,
         "no secret in Apache's error log")
    rc = s.stop_dispatcher()
    t.eq(rc, 0, "the dispatcher stops on SIGTERM with status 0")

    # --- the operations API and the metrics (ops_checks.py) -----------------
    ops_checks.run(t, s)
    sub = os.path.join(s.state, "submitted.db")
    t.ok(os.path.exists(sub) and os.lstat(sub).st_uid == PW.pw_uid,
         "submitted.db belongs to www-data")
    s.stop_dispatcher()


def chunked(s, path, body, headers, whole=False):
    """A POST with Transfer-Encoding: chunked (no Content-Length), in
    chunks of 1000 bytes each sent by itself, or whole in one chunk."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        h = {"Content-Type": "application/json; charset=utf-8",
             "Transfer-Encoding": "chunked"}
        h.update(headers)
        c.putrequest("POST", path)
        for k, v in h.items():
            c.putheader(k, v)
        size = len(body) if whole else 1000
        parts = [body[i:i + size] for i in range(0, len(body), size)]
        chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in parts]
        chunks.append(b"0\r\n\r\n")
        if whole:       # one write with the header
            c.endheaders(b"".join(chunks))
        else:
            c.endheaders()
            for part in chunks:
                c.send(part)
        r = c.getresponse()
        return Response(r.status, dict((k.lower(), v) for k, v in
                                       r.getheaders()), r.read())
    finally:
        c.close()


def declared(s, path, length, headers):
    """Announces a body of length bytes and sends it slowly: (status,
    headers) of the answer and the bytes sent before it came."""
    sock = socket.create_connection(("127.0.0.1", s.port), 10)
    sent = 0
    try:
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n"
                % (path, length))
        head += "".join("%s: %s\r\n" % kv for kv in headers.items())
        sock.sendall((head + "\r\n").encode())
        sock.settimeout(0.2)
        buf = b""
        deadline = time.time() + 10
        while time.time() < deadline and b"\r\n\r\n" not in buf:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                continue
            except socket.timeout:
                pass
            if sent < length:
                try:
                    sock.sendall(b" " * 1024)
                    sent += 1024
                except OSError:
                    pass
        if b"\r\n\r\n" not in buf:
            return None, sent
        line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
        return (int(line.split()[1]), line), sent
    finally:
        sock.close()


main()
