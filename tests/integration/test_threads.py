#!/usr/bin/python3
# test_threads.py -- responders answering several requests at once: request
# threads, concurrent submissions each stored once, MIAS_THREADS, SIGTERM
import concurrent.futures
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, responders, wait_for  # noqa: E402

t = TAP()



def request_threads(pid, want=None):
    """Threads of pid named mias-request (lib/fcgi.c); with want, waits up
    to 10 s for that many (each names itself when it starts, and the
    first may answer before the last has: slow under ASan)."""
    if want is not None:
        got = []
        wait_for(lambda: got.append(request_threads(pid)) or
                 got[-1] == want, 10, 0.05)
        return got[-1]
    n = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                n += f.read().strip() == "mias-request"
    except OSError:
        return -1
    return n


def study(uid):
    return {"studyInstanceUid": uid, "studyType": 4,
            "statusNotifyCallBackUrl": "https://cb.hospital.example/notify",
            "accessKeyId": "AKIDexample", "accessKeySecret": "sk-secret-1",
            "endpoint": "oss-cn-beijing.aliyuncs.com",
            "bucketName": "hospital-studies", "key": "knee/%s/" % uid}


def studies_of(stack, ns):
    lst = stack.admin_json("studies", "list") or []
    if isinstance(lst, dict):
        lst = lst.get("studies", [])
    return [x for x in lst if x.get("namespace", x.get("ns")) == ns]


s = Stack("threads", procs=1)
s.responders_may_die = True	# SIGTERM below: lighttpd's 503 meanwhile
s2 = None
try:
    s.init()
    tok, _ = s.namespace("hosp")
    s.start()

    # a first request starts the responders (lighttpd spawns them at once)
    r = s.api("POST", "executeAnalysis", study("1.2.3.0"), token=tok,
              ns="hosp")
    t.eq(r.code, "000000", "a submission is accepted")
    pids = responders(s, "executeAnalysis")
    t.eq(len(pids), 1, "one executeAnalysis process (max-procs 1)")
    pid = pids[0] if pids else 0
    t.eq(request_threads(pid, 8), 8,
         "executeAnalysis answers with 8 request threads")
    g = responders(s, "getAnalysisResult")
    t.ok(g and all(request_threads(p) == 0 for p in g),
         "getAnalysisResult answers in its main thread (no request "
         "threads)")

    # --- 96 submissions at once, 32 in flight ----------------------------
    uids = ["1.2.3.%d" % i for i in range(1, 97)]

    def submit(uid):
        return s.api("POST", "executeAnalysis", study(uid), token=tok,
                     ns="hosp").code

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        codes = list(ex.map(submit, uids))
    t.eq(codes.count("000000"), 96,
         "96 submissions from 32 clients at once: all accepted")
    got = studies_of(s, "hosp")
    t.eq(len(got), 97, "97 studies stored, each once")
    log = s.admin_json("audit", "--namespace", "hosp") or []
    t.eq(sum(1 for e in log if e.get("action") == "executeAnalysis"), 97,
         "97 audit entries of executeAnalysis, none lost or torn")

    # --- the same study submitted by 16 clients at once ------------------
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(submit, ["1.2.3.500"] * 16))
    t.ok(all(c == codes[0] for c in codes),
         "one study submitted 16 times at once: the same answer to all "
         "(%s)" % sorted(set(codes)))
    t.eq(len([x for x in studies_of(s, "hosp")
              if "1.2.3.500" in str(x)]), 1,
         "and stored once")

    # --- SIGTERM: the threads end, the process leaves --------------------
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    gone = wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                    open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                    10, 0.05)
    t.ok(gone, "SIGTERM: the threaded responder leaves (%.2f s)"
         % (time.time() - t0))
    # lighttpd starts another on the next request (it may refuse for a
    # moment while it notices the process is gone)
    ok = wait_for(lambda: submit("1.2.3.600") == "000000", 10, 0.2)
    t.ok(ok, "the next submission is served by a new process")
    rlog = os.path.join(s.dir, "responders.log")
    with open(rlog, errors="replace") as f:
        rtext = f.read()
    t.ok("still busy" not in rtext,
         "no request thread was left busy at the stop")

    # --- SIGTERM while submissions are in flight -------------------------
    pid = (responders(s, "executeAnalysis") or [0])[0]
    uids = ["1.2.5.%d" % i for i in range(300)]
    answered = {}

    def submit_one(uid):
        answered[uid] = s.api("POST", "executeAnalysis", study(uid),
                              token=tok, ns="hosp").code

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        futs = [ex.submit(submit_one, u) for u in uids]
        wait_for(lambda: len(answered) >= 60, 30, 0.005)
        os.kill(pid, signal.SIGTERM)
        for f in futs:
            f.result()
    stored = {x.get("studyInstanceUid", x.get("uid")) for x in
              studies_of(s, "hosp")}
    ok = [u for u, c in answered.items() if c == "000000"]
    t.ok(len(ok) >= 60 and all(u in stored for u in ok),
         "SIGTERM during 300 submissions: every one answered 000000 (%d) "
         "is stored (answers: %s)" % (len(ok), sorted(
             (str(c), list(answered.values()).count(c))
             for c in set(answered.values()))),
         sorted(set(ok) - stored)[:5])
    t.ok(wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                  open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                  10, 0.05), "and the process left")
    s.stop()

    # --- MIAS_THREADS -----------------------------------------------------
    def threads_with(value, name, uid, want):
        """A stack whose lighttpd (and so its responders) has MIAS_THREADS
        = value: (request threads of its executeAnalysis, its log)."""
        global s2
        os.environ["MIAS_THREADS"] = value
        s2 = Stack(name, procs=1)
        s2.init()
        tok2, _ = s2.namespace("hosp")
        s2.start()
        r = s2.api("POST", "executeAnalysis", study(uid), token=tok2,
                   ns="hosp")
        p2 = responders(s2, "executeAnalysis")
        n = request_threads(p2[0], want) if r.code == "000000" and p2 \
            else -1
        s2.stop()
        with open(os.path.join(s2.dir, "responders.log"),
                  errors="replace") as f:
            text = f.read()
        s2.cleanup(keep=t.failed)
        s2 = None
        return n, text

    n, _ = threads_with("3", "threads2", "1.2.4.1", 3)
    t.eq(n, 3, "MIAS_THREADS=3: 3 request threads")
    n, text = threads_with("many", "threads3", "1.2.4.2", 8)
    t.eq(n, 8, "MIAS_THREADS=many: the default, 8")
    t.ok("MIAS_THREADS=many: not a number" in text,
         "and a warning in the web server's log")
finally:
    os.environ.pop("MIAS_THREADS", None)
    s.stop()
    s.cleanup(keep=t.failed)
    if s2 is not None:
        s2.stop()
        s2.cleanup(keep=t.failed)
t.done()
