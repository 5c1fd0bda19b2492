#!/usr/bin/python3
# test_dispatch.py -- mias-dispatcher end to end: lighttpd, the real dispatcher, fake OSS, engines and a callback sink
"""
Studies go in through executeAnalysis on a real lighttpd; the real
mias-dispatcher lists them in the fake OSS (tests/fixtures/oss_server.py),
runs a command engine (cmd_engine.py) or triggers a remote one (engine.py),
and delivers the status callback to tests/fixtures/sink.py, whose records
are checked with the official standardwebhooks library.

Three stacks:
  C  command engines (cmd_engine.py for types 4, 1 and 3, /bin/cat for 2):
     the 3-image study, wake-up latency, OSS cases, command engine
     failures, engine concurrency, paging, callback delivery, the lock,
     SIGHUP and SIGTERM, secrets left in memory;
  R  remote engines (engine.py for types 4, 2 and 3, one that answers 503
     for type 1): the trigger, remote failures, repeated results;
  E  the egress guard at connect time (a callback host that resolves to
     loopback while allow_hosts names only localhost).
Short settings keep it at about a minute: engine timeout 3 s where a
timeout is tested (20 s elsewhere), retry_schedule 1s,1s,2s,
callback_timeout 2 s.

The checks are grouped in named scenarios (c_*, r_*, e_* by stack), run
in the order listed; each starts its stack the first time one needs it
and sets up what it uses, so any of them can run alone:
  test_dispatch.py --list            the scenarios, one line each
  test_dispatch.py c_oss r_repeat    only those (in the listed order)
  MIAS_DISPATCH_SCENARIOS="c_oss r_repeat" make check \
      TESTS=tests/integration/test_dispatch.py    the same, under make
With none named, all of them run (what ./runtests does).

MIAS_TEST_KEEP=1 keeps the temporary directories (MIAS_TEST_KEEP_FAILED=1:
only when a test failed).
"""
import base64
import calendar
import inspect
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Stack, FakeOss, FIXTURES, wait_for,  # noqa: E402
                     envelope_ok, free_port, scan_memory, sink_received,
                     sink_script, delivered, verify_webhooks, installed)
sys.path.insert(0, FIXTURES)
import engine as engine_fixture  # noqa: E402

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
T_START = time.time()
PY = "/usr/bin/python3"
CMD = "%s %s/cmd_engine.py" % (PY, FIXTURES)
ENGINE_TIMEOUT = 3      # for the engines whose timeouts are tested
ENGINE_SAFE = 20        # for the others
RETRY = "1s,1s,2s"
CB_TIMEOUT = 2
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
WEBHOOK_ID = re.compile(r"^msg_[A-Za-z0-9_-]{8,}$")
# an image result the /bin/cat engine (type 2) hands back as it is
ITEM_CXR = ('{"returnCode":"000000","returnMessage":"OK","Boxes":[],'
            '"XRayDataList":[{"posProb":0.5,"posMap":[[1,2]]}]}')
CAT = "command = /bin/cat {input}\nanalysis = CXR\ntimeout = 10\n" \
    "concurrency = 8\n"
stacks = []


def write_conf(s, engines, egress="allow_hosts = 127.0.0.1", extra=""):
    """The stack's whole configuration, replaced atomically."""
    text = ("[server]\nstate_dir = %s\nkey_file = %s\npublic_url = %s\n"
            "max_body_bytes = 65536\n\n"
            "[dispatcher]\nconcurrency = 16\ncallback_timeout = %d\n"
            "retry_schedule = %s\n%s\n\n[egress]\n%s\n\n"
            % (s.state, os.path.join(s.dir, "master.key"), s.base,
               CB_TIMEOUT, RETRY, extra, egress))
    for n, body in sorted(engines.items()):
        text += "[engine.%d]\n%s\n" % (n, body)
    with open(s.conf + ".new", "w") as f:
        f.write(text)
    os.rename(s.conf + ".new", s.conf)


def cmd_engine(study_type=4, extra="", timeout=None):
    """A cmd_engine.py section; the timeout is generous (Python starts
    slowly on a loaded machine) except where a test waits for it."""
    return ("command = %s --type %d %s{input}\nanalysis = OA\ntimeout = %d\n"
            "concurrency = 2\n" % (CMD, study_type, extra,
                                   timeout or ENGINE_SAFE))


def wait_delivered(sink, path, timeout=40):
    """The sink's records for path once one was delivered (else all)."""
    recs = wait_for(lambda: (lambda r: r if any(delivered(x) for x in r)
                             else None)(sink_received(sink, path)), timeout)
    return recs or sink_received(sink, path)


def body_of(rec):
    try:
        return json.loads(rec["body"])
    except (ValueError, KeyError, TypeError):
        return {}


def final(sink, path, timeout=40):
    """(callback body of the delivered record, all records) for path."""
    recs = wait_delivered(sink, path, timeout)
    d = [r for r in recs if delivered(r)]
    return (body_of(d[-1]) if d else None), recs


def check_failed(body, code, desc, count=None, needle=None):
    """A status -1 callback body with errorCode code."""
    ok = (isinstance(body, dict) and body.get("status") == -1 and
          body.get("errorCode") == code and
          isinstance(body.get("errorMessage"), str) and
          body["errorMessage"] != "")
    t.ok(ok, desc + ": status -1, errorCode " + code, body)
    if count is not None:
        msg = (body or {}).get("errorMessage") or ""
        want = "%d of %d images failed: %s" % (count[0], count[1], code)
        t.ok(msg.startswith(want), desc + ": errorMessage \"%s...\"" % want,
             msg)
    if needle is not None:
        msg = (body or {}).get("errorMessage") or ""
        t.ok(needle in msg, desc + ": errorMessage says %r" % needle, msg)


def check_ok(body, uid, desc, study_type=4):
    t.ok(isinstance(body, dict) and body.get("status") == 0 and
         body.get("studyInstanceUid") == uid and
         body.get("studyType") == study_type and
         body.get("errorCode") is None and body.get("errorMessage") is None,
         desc + ": status 0 callback", body)


def findings_of(s, ns, uid, study_type=4):
    res = s.result(ns, study_type, uid) or {}
    data = res.get("data") or {}
    name = {4: "boxes", 1: "imageDataList", 2: "xRayDataList",
            3: "ocularDataList"}[study_type]
    return res, data.get(name)


def engine_log(eng, since=0):
    r = eng.call("GET", "/__control__/log?since=%d" % since)
    return r if isinstance(r, list) else []


def engine_mode(eng, mode, **kw):
    body = {"mode": mode}
    body.update(kw)
    return eng.call("POST", "/__control__", body)


def set_cmd_mode(path, mode):
    with open(path + ".new", "w") as f:
        f.write(mode + "\n")
    os.rename(path + ".new", path)


def cmd_log(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def loopback_alias():
    """A host name other than localhost that resolves to loopback only."""
    names = []
    try:
        with open("/etc/hosts") as f:
            for line in f:
                parts = line.split("#")[0].split()
                if len(parts) >= 2 and parts[0].startswith("127."):
                    names += parts[1:]
    except OSError:
        pass
    names.append(socket.gethostname())
    for n in names:
        if n.lower() == "localhost" or n.lower().endswith(".localhost") or \
                n.lower().startswith("localhost"):
            continue
        try:
            addrs = {a[4][0] for a in socket.getaddrinfo(n, 80,
                                                         socket.AF_INET)}
        except OSError:
            continue
        if addrs and all(a.startswith("127.") for a in addrs):
            try:
                if socket.getaddrinfo(n, 80, socket.AF_INET6):
                    continue    # may go to ::1 first: keep it simple
            except OSError:
                pass
            return n
    return None


def check_memory(s, when, secrets):
    """No copy of any of the secrets in the dispatcher's memory once the
    transfers that needed them are over (CONTRACT: buffers that held
    secrets are wiped after use)."""
    needles = dict((k, v.encode() if isinstance(v, str) else v)
                   for k, v in secrets.items())
    # idle: no transfer of the study in flight any more
    found = scan_memory(s.dispatcher.pid, list(needles.values()))
    if found is None:
        t.ok(True, "# SKIP cannot read the dispatcher's memory")
        return
    hits = []
    for name, n in needles.items():
        for region, ctx in found.get(n, []):
            hits.append("%s in %s: %r" % (name, region, ctx))
    t.ok(not hits, "%s: no OSS secret, STS token or signing secret left in "
         "the dispatcher's memory (%s)" % (when, ", ".join(needles)),
         "\n".join(hits[:8]))


def section(name):
    t.diag("--- %s (%.1f s)" % (name, time.time() - T_START))



def reload(s, engines):
    """Write the stack's configuration with these engines and SIGHUP the
    dispatcher; back once it says it reloaded."""
    write_conf(s, engines)
    mark = len(s.dispatcher_log())
    s.dispatcher.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in s.dispatcher_log()[mark:], 10)


# ==========================================================================
# The stacks, each started the first time a scenario asks for it
# ==========================================================================
_stacks = {}


class Ctx:
    """What a stack's scenarios share (attributes named in its helper)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def c_engines_for(extra4="", no1=False):
    """Stack C's engines: cmd_engine.py for 4, 1 and 3, /bin/cat for 2."""
    e = {4: cmd_engine(4, extra4), 1: cmd_engine(1), 2: CAT,
         3: cmd_engine(3, timeout=ENGINE_TIMEOUT)}
    if no1:
        del e[1]
    return e


def stack_c():
    """Stack C: command engines, namespace hosp-c, a fake OSS with STS
    tokens, a callback sink and the 3-image study ct/s1/ (keys).  The
    engine mode is "ok" whenever a scenario gets it."""
    if "c" in _stacks:
        c = _stacks["c"]
        set_cmd_mode(c.mode_file, "ok")
        return c
    C = Stack("dispatch-c")
    stacks.append(C)
    mode_file = os.path.join(C.dir, "engine.mode")
    eng_log = os.path.join(C.dir, "cmd_engine.jsonl")
    set_cmd_mode(mode_file, "ok")
    os.environ["MIAS_TEST_ENGINE_MODE_FILE"] = mode_file
    os.environ["MIAS_TEST_ENGINE_LOG"] = eng_log
    os.environ["MIAS_TEST_ENGINE_DELAY"] = "0.7"
    write_conf(C, c_engines_for())
    C.init()
    tok, secret = C.namespace("hosp-c")
    oss = FakeOss(C, sts={"STS-TOKEN-expired": {"ak": "STS-AK-expired",
                                                "expires": 1000000000},
                          "STS-TOKEN-c-valid-0123456789": {
                              "ak": "STS-AK-c",
                              "expires": int(time.time()) + 7200}},
                  keys={"AKID-dispatch": "SK-dispatch-secret-0123",
                        "STS-AK-c": "STS-SK-c-valid-secret",
                        "STS-AK-expired": "STS-SK-expired"})
    sink = C.fixture("sink.py")
    C.start()
    C.start_dispatcher()
    keys = oss.dicom("studies", "ct/s1", 3)
    _stacks["c"] = Ctx(C=C, tok=tok, secret=secret, oss=oss, sink=sink,
                       keys=keys, mode_file=mode_file, eng_log=eng_log,
                       engines=c_engines_for)
    return _stacks["c"]


def stack_r():
    """Stack R: remote engines (engine.py for types 4, 2 and 3, one that
    answers 503 for type 1), namespace hosp-r, a fake OSS, a callback sink
    and the 3-image study ct/r1/ (keys); submit() fails a check when a
    study is refused."""
    if "r" in _stacks:
        return _stacks["r"]
    R = Stack("dispatch-r")
    stacks.append(R)
    eng = R.fixture("engine.py")
    eng_down = R.fixture("engine.py", "--mode", "unavailable")
    write_conf(R, {
        4: "url = %s/trigger\nanalysis = OA\ntimeout = %d\nconcurrency = 4\n"
           % (eng.base, ENGINE_SAFE),
        2: "url = %s/trigger\nanalysis = CXR\ntimeout = %d\n"
           "concurrency = 4\n" % (eng.base, ENGINE_TIMEOUT),
        1: "url = %s/trigger\nanalysis = LN\ntimeout = %d\nconcurrency = 4\n"
           % (eng_down.base, ENGINE_TIMEOUT),
        3: "url = %s/trigger\nanalysis = DR\ntimeout = 20\nconcurrency = 2\n"
           % eng.base})
    R.init()
    rtok, rsecret = R.namespace("hosp-r")
    ross = FakeOss(R, keys={"AKID-r": "SK-r-secret-456",
                            "STS-AK-r": "STS-SK-r"},
                   sts={"STS-TOKEN-r-0123456789": {
                       "ak": "STS-AK-r", "expires": int(time.time()) + 7200}})
    rsink = R.fixture("sink.py")
    R.start()
    R.start_dispatcher()
    rkeys = ross.dicom("studies", "ct/r1", 3)

    def rsubmit(uid, path, key, **over):
        r = R.submit(rtok, "hosp-r", uid, rsink.base + path, ross, key,
                     **over)
        if r.code != "000000":
            t.ok(False, "submit %s" % uid, r)
        return r
    _stacks["r"] = Ctx(R=R, tok=rtok, secret=rsecret, oss=ross, sink=rsink,
                       keys=rkeys, eng=eng, eng_down=eng_down,
                       submit=rsubmit)
    return _stacks["r"]


# ==========================================================================
# The scenarios, in the order they run
# ==========================================================================
SCENARIOS = []


def scenario(fn):
    """A named group of checks.  A generator scenario runs to its first
    yield in its turn and is finished after all the others."""
    SCENARIOS.append(fn)
    return fn


@scenario
def c_study():
    """Stack C: a 3-image DICOM study through a command engine, its signed
    callback, the stored result and mias-admin studies."""
    c = stack_c()
    C = c.C
    tok = c.tok
    secret = c.secret
    oss = c.oss
    sink = c.sink
    keys = c.keys
    eng_log = c.eng_log
    n0 = len(cmd_log(eng_log))
    uid1 = "1.2.826.0.1.3680043.8.498.1"
    r = C.submit(tok, "hosp-c", uid1, sink.base + "/cb/c1", oss, "ct/s1/")
    envelope_ok(t, r, "000000", 200, "executeAnalysis accepts the study")
    body, recs = final(sink, "/cb/c1")
    check_ok(body, uid1, "3-image study, command engine")
    t.eq(len(recs), 1, "exactly one callback request")
    rec = recs[0] if recs else {}
    t.ok(WEBHOOK_ID.match(rec.get("webhook_id") or "") is not None and
         (rec.get("webhook_signature") or "").startswith("v1,") and
         abs(int(rec.get("webhook_timestamp") or 0) - time.time()) < 300,
         "webhook-id, webhook-timestamp and webhook-signature (v1,) present",
         rec.get("headers"))
    t.ok((rec.get("headers") or {}).get("content-type", "")
         .startswith("application/json"), "callback is application/json")
    rc, out = verify_webhooks(recs, secret)
    if rc is None:
        t.ok(True, "# SKIP standardwebhooks: " + out)
    else:
        t.ok(rc == 0 and out.startswith("ok "),
             "the standardwebhooks library verifies the signature", out)
        wrong = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
        rc2, out2 = verify_webhooks(recs, wrong)
        t.ok(rc2 == 1 and "bad" in out2,
             "negative control: a wrong secret does not verify", out2)
        tampered = [dict(rec, body_base64=base64.b64encode(
            rec["body"].replace('"status":0', '"status":1').encode())
            .decode())] if rec else []
        rc3, out3 = verify_webhooks(tampered, secret)
        t.ok(rc3 == 1, "negative control: a changed body does not verify",
             out3)
    res, boxes = findings_of(C, "hosp-c", uid1)
    t.eq(res.get("state"), "DONE", "the stored result is DONE")
    t.eq(len(boxes or []), 3, "the result holds 3 boxes, one per image")
    want = sorted([[0, 0, os.path.getsize(os.path.join(oss.root, "studies",
                                                       k)),
                    int(oss.sha256("studies", k)[:4], 16)] for k in keys])
    t.eq(sorted(b.get("coordinates") for b in boxes or []), want,
         "each box encodes the size and SHA-256 of its image's bytes")
    t.eq(len((res.get("data") or {}).get("boxDataList") or []), 3,
         "boxDataList (deployed clients' name) has the same 3 boxes")
    runs = [x for x in cmd_log(eng_log)[n0:]
            if x.get("phase") == "start"]
    t.eq(len(runs), 3, "the engine ran once per image")
    t.ok(runs and all(x.get("input", "").startswith(
        os.path.join(C.state, "tmp") + "/") for x in runs),
         "the engine got private temporary files under state_dir/tmp",
         [x.get("input") for x in runs])
    t.ok(runs and not any(os.path.exists(x["input"]) for x in runs),
         "the temporary files were removed")
    st = C.study("hosp-c", 4, uid1) or {}
    t.ok(st.get("state") == "DONE" and "creds" not in st and
         st.get("imagesDone") == 3,
         "study record: DONE, 3 images done, sealed credentials erased",
         st)
    shown = C.admin_json("studies", "show", "hosp-c", "4", uid1)
    text = json.dumps(shown)
    t.ok(shown is not None and "DONE" in text and
         oss.sk not in text and oss.ak not in text,
         "mias-admin studies show NS TYPE UID --json: DONE, no "
         "credentials", C.admin("studies", "show", "hosp-c", "4", uid1,
                                "--json", check=False).stderr)
    p = C.admin("studies", "show", "--json", "hosp-c", "4", uid1,
                check=False)
    try:
        shown = json.loads(p.stdout)
    except ValueError:
        shown = None
    imgs = (shown or {}).get("images") or []
    t.ok(len(imgs) == 3 and
         all(i.get("state") == "DONE" and i.get("object") in keys
             for i in imgs),
         "studies show lists the 3 image jobs (DONE, object key)", shown)
    lst = C.admin_json("studies", "list", "--namespace", "hosp-c")
    t.ok(isinstance(lst, list) and uid1 in json.dumps(lst),
         "studies list --namespace --json lists the study", lst)
    r = C.api("GET", "getAnalysisResult", token=tok, ns="hosp-c",
              query="?studyInstanceUid=%s&studyType=4" % uid1)
    t.ok(r.code == "000000" and
         len(((r.json or {}).get("data") or {}).get("boxes") or []) == 3,
         "getAnalysisResult answers 000000 with the 3 boxes", r)


@scenario
def c_connections():
    """Stack C: a 60-image study comes over at most one OSS connection per
    worker."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    for i in range(60):
        oss.put("studies", "ct/many/img%02d.dcm" % i,
                b"image %d\n" % i * 40)
    since = len(oss.log())
    uidm = "1.2.826.0.1.3680043.8.498.60"
    r = C.submit(tok, "hosp-c", uidm, sink.base + "/cb/many", oss,
                 "ct/many/")
    body, recs = final(sink, "/cb/many", 90)
    check_ok(body, uidm, "60-image study")
    reqs = [e for e in oss.log()[since:]
            if e.get("method") in ("GET", "HEAD")]
    peers = {e.get("peer") for e in reqs}
    m = re.search(r"(\d+) workers\)", C.dispatcher_log())
    workers = int(m.group(1)) if m else 0
    t.ok(len(reqs) >= 61 and 0 < workers and len(peers) <= workers,
         "the listing and 60 downloads came over at most one connection "
         "per worker (%d requests, %d connections, %d workers)"
         % (len(reqs), len(peers), workers))


@scenario
def c_promptness():
    """Stack C: wake-up latency of an idle dispatcher (5 studies)."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    keys = c.keys
    lat = []
    for i in range(5):
        uid = "1.2.826.0.1.3680043.8.498.7.%d" % i
        seq = max([e.get("seq", 0) for e in oss.log()] or [0])
        r = C.submit(tok, "hosp-c", uid, sink.base + "/cb/lat%d" % i, oss,
                     "ct/s1/" + keys[0].split("/")[-1])
        t_resp = time.time()
        ent = wait_for(lambda: [e for e in oss.log(seq)
                                if e.get("method") == "GET" and
                                ("prefix" in (e.get("query") or {}) or
                                 "list-type" in (e.get("query") or {}))], 10,
                       0.01)
        if ent:
            lat.append(ent[0]["time"] - t_resp)
        final(sink, "/cb/lat%d" % i)
    t.diag("wake-up latency (executeAnalysis answered -> first OSS list "
           "request): %s ms" % ", ".join("%.1f" % (x * 1000) for x in lat))
    t.ok(len(lat) == 5 and max(lat) < 1.0,
         "a study submitted to an idle dispatcher is listed within 1 s", lat)
    t.ok(len(lat) == 5 and statistics.median(lat) < 0.3,
         "median wake-up latency under 300 ms (a wake-up, not a slow poll)",
         lat)


@scenario
def c_burst():
    """Stack C: a burst of 40 studies, all delivered."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    # a burst: 40 studies at once, all delivered (the /bin/cat engine
    # of type 2: Python's start-up would dominate the time otherwise)
    for i in range(3):
        oss.put("studies", "burst/%d.json" % i, ITEM_CXR.encode())
    t0 = time.time()
    for i in range(40):
        r = C.submit(tok, "hosp-c", "1.2.7.burst.%d" % i, sink.base +
                     "/cb/burst%d" % i, oss, "burst/%d.json" % (i % 3),
                     studyType=2)
        if r.code != "000000":
            t.ok(False, "burst submit %d" % i, r)
    bodies = [final(sink, "/cb/burst%d" % i, 60)[0] for i in range(40)]
    bad = [i for i, b in enumerate(bodies)
           if not b or b.get("status") != 0 or
           b.get("studyInstanceUid") != "1.2.7.burst.%d" % i]
    t.ok(not bad, "a burst of 40 studies: 40 status 0 callbacks "
         "(%.1f s)" % (time.time() - t0), bad)
    t.eq(sum(len(sink_received(sink, "/cb/burst%d" % i))
             for i in range(40)), 40, "... one request each")


@scenario
def c_odd_names():
    """Stack C: a study id with quotes, backslash and UTF-8, a callback URL
    with a query string."""
    c = stack_c()
    C = c.C
    tok = c.tok
    secret = c.secret
    oss = c.oss
    sink = c.sink
    keys = c.keys
    # an odd study id and a callback URL with a query string
    odd = '1.2.840/"quoted",\\back\u00e9'
    r = C.submit(tok, "hosp-c", odd, sink.base + "/cb/odd?x=1&y=%2F",
                 oss, keys[0])
    if r.code == "000000":
        body, recs = final(sink, "/cb/odd")
        check_ok(body, odd, "a study id with quotes, backslash, comma, "
                 "slash and UTF-8")
        t.ok(recs and recs[0].get("query") == "x=1&y=%2F",
             "the callback URL's query string is kept as given",
             recs and recs[0].get("target"))
        rc, out = verify_webhooks(recs, secret)
        t.ok(rc in (0, None), "... and its callback verifies", out)
    else:
        t.diag("executeAnalysis refused the odd id: %r" % r)


@scenario
def c_oss():
    """Stack C: OSS cases (empty, bad credentials, expired STS, markers,
    prefixes, odd keys), a FAILED study run again, no secret left in memory."""
    c = stack_c()
    C = c.C
    tok = c.tok
    secret = c.secret
    oss = c.oss
    sink = c.sink
    keys = c.keys
    eng_log = c.eng_log
    mk = [k for k in oss.dicom("studies", "mk/s2", 2, marker=True)
      if not k.endswith("/")]
    oss.put("studies", "mk/s2/empty.dcm", b"")
    oss.marker("studies", "mk/s2/sub")
    oss.put("studies", "mk/s2/sub/zero.dcm", b"")
    oss.put("studies", "mk/s2/sub/extra.dcm", b"E" * 777)
    oss.put("studies", "knee/0001/a.dcm", b"a" * 1000)
    oss.put("studies", "knee/0001/b.dcm", b"b" * 1001)
    oss.put("studies", "knee/00010/x.dcm", b"x" * 1234)
    oss.put("studies", "knee/0001.dcm", b"y" * 1500)
    oss.bucket("emptybucket")
    weird = ["weird/a b.dcm", "weird/图像 1.dcm", "weird/x+y%20z.dcm",
             "weird/q?#&=;.dcm", "weird/deep/~tilde'quote\".dcm"]
    for i, k in enumerate(weird):
        oss.put("studies", k, b"w" * (2000 + i))
    cases = [
        ("empty", "ct/nothing-here/", {}),
        ("emptybucket", "any/", {"bucket": "emptybucket"}),
        ("badsecret", "ct/s1/", {"accessKeySecret": "not-the-secret"}),
        ("badkey", "ct/s1/", {"accessKeyId": "AKID-unknown"}),
        ("nobucket", "ct/s1/", {"bucket": "no-such-bucket"}),
        ("expired", "ct/s1/", {"accessKeyId": "STS-AK-expired",
                               "accessKeySecret": "STS-SK-expired",
                               "securityToken": "STS-TOKEN-expired"}),
        ("single", keys[1], {}),
        ("markers", "mk/s2", {}),
        ("knee", "knee/0001", {}),
        ("kneeslash", "knee/0001/", {}),
        ("weird", "weird/", {}),
        ("weirdone", "weird/图像 1.dcm", {}),
    ]
    for name, key, over in cases:
        r = C.submit(tok, "hosp-c", "1.2.4." + name, sink.base + "/cb/oss-" +
                     name, oss, key, **over)
        if r.code != "000000":
            t.ok(False, "submit %s" % name, r)
    got = {name: final(sink, "/cb/oss-" + name)[0] for name, _, _ in cases}
    check_failed(got["empty"], "OSS_EMPTY", "a prefix with no object",
                 needle="ct/nothing-here/")
    check_failed(got["emptybucket"], "OSS_EMPTY", "an empty bucket")
    check_failed(got["badsecret"], "OSS_SIGNATURE_MISMATCH",
                 "a wrong accessKeySecret")
    check_failed(got["badkey"], "OSS_INVALID_ACCESS_KEY",
                 "an unknown accessKeyId")
    check_failed(got["nobucket"], "OSS_NO_SUCH_BUCKET", "a missing bucket")
    check_failed(got["expired"], "OSS_CREDENTIALS_EXPIRED",
                 "an expired STS token")
    leak = [n for n, b in got.items()
            if b and any(x in json.dumps(b) for x in
                         (oss.sk, "not-the-secret", "STS-SK-expired",
                          "STS-TOKEN-expired"))]
    t.ok(not leak, "no secret or STS token in any callback body", leak)
    check_ok(got["single"], "1.2.4.single", "a single object key")
    _, b = findings_of(C, "hosp-c", "1.2.4.single")
    size1 = os.path.getsize(os.path.join(oss.root, "studies", keys[1]))
    t.ok(b is not None and len(b) == 1 and
         b[0]["coordinates"][2] == size1,
         "a single object key is a one-image study (that object)", b)
    check_ok(got["markers"], "1.2.4.markers",
             "directory markers and zero-byte objects")
    _, b = findings_of(C, "hosp-c", "1.2.4.markers")
    want = sorted([os.path.getsize(os.path.join(oss.root, "studies", k))
                   for k in mk] + [777])
    t.eq(sorted(x["coordinates"][2] for x in b or []), want,
         "markers and zero-byte objects skipped; nested objects included")
    t.ok(not any(x.get("size") == 0 for x in cmd_log(eng_log)),
         "the engine never got an empty file")
    for name in ("knee", "kneeslash"):
        check_ok(got[name], "1.2.4." + name, "prefix %s" % name)
        _, b = findings_of(C, "hosp-c", "1.2.4." + name)
        t.eq(sorted(x["coordinates"][2] for x in b or []), [1000, 1001],
             "%s: knee/0001/{a,b} only, not knee/00010/x nor knee/0001.dcm"
             % ("knee/0001" if name == "knee" else "knee/0001/"))
    check_ok(got["weird"], "1.2.4.weird", "object keys with blanks, "
             "UTF-8, +, %, ?, #, quotes")
    _, b = findings_of(C, "hosp-c", "1.2.4.weird")
    t.eq(sorted(x["coordinates"][2] for x in b or []),
         [2000 + i for i in range(len(weird))],
         "every such object was listed and downloaded byte for byte")
    check_ok(got["weirdone"], "1.2.4.weirdone", "a single UTF-8 key "
             "with a blank")
    st = C.study("hosp-c", 4, "1.2.4.nobucket") or {}
    t.ok(st.get("state") == "FAILED" and "creds" not in st,
         "a failed study is FAILED and its credentials are erased", st)
    # a failed study submitted again runs again (the caller's retry)
    oss.put("studies", "ct/nothing-here/now.dcm", b"n" * 321)
    r = C.submit(tok, "hosp-c", "1.2.4.empty", sink.base +
                 "/cb/oss-empty", oss, "ct/nothing-here/")
    recs = wait_for(lambda: (lambda r: r if len(r) >= 2 and
                             delivered(r[-1]) else None)(
        sink_received(sink, "/cb/oss-empty")), 30) or []
    b2 = body_of(recs[-1]) if recs else {}
    t.ok(len(recs) == 2 and b2.get("status") == 0 and
         recs[0]["webhook_id"] != recs[1]["webhook_id"],
         "a FAILED study submitted again runs again: a second callback "
         "(new webhook-id), status 0", [body_of(x) for x in recs])
    st = C.study("hosp-c", 4, "1.2.4.empty") or {}
    _, b = findings_of(C, "hosp-c", "1.2.4.empty")
    t.ok(st.get("run") == 2 and st.get("state") == "DONE" and
         len(b or []) == 1, "run 2 is DONE with its one image", st)

    # nothing secret stays in the dispatcher's memory after use
    C.submit(tok, "hosp-c", "1.2.4.sts", sink.base + "/cb/sts", oss,
             "ct/s1/", accessKeyId="STS-AK-c",
             accessKeySecret="STS-SK-c-valid-secret",
             securityToken="STS-TOKEN-c-valid-0123456789")
    body, _ = final(sink, "/cb/sts")
    check_ok(body, "1.2.4.sts", "a study with STS credentials")
    check_memory(C, "after OSS listings and downloads (command engine)",
                 {"STS AccessKeySecret (last study)":
                  "STS-SK-c-valid-secret",
                  "STS token (last study)":
                  "STS-TOKEN-c-valid-0123456789",
                  "OSS AccessKeySecret": oss.sk,
                  "bad secret": "not-the-secret",
                  "STS AccessKeySecret": "STS-SK-expired",
                  "STS token": "STS-TOKEN-expired",
                  "signing secret": secret,
                  "signing key bytes": base64.b64decode(secret[6:])})


@scenario
def c_engine_failures():
    """Stack C: command engine failures (error, bad results, crash, hang and
    its timeout)."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    keys = c.keys
    one = c.keys[0]
    mode_file = c.mode_file
    eng_log = c.eng_log

    def cmd_case(name, mode, key, code, count, needle=None,
                 study_type=4):
        set_cmd_mode(mode_file, mode)
        t0 = time.time()
        C.submit(tok, "hosp-c", "1.2.3." + name, sink.base + "/cb/cmd-" +
                 name, oss, key, studyType=study_type)
        body, _ = final(sink, "/cb/cmd-" + name)
        set_cmd_mode(mode_file, "ok")
        check_failed(body, code, "command engine %s" % mode, count, needle)
        return time.time() - t0

    one = keys[0]
    cmd_case("fail", "fail 1", "ct/s1/", "ENGINE_ERROR", (1, 3),
             "image unreadable")
    res, b = findings_of(C, "hosp-c", "1.2.3.fail")
    t.ok(res.get("state") == "FAILED" and len(b or []) == 2,
         "a partly failed study keeps the 2 images' findings", res)
    r = C.api("GET", "getAnalysisResult", token=tok, ns="hosp-c",
              query="?studyInstanceUid=1.2.3.fail&studyType=4")
    d = (r.json or {}).get("data") or {}
    t.ok(r.code == "100006" and d.get("errorCode") == "ENGINE_ERROR" and
         str(d.get("errorMessage", "")).startswith("1 of 3 images") and
         len(d.get("boxes") or []) == 2,
         "getAnalysisResult: 100006 with errorCode, errorMessage and the "
         "2 good images' boxes", r)
    cmd_case("malformed", "malformed 1", one, "ENGINE_BAD_RESULT", (1, 1))
    cmd_case("invalid", "invalid 1", one, "ENGINE_BAD_RESULT", (1, 1))
    cmd_case("garbage", "garbage 1", one, "ENGINE_BAD_RESULT", (1, 1))
    cmd_case("crash", "crash 1", one, "ENGINE_ERROR", (1, 1), "status 3")
    n0 = len(cmd_log(eng_log))
    took = cmd_case("hang", "hang 1", one, "ENGINE_TIMEOUT", (1, 1),
                    study_type=3)
    t.ok(took >= ENGINE_TIMEOUT - 0.2,
         "ENGINE_TIMEOUT came after the configured %d s (%.1f s)"
         % (ENGINE_TIMEOUT, took))
    hung = [x for x in cmd_log(eng_log)[n0:] if x.get("mode") == "hang"]
    t.ok(hung and wait_for(lambda: not pid_alive(hung[0]["pid"]), 5),
         "the hung engine process was killed", hung)


@scenario
def c_engine_concurrency():
    """Stack C: the engine's concurrency, and forceAnalysis on a running
    study."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    mode_file = c.mode_file
    eng_log = c.eng_log
    # at most `concurrency` (2) engine programs at a time
    keys5 = oss.dicom("studies", "ct/s5", 5)
    n0 = len(cmd_log(eng_log))
    set_cmd_mode(mode_file, "slow 5")
    C.submit(tok, "hosp-c", "1.2.3.conc", sink.base + "/cb/conc", oss,
             "ct/s5/")
    body, _ = final(sink, "/cb/conc")
    set_cmd_mode(mode_file, "ok")
    check_ok(body, "1.2.3.conc", "5 images, slow engine")
    ev = sorted((x["time"], 1 if x["phase"] == "start" else -1)
                for x in cmd_log(eng_log)[n0:]
                if x.get("phase") in ("start", "end"))
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    t.ok(peak == 2 and len(ev) == 2 * len(keys5),
         "the engine's concurrency = 2 is used and never exceeded "
         "(peak %d)" % peak, ev)

    # forceAnalysis while the study runs: accepted, no second run
    n0 = len(cmd_log(eng_log))
    set_cmd_mode(mode_file, "slow 3")
    C.submit(tok, "hosp-c", "1.2.3.busy", sink.base + "/cb/busy", oss,
             "ct/s1/")
    wait_for(lambda: [x for x in cmd_log(eng_log)[n0:]
                      if x.get("phase") == "start"], 15, 0.02)
    r = C.submit(tok, "hosp-c", "1.2.3.busy", sink.base + "/cb/busy",
                 oss, "ct/s1/", forceAnalysis=True)
    envelope_ok(t, r, "000000", 200, "forceAnalysis on a running study "
                "is accepted")
    body, recs = final(sink, "/cb/busy")
    set_cmd_mode(mode_file, "ok")
    check_ok(body, "1.2.3.busy", "a running study given forceAnalysis")
    st = C.study("hosp-c", 4, "1.2.3.busy") or {}
    starts = [x for x in cmd_log(eng_log)[n0:] if x.get("phase") ==
              "start"]
    t.ok(st.get("run") == 1 and len(starts) == 3 and len(recs) == 1,
         "... and it does not start a second run (run %s, %d engine "
         "runs, %d callbacks)" % (st.get("run"), len(starts), len(recs)))


@scenario
def c_paging():
    """Stack C: a listing of more than one page (1005 images)."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    # a listing of more than one page (max-keys 1000), 1005 images
    for i in range(1005):
        oss.put("studies", "big/%04d.json" % i, ITEM_CXR.encode())
    seq = max([e.get("seq", 0) for e in oss.log()] or [0])
    C.submit(tok, "hosp-c", "1.2.3.big", sink.base + "/cb/big", oss,
             "big/", studyType=2)
    t0 = time.time()
    body, _ = final(sink, "/cb/big", timeout=120)
    check_ok(body, "1.2.3.big", "1005 images (%.1f s)"
             % (time.time() - t0), study_type=2)
    lists = [e for e in oss.log(seq) if e.get("method") == "GET" and
             ("list-type" in (e.get("query") or {}) or
              "prefix" in (e.get("query") or {}))]
    t.ok(len(lists) >= 2, "the listing was paged (%d list requests)"
         % len(lists), [e.get("target") for e in lists])
    _, x = findings_of(C, "hosp-c", "1.2.3.big", 2)
    ids = {i.get("indexId") for i in x or []}
    t.ok(len(x or []) == 1005 and len(ids) == 1005 and
         all(UUID_RE.match(str(i)) for i in ids),
         "1005 findings, each with its own generated UUID indexId",
         len(x or []))


@scenario
def c_delivery():
    """Stack C: callback delivery: retries, redirects, 410, timeouts,
    Retry-After, dead letters and their replay."""
    c = stack_c()
    C = c.C
    tok = c.tok
    secret = c.secret
    oss = c.oss
    sink = c.sink
    one = c.keys[0]
    target = sink.base + "/cb/d-redirect-target"
    scripts = {
        "500x2": [{"status": 500}, {"status": 500}],
        "redirect": [{"status": 302, "headers": {"Location": target}}],
        "gone": [{"status": 410}],
        "timeout": [{"status": 200, "delay": CB_TIMEOUT + 2}],
        "code1": [{"status": 200, "body": {"code": 1, "message": "no"}}],
        "dead": [{"status": 500, "count": -1}],
        "r429": [{"status": 429, "headers": {"Retry-After": "4"}}],
        "r503": [{"status": 503, "headers": {"Retry-After": "4"}}],
        "text": [{"status": 200, "body": "OK"}],
        "r503date": [{"status": 503, "headers": {
            "Retry-After": time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT",
                time.gmtime(int(time.time()) + 10))}}],
        "r500ra": [{"status": 500, "headers": {"Retry-After": "4"}}],
        "e204": [{"status": 204, "body": ""}],
        "c201": [{"status": 201}],
        "closed": [{"close": True}],
    }
    for name, resp in scripts.items():
        sink_script(sink, "/cb/d-" + name, *resp)
    sub_time = {}
    for name in scripts:
        sub_time[name] = time.time()
        r = C.submit(tok, "hosp-c", "1.2.5." + name, sink.base + "/cb/d-" +
                     name, oss, one)
        if r.code != "000000":
            t.ok(False, "submit %s" % name, r)

    closed_port = free_port()
    C.submit(tok, "hosp-c", "1.2.5.refused", "http://127.0.0.1:%d/cb/x"
             % closed_port, oss, one)

    def recs_of(name):
        return sink_received(sink, "/cb/d-" + name)

    # 500, 500, 200: delivered at the third try, one webhook-id
    recs = wait_delivered(sink, "/cb/d-500x2")
    t.ok([r["answer"]["status"] for r in recs] == [500, 500, 200] and
         delivered(recs[-1]),
         "500, 500, then 200: delivered on the third try",
         [r.get("answer") for r in recs])
    t.ok(len({r["webhook_id"] for r in recs}) == 1,
         "the same webhook-id on all three tries",
         [r["webhook_id"] for r in recs])
    gaps = [b["time"] - a["time"] for a, b in zip(recs, recs[1:])]
    t.ok(len(gaps) == 2 and all(0.7 <= g <= 2.5 for g in gaps),
         "retries follow the schedule 1s,1s (+-20%%): %s" %
         ", ".join("%.2f" % g for g in gaps))
    rc, out = verify_webhooks(recs, secret)
    t.ok(rc in (0, None), "every try is signed (standardwebhooks)", out)
    # a redirect is a failure, not followed
    recs = wait_delivered(sink, "/cb/d-redirect")
    t.ok(len(recs) == 2 and recs[0]["answer"]["status"] == 302 and
         delivered(recs[1]) and recs[0]["webhook_id"] == recs[1]["webhook_id"],
         "302 counts as not delivered; retried at the same URL",
         [r.get("answer") for r in recs])
    t.eq(sink_received(sink, "/cb/d-redirect-target"), [],
         "the redirect's Location was never requested")
    # 410: dead letter at once
    recs = wait_for(lambda: recs_of("gone"), 30)
    gone_id = recs[0]["webhook_id"] if recs else None
    wait_for(lambda: (C.outbox().get(gone_id) or {}).get("state") == "DEAD",
             10)
    ob = C.outbox().get(gone_id) or {}
    t.ok(ob.get("state") == "DEAD" and ob.get("attempts") == 1,
         "410: a dead letter after one try", ob)
    # a timeout is retried
    recs = wait_for(lambda: (lambda r: r if len(r) >= 2 and
                             delivered(r[-1]) else None)(
        recs_of("timeout")), 30) or recs_of("timeout")
    t.ok(len(recs) == 2 and delivered(recs[1]) and
         len({r["webhook_id"] for r in recs}) == 1,
         "a receiver slower than callback_timeout: retried, then delivered",
         [r.get("answer") for r in recs])
    ob = [o for o in C.outbox().values()
          if o.get("url", "").endswith("/cb/d-timeout")]
    t.ok(ob and re.search(r"[Tt]imeout|timed out", json.dumps(ob)) is not None
         or (ob and ob[0].get("attempts") == 2),
         "the timed-out try is recorded", ob)
    # 200 with code 1
    recs = wait_delivered(sink, "/cb/d-code1")
    t.ok(len(recs) == 2 and not delivered(recs[0]) and delivered(recs[1]),
         "200 with {\"code\":1} is not delivered: retried",
         [r.get("answer") for r in recs])
    recs = wait_delivered(sink, "/cb/d-text")
    t.ok(len(recs) == 2 and delivered(recs[1]),
         "200 with a body that is not JSON is not delivered: retried",
         [r.get("answer") for r in recs])
    # Retry-After on 429 and 503
    for name in ("r429", "r503"):
        recs = wait_delivered(sink, "/cb/d-" + name)
        gap = recs[1]["time"] - recs[0]["time"] if len(recs) >= 2 else 0
        t.ok(len(recs) == 2 and delivered(recs[1]) and 3.3 <= gap <= 7,
             "%s with Retry-After: 4 waits about 4 s, not the 1 s of the "
             "schedule (%.2f s)" % (name[1:], gap),
             [r.get("answer") for r in recs])
    recs = wait_delivered(sink, "/cb/d-r503date")
    date = scripts["r503date"][0]["headers"]["Retry-After"]
    when = calendar.timegm(time.strptime(date,
                                         "%a, %d %b %Y %H:%M:%S GMT"))
    want = when - recs[0]["time"] if recs else 0
    gap = recs[1]["time"] - recs[0]["time"] if len(recs) >= 2 else 0
    t.ok(len(recs) == 2 and delivered(recs[1]) and want > 1.5 and
         want - 1.2 <= gap <= want + 3,
         "503 with Retry-After as an HTTP date is honoured (%.2f s, the "
         "date was %.2f s ahead)" % (gap, want),
         [r.get("answer") for r in recs])
    recs = wait_delivered(sink, "/cb/d-r500ra")
    gap = recs[1]["time"] - recs[0]["time"] if len(recs) >= 2 else 0
    t.ok(len(recs) == 2 and delivered(recs[1]) and gap < 2.5,
         "Retry-After on a 500 is not honoured: the schedule's 1 s "
         "(%.2f s)" % gap)
    recs = wait_delivered(sink, "/cb/d-e204")
    t.ok(len(recs) == 2 and recs[0]["answer"]["status"] == 204 and
         delivered(recs[1]),
         "204 without a body is not delivered: retried",
         [r.get("answer") for r in recs])
    recs = wait_delivered(sink, "/cb/d-c201")
    ob = [m for m in C.outbox().values()
          if m.get("url", "").endswith("/cb/d-c201")]
    t.ok(len(recs) == 1 and ob and ob[0].get("state") == "DELIVERED",
         "201 with {\"code\":0} is delivered", ob)
    recs = wait_delivered(sink, "/cb/d-closed")
    t.ok(len(recs) == 2 and delivered(recs[1]) and
         recs[0]["webhook_id"] == recs[1]["webhook_id"],
         "a connection closed without an answer: retried",
         [r.get("answer") for r in recs])

    ob = wait_for(lambda: [m for m in C.outbox().values()
                           if ":%d/" % closed_port in m.get("url", "")
                           and (m.get("attempts") or 0) >= 2], 20)
    t.ok(ob and ob[0].get("state") in ("PENDING", "DEAD") and
         re.search(r"(?i)connect|refused", ob[0].get("lastError") or ""),
         "connection refused: retried, the error recorded", ob)

    # exhausted schedule -> dead letter -> replay
    recs = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
        recs_of("dead")), 30)
    dead_id = recs[0]["webhook_id"] if recs else None
    wait_for(lambda: (C.outbox().get(dead_id) or {}).get("state") == "DEAD",
             10)
    recs = recs_of("dead")
    ob = C.outbox().get(dead_id) or {}
    t.ok(len(recs) == 4 and ob.get("state") == "DEAD" and
         ob.get("attempts") == 4,
         "500 forever: 1 try + 3 retries (1s,1s,2s), then a dead letter",
         (len(recs), ob))
    t.ok(len({r["webhook_id"] for r in recs}) == 1,
         "one webhook-id over all four tries")
    dl = C.admin_json("deliveries", "list", "--dead")
    t.ok(dl is not None and dead_id in json.dumps(dl) and
         gone_id in json.dumps(dl),
         "mias-admin deliveries list --dead --json shows both dead letters",
         C.admin("deliveries", "list", "--dead", "--json",
                 check=False).stderr or dl)
    p = C.admin("deliveries", "list", "--dead", check=False)
    t.ok(p.returncode == 0 and dead_id in p.stdout,
         "mias-admin deliveries list --dead (text) names it", p.stderr)
    sink_script(sink, "/cb/d-dead", {"status": 200})
    n = len(recs)
    p = C.admin("deliveries", "replay", dead_id or "none", check=False)
    t.ok(p.returncode == 0, "mias-admin deliveries replay ID", p.stderr)
    recs = wait_for(lambda: (lambda r: r if len(r) > n else None)(
        recs_of("dead")), 15) or recs_of("dead")
    t.ok(len(recs) == n + 1 and delivered(recs[-1]) and
         recs[-1]["webhook_id"] == dead_id,
         "the replayed dead letter is delivered with the same webhook-id",
         [(r["webhook_id"], r.get("answer")) for r in recs[n:]])
    wait_for(lambda: (C.outbox().get(dead_id) or {}).get("state") ==
             "DELIVERED", 10)
    t.eq((C.outbox().get(dead_id) or {}).get("state"), "DELIVERED",
         "the replayed message is DELIVERED in the store")
    p = C.admin("deliveries", "replay", "msg_00000000000000000000000000000000",
                check=False)
    t.ok(p.returncode != 0 and p.stderr.strip() != "",
         "deliveries replay of an unknown id fails and says so",
         (p.returncode, p.stderr))
    p = C.admin("deliveries", "replay", "--all-dead", check=False)
    t.ok(p.returncode == 0, "mias-admin deliveries replay --all-dead",
         p.stderr)
    recs = wait_for(lambda: (lambda r: r if len(r) > 1 else None)(
        recs_of("gone")), 15) or recs_of("gone")
    t.ok(len(recs) == 2 and delivered(recs[-1]) and
         recs[-1]["webhook_id"] == gone_id,
         "--all-dead replays the 410 dead letter too (same webhook-id)",
         [(r["webhook_id"], r.get("answer")) for r in recs])
    allrecs = sink_received(sink)
    rc, out = verify_webhooks(allrecs, secret)
    t.ok(rc in (0, None), "all %d callback requests of this stack verify"
         % len(allrecs), "\n".join(x for x in out.splitlines()
                                   if not x.startswith("ok")))


@scenario
def c_delivery_order():
    """Stack C: a study's callbacks go in order."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    one = c.keys[0]
    # callbacks of one study go in order: a second run's waits for the
    # first run's, which is still being retried
    sink_script(sink, "/cb/order", {"status": 500}, {"status": 500})
    C.submit(tok, "hosp-c", "1.2.5.order", sink.base + "/cb/order", oss,
             one)
    wait_for(lambda: sink_received(sink, "/cb/order"), 20)
    r = C.submit(tok, "hosp-c", "1.2.5.order", sink.base + "/cb/order",
                 oss, one, forceAnalysis=True)
    envelope_ok(t, r, "000000", 200, "forceAnalysis on a finished study")
    recs = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
        sink_received(sink, "/cb/order")), 30) or \
        sink_received(sink, "/cb/order")
    ids = [r["webhook_id"] for r in recs]
    t.ok(len(recs) == 4 and ids[0] == ids[1] == ids[2] != ids[3] and
         delivered(recs[2]) and delivered(recs[3]),
         "per study in order: the second run's callback waits until the "
         "first one is delivered", [(i, r.get("answer", {}).get("status"))
                                    for i, r in zip(ids, recs)])
    # the sink has the request before the dispatcher has its answer
    # and records it: wait for the record
    def order_runs():
        r = [m for m in C.outbox().values()
             if m.get("url", "").endswith("/cb/order")]
        return r if sorted(m.get("state") for m in r) == \
            ["DELIVERED"] * 2 else None
    runs = wait_for(order_runs, 10, 0.1) or \
        [m for m in C.outbox().values()
         if m.get("url", "").endswith("/cb/order")]
    t.eq(sorted(m.get("state") for m in runs), ["DELIVERED"] * 2,
         "two runs, two messages, both DELIVERED")


@scenario
def c_delivery_stall():
    """Stack C: a stalled callback endpoint does not hold up another study's
    callback."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    one = c.keys[0]
    # one stalled endpoint does not hold up another's callback
    sink_script(sink, "/cb/stall", {"status": 200, "delay": 30,
                                    "count": -1})
    C.submit(tok, "hosp-c", "1.2.5.stall", sink.base + "/cb/stall", oss,
             one)
    wait_for(lambda: sink_received(sink, "/cb/stall"), 20)
    t0 = time.time()
    C.submit(tok, "hosp-c", "1.2.5.fast", sink.base + "/cb/fast", oss,
             one)
    recs = wait_for(lambda: sink_received(sink, "/cb/fast"), 20)
    took = recs[0]["time"] - t0 if recs else 99
    t.ok(took < CB_TIMEOUT - 0.3,
         "a stalled callback endpoint does not delay another study's "
         "callback (%.2f s)" % took)
    sink_script(sink, "/cb/stall", {"status": 200})


@scenario
def c_lock():
    """Stack C: a second dispatcher on the same store is refused."""
    c = stack_c()
    C = c.C
    first = C.dispatcher.pid
    p2 = subprocess.run([installed("sbin", "mias-dispatcher"), "-f", "-c",
                         C.conf], capture_output=True, text=True, timeout=20)
    t.ok(p2.returncode != 0, "a second dispatcher on the same store exits "
         "non-zero (%d)" % p2.returncode)
    t.ok(str(first) in p2.stderr and
         ("running" in p2.stderr or "lock" in p2.stderr),
         "it says why, naming the running one's pid", p2.stderr)
    t.ok(C.dispatcher.poll() is None, "the first dispatcher still runs")


@scenario
def c_sighup():
    """Stack C: SIGHUP re-reads the configuration; a broken one is refused (the
    default engines restored at the end)."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    one = c.keys[0]
    c_engines = c.engines
    hup_log = os.path.join(C.dir, "hup.jsonl")
    write_conf(C, c_engines("--log %s " % hup_log, no1=True))
    mark = len(C.dispatcher_log())
    C.dispatcher.send_signal(signal.SIGHUP)
    t.ok(wait_for(lambda: "reload" in C.dispatcher_log()[mark:], 10),
         "SIGHUP: the dispatcher says it re-read the configuration",
         C.dispatcher_log()[mark:])
    C.submit(tok, "hosp-c", "1.2.6.hup", sink.base + "/cb/hup", oss, one)
    body, _ = final(sink, "/cb/hup")
    check_ok(body, "1.2.6.hup", "after SIGHUP")
    t.ok(len(cmd_log(hup_log)) >= 1,
         "the changed engine command is the one used after SIGHUP")
    # the responders still serve type 1; the dispatcher no longer does
    r = C.submit(tok, "hosp-c", "1.2.6.noengine", sink.base +
                 "/cb/noengine", oss, one, studyType=1)
    body, _ = final(sink, "/cb/noengine")
    check_failed(body, "NO_ENGINE", "a study type whose engine SIGHUP "
                 "removed")
    # a broken configuration is refused; the one in use stays
    with open(C.conf, "a") as f:
        f.write("\n[dispatcher]\nno_such_key = 1\n")
    mark = len(C.dispatcher_log())
    C.dispatcher.send_signal(signal.SIGHUP)
    msg = wait_for(lambda: (lambda x: x if "no_such_key" in x or
                            "keeping" in x else None)(
        C.dispatcher_log()[mark:]), 10)
    t.ok(msg and C.dispatcher.poll() is None,
         "SIGHUP with a broken configuration: reported, the dispatcher "
         "keeps running", C.dispatcher_log()[mark:])
    C.submit(tok, "hosp-c", "1.2.6.badhup", sink.base + "/cb/badhup",
             oss, one)
    body, _ = final(sink, "/cb/badhup")
    check_ok(body, "1.2.6.badhup", "after a refused reload")
    # leave the stack as it was: the default engines
    reload(C, c_engines())


@scenario
def c_sigterm():
    """Stack C: SIGTERM with an engine running, when idle, and during a
    callback; the restarted dispatcher runs the work again."""
    c = stack_c()
    C = c.C
    tok = c.tok
    oss = c.oss
    sink = c.sink
    one = c.keys[0]
    mode_file = c.mode_file
    eng_log = c.eng_log
    c_engines = c.engines
    # SIGTERM while an engine hangs: exit 0 promptly; the job runs again
    set_cmd_mode(mode_file, "hang 1")
    n0 = len(cmd_log(eng_log))
    write_conf(C, c_engines())
    mark = len(C.dispatcher_log())
    C.dispatcher.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in C.dispatcher_log()[mark:], 10)
    C.submit(tok, "hosp-c", "1.2.6.term", sink.base + "/cb/term", oss, one)
    hung = wait_for(lambda: [x for x in cmd_log(eng_log)[n0:]
                             if x.get("mode") == "hang"], 15)
    t0 = time.time()
    rc = C.stop_dispatcher(signal.SIGTERM, timeout=30)
    took = time.time() - t0
    t.ok(rc == 0 and took < 5,
         "SIGTERM with an engine running: exit 0 in %.2f s" % took, rc)
    t.ok(hung and wait_for(lambda: not pid_alive(hung[0]["pid"]), 5),
         "the abandoned engine process is gone")
    t.ok(not os.listdir(os.path.join(C.state, "tmp")),
         "no temporary image left after SIGTERM",
         os.listdir(os.path.join(C.state, "tmp")))
    t0 = time.time()
    C.start_dispatcher()
    body, _ = final(sink, "/cb/term")
    check_ok(body, "1.2.6.term", "the abandoned image ran again after a "
             "restart")
    t0 = time.time()
    rc = C.stop_dispatcher(signal.SIGTERM, timeout=30)
    t.ok(rc == 0 and time.time() - t0 < 3,
         "SIGTERM when idle: exit 0 in %.2f s" % (time.time() - t0), rc)
    C.start_dispatcher()
    # SIGTERM with a callback in flight: it is finished, not resent
    sink_script(sink, "/cb/termcb", {"status": 200, "delay": 1.0})
    C.submit(tok, "hosp-c", "1.2.6.termcb", sink.base + "/cb/termcb",
             oss, one)
    wait_for(lambda: sink_received(sink, "/cb/termcb"), 20, 0.02)
    t0 = time.time()
    rc = C.stop_dispatcher(signal.SIGTERM, timeout=30)
    took = time.time() - t0
    ob = [m for m in C.outbox().values()
          if m.get("url", "").endswith("/cb/termcb")]
    t.ok(rc == 0 and took < CB_TIMEOUT + 2 and len(ob) == 1 and
         ob[0].get("state") == "DELIVERED",
         "SIGTERM during a callback: the transfer is finished and "
         "recorded, exit 0 (%.2f s)" % took, (rc, ob))
    C.start_dispatcher()
    time.sleep(1.5)     # (nothing to wait for: a resend must not come)
    t.eq(len(sink_received(sink, "/cb/termcb")), 1,
         "... and not sent again after the restart")


@scenario
def r_unavailable():
    """Stack R: an engine that answers 503 is retried, then
    ENGINE_UNAVAILABLE (started in its turn, checked after the other
    scenarios: its retries take about 20 s); every callback of stack R
    verifies."""
    r = stack_r()
    rsecret = r.secret
    rsink = r.sink
    rone = r.keys[0]
    eng_down = r.eng_down
    rsubmit = r.submit
    # the unavailable engine takes ~20 s of retries: start it first
    t_down = time.time()
    rsubmit("1.2.7.down", "/cb/r-down", rone, studyType=1)
    yield  # the others run meanwhile

    # the engine that is down
    body, _ = final(rsink, "/cb/r-down", timeout=60)
    check_failed(body, "ENGINE_UNAVAILABLE", "engine answers 503", (1, 1),
                 "503")
    n = len(engine_log(eng_down))
    t.ok(n >= 2, "an unavailable engine is retried with backoff (%d "
         "triggers, %.1f s)" % (n, time.time() - t_down))
    allrecs = sink_received(rsink)
    rc, out = verify_webhooks(allrecs, rsecret)
    t.ok(rc in (0, None), "all %d callbacks of this stack verify"
         % len(allrecs), out if rc else "")


@scenario
def r_study():
    """Stack R: a 3-image study through a remote engine: the triggers, the
    credentials, the results."""
    r = stack_r()
    R = r.R
    rsecret = r.secret
    ross = r.oss
    rsink = r.sink
    rkeys = r.keys
    eng = r.eng
    rsubmit = r.submit
    seq = max([e["seq"] for e in engine_log(eng)] or [0])
    uid2 = "1.2.826.0.1.3680043.8.498.2"
    r = rsubmit(uid2, "/cb/r-ok", "ct/r1/", accessKeyId="STS-AK-r",
                accessKeySecret="STS-SK-r",
                securityToken="STS-TOKEN-r-0123456789")
    envelope_ok(t, r, "000000", 200, "executeAnalysis (STS credentials)")
    body, recs = final(rsink, "/cb/r-ok")
    check_ok(body, uid2, "3-image study, remote engine")
    rc, out = verify_webhooks(recs, rsecret)
    t.ok(rc in (0, None), "its callback verifies (standardwebhooks)", out)
    log = engine_log(eng, seq)
    trig = [e.get("trigger") or {} for e in log]
    t.eq(len(trig), 3, "three triggers, one per image")
    t.eq(sorted(x.get("key") for x in trig), sorted(rkeys),
         "one trigger per object key")
    iuids = [x.get("ImageUid") for x in trig]
    t.ok(len(set(iuids)) == 3 and all(isinstance(u, str) and u
                                      for u in iuids),
         "each trigger has its own ImageUid", iuids)
    cb_re = re.compile(r"^" + re.escape(R.base) +
                       r"/dicom/api/algorithmResult\?job=([^&]+)&sig=\w+$")
    t.ok(all(cb_re.match(x.get("resultCallBackUrl", "")) and
             cb_re.match(x["resultCallBackUrl"]).group(1) == x["ImageUid"]
             for x in trig),
         "resultCallBackUrl = public_url/dicom/api/algorithmResult?job=..."
         "&sig=...", [x.get("resultCallBackUrl") for x in trig])
    t.ok(all(x.get("analysis") == "OA" and x.get("namespace") == "hosp-r"
             and x.get("bucketName") == "studies" and
             x.get("endpoint") == ross.endpoint for x in trig),
         "analysis OA, namespace, bucketName and endpoint as configured",
         trig[:1])
    t.ok(all(x.get("accessKeyId") == "STS-AK-r" and
             x.get("accessKeySecret") is True and
             x.get("securityToken") is True for x in trig),
         "the caller's credentials (key id, secret, STS token) were sent",
         trig[:1])
    t.ok(all((e.get("download") or {}).get("ok") for e in log),
         "the engine downloaded each image with them",
         [e.get("download") for e in log])
    t.ok(all(e.get("callbacks") and e["callbacks"][0].get("status") == 200
             and '"000000"' in e["callbacks"][0].get("body", "")
             for e in log),
         "algorithmResult answered each result 000000",
         [e.get("callbacks") for e in log])
    check_memory(R, "after triggers carrying STS credentials",
                 {"STS AccessKeySecret": "STS-SK-r",
                  "STS token": "STS-TOKEN-r-0123456789",
                  "signing secret": rsecret})
    res, b = findings_of(R, "hosp-r", uid2)
    want = []
    for k, u in zip([x["key"] for x in trig], iuids):
        txt = engine_fixture.result_text(4, "hosp-r", u,
                                         ross.sha256("studies", k))
        want += [x["BoxUid"] for x in json.loads(txt)["Boxes"]]
    t.eq(sorted(x.get("boxUid") for x in b or []), sorted(want),
         "the result holds the engine's 6 boxes (2 per image)")


@scenario
def r_failures():
    """Stack R: remote engine failures (rejected, error, silent, malformed, not
    JSON, wrong job, early result)."""
    r = stack_r()
    R = r.R
    rsink = r.sink
    rone = r.keys[0]
    eng = r.eng
    rsubmit = r.submit

    def remote_case(name, mode, key, study_type=4, **kw):
        seq = max([e["seq"] for e in engine_log(eng)] or [0])
        engine_mode(eng, mode, **kw)
        t0 = time.time()
        rsubmit("1.2.8." + name, "/cb/r-" + name, key,
                studyType=study_type)
        body, _ = final(rsink, "/cb/r-" + name)
        engine_mode(eng, "ok")
        return body, engine_log(eng, seq), time.time() - t0

    body, log, _ = remote_case("reject", "reject", rone)
    check_failed(body, "ENGINE_REJECTED", "engine rejects", (1, 1),
                 "400001")
    t.ok(len(log) >= 2, "a rejected trigger is tried again before the "
         "image fails (%d triggers)" % len(log))
    body, log, _ = remote_case("fail", "fail", "ct/r1/", count=1)
    check_failed(body, "ENGINE_ERROR", "engine result returnCode 500001",
                 (1, 3), "image unreadable")
    res, b = findings_of(R, "hosp-r", "1.2.8.fail")
    t.ok(res.get("state") == "FAILED" and len(b or []) == 4,
         "the 2 good images' findings are kept (4 boxes)", res)
    body, log, took = remote_case("silent", "silent", rone, 2)
    check_failed(body, "ENGINE_TIMEOUT", "silent engine", (1, 1))
    t.ok(took >= ENGINE_TIMEOUT - 0.2,
         "ENGINE_TIMEOUT after the configured %d s (%.1f s)"
         % (ENGINE_TIMEOUT, took))
    body, log, _ = remote_case("malformed", "malformed", rone)
    check_failed(body, "ENGINE_BAD_RESULT", "schema-invalid result", (1, 1))
    cbs = [c for e in log for c in e.get("callbacks") or []]
    t.ok(cbs and cbs[0].get("status") == 400 and
         '"100002"' in cbs[0].get("body", ""),
         "algorithmResult answered the malformed result 100002", cbs)
    body, log, _ = remote_case("badjson", "badjson", rone)
    check_failed(body, "ENGINE_BAD_RESULT", "a result that is not JSON",
                 (1, 1))
    cbs = [c for e in log for c in e.get("callbacks") or []]
    t.ok(cbs and '"100002"' in cbs[0].get("body", ""),
         "algorithmResult answered the cut-off JSON 100002", cbs)
    body, log, _ = remote_case("wrongjob", "wrong_job", rone, 2)
    cbs = [c for e in log for c in e.get("callbacks") or []]
    t.ok(len(cbs) == 2 and all(c.get("status") == 401 and
                               '"100003"' in c.get("body", "")
                               for c in cbs),
         "a result for another job and one with a forged sig: both 100003",
         cbs)
    check_failed(body, "ENGINE_TIMEOUT",
                 "no valid result (wrong job): the image times out", (1, 1))
    body, log, _ = remote_case("early", "early", rone)
    check_ok(body, "1.2.8.early", "a result that arrives before the "
             "trigger's answer")


@scenario
def r_repeat():
    """Stack R: a repeated result is answered 000000 and counted once; a
    different one is refused (100012)."""
    r = stack_r()
    R = r.R
    ross = r.oss
    rsink = r.sink
    eng = r.eng
    rsubmit = r.submit
    # a repeated result: 000000 again, counted once
    seq = max([e["seq"] for e in engine_log(eng)] or [0])
    engine_mode(eng, "silent")
    rsubmit("1.2.8.repeat", "/cb/r-repeat", "ct/r1/")
    log = wait_for(lambda: (lambda L: L if len(L) == 3 and all(
        e.get("state") == "silent" for e in L) else None)(
        engine_log(eng, seq)), 15) or []
    engine_mode(eng, "ok")
    answers = []
    for i, e in enumerate(log):
        tr = e["trigger"]
        txt = engine_fixture.result_text(4, tr.get("namespace"),
                                         tr["ImageUid"],
                                         ross.sha256("studies", tr["key"]))
        for _ in range(2 if i < 2 else 1):
            req = urllib.request.Request(
                tr["resultCallBackUrl"], data=txt.encode(),
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    answers.append(json.loads(resp.read()).get("returnCode"))
            except Exception as ex:  # noqa: BLE001
                answers.append(repr(ex))
        if i == 1:
            st = R.study("hosp-r", 4, "1.2.8.repeat") or {}
            t.ok(st.get("imagesDone") == 2 and st.get("state") == "RUNNING",
                 "two images posted twice each: counted once (2 done)", st)
    t.eq(answers, ["000000"] * 5, "a repeated result is answered 000000")
    body, _ = final(rsink, "/cb/r-repeat")
    check_ok(body, "1.2.8.repeat", "the study with repeated results")
    _, b = findings_of(R, "hosp-r", "1.2.8.repeat")
    t.eq(len(b or []), 6, "each image's findings stored once (6 boxes)")
    t.eq(len(sink_received(rsink, "/cb/r-repeat")), 1,
         "one status callback")
    # the same result once more, written differently (members in
    # another order, other white space): equal as JSON, so 000000;
    # a different one: 409 / 100012, and the first result stands
    if log:
        tr = log[0]["trigger"]
        first = json.loads(engine_fixture.result_text(
            4, tr.get("namespace"), tr["ImageUid"],
            ross.sha256("studies", tr["key"])))

        def post_result(body):
            # through the stack, so that the answer is recorded
            r = R.request("POST", tr["resultCallBackUrl"][len(R.base):],
                          body)
            return r.status, r.json if isinstance(r.json, dict) else {}

        st, j = post_result(json.dumps(dict(reversed(list(
            first.items()))), indent=2))
        t.ok(st == 200 and j.get("returnCode") == "000000",
             "the same result again, reordered: 000000 (HTTP 200)",
             (st, j))
        other = dict(first, Boxes=[dict(b, Class="KL4级")
                                   for b in first["Boxes"]])
        st, j = post_result(json.dumps(other))
        t.ok(st == 409 and j.get("returnCode") == "100012" and
             "first result stands" in j.get("returnMessage", ""),
             "a different result for the ended job: 100012 (HTTP 409), "
             "the first result stands", (st, j))
        _, b2 = findings_of(R, "hosp-r", "1.2.8.repeat")
        t.eq(sorted(x.get("class") for x in b2 or []),
             sorted(x.get("class") for x in b or []),
             "  ... and the stored findings are the first result's")


@scenario
def r_concurrency():
    """Stack R: the remote engine's concurrency."""
    r = stack_r()
    R = r.R
    ross = r.oss
    rsink = r.sink
    eng = r.eng
    rsubmit = r.submit
    # at most `concurrency` (2) images at the engine at a time
    keys5 = ross.dicom("studies", "ct/r5", 5)
    seq = max([e["seq"] for e in engine_log(eng)] or [0])
    engine_mode(eng, "slow", delay=0.7)
    rsubmit("1.2.8.conc", "/cb/r-conc", "ct/r5/", studyType=3)
    body, _ = final(rsink, "/cb/r-conc")
    engine_mode(eng, "ok")
    check_ok(body, "1.2.8.conc", "5 images, slow remote engine",
             study_type=3)
    log = engine_log(eng, seq)
    ev = []
    for e in log:
        ev.append((e["time"], 1))
        for c in e.get("callbacks") or []:
            ev.append((c["time"], -1))
    cur = peak = 0
    for _, d in sorted(ev):
        cur += d
        peak = max(peak, cur)
    t.ok(peak == 2 and len(log) == len(keys5),
         "the remote engine's concurrency = 2 is used and never exceeded "
         "(peak %d, %d triggers)" % (peak, len(log)))
    _, x = findings_of(R, "hosp-r", "1.2.8.conc", 3)
    t.ok(len(x or []) == 10 and all(UUID_RE.match(str(i.get("indexId")))
                                    for i in x or []),
         "10 ocular findings, every indexId a UUID (the engine omits "
         "one per image)", x and x[:2])


@scenario
def e_egress():
    """Stack E: a callback host that resolves to loopback passes the
    submit-time check and is refused by the egress guard at connect time
    (allow_hosts names only localhost)."""
    alias = loopback_alias()
    if alias is None:
        t.ok(True, "# SKIP no host name other than localhost resolves to "
         "loopback here (needed for the connect-time egress check)")
    else:
        E = Stack("dispatch-e")
        stacks.append(E)
        write_conf(E, {4: cmd_engine(4)}, egress="allow_hosts = localhost")
        E.init()
        etok, _ = E.namespace("hosp-e")
        eoss = FakeOss(E)
        esink = E.fixture("sink.py")
        ek = eoss.dicom("studies", "ct/e1", 1)
        E.start()
        E.start_dispatcher()
        cb = "http://%s:%d/cb/e" % (alias, esink.port)
        r = E.submit(etok, "hosp-e", "1.2.9.e", cb, eoss, ek[0],
                     endpoint="http://localhost:%d" % eoss.port)
        envelope_ok(t, r, "000000", 200, "a callback host %s (resolves to "
                    "127.0.0.1) passes the submit-time check" % alias)
        ob = wait_for(lambda: [o for o in E.outbox().values()
                               if (o.get("attempts") or 0) >= 1], 30)
        t.ok(ob and "egress" in (ob[0].get("lastError") or ""),
             "its delivery is refused by the egress guard at connect time",
             ob)
        t.eq(sink_received(esink), [], "nothing reached the sink")


def pick(argv):
    """The scenarios named in argv (or $MIAS_DISPATCH_SCENARIOS), in the
    listed order; all when none is named.  None after --list."""
    names = argv or (os.environ.get("MIAS_DISPATCH_SCENARIOS") or "").split()
    known = dict((f.__name__, f) for f in SCENARIOS)
    if names == ["--list"] or names == ["-l"]:
        for f in SCENARIOS:
            doc = " ".join((f.__doc__ or "").split())
            print("%-22s %s" % (f.__name__, doc))
        return None
    bad = [n for n in names if n not in known]
    if bad:
        sys.stderr.write("test_dispatch.py: no scenario %s (--list names "
                         "them)\n" % ", ".join(bad))
        sys.exit(2)
    return [f for f in SCENARIOS if not names or f.__name__ in names]


def main(chosen):
    later = []
    for f in chosen:
        section(f.__name__)
        g = f()
        if inspect.isgenerator(g):
            try:
                next(g)
                later.append((f, g))
            except StopIteration:
                pass
    for f, g in later:
        section(f.__name__ + " (end)")
        for _ in g:
            pass


chosen = pick(sys.argv[1:])
if chosen is None:
    sys.exit(0)
try:
    main(chosen)
except Exception:  # noqa: BLE001
    import traceback
    t.ok(False, "the test ran to its end", traceback.format_exc())
finally:
    t.diag("runtime %.1f s" % (time.time() - T_START))
    for s in stacks:
        keep = KEEP or (t.failed and os.environ.get("MIAS_TEST_KEEP_FAILED"))
        s.cleanup(keep=bool(keep))
        if keep:
            t.diag("kept %s" % s.dir)
t.done()
