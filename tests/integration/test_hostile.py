#!/usr/bin/python3
# test_hostile.py -- callback and engine endpoints that trickle, never close, or send a gigabyte: bounded time and memory
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TAP, Stack, FakeOss, cmd_engine_conf,  # noqa: E402
                     wait_for)

t = TAP()


class Hostile:
    """An HTTP peer misbehaving on purpose, per request path:
    /trickle  status line and headers, then one byte a second, forever
    /silent   reads the request, answers nothing, never closes
    /huge     200 with a 1 GB body, sent as fast as the client reads"""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.hits = {}
        self.stop = threading.Event()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, c):
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                d = c.recv(65536)
                if not d:
                    return
                req += d
            path = req.split(b" ", 2)[1].decode()
            self.hits[path] = self.hits.get(path, 0) + 1
            if path.startswith("/trickle"):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                          b"Content-Type: application/json\r\n\r\n{")
                while not self.stop.wait(1):
                    c.sendall(b" ")
            elif path.startswith("/silent"):
                self.stop.wait(120)
            elif path.startswith("/huge"):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                          b"Content-Type: application/json\r\n\r\n"
                          % (1 << 30))
                chunk = b"x" * (1 << 20)
                for _ in range(1024):
                    c.sendall(chunk)
        except OSError:
            pass
        finally:
            c.close()


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


h = Hostile()
s = Stack("hostile", engines={
    4: cmd_engine_conf(4, "OA"),
    2: "url = %s/huge-engine\nanalysis = CXR\ntimeout = 20\n" % h.base},
    egress="allow_hosts = 127.0.0.1")
try:
    with open(s.conf, "a") as f:
        f.write("[dispatcher]\ncallback_timeout = 3\n"
                "retry_schedule = 30s\n")
    s.init()
    tok, _ = s.namespace("hosp")
    oss = FakeOss(s)
    for i in range(4):
        oss.put("studies", "h%d/img.dcm" % i, b"hostile %d\n" % i * 50)
    s.start()
    s.start_dispatcher()
    for i, mode in enumerate(("trickle", "silent", "huge")):
        r = s.submit(tok, "hosp", "5.%d" % i, "%s/%s/cb" % (h.base, mode),
                     oss, "h%d/" % i)
        t.eq(r.code, "000000", "a study whose callback endpoint %s" % (
            {"trickle": "trickles bytes", "silent": "never answers",
             "huge": "sends 1 GB"}[mode]))
    started = time.time()

    def attempted():
        out = s.admin_json("deliveries", "list")
        if not out or len(out) < 3:
            return None
        return out if all(m.get("attempts", 0) >= 1 for m in out) else None

    msgs = wait_for(attempted, 60, 0.5)
    took = time.time() - started
    t.ok(msgs is not None and took < 30,
         "each first attempt ended within the callback timeout (all three "
         "in %.1f s)" % took, msgs)
    for m in msgs or []:
        if "/huge/" in m.get("url", ""):
            t.ok("longer than" in (m.get("lastError") or ""),
                 "  the gigabyte answer is cut off at the cap",
                 m.get("lastError"))
        t.ok(m.get("state") == "PENDING" and m.get("lastError"),
             "%s: a failure, to be retried (%s)" % (m.get("url"),
                                                    m.get("lastError")))
    # an engine that answers a trigger with a gigabyte
    r = s.api("POST", "executeAnalysis", {
        "studyInstanceUid": "5.9", "studyType": 2,
        "statusNotifyCallBackUrl": h.base + "/silent/x",
        "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
        "endpoint": oss.endpoint, "bucketName": "studies",
        "key": "h3/"}, token=tok, ns="hosp")
    t.eq(r.code, "000000", "a study for an engine answering with 1 GB")
    j = wait_for(lambda: (s.admin_json("studies", "show", "hosp", "2",
                                        "5.9") or {}).get("images") and
                 (s.admin_json("studies", "show", "hosp", "2", "5.9")
                  ["images"][0].get("attempts", 0) >= 1), 60, 0.5)
    t.ok(j, "the trigger's gigabyte answer was cut off and counted as a "
         "failed attempt")
    hwm = rss_kb(s.dispatcher.pid)
    t.diag("dispatcher peak RSS %d KB" % hwm)
    t.ok(0 < hwm < 64 * 1024, "the dispatcher's peak memory stayed under "
         "64 MB (%d KB)" % hwm)
finally:
    h.stop.set()
    s.cleanup(keep=t.failed > 0)
t.done()
