#!/usr/bin/python3
# test_core.py -- no tokenId, OSS secret, STS token or derived key in a core of a responder or of the dispatcher (gcore, and a kernel core dump)
"""
Requests carrying distinctive secrets (the namespace's tokenId, an
accessKeySecret and an STS token) go through lighttpd to the responders,
and the dispatcher fetches the study with them.  Once every request has
ended and the study is done, gdb's gcore dumps each responder and the
dispatcher: no core may hold a secret, nor one of the keys derived from
the key file (they live in MADV_DONTDUMP pages, lib/secmem.c).  Then an
executeAnalysis responder started by hand as a FastCGI server (a listening
socket on its standard input) answers two requests and is killed with
SIGSEGV under RLIMIT_CORE unlimited: the kernel's core is searched the
same way.  /proc/sys/kernel/core_pattern is left alone: when it pipes
cores to a handler, or names another directory, that part is skipped.

Needs gdb (gcore); skipped without it, and under tests/sanitize.sh.
"""
import hashlib
import hmac
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     delivered, installed, sink_received, wait_for)

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"     # keeps the cores too
GCORE = shutil.which("gcore")
if GCORE is None:
    t.skip_all("no gcore (apt-get install gdb)")
if os.environ.get("MIAS_SANITIZER"):
    # AddressSanitizer keeps stack frames on the heap and turns kernel
    # cores off: its processes' cores say nothing about the real ones
    t.skip_all("built with %s: cores of instrumented processes differ"
               % os.environ["MIAS_SANITIZER"])

NS = "hosp-core"
AK = "AK-core-" + secrets.token_hex(6)
SK = "SK-core-" + secrets.token_hex(16)
STS = "STS-core-" + secrets.token_hex(24)


def derived_keys(keyfile):
    """The keys lib/crypto.c derives from the key file."""
    with open(keyfile, "rb") as f:
        master = f.read()
    return {"ck_%s" % name: hmac.new(master, label, hashlib.sha256).digest()
            for name, label in (("seal", b"mias seal v1"),
                                ("token", b"mias token v1"),
                                ("url", b"mias url v1"))}


def children(pid):
    """The processes whose parent is pid: {pid: executable}."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(d)] = os.readlink("/proc/%s/exe" % d)
        except (OSError, IndexError, ValueError):
            pass
    return out


def search(path, needles):
    """The needles found in the file at path: their names, each with the
    bytes around its first copy (the needle itself masked) and the
    number of copies."""
    with open(path, "rb") as f:
        data = f.read()
    found = []
    for n, v in sorted(needles.items()):
        i = data.find(v)
        if i >= 0:
            ctx = data[max(0, i - 64):i + len(v) + 64]
            for m, w in needles.items():    # every secret masked
                ctx = ctx.replace(w, b"<" + m.encode() + b">")
            found.append("%s (%d copies) %r" % (n, data.count(v), ctx))
    return found


def check_core(what, path, needles, marker):
    """A core at path: it holds marker (so it is a real dump of the
    process) and none of the needles."""
    if not t.ok(path is not None and os.path.exists(path),
                "%s: a core was written" % what):
        return
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        t.ok(marker in f.read(), "%s: the core (%d KB) holds the process's "
             "memory (its configuration path)" % (what, size // 1024))
    found = search(path, needles)
    t.ok(not found, "%s: no tokenId, accessKeySecret, STS token or derived "
         "key in the core" % what, "\n".join(found))
    if not KEEP:
        os.unlink(path)     # the dispatcher's is some hundred MB


def gcore(pid, prefix):
    p = subprocess.run([GCORE, "-o", prefix, str(pid)], capture_output=True,
                       text=True, timeout=120)
    path = "%s.%d" % (prefix, pid)
    if p.returncode != 0 or not os.path.exists(path):
        t.diag("gcore %d: %s%s" % (pid, p.stdout[-500:], p.stderr[-500:]))
        return None
    return path


# --- a FastCGI client, for a responder started by hand -----------------------
def fcgi_record(rtype, content, rid=1):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + \
        content


def fcgi_pairs(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 1 << 31)
        out += k + v
    return out


def fcgi_request(sockpath, params, body):
    """One request to a FastCGI responder; its standard output."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sockpath)
    try:
        msg = fcgi_record(1, struct.pack(">HB5x", 1, 0))   # RESPONDER
        pairs = fcgi_pairs(params)
        for i in range(0, len(pairs), 65535):
            msg += fcgi_record(4, pairs[i:i + 65535])
        msg += fcgi_record(4, b"")
        for i in range(0, len(body), 65535):
            msg += fcgi_record(5, body[i:i + 65535])
        msg += fcgi_record(5, b"")
        s.sendall(msg)
        buf, out = b"", b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while len(buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB",
                                                           buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                if rtype == 6:
                    out += buf[8:8 + clen]
                buf = buf[8 + clen + plen:]
                if rtype == 3:      # END_REQUEST
                    return out
        return out
    finally:
        s.close()


def kernel_core(s, tok, needles, marker, coredir):
    """executeAnalysis.fcgi started by hand, two requests, SIGSEGV."""
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|") or "/" in pattern:
        t.ok(True, "# SKIP kernel core: core_pattern is %r (a handler or "
             "another directory; not changed by this test)" % pattern)
        return
    sockpath = os.path.join(s.dir, "by-hand.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(sockpath)
    ls.listen(16)

    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                                  resource.RLIM_INFINITY))
    p = subprocess.Popen([installed("libexec", "mias",
                                    "executeAnalysis.fcgi")],
                         stdin=ls.fileno(), cwd=coredir,
                         env={"MIAS_CONF": s.conf, "PATH": "/usr/bin:/bin"},
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(s.dir, "by-hand.log"), "w"),
                         preexec_fn=unlimited)
    ls.close()
    try:
        for i in range(2):
            body = json.dumps({
                "studyInstanceUid": "9.9.%d" % i, "studyType": 4,
                "statusNotifyCallBackUrl": "http://127.0.0.1:9/cb",
                "accessKeyId": AK, "accessKeySecret": SK,
                "securityToken": STS, "endpoint": "http://127.0.0.1:9",
                "bucketName": "studies", "key": "none/%d/" % i}).encode()
            out = fcgi_request(sockpath, {
                "REQUEST_METHOD": "POST", "REQUEST_URI":
                "/dicom/api/executeAnalysis", "SCRIPT_NAME":
                "/dicom/api/executeAnalysis", "CONTENT_TYPE":
                "application/json", "CONTENT_LENGTH": str(len(body)),
                "HTTP_TOKENID": tok, "HTTP_NAMESPACE": NS,
                "REMOTE_ADDR": "127.0.0.1"}, body)
            t.ok(b'"returnCode":"000000"' in out, "by hand: FastCGI request "
                 "%d accepted" % (i + 1), out[:400])
        time.sleep(0.2)
        p.send_signal(signal.SIGSEGV)
        rc = p.wait(60)
        t.ok(rc == -signal.SIGSEGV, "by hand: the responder died of "
             "SIGSEGV (status %d)" % rc)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # written before the process is reaped: complete once wait() returned
    cores = [os.path.join(coredir, f) for f in os.listdir(coredir)
             if f.startswith("core")]
    check_core("kernel core of a responder killed after its requests",
               cores[0] if cores else None, needles, marker)


def main():
    s = Stack("core", engines={4: cmd_engine_conf(4, "OA")},
              egress="allow_hosts = 127.0.0.1", procs=1)
    coredir = os.path.join(s.dir, "cores")
    os.makedirs(coredir)
    try:
        s.init()
        tok, _ = s.namespace(NS)
        needles = derived_keys(os.path.join(s.dir, "master.key"))
        needles.update({"tokenId": tok.encode(), "accessKeySecret":
                        SK.encode(), "securityToken": STS.encode()})
        marker = s.conf.encode()
        oss = FakeOss(s, keys={AK: SK}, sts={STS: {
            "ak": AK, "expires": int(time.time()) + 3600}})
        oss.dicom("studies", "ct/c1", 2)
        sink = s.fixture("sink.py")
        s.start()
        s.start_dispatcher()
        uid = "1.2.826.0.1.3680043.8.498.1601"
        r = s.submit(tok, NS, uid, sink.base + "/cb/core", oss, "ct/c1/",
                     securityToken=STS)
        t.eq(r.code, "000000", "a study submitted with an STS token")
        for i in range(3):
            r = s.submit(tok, NS, "%s.%d" % (uid, i), sink.base + "/cb/x",
                         oss, "ct/none-%d/" % i, securityToken=STS,
                         studyType=3)
            t.ok(r.code not in (None, "000000"), "a refused submission "
                 "carrying the secrets (%s)" % r.code)
        r = s.api("POST", "triggerAnalysis", {
            "namespace": NS, "ImageUid": "img-core-1", "accessKeyId": AK,
            "accessKeySecret": SK, "securityToken": STS,
            "endpoint": oss.endpoint, "bucketName": "studies",
            "key": "ct/c1/none", "analysis": "OA",
            "resultCallBackUrl": sink.base + "/result/core"}, token=tok,
            ns=NS)
        t.ok(r.code is not None, "triggerAnalysis with the secrets: %s"
             % r.code)
        recs = wait_for(lambda: [x for x in sink_received(sink, "/cb/core")
                                 if delivered(x)], 60)
        t.ok(recs, "the study was fetched with the STS token and its "
             "callback delivered", s.dispatcher_log()[-2000:])
        r = s.get_result(tok, NS, uid, 4)
        t.eq(r.code, "000000", "getAnalysisResult with the tokenId")
        wait_for(lambda: sink_received(sink, "/result/core"), 30)
        time.sleep(1)   # the dispatcher's transfers are over
        mine = children(s.lighttpd.pid)
        resp = {p: exe for p, exe in mine.items() if exe.endswith(".fcgi")}
        t.ok(len(resp) >= 5, "%d responders to dump" % len(resp), mine)
        for pid, exe in sorted(resp.items()):
            check_core("gcore of %s" % os.path.basename(exe),
                       gcore(pid, os.path.join(coredir, "gcore")), needles,
                       marker)
        check_core("gcore of mias-dispatcher", gcore(
            s.dispatcher.pid, os.path.join(coredir, "gcore")), needles,
            marker)
        kernel_core(s, tok, needles, marker, coredir)
        log = s.log() + s.dispatcher_log()
        t.ok(tok not in log and SK not in log and STS not in log,
             "no secret in the logs")
    finally:
        if not KEEP:
            shutil.rmtree(coredir, ignore_errors=True)
        s.cleanup(keep=KEEP or t.failed > 0)
        if t.failed:
            t.diag("kept %s" % s.dir)
    t.done()


main()
