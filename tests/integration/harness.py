# harness.py -- TAP output, a private mias installation and lighttpd on loopback, for the integration tests
"""
Each integration test builds a Stack: a temporary directory with its own
mias.conf, key file and Berkeley DB state, namespaces made with the
installed mias-admin, and a lighttpd on a free loopback port that includes
the installed drop-in snippet, exactly as an administrator would.

Environment (set by make check): MIAS_PREFIX (the installed tree),
MIAS_SRCDIR, MIAS_BUILDDIR, LIGHTTPD.
"""
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PREFIX = os.environ.get("MIAS_PREFIX", "")
SRCDIR = os.environ.get("MIAS_SRCDIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
LIGHTTPD = os.environ.get("LIGHTTPD") or shutil.which("lighttpd") or \
    "/usr/sbin/lighttpd"
UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class TAP:
    """A Test Anything Protocol producer."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, desc))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def installed(*parts):
    return os.path.join(PREFIX, *parts)


FIXTURES = os.path.join(SRCDIR, "tests", "fixtures")


class Fixture:
    """A fixture server from tests/fixtures started on a free port."""

    def __init__(self, workdir, script, *args):
        self.name = os.path.splitext(script)[0]
        portfile = os.path.join(workdir, self.name + ".port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.log = os.path.join(workdir, self.name + ".log")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(FIXTURES, script), "--port",
             "0", "--port-file", portfile, "--log", self.log] + list(args),
            stdout=subprocess.DEVNULL, stderr=open(self.log + ".err", "w"),
            start_new_session=True)
        deadline = time.time() + 15
        self.port = None
        while time.time() < deadline:
            try:
                with open(portfile) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    break
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("%s did not start (see %s)" % (script,
                                                              self.log))
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            raw = r.read()
            try:
                return json.loads(raw.decode()) if raw else None
            except ValueError:
                return raw
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(pred, timeout=30.0, step=0.1):
    """Polls pred() until it returns something true; returns that or None."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            return None
        time.sleep(step)


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def code(self):
        return self.json.get("returnCode") if isinstance(self.json, dict) \
            else None

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.raw[:300])


def group_alive(pgid):
    """Whether any process of the process group pgid is left (zombies
    of other parents aside)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(st[2]) == pgid and st[0] != "Z":
            return True
    return False


class Stack:
    """A private mias (config, key, state) behind lighttpd on loopback."""

    def __init__(self, name, engines=None, egress="", server_extra="",
                 max_body=4096, state_dir=None, procs=1,
                 url_prefix="/dicom/api", lighttpd_extra=""):
        if not PREFIX or not os.path.exists(installed("bin", "mias-admin")):
            raise RuntimeError("MIAS_PREFIX does not hold an installed mias")
        self.dir = tempfile.mkdtemp(prefix="mias-%s-" % name)
        self.conf = os.path.join(self.dir, "mias.conf")
        self.state = state_dir or os.path.join(self.dir, "state")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.lighttpd = None
        engines = engines if engines is not None else {
            4: "command = /bin/true\nanalysis = OA\n"}
        with open(self.conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nkey_file = %s\n"
                    "public_url = %s\nmax_body_bytes = %d\n%s\n"
                    % (self.state, os.path.join(self.dir, "master.key"),
                       self.base, max_body, server_extra))
            f.write("[egress]\n%s\n" % egress)
            for t, body in sorted(engines.items()):
                f.write("[engine.%d]\n%s\n" % (t, body))
        self.procs = procs
        self.url_prefix = url_prefix
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.lighttpd_extra = lighttpd_extra   # lines for lighttpd.conf
        self.dispatcher = None
        self.fixtures = []

    # --- mias-admin ---------------------------------------------------
    def admin(self, *args, check=True, input=None):
        env = None
        try:
            other = os.geteuid() == 0 and os.stat(self.state).st_uid != 0
        except OSError:
            other = False
        if other and os.environ.get("MIAS_SANITIZER"):
            # mias-admin run as root acts as the state directory's owner
            # (seteuid), and LeakSanitizer cannot inspect a process that
            # changed its user: its leak check is off for this one call
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
                ":detect_leaks=0"
        p = subprocess.run([installed("bin", "mias-admin"), "-c", self.conf]
                           + list(args), capture_output=True, text=True,
                           input=input, env=env)
        if check and p.returncode != 0:
            raise RuntimeError("mias-admin %s: %s" % (" ".join(args),
                                                       p.stderr))
        return p

    def init(self):
        # the store is the user's the stack runs as (init, run as root,
        # would otherwise make it www-data's)
        self.admin("init", "--user", self.user)
        return self

    def namespace(self, name, *opts):
        out = self.admin("namespace", "add", name, *opts).stdout
        kv = dict(line.split("=", 1) for line in out.splitlines()
                  if "=" in line)
        return kv["token"], kv["signing_secret"]

    # --- lighttpd -----------------------------------------------------
    def start(self):
        sockdir = os.path.join(self.dir, "sock")
        os.makedirs(sockdir, exist_ok=True)
        lconf = os.path.join(self.dir, "lighttpd.conf")
        docroot = os.path.join(self.dir, "www")
        os.makedirs(docroot, exist_ok=True)
        self.errorlog = os.path.join(self.dir, "lighttpd-error.log")
        with open(lconf, "w") as f:
            f.write('server.document-root = "%s"\n'
                    'server.bind = "127.0.0.1"\n'
                    'server.port = %d\n'
                    'server.errorlog = "%s"\n'
                    'server.breakagelog = "%s"\n'
                    'server.pid-file = "%s/lighttpd.pid"\n'
                    'var.mias_conf = "%s"\n'
                    'var.mias_socket_dir = "%s"\n'
                    'var.mias_procs = %d\n'
                    'var.mias_url_prefix = "%s"\n'
                    'include "%s"\n%s\n'
                    % (docroot, self.port, self.errorlog,
                       os.path.join(self.dir, "responders.log"), self.dir,
                       self.conf, sockdir, self.procs, self.url_prefix,
                       installed("share", "mias", "lighttpd",
                                 "mias-fastcgi.conf"), self.lighttpd_extra))
        self.lighttpd = subprocess.Popen(
            [LIGHTTPD, "-D", "-f", lconf], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "lighttpd.out"), "w"),
            start_new_session=True)
        if not wait_port(self.port):
            raise RuntimeError("lighttpd did not start: see %s" % self.dir)
        return self

    def stop(self):
        if self.lighttpd is not None:
            try:
                os.killpg(self.lighttpd.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.lighttpd.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.lighttpd.pid, signal.SIGKILL)
                self.lighttpd.wait()
            # stopped means its responders are gone too (they share its
            # process group): a test that opens the store next must not
            # meet one still starting or leaving
            deadline = time.time() + 10
            while group_alive(self.lighttpd.pid):
                if time.time() > deadline:
                    os.killpg(self.lighttpd.pid, signal.SIGKILL)
                    deadline = time.time() + 10
                time.sleep(0.05)
            self.lighttpd = None

    # --- the dispatcher and fixtures ------------------------------------
    def start_dispatcher(self):
        self.displog = os.path.join(self.dir, "dispatcher.log")
        self.dispatcher = subprocess.Popen(
            [installed("sbin", "mias-dispatcher"), "-f", "-d", "-c",
             self.conf], stdout=subprocess.DEVNULL,
            stderr=open(self.displog, "a"), start_new_session=True)
        sock = os.path.join(self.state, "dispatcher.sock")
        wait_for(lambda: os.path.exists(sock), 10, 0.02)
        return self.dispatcher

    def stop_dispatcher(self, sig=signal.SIGTERM, timeout=30):
        p, self.dispatcher = self.dispatcher, None
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None

    def dispatcher_log(self):
        try:
            with open(self.displog, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def fixture(self, script, *args):
        f = Fixture(self.dir, script, *args)
        self.fixtures.append(f)
        return f

    def cleanup(self, keep=False):
        self.stop_dispatcher()
        for f in self.fixtures:
            f.stop()
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        """lighttpd's error log and the responders' standard error."""
        text = ""
        for name in ("lighttpd-error.log", "responders.log", "lighttpd.out"):
            try:
                with open(os.path.join(self.dir, name),
                          errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    # --- HTTP -----------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        h = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = "application/json; charset=utf-8"
        elif isinstance(body, (str, bytes)):
            if isinstance(body, str):
                body = body.encode("utf-8")
            h["Content-Type"] = "application/json; charset=utf-8"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Response(r.status, dict((k.lower(), v) for k, v in
                                           r.getheaders()), r.read())
        finally:
            c.close()

    def api(self, method, name, body=None, token=None, ns=None,
            headers=None, query=""):
        h = dict(headers or {})
        if token is not None:
            h["tokenId"] = token
        if ns is not None:
            h["namespace"] = ns
        return self.request(method, self.url_prefix + "/" + name + query,
                            body, h)


def envelope_ok(tap, r, code, status, desc, post=True):
    """Checks the API.md envelope of a response."""
    j = r.json if isinstance(r.json, dict) else {}
    good = (r.status == status and j.get("returnCode") == code and
            j.get("success") is (code == "000000") and
            isinstance(j.get("returnMessage"), str) and
            j.get("solution") == "" and
            UUID4.match(str(j.get("requestId", ""))) is not None and
            r.headers.get("content-type", "").startswith("application/json"))
    if good and code != "000000":
        good = j.get("data") is (False if post else None)
    return tap.ok(good, desc, "want %s/HTTP %d, got %r" % (code, status, r))


# --- helpers for the dispatcher tests ---------------------------------------
#
# Appended for test_dispatch*.py; nothing above depends on them.

def db_tool(name):
    """A Berkeley DB utility (db5.3_dump, db_dump, ...) or None."""
    for tool in ("db5.3_" + name, "db_" + name):
        path = shutil.which(tool)
        if path:
            return path
    return None


def _db_print_decode(text):
    """One line of db_dump -p output (minus its leading blank) as bytes."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    while i < len(raw):
        c = raw[i]
        if c == 0x5c and i + 1 < len(raw) and raw[i + 1] == 0x5c:
            out.append(0x5c)
            i += 2
        elif c == 0x5c and i + 2 < len(raw):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def db_dump(state_dir, dbfile):
    """The records of one database of the store, as [(key, value)] bytes,
    read with Berkeley DB's own db_dump -p; None when it cannot be read."""
    tool = db_tool("dump")
    if tool is None:
        return None
    p = None
    for attempt in range(10):
        # may fail while a restarted dispatcher runs recovery: try again.
        # db_dump joins the environment without DB_REGISTER: after a test
        # killed a process holding one of its mutexes, it can wait on that
        # mutex for ever (recovery by the next mias process leaves it
        # asleep on the old region): stop it and try again.
        try:
            p = subprocess.run([tool, "-p", "-h", state_dir, dbfile],
                               capture_output=True, text=True,
                               errors="surrogateescape", timeout=5)
        except subprocess.TimeoutExpired:
            p = None
            continue
        if p.returncode == 0:
            break
        time.sleep(0.2)
    if p is None or p.returncode != 0:
        return None
    recs, cur, body = [], [], False
    for line in p.stdout.splitlines():
        if line == "HEADER=END":
            body = True
            continue
        if not body or line == "DATA=END":
            continue
        if line.startswith(" "):
            cur.append(_db_print_decode(line[1:]))
            if len(cur) == 2:
                recs.append(tuple(cur))
                cur = []
    return recs


def db_json(state_dir, dbfile):
    """{key (bytes): decoded JSON value} of one database (values that are
    not JSON are left out)."""
    out = {}
    for k, v in db_dump(state_dir, dbfile) or []:
        try:
            out[k] = json.loads(v.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass
    return out


def study_key(ns, study_type, uid):
    """The store's key of a study: ns NUL type NUL uid."""
    return ("%s\0%d\0%s" % (ns, study_type, uid)).encode("utf-8")


def db_verify_all(state_dir):
    """Runs db_verify on every .db file of a store: [(file, ok, output)]."""
    tool = db_tool("verify")
    res = []
    for f in sorted(os.listdir(state_dir)):
        if not f.endswith(".db"):
            continue
        p = subprocess.run([tool, "-h", state_dir, f], capture_output=True,
                           text=True)
        res.append((f, p.returncode == 0, (p.stdout + p.stderr).strip()))
    return res


def verify_webhooks(records, secret):
    """Checks sink records with the official standardwebhooks library
    (tests/node/verify_webhook.mjs): (exit status, output); (None, why)
    when node or the library is missing."""
    node = shutil.which("node")
    script = os.path.join(SRCDIR, "tests", "node", "verify_webhook.mjs")
    lib = os.path.join(SRCDIR, "tests", "node", "node_modules",
                       "standardwebhooks")
    if node is None or not os.path.isdir(lib):
        return None, "node or the standardwebhooks package is missing"
    p = subprocess.run([node, script, secret], input=json.dumps(records),
                       capture_output=True, text=True,
                       cwd=os.path.dirname(script))
    return p.returncode, (p.stdout + p.stderr).strip()


class FakeOss:
    """oss_server.py on a free port with a bucket tree under the stack's
    directory and one permanent key pair (AKID/SKSECRET by default)."""

    def __init__(self, stack, keys=None, args=(), sts=None):
        self.stack = stack
        self.root = os.path.join(stack.dir, "oss")
        os.makedirs(self.root, exist_ok=True)
        self.keys = keys or {"AKID-dispatch": "SK-dispatch-secret-0123"}
        self.ak, self.sk = next(iter(self.keys.items()))
        self.creds = os.path.join(stack.dir, "oss-creds.json")
        creds = {"keys": self.keys}
        if sts:     # {"TOKEN": {"ak": AK, "expires": UNIX_TS}}
            creds["sts"] = sts
        with open(self.creds, "w") as f:
            json.dump(creds, f)
        self.fx = stack.fixture("oss_server.py", "--root", self.root,
                                "--creds", self.creds, *list(args))
        self.port = self.fx.port
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def dicom(self, bucket, prefix, count=3, marker=False):
        """make_dicom_bucket.py: count real CT slices under prefix; the
        keys in listing order."""
        cmd = ["/usr/bin/python3", os.path.join(FIXTURES,
               "make_dicom_bucket.py"), "--root", self.root, "--bucket",
               bucket, "--prefix", prefix, "--count", str(count), "--json"]
        if marker:
            cmd.append("--marker")
        p = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(p.stdout)["keys"]

    def bucket(self, bucket):
        os.makedirs(os.path.join(self.root, bucket), exist_ok=True)

    def put(self, bucket, key, data=b""):
        """An object written as a file (data may be empty)."""
        path = os.path.join(self.root, bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def marker(self, bucket, prefix):
        """The zero-byte directory marker object "prefix/"."""
        d = os.path.join(self.root, bucket, prefix.rstrip("/"))
        os.makedirs(d, exist_ok=True)
        open(os.fsencode(d) + b"/\xffdir", "wb").close()

    def sha256(self, bucket, key):
        import hashlib
        with open(os.path.join(self.root, bucket, key), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def log(self, since=0):
        return self.fx.call("GET", "/__fixture__/log?since=%d" % since) or []

    def faults(self, spec):
        return self.fx.call("POST", "/__fixture__/faults", spec)


def sink_received(sink, path=None, since=0):
    """The sink's records (for one exact path), oldest first."""
    q = []
    if path is not None:
        import urllib.parse
        q.append("path=" + urllib.parse.quote(path, safe=""))
    if since:
        q.append("since=%d" % since)
    r = sink.call("GET", "/__control__/received" +
                  ("?" + "&".join(q) if q else ""))
    return r if isinstance(r, list) else []


def sink_script(sink, path, *responses, clear=True):
    """Queues scripted answers for one path of the sink."""
    body = {"path": path, "responses": list(responses)}
    if clear:
        body["clear"] = True
    return sink.call("POST", "/__control__", body)


def delivered(rec):
    """Whether a sink record was answered as a delivered status callback."""
    a = rec.get("answer") or {}
    if a.get("status") is None or not 200 <= a["status"] < 300:
        return False
    try:
        return json.loads(a.get("body") or "").get("code") == 0
    except (ValueError, AttributeError):
        return False


def _stack_study(self, ns, study_type, uid):
    """The study's record straight from the store (db_dump), or None."""
    return db_json(self.state, "studies.db").get(study_key(ns, study_type,
                                                           uid))


def _stack_result(self, ns, study_type, uid):
    """The study's stored result record (db_dump), or None."""
    return db_json(self.state, "results.db").get(study_key(ns, study_type,
                                                           uid))


def _stack_jobs(self, ns, study_type, uid, run=None):
    """The study's image jobs (db_dump), optionally of one run only."""
    pre = study_key(ns, study_type, uid) + b"\0"
    out = []
    for k, v in db_json(self.state, "jobs.db").items():
        if k.startswith(pre) and (run is None or v.get("run") == run):
            out.append(v)
    return out


def _stack_outbox(self):
    """Every callback message of the store (db_dump): {id: record}."""
    return dict((k.decode("utf-8", "replace"), v) for k, v in
                db_json(self.state, "outbox.db").items())


def _stack_admin_json(self, *args):
    """mias-admin ARGS --json, parsed; None when it fails."""
    p = self.admin(*(list(args) + ["--json"]), check=False)
    if p.returncode != 0:
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def _stack_submit(self, token, ns, uid, callback, oss, key, study_type=4,
                  bucket="studies", **over):
    """executeAnalysis for a study in a FakeOss bucket."""
    body = {"studyInstanceUid": uid, "studyType": study_type,
            "statusNotifyCallBackUrl": callback,
            "accessKeyId": oss.ak, "accessKeySecret": oss.sk,
            "endpoint": oss.endpoint, "bucketName": bucket, "key": key}
    body.update(over)
    return self.api("POST", "executeAnalysis", body, token=token, ns=ns)


def _stack_kill_dispatcher(self):
    """kill -9 of the dispatcher; its exit status (negative signal)."""
    p, self.dispatcher = self.dispatcher, None
    if p is None:
        return None
    if p.poll() is None:
        p.kill()
    return p.wait(30)


Stack.study = _stack_study
Stack.result = _stack_result
Stack.jobs = _stack_jobs
Stack.outbox = _stack_outbox
Stack.admin_json = _stack_admin_json
Stack.submit = _stack_submit
Stack.kill_dispatcher = _stack_kill_dispatcher


# --- helpers for the result tests (test_results.py, test_chain.py) --------
#
# Appended; nothing above depends on them.

def cmd_engine_conf(study_type, analysis, timeout=20, concurrency=4,
                    extra="", args=""):
    """The body of an [engine.N] section running tests/fixtures/cmd_engine.py
    for study_type (its findings: cmd_engine.result_text); args go on its
    command line (--mode, --delay, --log...)."""
    return ("command = /usr/bin/python3 %s --type %d %s{input}\n"
            "analysis = %s\ntimeout = %d\nconcurrency = %d\n%s"
            % (os.path.join(FIXTURES, "cmd_engine.py"), study_type,
               args + " " if args else "", analysis, timeout, concurrency,
               extra))


def slow_engine(stack, study_type, analysis, delay, timeout, concurrency=1):
    """Appends an [engine.N] section to the stack's configuration that runs
    cmd_engine.py --mode slow (delay seconds an image) and logs its runs
    (cmd_engine_runs); returns the log's path and the configuration as it
    was before, for a reload that takes the engine away."""
    log = os.path.join(stack.dir, "engine%d.jsonl" % study_type)
    with open(stack.conf) as f:
        before = f.read()
    with open(stack.conf, "a") as f:
        f.write("[engine.%d]\n" % study_type + cmd_engine_conf(
            study_type, analysis, timeout=timeout, concurrency=concurrency,
            args="--mode slow --delay %g --log %s" % (delay, log)))
    return log, before


def cmd_engine_runs(log):
    """The runs of a cmd_engine.py given --log LOG: one "start" record each
    (an "end" record follows when it finishes)."""
    try:
        with open(log) as f:
            return [r for r in (json.loads(x) for x in f if x.strip())
                    if r.get("phase") == "start"]
    except (OSError, ValueError):
        return []


def load_fixture_module(name):
    """Imports tests/fixtures/NAME.py (e.g. cmd_engine) as a module."""
    if FIXTURES not in sys.path:
        sys.path.insert(0, FIXTURES)
    sys.dont_write_bytecode = True
    import importlib
    return importlib.import_module(name)


def json_exact(raw):
    """JSON text parsed with every non-integer number kept as its text,
    ("num", "0.8900"), so comparisons see the exact digits."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw, parse_float=lambda s: ("num", s))


def engine_log(path, since=0.0):
    """The JSON lines cmd_engine.py appended to its --log file (phase
    "start" / "end") at or after since."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("time", 0) >= since:
                    out.append(rec)
    except OSError:
        pass
    return out


def _stack_get_result(self, token, ns, uid, study_type, headers=None):
    """getAnalysisResult for one study (uid percent-encoded)."""
    import urllib.parse
    q = "?studyInstanceUid=%s&studyType=%s" % (
        urllib.parse.quote(uid, safe=""), study_type)
    return self.api("GET", "getAnalysisResult", token=token, ns=ns,
                    query=q, headers=headers)


def _stack_wait_result(self, token, ns, uid, study_type, timeout=30.0,
                       codes=("000000", "100006")):
    """Polls getAnalysisResult until its returnCode is one of codes; the
    last response either way."""
    last = []

    def pred():
        r = self.get_result(token, ns, uid, study_type)
        last[:] = [r]
        return r if r.code in codes else None
    return wait_for(pred, timeout, 0.1) or (last[0] if last else None)


def _stack_feedback(self, token, ns, uid, study_type, items):
    """submitAnalysisFeedback with data = items (list of (id, cred) pairs
    or of dicts)."""
    data = [i if isinstance(i, dict) else
            {"indexId": i[0], "credibility": i[1]} for i in items]
    return self.api("POST", "submitAnalysisFeedback",
                    {"studyInstanceUid": uid, "studyType": study_type,
                     "data": data}, token=token, ns=ns)


Stack.get_result = _stack_get_result
Stack.wait_result = _stack_wait_result
Stack.feedback = _stack_feedback


# --- recording responses for the OpenAPI check (tests/openapi.sh) ----------
#
# Appended; nothing above depends on it.  When MIAS_RECORD_RESPONSES names a
# directory (make check sets it), every response that Stack.request gets
# from a mias endpoint is appended to DIR/<test>.jsonl, one JSON object a
# line: {"endpoint", "method", "path", "status", "contentType", "headers"
# (lower-case names), "body"} (body: the parsed JSON, or null with "raw"
# when the body is not JSON).  Request bodies are never recorded: they carry
# OSS secrets.
# tests/node/validate_responses.mjs validates each against doc/openapi.yaml.

MIAS_ENDPOINTS = ("executeAnalysis", "getAnalysisResult",
                  "submitAnalysisFeedback", "triggerAnalysis",
                  "algorithmResult", "health", "listAnalyses",
                  "cancelAnalysis", "redeliverCallbacks", "metrics")
_record_opened = set()
_record_lock = __import__("threading").Lock()


def _record_endpoint(stack, path):
    """The endpoint a request path names under the stack's URL prefix, or
    None (a path of the web server, not of mias)."""
    p = path.split("?", 1)[0]
    prefix = getattr(stack, "url_prefix", "/dicom/api") or ""
    if not p.startswith(prefix + "/"):
        return None
    name = p[len(prefix) + 1:]
    return name if name in MIAS_ENDPOINTS else None


def record_response(stack, method, path, r):
    """Appends one response to $MIAS_RECORD_RESPONSES/<test>.jsonl (the
    file is started afresh by the first response a test records)."""
    outdir = os.environ.get("MIAS_RECORD_RESPONSES", "")
    endpoint = _record_endpoint(stack, path) if outdir else None
    if endpoint is None:
        return
    test = os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0]
    rec = {"endpoint": endpoint, "method": method.upper(),
           "path": path, "status": r.status,
           "contentType": r.headers.get("content-type"),
           "headers": r.headers,
           "body": r.json}
    if r.json is None and r.raw:
        rec["raw"] = r.raw[:2000].decode("utf-8", "replace")
    # Every answer of a mias responder carries X-Content-Type-Options (lib/
    # fcgi.c); a 5xx without it is the web server's own page for a
    # responder that died under the request.  Only a test that kills
    # responders on purpose declares that acceptable.
    if getattr(stack, "responders_may_die", False) and r.status >= 500 \
            and "x-content-type-options" not in r.headers:
        rec["webServer"] = True
    line = json.dumps(rec, ensure_ascii=False) + "\n"
    try:
        os.makedirs(outdir, exist_ok=True)
        fn = os.path.join(outdir, test + ".jsonl")
        with _record_lock:
            mode = "a" if fn in _record_opened else "w"
            _record_opened.add(fn)
            with open(fn, mode, encoding="utf-8") as f:
                f.write(line)
    except OSError as e:
        print("# cannot record a response in %s: %s" % (outdir, e))


_stack_request_unrecorded = Stack.request


def _stack_request_recorded(self, method, path, body=None, headers=None,
                            timeout=30):
    r = _stack_request_unrecorded(self, method, path, body, headers,
                                  timeout)
    record_response(self, method, path, r)
    return r


Stack.request = _stack_request_recorded


def scan_memory(pid, needles, context=48):
    """Searches a process's readable memory for byte strings: {needle:
    [(region, context bytes)]} for those found, or None when the memory
    cannot be read (no /proc, or ptrace rules forbid it)."""
    found = {}
    try:
        with open("/proc/%d/maps" % pid) as m:
            regions = [line.split() for line in m]
        mem = open("/proc/%d/mem" % pid, "rb", 0)
    except OSError:
        return None
    readable = 0
    with mem:
        for r in regions:
            if "r" not in r[1]:
                continue
            name = r[5] if len(r) > 5 else "[anon]"
            a, b = (int(x, 16) for x in r[0].split("-"))
            if b - a > (1 << 30):
                continue    # ASan's shadow and allocator reservations
            try:
                mem.seek(a)
                data = mem.read(b - a)
            except (OSError, OverflowError, ValueError, MemoryError):
                continue
            readable += 1
            for n in needles:
                i = data.find(n)
                while i >= 0:
                    found.setdefault(n, []).append(
                        (name, data[max(0, i - context):i + len(n) +
                                    context]))
                    i = data.find(n, i + 1)
    return found if readable else None


def responders(stack, name=None):
    """Pids of the stack's responder processes (found by their MIAS_CONF),
    of endpoint name only when given."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % d)
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if exe.endswith("/" + name + ".fcgi" if name else ".fcgi") and \
                ("MIAS_CONF=" + stack.conf).encode() in env:
            out.append(int(d))
    return out
