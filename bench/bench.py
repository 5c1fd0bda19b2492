#!/usr/bin/python3
# bench.py -- mias against the machine's own limits (run by bench/run)
"""
Starts everything on loopback in a temporary directory, measures each row
of issue 9 next to a reference measured in the same run, prints one table,
and stops everything it started (also on Ctrl-C).  See bench/README.

Environment: set by bench/run (BENCH_BIN, MIAS_PREFIX, MIAS_SRCDIR).
"""
import argparse
import atexit
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = os.environ.get("BENCH_BIN", "")
PREFIX = os.environ.get("MIAS_PREFIX", "")
SRCDIR = os.environ.get("MIAS_SRCDIR",
                        os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(SRCDIR, "tests", "fixtures")
BENCHDIR = os.path.join(SRCDIR, "bench")
LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODS = "/usr/lib/apache2/modules"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

PROCS = []          # every Popen we started, stopped at exit
OPTS = None
DETAILS = []        # lines printed after the table


def say(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def detail(msg):
    DETAILS.append(msg)
    say(msg)


# --- processes ---------------------------------------------------------------

def spawn(argv, log=None, env=None, **kw):
    out = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdout=out, stderr=out, env=env,
                         start_new_session=True, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=20):
    if p is None:
        return
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    # anything left in its group (FastCGI children, engines): they got the
    # signal too; give them time to close the store cleanly
    wait_for(lambda: not group_alive(p.pid), 5, 0.05)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[2]) == pgid and rest[0] != "Z":
                return True
        except (OSError, IndexError, ValueError):
            pass
    return False


def stop_all():
    for p in reversed(PROCS):
        stop(p, timeout=10)
    PROCS.clear()


def on_signal(sig, frame):
    say("interrupted: stopping everything")
    stop_all()
    sys.exit(130)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(pred, timeout, step=0.05):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= end:
            return None
        time.sleep(step)


def proc_stat(pid):
    """(utime+stime in seconds, VmRSS kB, VmHWM kB) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK
        rss = hwm = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return cpu, rss, hwm
    except (OSError, IndexError, ValueError):
        return None


def private_kb(pid):
    """Private_Clean + Private_Dirty (kB): what the process alone holds,
    without shared libraries and the store's shared regions."""
    n = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    n += int(line.split()[1])
    except (OSError, ValueError):
        pass
    return n


def rss_by_mapping(pid, top=8, fields=("Rss:",)):
    """The largest resident mappings of pid: [(name, Rss kB)], anonymous
    ones summed as "[anon]"; fields: what to sum instead of Rss."""
    rss, name = {}, "?"
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if "-" in head[0] and not head[0].endswith(":"):
                    name = os.path.basename(head[5]) if len(head) > 5 \
                        else "[anon]"
                elif head[0] in fields:
                    rss[name] = rss.get(name, 0) + int(head[1])
    except (OSError, ValueError, IndexError):
        pass
    return sorted(rss.items(), key=lambda kv: -kv[1])[:top]


def pids_of(exe_path):
    """Processes running exe_path (by /proc/PID/exe)."""
    real = os.path.realpath(exe_path)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % d) == real:
                out.append(int(d))
        except OSError:
            pass
    return out


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def cpu_of(pids):
    return sum((proc_stat(p) or (0, 0, 0))[0] for p in pids)


def switches_of(pids):
    """Context switches (voluntary + involuntary) of pids, from /proc."""
    n = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                n += sum(int(l.split()[1]) for l in f
                         if "ctxt_switches:" in l)
        except (OSError, ValueError, IndexError):
            pass
    return n


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Sampler(threading.Thread):
    """Samples VmRSS of a pid every interval; keeps the peak."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.last = self.first = 0
        self.hwm = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            st = proc_stat(self.pid)
            if st is None:
                break
            self.last = st[1]
            self.hwm = max(self.hwm, st[2])
            if not self.first:
                self.first = st[1]
            self.peak = max(self.peak, st[1])
            self.halt.wait(self.interval)

    def done(self):
        self.halt.set()
        self.join(5)
        return self


# --- optional profiles (--perf DIR) ------------------------------------------

def perf_start(name, pids, secs):
    """perf record of pids for secs (in the background), when --perf."""
    if not OPTS.perf or not pids or not shutil.which("perf"):
        return None
    os.makedirs(OPTS.perf, exist_ok=True)
    out = os.path.join(OPTS.perf, name + ".data")
    return (name, out, subprocess.Popen(
        ["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384",
         "-p", ",".join(str(p) for p in pids), "-o", out, "--", "sleep",
         str(secs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def perf_finish(h):
    """Waits for the recording; writes NAME.txt: inclusive time per
    function (perf report --children)."""
    if h is None:
        return
    name, out, p = h
    p.wait()
    txt = os.path.join(OPTS.perf, name + ".txt")
    with open(txt, "w") as f:
        subprocess.run(["perf", "report", "-i", out, "--children", "--sort",
                        "sym", "--stdio", "-g", "none", "--percent-limit",
                        "0.5"], stdout=f, stderr=subprocess.DEVNULL)
    say("profile: %s" % txt)


# --- wrk ---------------------------------------------------------------------

def wrk(url, seconds, conns=16, threads=2, headers=(), script=None,
        args=(), latency=False):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--timeout", "10s"]
    if latency:
        cmd.append("--latency")
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if args:
        cmd += ["--"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout
    res = {"raw": out, "rps": 0.0, "requests": 0, "non2xx": 0, "errors": 0,
           "p99_ms": None}
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        res["p99_ms"] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0,
                                             "s": 1e3}[m.group(2)]
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(x) for x in m.groups())
    if p.returncode != 0 or res["rps"] == 0:
        say("wrk failed: %s %s" % (p.stdout[-500:], p.stderr[-500:]))
    return res


# --- HTTP helpers ------------------------------------------------------------

def hreq(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json; charset=utf-8"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class FastSrv:
    def __init__(self, root, mode, obj=None):
        self.portfile = os.path.join(root, "%s.port" % mode)
        argv = [os.path.join(BIN, "fastsrv"), "--mode", mode, "--port", "0",
                "--port-file", self.portfile]
        if obj:
            argv += ["--object", obj]
        self.proc = spawn(argv, os.path.join(root, "%s.log" % mode))
        self.port = int(wait_for(lambda: os.path.exists(self.portfile) and
                                 open(self.portfile).read().strip(), 10))
        self.base = "http://127.0.0.1:%d" % self.port

    def stats(self):
        return json.loads(hreq(self.port, "GET", "/__stats")[1])

    def reset(self):
        hreq(self.port, "POST", "/__reset", body=b"")


class HttpEngine:
    """http_engine: the instant remote engine of row 3."""

    def __init__(self, root, result):
        self.portfile = os.path.join(root, "engine.port")
        self.proc = spawn([os.path.join(BIN, "http_engine"), "--port", "0",
                           "--port-file", self.portfile, "--result", result,
                           "--pool", str(OPTS.engine_pool)],
                          os.path.join(root, "engine.log"))
        self.port = int(wait_for(lambda: os.path.exists(self.portfile) and
                                 open(self.portfile).read().strip(), 10))
        self.url = "http://127.0.0.1:%d/trigger" % self.port

    def stats(self):
        return json.loads(hreq(self.port, "GET", "/__stats")[1])


# --- a mias stack ------------------------------------------------------------

def limits_section():
    """The per-namespace limits (when this mias has them) set out of the
    way: the benchmark measures throughput, not the rate limiter's 429s."""
    try:
        with open(os.path.join(PREFIX, "etc", "mias", "mias.conf")) as f:
            sample = f.read()
    except OSError:
        return ""
    keys = [k for k in ("queued_studies", "requests_per_second")
            if re.search(r"^;?\s*%s\s*=" % k, sample, re.M)]
    if not keys:
        return ""
    return "[limits]\n" + "".join("%s = 100000\n" % k for k in keys) + "\n"


class Stack:
    """A private mias configuration, store and lighttpd on loopback."""

    def __init__(self, root, name, procs, engine_cmd, concurrency=None):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "mias.conf")
        self.state = os.path.join(self.dir, "state")
        self.port = free_port()
        self.procs = procs
        self.lighttpd = None
        self.dispatcher = None
        self.submitted = 0
        self.exec_requests = 0      # executeAnalysis requests sent
        with open(self.conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nkey_file = %s\n"
                    "public_url = http://127.0.0.1:%d\n"
                    "max_body_bytes = 65536\n\n"
                    "[dispatcher]\nconcurrency = 64\ncallback_timeout = 10\n\n"
                    "[egress]\nallow_hosts = 127.0.0.1\n\n%s"
                    "[engine.4]\n%s = %s\nanalysis = OA\ntimeout = 60\n"
                    "concurrency = %d\n"
                    % (self.state, os.path.join(self.dir, "master.key"),
                       self.port, limits_section(),
                       "url" if engine_cmd.startswith("http") else
                       "command", engine_cmd, concurrency or OPTS.engine_concurrency))

    def admin(self, *args, env=None):
        p = subprocess.run([os.path.join(PREFIX, "bin", "mias-admin"), "-c",
                            self.conf] + list(args), capture_output=True,
                           text=True, env=env)
        if p.returncode != 0:
            raise RuntimeError("mias-admin %s: %s" % (" ".join(args),
                                                       p.stderr))
        return p.stdout

    def add_namespace(self, ns):
        """A new namespace; its token."""
        out = self.admin("namespace", "add", ns)
        kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        return kv["token"]

    def init(self, ns="bench"):
        self.admin("init", "--user", pwd.getpwuid(os.geteuid()).pw_name)
        out = self.admin("namespace", "add", ns)
        kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        self.ns, self.token = ns, kv["token"]
        return self

    def start(self, noop_body=None):
        sock = os.path.join(self.dir, "sock")
        os.makedirs(sock, exist_ok=True)
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        lconf = os.path.join(self.dir, "lighttpd.conf")
        with open(lconf, "w") as f:
            f.write('server.document-root = "%s"\n'
                    'server.bind = "127.0.0.1"\nserver.port = %d\n'
                    'server.errorlog = "%s/lighttpd-error.log"\n'
                    'server.breakagelog = "%s/responders.log"\n'
                    'server.pid-file = "%s/lighttpd.pid"\n'
                    'server.max-connections = 1024\n'
                    'var.mias_conf = "%s"\nvar.mias_socket_dir = "%s"\n'
                    'var.mias_procs = %d\nvar.mias_url_prefix = "/dicom/api"\n'
                    'include "%s"\n'
                    % (www, self.port, self.dir, self.dir, self.dir,
                       self.conf, sock, self.procs,
                       os.path.join(PREFIX, "share", "mias", "lighttpd",
                                    "mias-fastcgi.conf")))
            # the reference: the same web server, the same process count
            f.write('fastcgi.server += ( "/bench/noop" => (( '
                    '"bin-path" => "%s", "socket" => "%s/bench-noop.sock", '
                    '"max-procs" => %d, "bin-environment" => '
                    '( "NOOP_BODY" => "%s" ), "check-local" => "disable" )) )\n'
                    % (os.path.join(BIN, "noop"), sock, self.procs,
                       noop_body or ""))
        self.lighttpd = spawn([LIGHTTPD, "-D", "-f", lconf],
                              os.path.join(self.dir, "lighttpd.out"))
        if not wait_port(self.port):
            raise RuntimeError("lighttpd did not start: see %s" % self.dir)
        self.base = "http://127.0.0.1:%d" % self.port
        return self

    def stop(self):
        stop(self.lighttpd)
        self.lighttpd = None

    def start_dispatcher(self, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.displog = os.path.join(self.dir, "dispatcher.log")
        self.dispatcher = spawn([os.path.join(PREFIX, "sbin",
                                              "mias-dispatcher"), "-f", "-c",
                                 self.conf], self.displog, env=e)
        sock = os.path.join(self.state, "dispatcher.sock")
        if not wait_for(lambda: os.path.exists(sock), 15, 0.005):
            raise RuntimeError("the dispatcher did not start: %s"
                               % self.displog)
        return self.dispatcher

    def stop_dispatcher(self):
        stop(self.dispatcher, timeout=30)
        self.dispatcher = None
        sock = os.path.join(self.state, "dispatcher.sock")
        wait_for(lambda: not os.path.exists(sock), 5)

    def displog_text(self):
        try:
            with open(self.displog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def auth(self):
        return {"tokenId": self.token, "namespace": self.ns}

    def execute_body(self, uid, sink, endpoint, key=None, bucket="bench"):
        return {"studyInstanceUid": uid, "studyType": 4,
                "statusNotifyCallBackUrl": sink + "/cb",
                "accessKeyId": "AKIDbench0123456789",
                "accessKeySecret": "SKbench0123456789abcdefghijklmn",
                "endpoint": endpoint, "bucketName": bucket,
                "key": key or "img/%s.dcm" % uid}

    def execute(self, body, conn=None, auth=None):
        data = json.dumps(body)
        h = dict(auth) if auth else self.auth()
        h["Content-Type"] = "application/json; charset=utf-8"
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=30)
        c.request("POST", "/dicom/api/executeAnalysis", body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        if conn is None:
            c.close()
        try:
            return r.status, json.loads(raw).get("returnCode")
        except ValueError:
            return r.status, None

    def result_path(self, uid):
        return ("/dicom/api/getAnalysisResult?studyInstanceUid=%s&studyType=4"
                % urllib.parse.quote(uid, safe=""))

    def get_result(self, uid):
        return hreq(self.port, "GET", self.result_path(uid),
                    headers=self.auth())

    def pids(self, name):
        """This stack's responders of endpoint name (lighttpd's children:
        other stacks run the same programs)."""
        out = pids_of(os.path.join(PREFIX, "libexec", "mias",
                                   name + ".fcgi"))
        if self.lighttpd is None:
            return out
        return [p for p in out if ppid_of(p) == self.lighttpd.pid]

    def record_sizes(self, uid):
        """Bytes of a QUEUED study's record and of its queue item."""
        tool = shutil.which("db5.3_dump") or shutil.which("db_dump")
        sizes = {}
        for db in ("studies.db", "queue.db"):
            p = subprocess.run([tool, "-h", self.state, db],
                               capture_output=True, text=True)
            lines = p.stdout.split("HEADER=END\n", 1)[-1].splitlines()
            vals = [len(bytes.fromhex(l.strip())) for l in lines[1::2]
                    if l.startswith(" ")]
            sizes[db] = max(vals) if vals else 0
        return sizes["studies.db"], sizes["queue.db"]


def prefill(stack, n, sink, endpoint, prefix, conns=16, auths=None):
    """n new studies through executeAnalysis, conns at a time; with auths
    (a list of request headers), study i is submitted with auths[i % len]."""
    errors = []
    counter = iter(range(n))
    lock = threading.Lock()

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            try:
                st, code = stack.execute(stack.execute_body(
                    "%s.%d" % (prefix, i), sink, endpoint), conn=c,
                    auth=auths[i % len(auths)] if auths else None)
            except (OSError, http.client.HTTPException) as e:
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", stack.port,
                                               timeout=60)
                st, code = 0, str(e)
            if code != "000000":
                errors.append((st, code))
        c.close()

    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.time() - t0, errors


# --- the rows ----------------------------------------------------------------

ROWS = []   # (id, what, mias, ref, ratio, target, met)


def row(rid, what, mias, ref, ratio, target, met):
    ROWS.append((rid, what, mias, ref, ratio, target, met))
    say("row %s: %s: %s vs %s -> %s (%s)" % (rid, what, mias, ref, ratio,
                                           "met" if met else "NOT met"))


def fmt(x, nd=0):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return ("{:,.%df}" % nd).format(x)


def result_body(boxes=5):
    items = [{"BoxUid": "%05d" % (12340 + i),
              "Coordinates": [10 + i, 20 + i, 210 + i, 220 + i],
              "Class": "KL%d级" % (i % 5)} for i in range(boxes)]
    return json.dumps({"returnCode": "000000", "returnMessage": "OK",
                       "Boxes": items}, ensure_ascii=False)


def row1(A, seconds, rounds):
    """getAnalysisResult vs the do-nothing responder, lighttpd."""
    url_m = A.base + A.result_path("bench-done-1")
    url_n = A.base + "/bench/noop"
    hdrs = ["tokenId: " + A.token, "namespace: " + A.ns]
    mias_p = A.pids("getAnalysisResult")
    noop_p = pids_of(os.path.join(BIN, "noop"))
    lt_p = [A.lighttpd.pid]
    wrk(url_m, 2, headers=hdrs)     # warm-up
    wrk(url_n, 2, headers=hdrs)
    res = {"m": [], "n": [], "mcpu": [], "ncpu": [], "lcpu_m": [],
           "lcpu_n": []}
    total_m = 0
    for _ in range(rounds):
        for key, url, pids in (("m", url_m, mias_p), ("n", url_n, noop_p)):
            c0, l0 = cpu_of(pids), cpu_of(lt_p)
            ph = perf_start("row1-" + ("getAnalysisResult" if key == "m"
                                       else "noop"),
                            pids, max(1, seconds - 2)) if _ == 0 else None
            r = wrk(url, seconds, headers=hdrs)
            perf_finish(ph)
            c1, l1 = cpu_of(pids), cpu_of(lt_p)
            if r["non2xx"] or r["errors"]:
                detail("row 1: %s: %d non-2xx, %d socket errors"
                       % (key, r["non2xx"], r["errors"]))
            res[key].append(answered(r))
            n = max(r["requests"], 1)
            res[key + "cpu"].append((c1 - c0) / n * 1e6)
            res["lcpu_" + key].append((l1 - l0) / n * 1e6)
            if key == "m":
                total_m += r["requests"]
    m, n = statistics.median(res["m"]), statistics.median(res["n"])
    # each round's pair ran back to back: the median of the pairs' ratios
    # is steadier on a shared machine than the ratio of the medians
    ratio = statistics.median(a / b for a, b in zip(res["m"], res["n"]) if b)
    mc, nc = statistics.median(res["mcpu"]), statistics.median(res["ncpu"])
    detail("row 1: getAnalysisResult req/s per round %s; noop %s"
           % ([round(x) for x in res["m"]], [round(x) for x in res["n"]]))
    detail("row 1: lighttpd CPU per request: %.1f us (mias) / %.1f us (noop);"
           " responder CPU per request %.1f us / %.1f us"
           % (statistics.median(res["lcpu_m"]),
              statistics.median(res["lcpu_n"]), mc, nc))
    row("1", "getAnalysisResult req/s, lighttpd, %d procs, 16 conns"
        % A.procs, fmt(m), fmt(n) + " noop", "%.2f" % ratio, ">= 0.90",
        ratio >= 0.9)
    row("1b", "responder CPU us/request (from /proc)", fmt(mc, 1),
        fmt(nc, 1) + " noop", "%.1fx" % (mc / nc if nc else 0), "(info)",
        True)
    row1c(A)
    return total_m, m


def callgrind_handler(A, n, query):
    """Instructions of n requests in getAnalysisResult's request handler
    (fcgi_handle, callgrind), its responder started by spawn-fcgi on a
    Unix socket of its own; None when that cannot be done."""
    d = os.path.join(A.dir, "callgrind")
    os.makedirs(d, exist_ok=True)
    sock = os.path.join(d, "sock")
    out = os.path.join(d, "cg.%d" % n)
    log = os.path.join(d, "valgrind.%d" % n)
    if os.path.exists(sock):
        os.unlink(sock)
    env = dict(os.environ, MIAS_CONF=A.conf, MIAS_THREADS="1")
    with open(log, "w") as lf:
        sp = subprocess.Popen(
            ["spawn-fcgi", "-s", sock, "-n", "--", shutil.which("valgrind"),
             "--tool=callgrind", "--callgrind-out-file=" + out,
             "--toggle-collect=fcgi_handle",
             os.path.join(PREFIX, "libexec", "mias",
                          "getAnalysisResult.fcgi")],
            stdout=lf, stderr=lf, env=env)
    try:
        if not wait_for(lambda: os.path.exists(sock), 30, 0.1):
            return None
        r = subprocess.run(["/usr/bin/python3",
                            os.path.join(BENCHDIR, "fcgi_client.py"), sock,
                            str(n), query, A.token, A.ns],
                           capture_output=True, text=True, timeout=300)
        if "200" not in r.stdout:
            detail("row 1c: the responder answered %r %s" % (r.stdout,
                                                             r.stderr[-600:]))
            return None
    finally:
        sp.terminate()
        sp.wait(timeout=60)
    with open(log) as f:
        m = re.search(r"Collected : (\d+)", f.read())
    return int(m.group(1)) if m else None


def row1c(A):
    """Instructions per request in the handler: steadier than time on a
    shared machine, for comparing two builds."""
    if not (shutil.which("valgrind") and shutil.which("spawn-fcgi")):
        detail("row 1c: skipped: apt-get install valgrind spawn-fcgi")
        return
    q = A.result_path("bench-done-1").split("?", 1)[1]
    one = callgrind_handler(A, 1, q)
    many = callgrind_handler(A, 201, q)
    if one is None or many is None:
        row("1c", "getAnalysisResult handler instructions/request", "-",
            "-", "-", "(info)", True)
        return
    per = (many - one) / 200.0
    detail("row 1c: callgrind, fcgi_handle: %d instructions for 1 request, "
           "%d for 201: %.0f per request after the first" % (one, many, per))
    row("1c", "getAnalysisResult handler instructions/request", fmt(per),
        "-", "-", "(info)", True)


def answered(r):
    """wrk's requests/s counting only the 2xx answers."""
    if not r["requests"]:
        return 0.0
    ok = max(0, r["requests"] - r["non2xx"] - r["errors"])
    return r["rps"] * ok / r["requests"]


ROW2_CONNS = 16     # wrk connections of row 2, and bdbloop's writers
# A round's submissions all go to one namespace, which holds at most
# 100,000 queued studies ([limits] queued_studies, at its largest): rounds
# of 10 s stay under it up to 10,000 submissions/s.
ROW2_SECONDS = 10


def bdbloop(bdbdir, name, seconds, sizes, writers, env=None):
    """commits/s of bdbloop with writers threads in a fresh directory."""
    d = os.path.join(bdbdir, name)
    os.makedirs(d)
    p = subprocess.run([os.path.join(BIN, "bdbloop"), d, str(seconds),
                        str(sizes[0]), str(sizes[1]), str(writers)],
                       capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    shutil.rmtree(d, ignore_errors=True)
    m = re.search(r"rate=([\d.]+)", p.stdout)
    return float(m.group(1)) if m else 0.0


def row2(A, seconds, rounds, sink, ossbase, bdbdir, sizes):
    """executeAnalysis submissions/s (16 connections, every one a new
    study) from one namespace (row 2) and from eight (2b), against
    bdbloop with as many writers as wrk has connections: what group
    commit gives on this disk (issue 21).  The one-writer ratio is info
    (2c).  Each round measures the four back to back, for ROW2_SECONDS
    each; a full run makes 5 rounds (the reference moves with the disk)."""
    seconds = min(seconds, ROW2_SECONDS)
    rounds = 1 if OPTS.quick else 5
    url = A.base + "/dicom/api/executeAnalysis"
    script = os.path.join(BENCHDIR, "execute.lua")
    tag = "b%x" % int(time.time())

    def namespaces(name, n):
        """n fresh namespaces, taken in turn by execute.lua: every request
        is a new queued study (the dispatcher is not running)."""
        names = ["%s-%s-%d" % (tag, name, k) for k in range(n)]
        return (",".join(A.add_namespace(x) for x in names),
                ",".join(names))

    cpu = {1: [], 8: []}

    def submit(name, n, i, perf):
        toks, nss = namespaces(name, n)
        xp = A.pids("executeAnalysis")
        ph = perf_start("row2-executeAnalysis-%dns" % n, xp,
                        max(1, seconds - 2)) if perf else None
        c0, l0 = cpu_of(xp), cpu_of([A.lighttpd.pid])
        r = wrk(url, seconds, conns=ROW2_CONNS, script=script,
                args=("%s.%s" % (tag, name), toks, nss, sink.base + "/cb",
                      ossbase))
        req = max(r["requests"], 1)
        cpu[n].append(((cpu_of(xp) - c0) / req * 1e6,
                       (cpu_of([A.lighttpd.pid]) - l0) / req * 1e6))
        perf_finish(ph)
        A.submitted += r["requests"] - r["non2xx"]
        A.exec_requests += r["requests"]
        if r["non2xx"] or r["errors"]:
            detail("row 2: %d namespace(s), round %d: %d non-2xx, %d socket "
                   "errors (the rate counts only 2xx answers)"
                   % (n, i, r["non2xx"], r["errors"]))
        return answered(r)

    toks, nss = namespaces("w", 1)
    r = wrk(url, 2, conns=ROW2_CONNS, script=script,
            args=("%s.w" % tag, toks, nss, sink.base + "/cb", ossbase))
    A.submitted += r["requests"] - r["non2xx"]
    A.exec_requests += r["requests"]
    one, eight, ref16, ref1 = [], [], [], []
    for i in range(rounds):
        one.append(submit("r%d" % i, 1, i, i == 0))
        eight.append(submit("e%d" % i, 8, i, i == 0))
        ref16.append(bdbloop(bdbdir, "g%d" % i, seconds, sizes, ROW2_CONNS))
        ref1.append(bdbloop(bdbdir, "s%d" % i, seconds, sizes, 1))

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(a, b) if y) \
            if any(b) else 0
    detail("row 2: executeAnalysis/s per round, one namespace %s, eight %s;"
           " bdbloop %d writers %s, one writer %s; record sizes %d + %d "
           "bytes" % ([round(x) for x in one], [round(x) for x in eight],
                      ROW2_CONNS, [round(x) for x in ref16],
                      [round(x) for x in ref1], sizes[0], sizes[1]))
    for n in (1, 8):
        detail("row 2: %d namespace(s): CPU per request: executeAnalysis "
               "responders %.0f us, lighttpd %.0f us (%d cores)"
               % (n, statistics.median(c[0] for c in cpu[n]),
                  statistics.median(c[1] for c in cpu[n]),
                  os.cpu_count() or 1))
    # not the reference: the same 16 writers committing as lib/store.c
    # does (locks released before the log flush), and with one shared
    # counter updated by every transaction as well
    early = bdbloop(bdbdir, "early", 5, sizes, ROW2_CONNS,
                    {"BDBLOOP_EARLY": "1"})
    hot = bdbloop(bdbdir, "hot", 5, sizes, ROW2_CONNS,
                  {"BDBLOOP_EARLY": "1", "BDBLOOP_HOT": "1"})
    detail("row 2: bdbloop, %d writers, early lock release as lib/store.c: "
           "%.0f commits/s; with a shared counter in every transaction: "
           "%.0f/s" % (ROW2_CONNS, early, hot))
    r1, r8 = ratio(one, ref16), ratio(eight, ref16)
    row("2", "executeAnalysis durable submits/s, 1 namespace, %d conns"
        % ROW2_CONNS, fmt(statistics.median(one)),
        fmt(statistics.median(ref16)) + " bdbloop x%d" % ROW2_CONNS,
        "%.2f" % r1, ">= 0.65", r1 >= 0.65)
    row("2b", "executeAnalysis durable submits/s, 8 namespaces, %d conns"
        % ROW2_CONNS, fmt(statistics.median(eight)),
        fmt(statistics.median(ref16)) + " bdbloop x%d" % ROW2_CONNS,
        "%.2f" % r8, ">= 0.65", r8 >= 0.65)
    rs = ratio(one, ref1)
    row("2c", "the same, 1 namespace, against one writer",
        fmt(statistics.median(one)), fmt(statistics.median(ref1)) +
        " bdbloop x1", "%.2f" % rs, "(info)", True)
    return statistics.median(one)


def spawn_cost(n=300):
    """CPU (children's utime+stime) and wall time to start and reap one
    stamp_engine process: what any command engine costs per image."""
    import resource
    exe = os.path.join(BIN, "stamp_engine")
    src = os.path.join(BENCHDIR, "README")
    null = os.open(os.devnull, os.O_WRONLY)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    for _ in range(n):
        pid = os.posix_spawn(exe, [exe, src], {}, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 1)])
        os.waitpid(pid, 0)
    t1 = time.time()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.close(null)
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / n
    return cpu, (t1 - t0) / n


def row3(B, n, sink, ossbase, rid, engine=None, cap=None):
    """n one-image studies queued, then the dispatcher started: status
    callbacks with status 0 per second at the sink, and the CPU mias's
    processes spent per study.  engine: the HttpEngine B's [engine.4]
    points at (rows 3-3b), or None for the command engine (rows 3c-3d, info)."""
    auths = None
    if OPTS.namespaces > 1:
        # the studies spread over namespaces: the look at the queue then
        # finds a stream of images per namespace (dispatcher/sched.c)
        tag = "%x" % int(time.time())
        auths = [B.auth()] + [
            {"tokenId": B.add_namespace("b%s-%d" % (tag, i)),
             "namespace": "b%s-%d" % (tag, i)}
            for i in range(1, OPTS.namespaces)]
    sink.reset()
    dt, errors = prefill(B, n, sink.base, ossbase, "q%x" % int(time.time()),
                         auths=auths)
    detail("row %s: %d studies submitted in %.1f s (%.0f/s) over %d "
           "namespace(s), %d refused"
           % (rid, n, dt, n / dt, len(auths or [1]), len(errors)))
    queued = n - len(errors)
    # the algorithmResult responders' CPU is counted from here (they are
    # idle: nothing posts results before the dispatcher runs)
    ar = B.pids("algorithmResult")
    ar0, lt0 = cpu_of(ar), cpu_of([B.lighttpd.pid])
    tx0 = txn_stat(B.state)
    t0 = time.time()
    d = B.start_dispatcher()
    samp = Sampler(d.pid, 0.1)
    samp.start()
    ph = perf_start("row%s-dispatcher" % rid, [d.pid], 10)
    ph2 = perf_start("row%s-algorithmResult" % rid, ar, 10) \
        if engine is not None else None
    timeout = max(120.0, n / 10.0)
    progress = [None, time.time()]

    def all_in():
        s = sink.stats()
        # progress: callbacks, or the dispatcher still working (it logs
        # nothing for images that succeed): a second more of its CPU time
        cpu_now = (proc_stat(d.pid) or (0,))[0]
        if progress[0] is None or s["count"] != progress[0][0] or \
                cpu_now - progress[0][1] >= 1.0:
            progress[:] = [(s["count"], cpu_now), time.time()]
        return s["count"] >= queued or time.time() - progress[1] > 30
    wait_for(all_in, timeout, 0.1)
    st = sink.stats()
    perf_finish(ph)
    perf_finish(ph2)
    cpu = (proc_stat(d.pid) or (0, 0, 0))[0]
    ar = B.pids("algorithmResult")
    arcpu = cpu_of(ar) - ar0
    ltcpu = cpu_of([B.lighttpd.pid]) - lt0
    samp.done()
    B.stop_dispatcher()
    tx1 = txn_stat(B.state)
    elapsed = (st["last_ns"] / 1e9 - t0) if st["count"] else 0
    rate = st["ok"] / elapsed if elapsed > 0 else 0
    studies = max(st["ok"], 1)
    if tx0 and tx1:
        # the store's work per study: the dispatcher's and the
        # algorithmResult responders' transactions together
        detail("row %s: per study: %.1f transactions committed (%.1f "
               "begun), %.1f log flushes" % (
                   rid, (tx1[0] - tx0[0]) / studies,
                   (tx1[1] - tx0[1]) / studies,
                   (tx1[2] - tx0[2]) / studies))
    per = cpu / studies * 1e3                   # ms per study
    allper = (cpu + arcpu) / studies * 1e3
    eng = ""
    if engine is not None:
        es = engine.stats()
        eng = ("; engine: %d triggers, %d results posted, %d failed"
               % (es["triggers"], es["posted"], es["failed"]))
    detail("row %s: %d studies queued; %d callbacks (%d with status 0) in "
           "%.1f s after the dispatcher started, the first after %.1f s; "
           "CPU per study: dispatcher %.3f ms, algorithmResult responders "
           "%.3f ms (%d processes), lighttpd %.3f ms; dispatcher CPU %.2f s,"
           " peak RSS %.1f MB%s"
           % (rid, queued, st["count"], st["ok"], elapsed,
              (st["first_ns"] / 1e9 - t0) if st["count"] else -1, per,
              arcpu / studies * 1e3, len(ar), ltcpu / studies * 1e3, cpu,
              samp.peak / 1024, eng))
    ok = st["ok"] >= queued and queued > 0
    if engine is not None:
        row("3", "dispatcher callbacks/s, %d one-image studies, HTTP engine"
            % n, fmt(rate), fmt(cap) + " sink" if cap else "-",
            "-", ">= 2,500/s", ok and rate >= 2500)
        row("3a", "dispatcher CPU ms/study, HTTP engine (from /proc)",
            "%.3f" % per, "-", "-", "<= 0.25 ms", ok and per <= 0.25)
        row("3b", "mias CPU ms/study: dispatcher + algorithmResult",
            "%.3f" % allper, "-", "-", "(info)", True)
    else:
        sc, sw = spawn_cost()
        detail("row 3c: starting one engine process costs %.0f us of CPU "
               "(%.0f us wall): command engines alone can start at most "
               "%.0f/s on %d cores"
               % (sc * 1e6, sw * 1e6, (os.cpu_count() or 1) / sc if sc
                  else 0, os.cpu_count() or 1))
        row("3c", "callbacks/s, %d studies, command engine (stamp_engine)"
            % n, fmt(rate), "-", "-", "(info)", True)
        row("3d", "dispatcher CPU ms/study, command engine",
            "%.3f" % per, "-", "-", "(info)", True)
    return samp, queued


def sink_capacity(sink):
    """What the sink takes: wrk POSTing callback.lua for a few seconds."""
    sink.reset()
    r = wrk(sink.base + "/cb", 5 if OPTS.quick else 10,
            script=os.path.join(BENCHDIR, "callback.lua"))
    sink.reset()
    return r["rps"]


def row4(B, count, sink, ossbase):
    """executeAnalysis answered -> engine started, one at a time."""
    stamp = os.path.join(B.dir, "stamps.log")
    B.start_dispatcher({"BENCH_STAMP_LOG": stamp})
    time.sleep(1.0)
    lat, misses = [], 0
    tag = "l%x" % int(time.time())
    for i in range(count):
        n0 = sink.stats()["count"]
        lines0 = 0
        if os.path.exists(stamp):
            with open(stamp) as f:
                lines0 = len(f.readlines())
        st, code = B.execute(B.execute_body("%s.%d" % (tag, i), sink.base,
                                            ossbase))
        t_ans = time.time()
        if code != "000000":
            detail("row 4: executeAnalysis answered %s %s" % (st, code))
            continue

        def started():
            try:
                with open(stamp) as f:
                    lines = f.readlines()
            except OSError:
                return None
            return lines[lines0] if len(lines) > lines0 else None
        line = wait_for(started, 10, 0.0005)
        if line is None:
            detail("row 4: engine did not start within 10 s")
            misses += 1
            if misses >= 3:
                break
            continue
        lat.append(int(line.split()[0]) / 1e9 - t_ans)
        # idle again: the callback went out
        wait_for(lambda: sink.stats()["count"] > n0, 10, 0.002)
        time.sleep(0.02)
    B.stop_dispatcher()
    if not lat:
        row("4", "wake-up latency", "-", "-", "-", "p99 <= 20 ms", False)
        return
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    detail("row 4: %d studies: min %.1f ms, p50 %.1f ms, p90 %.1f ms, "
           "p99 %.1f ms, max %.1f ms" % (len(lat), lat[0] * 1000, p50,
                                          lat[int(len(lat) * 0.9)] * 1000,
                                          p99, lat[-1] * 1000))
    row("4", "wake-up latency ms, answer -> engine start (p50 / p99)",
        "%.1f / %.1f" % (p50, p99), "-", "-", "p99 <= 20 ms", p99 <= 20)


def smaps_kb(pid):
    """From /proc/PID/smaps_rollup and smaps: private (Private_Clean +
    Private_Dirty), PSS, and the private part in Berkeley DB's region
    files (__db.*: the shared cache and lock table, private only while
    no other process has touched the same pages), all kB."""
    out = {"private": private_kb(pid), "pss": 0, "db_private": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["pss"] = int(line.split()[1])
        name = ""
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if "-" in head[0] and not head[0].endswith(":"):
                    name = os.path.basename(head[5]) if len(head) > 5 \
                        else ""
                elif head[0] in ("Private_Clean:", "Private_Dirty:") and \
                        name.startswith("__db."):
                    out["db_private"] += int(head[1])
    except (OSError, ValueError, IndexError):
        pass
    return out


def db_count(text):
    """A count as db_stat prints it: exact below ten million, then in
    millions ("11M")."""
    m = re.match(r"^(\d+)([KMG]?)$", text.strip())
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {"": 1, "K": 10 ** 3, "M": 10 ** 6,
                              "G": 10 ** 9}[m.group(2)]


def mpool_stat(state):
    """(cache bytes, pages found in the cache, pages not found) of the
    store's shared cache, from db_stat -m; None without db_stat."""
    tool = shutil.which("db5.3_stat") or shutil.which("db_stat")
    if tool is None:
        return None
    p = subprocess.run([tool, "-h", state, "-m"], capture_output=True,
                       text=True)
    try:
        return mpool_parse(p.stdout)
    except ValueError:
        return None


def mpool_parse(text):
    size = hit = miss = None
    for line in text.splitlines():
        if "\t" not in line:
            continue
        val, what = line.split("\t", 1)
        if what == "Total cache size" and size is None:
            m = re.match(r"(?:(\d+)GB)?\s*(?:(\d+)MB)?\s*(?:(\d+)KB)?\s*"
                         r"(?:(\d+)B)?", val.strip())
            g, mb, kb, b = (int(x or 0) for x in m.groups())
            size = ((g * 1024 + mb) * 1024 + kb) * 1024 + b
        elif what.startswith("Requested pages found in the cache") and \
                hit is None:
            hit = db_count(val)
        elif what.startswith("Requested pages not found in the cache") \
                and miss is None:
            miss = db_count(val)
    if size is None or hit is None or miss is None:
        return None
    return size, hit, miss


def txn_stat(state):
    """(transactions committed, transactions begun, log flushes) of the
    store so far, from db_stat -t and -l; None without db_stat."""
    tool = shutil.which("db5.3_stat") or shutil.which("db_stat")
    if tool is None:
        return None
    vals = {}
    for flag in ("-t", "-l"):
        p = subprocess.run([tool, "-h", state, flag], capture_output=True,
                           text=True)
        for line in p.stdout.splitlines():
            if "\t" in line:
                v, what = line.split("\t", 1)
                vals.setdefault(what, v)
    try:
        return (db_count(vals["Number of transactions committed"]),
                db_count(vals["Number of transactions begun"]),
                db_count(vals["Total log file flushes"]))
    except (KeyError, ValueError):
        return None


def row5_responders(A, mias_done, rate, sink, ossbase):
    """Private memory of the responders after >= 100,000 requests each
    (getAnalysisResult; executeAnalysis after as many as its rounds gave,
    topped up to OPTS.execute_requests each), PSS as info, and the shared
    Berkeley DB cache in a row of its own."""

    want = OPTS.responder_requests * A.procs
    url = A.base + A.result_path("bench-done-1")
    hdrs = ["tokenId: " + A.token, "namespace: " + A.ns]
    while mias_done < want:
        secs = 5 if not rate else min(60, int((want - mias_done) / rate) + 1)
        r = wrk(url, secs, headers=hdrs)
        mias_done += r["requests"]
        rate = r["rps"]
        if not r["requests"]:
            break
    # executeAnalysis: new studies, spread over fresh namespaces so that
    # none reaches [limits] queued_studies
    want_x = OPTS.execute_requests * A.procs
    tag, n, xrate = "m%x" % int(time.time()), 0, 0
    while A.exec_requests < want_x and n < 5:
        n += 1
        names = ["%s-%d-%d" % (tag, n, k) for k in range(8)]
        toks = ",".join(A.add_namespace(x) for x in names)
        secs = min(60, int((want_x - A.exec_requests) /
                           max(xrate or 2000, 500)) + 1)
        r = wrk(A.base + "/dicom/api/executeAnalysis", secs,
                script=os.path.join(BENCHDIR, "execute.lua"),
                args=("%s.%d" % (tag, n), toks, ",".join(names),
                      sink.base + "/cb", ossbase))
        A.exec_requests += r["requests"]
        A.submitted += r["requests"] - r["non2xx"]
        xrate = r["rps"]
        if not r["requests"]:
            break
    pool1 = mpool_stat(A.state)
    out = {}
    for name in ("getAnalysisResult", "executeAnalysis"):
        out[name] = []
        for p in A.pids(name):
            st = proc_stat(p)
            if st:
                out[name].append((p, st[1], st[2], smaps_kb(p)))
    detail("row 5a: after %d getAnalysisResult and %d executeAnalysis "
           "requests over %d processes each: " % (mias_done,
                                                  A.exec_requests, A.procs)
           + "; ".join("%s[%d] private %.2f MB (of it in __db.* regions "
                       "%.2f MB), PSS %.2f MB, VmRSS %.1f MB, VmHWM %.1f MB"
                       % (name, p, sm["private"] / 1024,
                          sm["db_private"] / 1024, sm["pss"] / 1024,
                          r / 1024, h / 1024)
                       for name in out for p, r, h, sm in out[name]))
    for name in out:
        if out[name]:
            p = out[name][0][0]
            detail("row 5a: %s[%d] resident by mapping: " % (name, p) +
                   ", ".join("%s %.1f MB" % (n, kb / 1024)
                             for n, kb in rss_by_mapping(p)))
            detail("row 5a: %s[%d] private by mapping: " % (name, p) +
                   ", ".join("%s %.2f MB" % (n, kb / 1024)
                             for n, kb in rss_by_mapping(
                                 p, 10, ("Private_Clean:",
                                         "Private_Dirty:"))))
    noop = [smaps_kb(p) for p in pids_of(os.path.join(BIN, "noop"))]
    npriv = max((s["private"] for s in noop), default=0)
    for rid, name, limit_mb, done in (
            ("5a", "getAnalysisResult", 2, mias_done),
            ("5a2", "executeAnalysis", 3, A.exec_requests)):
        priv = max((sm["private"] for _, _, _, sm in out[name]), default=0)
        row(rid, "%s private MB after %dk requests each"
            % (name, done // max(A.procs, 1) // 1000),
            fmt(priv / 1024, 2), fmt(npriv / 1024, 2) + " noop",
            "%.1fx" % (priv / npriv if npriv else 0),
            "<= %d MB" % limit_mb, bool(out[name]) and
            priv <= limit_mb * 1024)
    pss = {name: sum(sm["pss"] for _, _, _, sm in out[name])
           for name in out}
    row("5a3", "PSS MB, %d processes each: getAnalysisResult / "
        "executeAnalysis" % A.procs, "%s / %s" % (
            fmt(pss["getAnalysisResult"] / 1024, 1),
            fmt(pss["executeAnalysis"] / 1024, 1)),
        fmt(sum(s["pss"] for s in noop) / 1024, 1) + " noop", "-",
        "(info)", True)
    if pool1:
        # since the store opened: rows 1, 2 and 5a (a full run's rows 1
        # and 2 may leave 5a nothing to send); db_stat rounds counts over
        # ten million to millions, which the rate does not feel
        hit, miss = pool1[1], pool1[2]
        detail("row 5e: Berkeley DB cache: %.1f MB; since the store opened "
               "(rows 1, 2 and 5a) %d page requests found in it, %d read in"
               % (pool1[0] / 1048576, hit, miss))
        row("5e", "Berkeley DB shared cache MB (hit rate, rows 1-5a)",
            fmt(pool1[0] / 1048576, 1), "-",
            "%.2f%%" % (100.0 * hit / (hit + miss)) if hit + miss else "-",
            "(info)", True)
    else:
        detail("row 5a: no db_stat: apt-get install db5.3-util")


def row5_queue(A, q, sink, ossbase, rate):
    """The dispatcher's RSS with q queued studies."""
    have, n = A.submitted, 0
    while have < q and n < 5:
        n += 1
        secs = int((q - have) / max(rate, 50) * 1.05) + 1
        say("row 5: queueing %d more studies (%d s of wrk)" % (q - have,
                                                                secs))
        r = wrk(A.base + "/dicom/api/executeAnalysis", secs,
                script=os.path.join(BENCHDIR, "execute.lua"),
                args=("f%x.%d" % (int(time.time()), n), A.token, A.ns,
                      sink.base + "/cb", ossbase))
        have += r["requests"] - r["non2xx"]
        rate = r["rps"] or rate
        if r["non2xx"]:
            break       # [limits] queued_studies reached
    sink.reset()
    d = A.start_dispatcher()
    samp = Sampler(d.pid, 0.1)
    samp.start()
    time.sleep(OPTS.queue_seconds)
    n = sink.stats()["count"]
    detail("row 5b: the dispatcher's resident memory by mapping at the end: "
           + ", ".join("%s %.1f MB" % (m, kb / 1024)
                       for m, kb in rss_by_mapping(d.pid)))
    samp.done()
    A.stop_dispatcher()
    detail("row 5: dispatcher with about %d queued studies: peak VmRSS %.1f MB "
           "(VmHWM %.1f MB) over %d s, %d callbacks meanwhile"
           % (have, samp.peak / 1024, samp.hwm / 1024, OPTS.queue_seconds, n))
    return have, samp


def row5_listing(B, root, objects):
    """The dispatcher's RSS while listing a prefix of many objects."""
    ossroot = os.path.join(root, "pyoss")
    d = os.path.join(ossroot, "big", "many")
    os.makedirs(d)
    body = result_body().encode()
    for i in range(objects):
        with open(os.path.join(d, "%07d.dcm" % i), "wb") as f:
            f.write(body)
    with open(os.path.join(ossroot, "big", "huge.bin"), "wb") as f:
        f.truncate(1 << 30)
    with open(os.path.join(ossroot, "big", "small.bin"), "wb") as f:
        f.truncate(1 << 20)
    creds = os.path.join(root, "pyoss-creds.json")
    with open(creds, "w") as f:
        json.dump({"keys": {"AKIDbench0123456789":
                            "SKbench0123456789abcdefghijklmn"}}, f)
    pf = os.path.join(root, "pyoss.port")
    spawn(["/usr/bin/python3", os.path.join(FIXTURES, "oss_server.py"),
           "--root", ossroot, "--creds", creds, "--port", "0",
           "--port-file", pf, "--log", os.path.join(root, "pyoss.log")],
          os.path.join(root, "pyoss.err"))
    port = int(wait_for(lambda: os.path.exists(pf) and open(pf).read().strip(),
                        15))
    endpoint = "http://127.0.0.1:%d" % port
    disp = B.start_dispatcher()
    time.sleep(1.0)
    idle = proc_stat(disp.pid)[1]
    samp = Sampler(disp.pid, 0.05)
    samp.start()
    t0 = time.time()
    st, code = B.execute(B.execute_body("list-many", "http://127.0.0.1:9",
                                        endpoint, key="many/", bucket="big"))
    pat = re.compile(r"study bench/list-many: (\d+) images|"
                     r"study bench/list-many: failed: (.*)")
    m = wait_for(lambda: pat.search(B.displog_text()),
                 max(120, objects / 200), 0.1)
    dt = time.time() - t0
    samp.done()
    B.stop_dispatcher()
    if m and m.group(1):
        detail("row 5: listed %s objects in %.1f s; dispatcher VmRSS idle "
               "%.1f MB, peak while listing %.1f MB (VmHWM %.1f MB)"
               % (m.group(1), dt, idle / 1024, samp.peak / 1024,
                  samp.hwm / 1024))
    else:
        detail("row 5: listing did not finish: %s" % (m and m.group(2)))
    peak = samp.peak
    row("5c", "dispatcher peak VmRSS MB listing %dk objects" %
        (objects // 1000), fmt(peak / 1024, 1), fmt(idle / 1024, 1) +
        " idle", "%.1fx" % (peak / idle if idle else 0), "<= 64 MB",
        bool(m and m.group(1)) and peak <= 64 * 1024)
    return endpoint


def download_rss(stack, endpoint, key):
    env = dict(os.environ, OSS_ACCESS_KEY_ID="AKIDbench0123456789",
               OSS_ACCESS_KEY_SECRET="SKbench0123456789abcdefghijklmn")
    t0 = time.time()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen([os.path.join(PREFIX, "bin", "mias-admin"),
                              "-c", stack.conf, "oss", "get", "--endpoint",
                              endpoint, "--bucket", "big", "--key", key],
                             stdout=null, stderr=subprocess.PIPE, env=env)
        samp = Sampler(p.pid, 0.05)
        samp.start()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = status
        err = p.stderr.read().decode(errors="replace")
        samp.done()
    return time.time() - t0, status, ru.ru_maxrss, samp, err


def row5_download(B, endpoint):
    ts, ss, small, _, e1 = download_rss(B, endpoint, "small.bin")
    tb, sb, big, samp, e2 = download_rss(B, endpoint, "huge.bin")
    ok = ss == 0 and sb == 0
    detail("row 5: oss get 1 GB: %.1f s (%.0f MB/s), peak RSS %.1f MB "
           "(sampled: first %.1f MB, last %.1f MB); 1 MB object: peak %.1f MB"
           "%s" % (tb, 1024 / tb, big / 1024, samp.first / 1024,
                   samp.last / 1024, small / 1024,
                   "" if ok else "; FAILED: " + (e1 + e2)[-300:]))
    row("5d", "mias-admin oss get 1 GB: peak RSS MB", fmt(big / 1024, 1),
        fmt(small / 1024, 1) + " 1 MB get", "%.2f" % (big / small),
        "flat (<= 1.1x)", ok and big <= small * 1.1)


# --- Apache + mod_fcgid ------------------------------------------------------

ROW6_CONNS = 16     # wrk connections, as in row 1


def apache_run(A, n, seconds, rounds, noop_body, perf):
    """Apache + mod_fcgid with n processes per program; rounds of wrk
    (ROW6_CONNS connections) against getAnalysisResult and noop.
    Returns the medians and the details, or None when Apache fails."""
    d = os.path.join(A.dir, "apache-%d" % n)
    binc = os.path.join(d, "bin")
    os.makedirs(binc)
    for src in (os.path.join(PREFIX, "libexec", "mias",
                             "getAnalysisResult.fcgi"),
                os.path.join(BIN, "noop")):
        shutil.copy2(src, binc)
    shutil.copy2(noop_body, os.path.join(d, "noop-body.json"))
    port = free_port()
    for sub in ("run", "fcgid", "www"):
        os.makedirs(os.path.join(d, sub))
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        f.write("""ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/run/apache.pid
DefaultRuntimeDir {d}/run
ErrorLog {d}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule alias_module {m}/mod_alias.so
LoadModule fcgid_module {m}/mod_fcgid.so
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 50
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {d}/www
FcgidIPCDir {d}/fcgid
FcgidProcessTableFile {d}/fcgid/shm
FcgidMaxProcesses {maxp}
FcgidMaxProcessesPerClass {n}
FcgidMinProcessesPerClass {n}
FcgidMaxRequestsPerProcess 0
FcgidIOTimeout 60
FcgidSpawnScoreUpLimit 100
FcgidInitialEnv MIAS_CONF {conf}
FcgidInitialEnv NOOP_BODY {d}/noop-body.json
Alias /dicom/api/getAnalysisResult {b}/getAnalysisResult.fcgi
Alias /bench/noop {b}/noop
<Directory {b}>
    SetHandler fcgid-script
    Options +ExecCGI
    Require all granted
</Directory>
""".format(d=d, port=port, m=APACHE_MODS, n=n, maxp=4 * n, conf=A.conf,
           b=binc))
    # the responders run as www-data: give it the stack
    subprocess.run(["chown", "-R", "www-data:www-data", A.dir], check=True)
    os.chmod(A.dir, 0o755)
    os.chmod(os.path.dirname(A.dir), 0o711)
    ap = spawn([APACHE, "-f", conf, "-DFOREGROUND"],
               os.path.join(d, "apache.out"))
    try:
        if not wait_port(port):
            detail("row 6: apache did not start: see %s" % d)
            return None
        base = "http://127.0.0.1:%d" % port
        url_m = base + A.result_path("bench-done-1")
        url_n = base + "/bench/noop"
        hdrs = ["tokenId: " + A.token, "namespace: " + A.ns]
        st, raw = hreq(port, "GET", A.result_path("bench-done-1"),
                       headers=A.auth())
        if st != 200:
            detail("row 6: getAnalysisResult behind Apache answered %d %s"
                   % (st, raw[:200]))
        # warm-up: mod_fcgid starts a process only for a request that
        # found none idle, a few at a time; load with n connections until
        # a quarter more than ROW6_CONNS are running (or all n, when n is
        # fewer), or 60 s have passed
        want = min(n, ROW6_CONNS + ROW6_CONNS // 4)
        for url, prog in ((url_m, "getAnalysisResult.fcgi"),
                          (url_n, "noop")):
            t_end = time.time() + 60
            while True:
                wrk(url, 2, conns=n, headers=hdrs)
                if len(pids_of(os.path.join(binc, prog))) >= want or \
                        time.time() > t_end:
                    break
        res = {k: [] for k in ("m", "n", "mcpu", "ncpu", "msw", "nsw",
                               "mlat", "nlat", "macpu", "nacpu")}
        apids = []
        for p in pids_of(APACHE):
            try:
                if os.getsid(p) == ap.pid:
                    apids.append(p)
            except OSError:
                pass
        mp = pids_of(os.path.join(binc, "getAnalysisResult.fcgi"))
        np_ = pids_of(os.path.join(binc, "noop"))
        for i in range(rounds):
            for key, url, pids, name in (
                    ("m", url_m, mp, "getAnalysisResult"),
                    ("n", url_n, np_, "noop")):
                c0, s0, a0 = cpu_of(pids), switches_of(pids), cpu_of(apids)
                ph = perf_start("row6-%d-%s" % (n, name), pids,
                                max(1, seconds - 2)) \
                    if i == 0 and perf else None
                r = wrk(url, seconds, conns=ROW6_CONNS, headers=hdrs,
                        latency=True)
                perf_finish(ph)
                req = max(r["requests"], 1)
                res[key + "cpu"].append((cpu_of(pids) - c0) / req * 1e6)
                res[key + "sw"].append((switches_of(pids) - s0) / req)
                res[key + "acpu"].append((cpu_of(apids) - a0) / req * 1e6)
                res[key + "lat"].append(r["p99_ms"] or 0.0)
                if r["non2xx"] or r["errors"]:
                    detail("row 6: %s: %d non-2xx, %d socket errors"
                           % (name, r["non2xx"], r["errors"]))
                res[key].append(answered(r))
        out = {k: statistics.median(v) for k, v in res.items()}
        out["ratio"] = statistics.median(
            a / b for a, b in zip(res["m"], res["n"]) if b) \
            if any(res["n"]) else 0
        out["mp"], out["np"] = len(mp), len(np_)
        out["rounds_m"], out["rounds_n"] = res["m"], res["n"]
        return out
    finally:
        stop(ap)


def spawn_fcgi(sock, n, exe, env, log):
    """n processes of exe on the Unix socket sock, started by spawn-fcgi
    as apache/README.md documents it (as www-data, the socket 0660 for
    Apache's group); their pids."""
    pidf = sock + ".pid"
    with open(log, "ab") as lf:
        subprocess.run(["env", "-i"] + ["%s=%s" % kv for kv in env.items()]
                       + ["PATH=/usr/bin:/bin", "spawn-fcgi", "-s", sock,
                          "-M", "0660", "-u", "www-data", "-U", "www-data",
                          "-G", "www-data", "-F", str(n), "-P", pidf, "--",
                          exe], stdout=lf, stderr=lf, check=True)
    with open(pidf) as f:
        return [int(x) for x in f.read().split()]


def apache_proxy_run(A, n, seconds, rounds, noop_body):
    """Row 6c: Apache (event MPM) + mod_proxy_fcgi with the installed
    mias-proxy-fcgi.conf, to n getAnalysisResult processes started by
    spawn-fcgi; the reference: noop, n processes behind the same Apache
    in the same way.  The medians and details, or None."""
    d = os.path.join(A.dir, "apache-proxy")
    sockd = os.path.join(d, "sock")
    for sub in ("run", "www", "sock"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy2(noop_body, os.path.join(d, "noop-body.json"))
    port = free_port()
    conf = os.path.join(d, "apache.conf")
    with open(conf, "w") as f:
        f.write("""ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/run/apache.pid
DefaultRuntimeDir {d}/run
ErrorLog {d}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule alias_module {m}/mod_alias.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_fcgi_module {m}/mod_proxy_fcgi.so
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 50
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {d}/www
Define MIAS_SOCKET_DIR {s}
Include "{snippet}"
ProxyPassMatch "^/bench/noop$" "unix:{s}/noop.sock|fcgi://bench-noop/"
<Location "/bench/">
    ProxyFCGIBackendType GENERIC
</Location>
""".format(d=d, port=port, m=APACHE_MODS, s=sockd,
           snippet=os.path.join(PREFIX, "share", "mias", "apache",
                                "mias-proxy-fcgi.conf")))
    subprocess.run(["chown", "-R", "www-data:www-data", A.dir], check=True)
    os.chmod(A.dir, 0o755)
    os.chmod(os.path.dirname(A.dir), 0o711)
    log = os.path.join(d, "spawn-fcgi.log")
    mp = spawn_fcgi(os.path.join(sockd, "getAnalysisResult.sock"), n,
                    os.path.join(PREFIX, "libexec", "mias",
                                 "getAnalysisResult.fcgi"),
                    {"MIAS_CONF": A.conf}, log)
    np_ = spawn_fcgi(os.path.join(sockd, "noop.sock"), n,
                     os.path.join(BIN, "noop"),
                     {"NOOP_BODY": os.path.join(d, "noop-body.json")}, log)
    ap = spawn([APACHE, "-f", conf, "-DFOREGROUND"],
               os.path.join(d, "apache.out"))
    try:
        if not wait_port(port):
            detail("row 6c: apache did not start: see %s" % d)
            return None
        base = "http://127.0.0.1:%d" % port
        url_m = base + A.result_path("bench-done-1")
        url_n = base + "/bench/noop"
        hdrs = ["tokenId: " + A.token, "namespace: " + A.ns]
        st, raw = hreq(port, "GET", A.result_path("bench-done-1"),
                       headers=A.auth())
        if st != 200:
            detail("row 6c: getAnalysisResult behind Apache answered %d %s"
                   % (st, raw[:200]))
        wrk(url_m, 2, conns=ROW6_CONNS, headers=hdrs)      # warm-up
        wrk(url_n, 2, conns=ROW6_CONNS, headers=hdrs)
        apids = []
        for p in pids_of(APACHE):
            try:
                if os.getsid(p) == ap.pid:
                    apids.append(p)
            except OSError:
                pass
        res = {k: [] for k in ("m", "n", "mcpu", "ncpu", "mlat", "nlat",
                               "macpu", "nacpu")}
        for i in range(rounds):
            for key, url, pids, name in (
                    ("m", url_m, mp, "getAnalysisResult"),
                    ("n", url_n, np_, "noop")):
                c0, a0 = cpu_of(pids), cpu_of(apids)
                ph = perf_start("row6c-%s" % name, pids,
                                max(1, seconds - 2)) if i == 0 else None
                r = wrk(url, seconds, conns=ROW6_CONNS, headers=hdrs,
                        latency=True)
                perf_finish(ph)
                req = max(r["requests"], 1)
                res[key + "cpu"].append((cpu_of(pids) - c0) / req * 1e6)
                res[key + "acpu"].append((cpu_of(apids) - a0) / req * 1e6)
                res[key + "lat"].append(r["p99_ms"] or 0.0)
                if r["non2xx"] or r["errors"]:
                    detail("row 6c: %s: %d non-2xx, %d socket errors"
                           % (name, r["non2xx"], r["errors"]))
                res[key].append(answered(r))
        out = {k: statistics.median(v) for k, v in res.items()}
        out["ratio"] = statistics.median(
            a / b for a, b in zip(res["m"], res["n"]) if b) \
            if any(res["n"]) else 0
        out["rounds_m"], out["rounds_n"] = res["m"], res["n"]
        return out
    finally:
        stop(ap)
        for p in mp + np_:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_for(lambda: not any(os.path.exists("/proc/%d" % p)
                                 for p in mp + np_), 10)


def row6c(A, seconds, rounds, noop_body):
    """Row 1 behind Apache + mod_proxy_fcgi, a fixed pool of --procs
    responders per program (the spawn-fcgi variant of apache/README.md)."""
    what = ("getAnalysisResult req/s, Apache + mod_proxy_fcgi, %d procs, "
            "%d conns" % (A.procs, ROW6_CONNS))
    if not os.path.exists(os.path.join(APACHE_MODS, "mod_proxy_fcgi.so")) \
            or not shutil.which("spawn-fcgi"):
        row("6c", what, "-", "-", "-", ">= 0.90", False)
        detail("row 6c: skipped: apt-get install apache2 spawn-fcgi")
        return
    o = apache_proxy_run(A, A.procs, seconds, rounds, noop_body)
    if o is None:
        row("6c", what, "-", "-", "-", ">= 0.90", False)
        return
    detail("row 6c: getAnalysisResult %s req/s, noop %s; responder CPU per "
           "request %.1f / %.1f us; Apache CPU per request %.1f / %.1f us; "
           "wrk p99 latency %.1f / %.1f ms"
           % ([round(x) for x in o["rounds_m"]],
              [round(x) for x in o["rounds_n"]], o["mcpu"], o["ncpu"],
              o["macpu"], o["nacpu"], o["mlat"], o["nlat"]))
    row("6c", what, fmt(o["m"]), fmt(o["n"]) + " noop", "%.2f" % o["ratio"],
        ">= 0.90", o["ratio"] >= 0.9)


def row6(A, seconds, rounds, noop_body, lighttpd_rate):
    """Row 1 behind Apache + mod_fcgid.  mod_fcgid hands a process one
    request at a time and does not queue: a request that finds no idle
    process sleeps a whole second before it looks again (fcgid_bridge.c,
    apr_sleep(apr_time_from_sec(1))).  So the row gives it one process
    per wrk connection, for both programs; the info row 6b is the same
    with row 1's process count, to show what the back-off does.  Both are
    info rows (issue 21): mod_fcgid's process per request in flight
    cannot reach 0.9 of a do-nothing program; row 6c, mod_proxy_fcgi to
    a fixed pool, carries the target."""
    if not os.path.exists(APACHE):
        row("6c", "getAnalysisResult req/s, Apache + mod_proxy_fcgi", "-",
            "-", "-", ">= 0.90", False)
        detail("row 6: skipped: apt-get install apache2")
        return
    row6c(A, seconds, rounds, noop_body)
    if not os.path.exists(os.path.join(APACHE_MODS, "mod_fcgid.so")):
        row("6", "getAnalysisResult req/s, Apache + mod_fcgid", "-", "-",
            "-", "(info)", True)
        detail("row 6: skipped: apt-get install libapache2-mod-fcgid")
        return
    for n, rid in ((2 * ROW6_CONNS, "6"), (A.procs, "6b")):
        o = apache_run(A, n, seconds, rounds, noop_body,
                       perf=(rid == "6"))
        if o is None:
            row(rid, "getAnalysisResult req/s, Apache + mod_fcgid", "-",
                "-", "-", "(info)", False)
            continue
        detail("row %s: %d processes each (running: %d mias, %d noop): "
               "responder CPU per request "
               "%.1f us (mias) / %.1f us (noop); context switches per "
               "request %.2f / %.2f; wrk p99 latency %.1f / %.1f ms; "
               "Apache CPU per request %.1f / %.1f us"
               % (rid, n, o["mp"], o["np"], o["mcpu"], o["ncpu"], o["msw"], o["nsw"],
                  o["mlat"], o["nlat"], o["macpu"], o["nacpu"]))
        detail("row %s: Apache: getAnalysisResult %s req/s, noop %s req/s "
               "(lighttpd row 1: %s)"
               % (rid, [round(x) for x in o["rounds_m"]],
                  [round(x) for x in o["rounds_n"]], fmt(lighttpd_rate)))
        what = ("getAnalysisResult req/s, Apache + mod_fcgid, %d procs, "
                "%d conns" % (n, ROW6_CONNS))
        row(rid, what, fmt(o["m"]), fmt(o["n"]) + " noop",
            "%.2f" % o["ratio"], "(info)", True)


# --- main --------------------------------------------------------------------

def machine():
    lines = []
    try:
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f
                      if l.startswith("model name")]
        lines.append("cpu: %d x %s" % (os.cpu_count(), models[0] if models
                                       else "?"))
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        lines.append("memory: %s" % f.readline().split(":", 1)[1].strip())
    return lines


def print_table(out):
    hdr = ("row", "what", "mias", "reference", "ratio", "target", "met")
    order = sorted(ROWS, key=lambda r: (int(r[0][0]), r[0]))
    rows = [hdr] + [(r[0], r[1], r[2], r[3], r[4], r[5],
                     "yes" if r[6] else "NO") for r in order]
    w = [max(len(str(r[i])) for r in rows) for i in range(len(hdr))]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w[j]) if j in (0, 1, 5, 6)
                               else str(c).rjust(w[j])
                               for j, c in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * x for x in w))
    text = "\n".join(lines)
    out.write(text + "\n")
    return text


def main():
    global OPTS
    ap = argparse.ArgumentParser(prog="bench/run")
    ap.add_argument("--quick", action="store_true",
                    help="a few minutes: fewer studies and shorter runs")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, stores)")
    ap.add_argument("--rows", default="1,2,3,4,5,6",
                    help="which rows to run (default all)")
    ap.add_argument("--procs", type=int, default=2,
                    help="FastCGI processes per endpoint (default 2)")
    ap.add_argument("--studies", type=int, help="row 3 studies")
    ap.add_argument("--namespaces", type=int, default=1,
                    help="row 3: spread the studies over this many "
                    "namespaces (default 1)")
    ap.add_argument("--out", help="also write the table and details here")
    ap.add_argument("--tmpdir", default="/var/tmp",
                    help="where the run's directory goes (default /var/tmp;"
                    " its disk is the disk of rows 2 and 3)")
    ap.add_argument("--perf", metavar="DIR",
                    help="record perf profiles of rows 1-3 and 6 into DIR (the "
                    "figures of a profiled run are perturbed)")
    OPTS = ap.parse_args()
    q = OPTS.quick
    OPTS.seconds = 10 if q else 20
    OPTS.rounds = 1 if q else 3
    OPTS.studies = OPTS.studies or (1000 if q else 10000)
    OPTS.latency_n = 200
    OPTS.responder_requests = 100000
    OPTS.execute_requests = 20000 if q else 100000
    OPTS.queue_n = 10000 if q else 100000
    OPTS.queue_seconds = 10 if q else 20
    OPTS.list_n = 20000 if q else 100000
    OPTS.engine_concurrency = int(os.environ.get("BENCH_ENGINE_CONCURRENCY", "8"))
    # the HTTP engine answers at once: [engine.4] concurrency (images
    # triggered and not yet answered) and its pool of result connections
    OPTS.http_engine_concurrency = int(os.environ.get(
        "BENCH_HTTP_ENGINE_CONCURRENCY", "32"))
    OPTS.engine_pool = int(os.environ.get("BENCH_ENGINE_POOL", "8"))
    rows = set(OPTS.rows.split(","))

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(stop_all)
    # not /tmp/mias-*: test clean-ups sweep those
    root = tempfile.mkdtemp(prefix="bench-run-", dir=OPTS.tmpdir)
    say("working in %s; load average %s" % (root, loadavg()))
    for l in machine():
        detail(l)
    started = time.time()
    try:
        obj = os.path.join(root, "result.json")
        with open(obj, "w") as f:
            f.write(result_body())
        sink = FastSrv(root, "sink")
        oss = FastSrv(root, "oss", obj)
        engine = os.path.join(BIN, "stamp_engine") + " {input}"

        A = Stack(root, "a", OPTS.procs, engine).init()
        noop_body = os.path.join(root, "noop-body.json")
        A.start(noop_body)
        # a DONE study with a realistic result (5 boxes) for rows 1 and 6
        st, code = A.execute(A.execute_body("bench-done-1", sink.base,
                                            oss.base))
        if code != "000000":
            raise RuntimeError("executeAnalysis answered %s %s" % (st, code))
        sizes = A.record_sizes("bench-done-1")
        A.start_dispatcher()
        ok = wait_for(lambda: A.get_result("bench-done-1")[0] == 200, 30)
        A.stop_dispatcher()
        st, raw = A.get_result("bench-done-1")
        if not ok or json.loads(raw)["returnCode"] != "000000":
            raise RuntimeError("the study did not finish: %s\n%s"
                               % (raw[:300], A.displog_text()[-2000:]))
        nbox = len(json.loads(raw)["data"]["boxes"])
        with open(noop_body, "wb") as f:
            f.write(raw)
        detail("getAnalysisResult answer: %d bytes, %d boxes" % (len(raw),
                                                                 nbox))
        mias_done, rate1, rate2 = 0, 0, 0
        if "1" in rows:
            say("row 1 (load average %s)" % loadavg())
            mias_done, rate1 = row1(A, OPTS.seconds, OPTS.rounds)
        if "2" in rows:
            say("row 2 (load average %s)" % loadavg())
            rate2 = row2(A, OPTS.seconds, OPTS.rounds, sink, oss.base,
                         os.path.join(root, "bdbloop"), sizes)
        if "5" in rows:
            say("row 5: responders (load average %s)" % loadavg())
            row5_responders(A, mias_done, rate1, sink, oss.base)
        if "3" in rows:
            cap = sink_capacity(sink)
            he = HttpEngine(root, obj)
            B = Stack(root, "b", OPTS.procs, he.url,
                      OPTS.http_engine_concurrency).init().start()
            say("row 3 (load average %s)" % loadavg())
            row3(B, OPTS.studies, sink, oss.base, "3", he, cap)
            B.stop()
            stop(he.proc)
            B = Stack(root, "b2", OPTS.procs, engine).init().start()
            say("row 3c (load average %s)" % loadavg())
            row3(B, OPTS.studies, sink, oss.base, "3c")
            B.stop()
        if "4" in rows or "5" in rows:
            # rows 4 and 5c/5d: a store of their own, idle whatever row 3
            # left queued
            C = Stack(root, "c", OPTS.procs, engine).init().start()
            if "4" in rows:
                say("row 4 (load average %s)" % loadavg())
                row4(C, OPTS.latency_n, sink, oss.base)
            if "5" in rows:
                say("row 5: dispatcher (load average %s)" % loadavg())
                have, samp = row5_queue(A, OPTS.queue_n, sink, oss.base,
                                        rate2 or 500)
                row("5b", "dispatcher peak VmRSS MB, %dk queued studies"
                    % (have // 1000), fmt(samp.peak / 1024, 1), "-", "-",
                    "<= 64 MB", samp.peak <= 64 * 1024)
                endpoint = row5_listing(C, root, OPTS.list_n)
                row5_download(C, endpoint)
            C.stop()
        A.stop()
        if "6" in rows:
            say("row 6 (load average %s)" % loadavg())
            row6(A, OPTS.seconds, OPTS.rounds, noop_body, rate1)
    finally:
        stop_all()
        detail("load average at the end: %s; %.0f s in all" % (
            loadavg(), time.time() - started))
        if OPTS.keep:
            say("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.stdout.write("\nmias bench (%s): %s\n\n" % (
        "quick" if q else "full", time.strftime("%Y-%m-%d %H:%M")))
    text = print_table(sys.stdout)
    sys.stdout.write("\n" + "\n".join(DETAILS) + "\n")
    if OPTS.out:
        with open(OPTS.out, "w") as f:
            f.write(text + "\n\n" + "\n".join(DETAILS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
