#!/usr/bin/python3
# test_oss_client.py -- the OSS client (through mias-admin oss) against the fake OSS server.
"""
Starts tests/fixtures/oss_server.py on a free loopback port with a temporary
bucket tree and credentials, writes minimal mias.conf files, and drives
"mias-admin -c CONF oss ls|head|get" through both signature versions, STS,
every error the client maps, paging, a 50 MB download in flat memory,
stalls, 5xx retries, the egress guard and a real DICOM study.  Prints TAP.

Environment: MIAS_ADMIN (the binary; else $MIAS_PREFIX/bin/mias-admin, else
$MIAS_BUILDDIR/admin/mias-admin, else ../../admin/mias-admin from here),
MIAS_SRCDIR (the source tree; else ../.. from here), OSS_TEST_KEEP=1 keeps
the temporary directory (with the fixture's log) for a post-mortem.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("MIAS_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(SRCDIR, "tests", "fixtures")

BUCKET = "mias-test"
AK, SK = "LTAItestkey0001", "testsecret-Abc123/+="
STS_AK, STS_SK = "STS.testkey0002", "stssecret-Xyz789"
TOKEN_OK = "CAIS-token-valid-" + "A" * 300
TOKEN_OLD = "CAIS-token-expired-" + "B" * 300
ODD_KEY = "keys/患者 a+b (1)/影像 #1.dcm"  # spaces, '+', Chinese, '#', parens
BIG = 50 * 1024 * 1024
PAGED = 2500

_n = 0
_failed = 0


def ok(cond, name, diag=None):
    global _n, _failed
    _n += 1
    print("%sok %d - %s" % ("" if cond else "not ", _n, name))
    if not cond:
        _failed += 1
        if diag:
            for line in str(diag).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def note(msg):
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


def find_admin():
    if os.environ.get("MIAS_ADMIN"):
        return os.environ["MIAS_ADMIN"]
    for base, rel in ((os.environ.get("MIAS_PREFIX"), "bin/mias-admin"),
                      (os.environ.get("MIAS_BUILDDIR"), "admin/mias-admin")):
        if base and os.access(os.path.join(base, rel), os.X_OK):
            return os.path.join(base, rel)
    return os.path.normpath(os.path.join(HERE, "..", "..", "admin", "mias-admin"))


# Never through a proxy, whatever the environment says.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Fixture:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        self.creds = os.path.join(tmp, "creds.json")
        self.log = os.path.join(tmp, "fixture.log")
        self.proc = None
        self.port = None

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        with open(self.creds, "w") as f:
            json.dump({"keys": {AK: SK, STS_AK: STS_SK},
                       "sts": {TOKEN_OK: {"ak": STS_AK, "expires": time.time() + 86400},
                               TOKEN_OLD: {"ak": STS_AK, "expires": time.time() - 3600}}}, f)
        pf = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(FIXTURES, "oss_server.py"), "--root", self.root,
             "--port", "0", "--port-file", pf, "--creds", self.creds, "--log", self.log],
            stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("oss_server.py exited with %s" % self.proc.returncode)
            if os.path.exists(pf):
                with open(pf) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    try:
                        if self.control("GET", "health").get("ok"):
                            return
                    except OSError:
                        pass
            time.sleep(0.05)
        raise RuntimeError("oss_server.py did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def control(self, method, what, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d/__fixture__/%s" % (self.port, what),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with _opener.open(req, timeout=10) as r:
            return json.loads(r.read().decode("utf-8"))

    def faults(self, spec):
        return self.control("POST", "faults", spec)

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def mark(self):
        entries = self.control("GET", "log")
        return entries[-1]["seq"] if entries else 0

    def requests_since(self, seq):
        """OSS calls after seq (the control calls are not logged as such)."""
        return [e for e in self.control("GET", "log?since=%d" % seq)
                if e.get("addressing") != "control"]

    def endpoint(self, scheme="http", host="127.0.0.1"):
        return "%s://%s:%d" % (scheme, host, self.port)


def write_conf(tmp, name, sigver, allow_hosts):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("[server]\nstate_dir = %s\nkey_file = %s\n\n"
                "[egress]\nallow_private = no\nallow_hosts = %s\n\n"
                "[oss]\nsignature_version = %d\n"
                % (os.path.join(tmp, "state"), os.path.join(tmp, "master.key"),
                   allow_hosts, sigver))
    return path


def clean_env(creds=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSS_")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    if creds:
        env.update(creds)
    return env


CREDS = {"OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK}
CREDS_STS = {"OSS_ACCESS_KEY_ID": STS_AK, "OSS_ACCESS_KEY_SECRET": STS_SK,
             "OSS_SECURITY_TOKEN": TOKEN_OK}


class Result:
    def __init__(self, rc, out, err, secs, maxrss_kb):
        self.rc, self.out, self.err, self.secs, self.maxrss_kb = rc, out, err, secs, maxrss_kb

    def lines(self):
        return self.out.decode("utf-8").splitlines()

    def __str__(self):
        return "exit %s after %.1fs\nstdout: %r\nstderr: %s" % (
            self.rc, self.secs, self.out[:600], self.err)


GNU_TIME = "/usr/bin/time"


def admin(binary, conf, args, creds=CREDS, timeout=180, measure=False, env=None):
    """Run mias-admin -c conf oss args....  With measure, its peak RSS is
    taken by GNU time when there is one: a child forked from this Python
    process starts with Python's peak RSS on its account (it survives
    exec), which wait4() would report instead."""
    t0 = time.time()
    cmd = [binary, "-c", conf, "oss"] + list(args)
    rssfile = None
    if measure and os.access(GNU_TIME, os.X_OK):
        fd, rssfile = tempfile.mkstemp(prefix="rss-")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", rssfile] + cmd
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        full_env = clean_env(creds)
        full_env.update(env or {})
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err, env=full_env)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.time() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        maxrss = ru.ru_maxrss
        if rssfile:
            with open(rssfile) as f:
                maxrss = int(f.read().split()[-1])
            os.unlink(rssfile)
        return Result(p.returncode, out.read(), err.read().decode("utf-8", "replace"),
                      time.time() - t0, maxrss)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


ERR_RE = re.compile(r"^mias-admin: oss (ls|head|get): (OSS_[A-Z_]+): (.+?)(?: \(request id ([^)]+)\))?$")


def error_of(res):
    """(command, errorCode, message, request id) of the last error line."""
    for line in reversed(res.err.strip().splitlines()):
        m = ERR_RE.match(line)
        if m:
            return m.groups()
    return (None, None, None, None)


def no_secret(res, *secrets):
    text = res.err + res.out.decode("utf-8", "replace")
    return not any(s in text for s in secrets)


def populate(fx, tmp):
    """The bucket: odd keys, a zero-byte object, 2,500 small objects, a 50 MB
    object, and a real CT study with its directory marker."""
    b = os.path.join(fx.root, BUCKET)
    files = {}

    def put(key, data):
        path = os.path.join(b, *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        files[key] = path

    put("study/plain.dcm", b"\0" * 128 + b"DICM" + b"not really" * 10)
    put("study/empty.dcm", b"")
    put(ODD_KEY, os.urandom(4096))
    pdir = os.path.join(b, "paged")
    os.makedirs(pdir)
    for i in range(PAGED):
        with open(os.path.join(pdir, "%05d.dcm" % i), "wb") as f:
            f.write(b"x")
    big = os.path.join(b, "big", "50mb.bin")
    os.makedirs(os.path.dirname(big))
    block = hashlib.sha512(b"mias").digest() * 16384  # 1 MiB, not all zeros
    with open(big, "wb") as f:
        for i in range(BIG // len(block)):
            f.write(block[i % 64:] + block[:i % 64])
    files["big/50mb.bin"] = big
    out = subprocess.run(["/usr/bin/python3", os.path.join(FIXTURES, "make_dicom_bucket.py"),
                          "--root", fx.root, "--bucket", BUCKET, "--prefix", "studies/ct1",
                          "--count", "7", "--marker", "--json"],
                         check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    study = json.loads(out.stdout.decode("utf-8"))
    return files, study


def main():
    binary = find_admin()
    if not os.access(binary, os.X_OK):
        print("Bail out! mias-admin not found at %s (set MIAS_ADMIN)" % binary)
        return 1
    keep = os.environ.get("OSS_TEST_KEEP") == "1"
    tmp = tempfile.mkdtemp(prefix="mias-oss-")
    fx = Fixture(tmp)
    try:
        fx.start()
        files, study = populate(fx, tmp)
        conf = {1: write_conf(tmp, "v1.conf", 1, "127.0.0.1, localhost"),
                4: write_conf(tmp, "v4.conf", 4, "127.0.0.1, localhost")}
        strict = write_conf(tmp, "strict.conf", 4, "oss-cn-hangzhou.aliyuncs.com")
        ep = fx.endpoint()
        base = ["--endpoint", ep, "--bucket", BUCKET]
        note("mias-admin: %s; fixture on port %d; %s" % (binary, fx.port, tmp))
        run_tests(binary, fx, tmp, files, study, conf, strict, ep, base)
    except Exception:
        ok(False, "test run completed without an exception", traceback.format_exc())
    finally:
        fx.stop()
        if keep or _failed:
            note("kept %s (fixture log: %s)" % (tmp, fx.log))
        if not keep and not _failed:
            shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % _n)
    return 1 if _failed else 0


def run_tests(binary, fx, tmp, files, study, conf, strict, ep, base):
    out = os.path.join(tmp, "out")
    os.makedirs(out)

    # -- both signature versions, with and without STS ---------------------
    for ver in (1, 4):
        for sts in (False, True):
            what = "V%d %s" % (ver, "STS" if sts else "long-term key")
            creds = CREDS_STS if sts else CREDS
            seq = fx.mark()
            r = admin(binary, conf[ver], ["ls"] + base + ["--prefix", "study/"], creds)
            ok(r.rc == 0 and r.lines() == ["232\tstudy/plain.dcm"],
               "%s: ls lists study/ (zero-byte object left out)" % what, r)
            reqs = fx.requests_since(seq)
            want_scheme = "OSS" if ver == 1 else "OSS4-HMAC-SHA256"
            ok(len(reqs) == 1 and reqs[0]["status"] == 200
               and reqs[0]["auth"].get("scheme") == want_scheme
               and reqs[0]["auth"].get("sts") == sts
               and reqs[0]["auth"].get("access_key_id") == (STS_AK if sts else AK),
               "%s: the fixture verified a %s signature%s" % (
                   what, want_scheme, " with the token" if sts else ""), reqs)
            dest = os.path.join(out, "odd-v%d-%d" % (ver, sts))
            r = admin(binary, conf[ver], ["get"] + base + ["--key", ODD_KEY, "-o", dest], creds)
            ok(r.rc == 0 and os.path.exists(dest)
               and sha256_file(dest) == sha256_file(files[ODD_KEY]),
               "%s: get of a key with spaces, '+', '#' and Chinese is byte-identical" % what, r)
            r = admin(binary, conf[ver], ["head"] + base + ["--key", ODD_KEY], creds)
            ok(r.rc == 0 and "size=4096" in r.lines()
               and ("key=" + ODD_KEY) in r.lines(), "%s: head of the odd key" % what, r)

    r = admin(binary, conf[4], ["ls"] + base + ["--prefix", "study/", "--all"])
    ok(r.rc == 0 and r.lines() == ["0\tstudy/empty.dcm\tskipped: empty",
                                    "232\tstudy/plain.dcm"],
       "ls --all shows the zero-byte object, marked", r)
    r = admin(binary, conf[4], ["ls"] + base + ["--prefix", "keys/"])
    ok(r.rc == 0 and r.lines() == ["4096\t" + ODD_KEY], "ls returns the odd key decoded", r)

    # -- credentials from a file, never from argv ---------------------------
    cf = os.path.join(tmp, "oss-creds")
    with open(cf, "w") as f:
        f.write("# test\naccess_key_id = %s\naccess_key_secret=%s\nsecurity_token=%s\n"
                % (STS_AK, STS_SK, TOKEN_OK))
    os.chmod(cf, 0o600)
    r = admin(binary, conf[4], ["ls"] + base + ["--prefix", "study/", "--credentials", cf],
              creds={"OSS_ACCESS_KEY_ID": "ignored", "OSS_ACCESS_KEY_SECRET": "ignored"})
    ok(r.rc == 0 and r.lines() == ["232\tstudy/plain.dcm"], "--credentials FILE with STS", r)
    bad = os.path.join(tmp, "bad-creds")
    with open(bad, "w") as f:
        f.write("access_key_id=%s\n%s\n" % (AK, SK))
    os.chmod(bad, 0o600)
    r = admin(binary, conf[4], ["ls"] + base + ["--credentials", bad], creds=None)
    ok(r.rc == 1 and ("not key=value" in r.err or "unknown key" in r.err)
       and no_secret(r, SK) and no_secret(r, SK.split("=")[0]),
       "a malformed credentials file is refused without echoing its lines", r)
    r = admin(binary, conf[4], ["ls"] + base, creds=None)
    ok(r.rc == 1 and "no credentials" in r.err, "no credentials at all: said so", r)
    r = admin(binary, conf[4], ["ls"] + base + ["--access-key-secret", SK])
    ok(r.rc == 2 and "unknown option" in r.err and no_secret(r, SK),
       "a secret on the command line is not an option", r)

    # -- errors ---------------------------------------------------------------
    r = admin(binary, conf[4], ["ls"] + base,
              {"OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": "wrong-secret"})
    cmd, code, msg, rid = error_of(r)
    ok(r.rc == 1 and (cmd, code) == ("ls", "OSS_SIGNATURE_MISMATCH") and rid,
       "wrong secret: OSS_SIGNATURE_MISMATCH with a request id", r)
    for ver in (1, 4):
        r = admin(binary, conf[ver], ["ls"] + base,
                  {"OSS_ACCESS_KEY_ID": STS_AK, "OSS_ACCESS_KEY_SECRET": STS_SK,
                   "OSS_SECURITY_TOKEN": TOKEN_OLD})
        ok(r.rc == 1 and error_of(r)[1] == "OSS_CREDENTIALS_EXPIRED"
           and no_secret(r, TOKEN_OLD, STS_SK),
           "V%d expired STS token: OSS_CREDENTIALS_EXPIRED, token and secret not shown" % ver, r)
    r = admin(binary, conf[4], ["ls"] + base,
              {"OSS_ACCESS_KEY_ID": STS_AK, "OSS_ACCESS_KEY_SECRET": STS_SK,
               "OSS_SESSION_TOKEN": "CAIS-unknown-token"})
    ok(r.rc == 1 and error_of(r)[1] == "OSS_CREDENTIALS_EXPIRED",
       "unknown STS token (OSS_SESSION_TOKEN): OSS_CREDENTIALS_EXPIRED", r)
    r = admin(binary, conf[4], ["ls"] + base,
              {"OSS_ACCESS_KEY_ID": "LTAInosuchkey", "OSS_ACCESS_KEY_SECRET": SK})
    ok(r.rc == 1 and error_of(r)[1] == "OSS_INVALID_ACCESS_KEY", "unknown key id: "
       "OSS_INVALID_ACCESS_KEY", r)
    r = admin(binary, conf[4], ["ls", "--endpoint", ep, "--bucket", "no-such-bucket"])
    ok(r.rc == 1 and error_of(r)[:2] == ("ls", "OSS_NO_SUCH_BUCKET"), "missing bucket: "
       "OSS_NO_SUCH_BUCKET", r)
    dest = os.path.join(out, "missing")
    r = admin(binary, conf[4], ["get"] + base + ["--key", "study/nope.dcm", "-o", dest])
    ok(r.rc == 1 and error_of(r)[:2] == ("get", "OSS_NO_SUCH_KEY")
       and not any(n.startswith("missing") for n in os.listdir(out)),
       "missing key: OSS_NO_SUCH_KEY, no file left behind", r)
    r = admin(binary, conf[1], ["head"] + base + ["--key", "study/nope.dcm"])
    ok(r.rc == 1 and error_of(r)[:2] == ("head", "OSS_NO_SUCH_KEY") and error_of(r)[3],
       "HEAD of a missing key: OSS_NO_SUCH_KEY from x-oss-err", r)
    r = admin(binary, conf[4], ["ls", "--endpoint", ep, "--bucket", "Bad_Bucket"])
    ok(r.rc == 1 and error_of(r)[1] == "OSS_INVALID_ARGUMENT", "bad bucket name refused "
       "locally", r)
    r = admin(binary, conf[4], ["ls", "--endpoint", "ftp://127.0.0.1", "--bucket", BUCKET])
    ok(r.rc == 1 and error_of(r)[1] == "OSS_BAD_ENDPOINT", "ftp:// endpoint refused", r)

    # -- paging ---------------------------------------------------------------
    for ver in (1, 4):
        seq = fx.mark()
        r = admin(binary, conf[ver], ["ls"] + base + ["--prefix", "paged/"])
        want = ["1\tpaged/%05d.dcm" % i for i in range(PAGED)]
        ok(r.rc == 0 and r.lines() == want, "V%d: %d objects listed, in order" % (ver, PAGED),
           r if r.rc else "%d lines" % len(r.lines()))
        reqs = [e for e in fx.requests_since(seq) if e.get("query", {}).get("list-type") == "2"]
        ok(len(reqs) == 3 and all(e["status"] == 200 for e in reqs)
           and "continuation-token" not in reqs[0]["query"]
           and all("continuation-token" in e["query"] for e in reqs[1:])
           and all(e["query"].get("max-keys") == "1000" for e in reqs),
           "V%d: three list requests of 1000 keys, continued by token" % ver,
           json.dumps(reqs, indent=1)[:2000])

    # -- 50 MB in flat memory ----------------------------------------------------
    small = admin(binary, conf[4], ["get"] + base + ["--key", "study/plain.dcm", "-o",
                                                     os.path.join(out, "small.bin")], measure=True)
    dest = os.path.join(out, "big.bin")
    r = admin(binary, conf[4], ["get"] + base + ["--key", "big/50mb.bin", "-o", dest],
              measure=True)
    ok(r.rc == 0 and os.path.getsize(dest) == BIG
       and sha256_file(dest) == sha256_file(files["big/50mb.bin"]),
       "50 MB object downloaded byte-identical", r)
    print("# peak RSS of mias-admin oss get: %d KB for the 50 MB object (%.1fs), "
          "%d KB for a 232-byte one" % (r.maxrss_kb, r.secs, small.maxrss_kb))
    # under the sanitizers every process starts larger: the difference
    # to a tiny download is what stays meaningful
    limit = 64 * 1024 if os.environ.get("MIAS_SANITIZER") else 25 * 1024
    ok(0 < r.maxrss_kb < limit and r.maxrss_kb - small.maxrss_kb < 8 * 1024,
       "peak RSS is well under 50 MB, and within 8 MB of a tiny download's")
    with open(os.path.join(out, "big-stdout.bin"), "wb") as f:
        p = subprocess.run([binary, "-c", conf[1], "oss", "get"] + base + ["--key", "big/50mb.bin"],
                           stdout=f, stderr=subprocess.PIPE, env=clean_env(CREDS), timeout=180)
    ok(p.returncode == 0 and sha256_file(os.path.join(out, "big-stdout.bin"))
       == sha256_file(files["big/50mb.bin"]), "V1: 50 MB object to standard output", p.stderr)

    # -- a server that stalls -------------------------------------------------------
    fx.clear_faults()
    fx.faults({"stall": {"seconds": 30, "count": 2, "path_contains": "/" + BUCKET + "/"}})
    r = admin(binary, conf[4], ["ls"] + base + ["--timeout", "2", "--retries", "1"])
    fx.clear_faults()
    ok(r.rc == 1 and error_of(r)[1] == "OSS_UNAVAILABLE",
       "stalled server: OSS_UNAVAILABLE", r)
    ok(r.secs < 12, "stalled server: given up after %.1fs (2 tries of 2 s, one pause)" % r.secs)
    note("stall: %s" % r.err.strip())

    # -- 5xx then success; 5xx for good ---------------------------------------------
    fx.faults({"fail_next": [{"status": 503, "count": 2, "path_contains": "/" + BUCKET + "/"}]})
    seq = fx.mark()
    r = admin(binary, conf[4], ["ls"] + base + ["--prefix", "study/"])
    reqs = fx.requests_since(seq)
    fx.clear_faults()
    ok(r.rc == 0 and r.lines() == ["232\tstudy/plain.dcm"]
       and [e["status"] for e in reqs] == [503, 503, 200],
       "two 503s then 200: retried and listed", "%s\n%s" % (r, [e["status"] for e in reqs]))
    fx.faults({"fail_next": [{"status": 500, "count": 1, "method": "GET",
                              "path_contains": "big/"}]})
    dest = os.path.join(out, "big-retry.bin")
    r = admin(binary, conf[1], ["get"] + base + ["--key", "big/50mb.bin", "-o", dest])
    fx.clear_faults()
    ok(r.rc == 0 and sha256_file(dest) == sha256_file(files["big/50mb.bin"]),
       "500 then 200 on a download: retried, byte-identical", r)
    fx.faults({"truncate": {"after_bytes": 1000000, "count": 1, "path_contains": "big/"}})
    dest = os.path.join(out, "big-truncated.bin")
    r = admin(binary, conf[4], ["get"] + base + ["--key", "big/50mb.bin", "-o", dest])
    fx.clear_faults()
    ok(r.rc == 0 and sha256_file(dest) == sha256_file(files["big/50mb.bin"]),
       "body cut short once: file rewound, retried, byte-identical", r)
    fx.faults({"fail_next": [{"status": 502, "count": 10, "path_contains": "/" + BUCKET + "/"}]})
    seq = fx.mark()
    r = admin(binary, conf[4], ["ls"] + base + ["--retries", "2"])
    reqs = fx.requests_since(seq)
    fx.clear_faults()
    ok(r.rc == 1 and error_of(r)[1] == "OSS_UNAVAILABLE" and len(reqs) == 3,
       "502 for good: OSS_UNAVAILABLE after 1 + 2 retries (%d requests)" % len(reqs), r)

    # -- the environment's proxy is not used; our clock is checked ---------------
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    r = admin(binary, conf[4], ["ls"] + base + ["--prefix", "study/", "--retries", "0"],
              env={"http_proxy": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead})
    ok(r.rc == 0 and r.lines() == ["232\tstudy/plain.dcm"],
       "http_proxy, HTTPS_PROXY and ALL_PROXY in the environment are ignored", r)
    fx.faults({"clock_offset_seconds": 3600})
    r = admin(binary, conf[1], ["ls"] + base)
    fx.clear_faults()
    ok(r.rc == 1 and error_of(r)[1] == "OSS_CLOCK_SKEWED", "server clock an hour ahead: "
       "OSS_CLOCK_SKEWED", r)

    # -- egress --------------------------------------------------------------------------
    for endpoint, how in ((ep, "an address literal, refused before connecting"),
                          (fx.endpoint(host="localhost"), "a name resolving to loopback, "
                           "refused at connect time"),
                          ("http://2130706433:%d" % fx.port, "loopback written in decimal")):
        seq = fx.mark()
        r = admin(binary, strict, ["ls", "--endpoint", endpoint, "--bucket", BUCKET])
        reqs = fx.requests_since(seq)
        ok(r.rc == 1 and error_of(r)[1] == "OSS_EGRESS_REFUSED" and not reqs,
           "egress: %s (no request reached the fixture)" % how, "%s\n%s" % (r, reqs))

    # -- a real DICOM study ------------------------------------------------------------------
    keys = [k for k in study["keys"] if not k.endswith("/")]
    src = {}
    for k in keys:
        src[k] = files.get(k) or os.path.join(fx.root, BUCKET, *k.split("/"))
    for ver in (1, 4):
        r = admin(binary, conf[ver], ["ls"] + base + ["--prefix", "studies/ct1/"])
        listed = [line.split("\t")[1] for line in r.lines()]
        ok(r.rc == 0 and listed == keys,
           "V%d: the CT study lists %d slices, marker skipped" % (ver, len(keys)), r)
        r = admin(binary, conf[ver], ["ls"] + base + ["--prefix", "studies/ct1/", "--all"])
        ok(r.rc == 0 and r.lines()[0] == "0\tstudies/ct1/\tskipped: directory marker",
           "V%d: --all shows the directory marker, marked" % ver, r)
        same = True
        for k in keys:
            dest = os.path.join(out, "v%d-%s" % (ver, k.replace("/", "_")))
            r = admin(binary, conf[ver], ["get"] + base + ["--key", k, "-o", dest])
            same = same and r.rc == 0 and sha256_file(dest) == sha256_file(src[k])
        ok(same, "V%d: every slice downloaded byte-identical" % ver)
        r = admin(binary, conf[ver], ["head"] + base + ["--key", keys[0]])
        ok(r.rc == 0 and "kind=dicom" in r.lines()
           and "size=%d" % os.path.getsize(src[keys[0]]) in r.lines(),
           "V%d: head sniffs DICM at offset 128" % ver, r)
    dest = os.path.join(out, "preamble")
    r = admin(binary, conf[4], ["get"] + base + ["--key", keys[0], "--range", "128-131",
                                                   "-o", dest])
    ok(r.rc == 0 and open(dest, "rb").read() == b"DICM", "--range 128-131 gives DICM", r)


if __name__ == "__main__":
    sys.exit(main())
