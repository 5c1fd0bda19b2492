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


class Stack:
    """A private mias (config, key, state) behind lighttpd on loopback."""

    def __init__(self, name, engines=None, egress="", server_extra="",
                 max_body=4096, state_dir=None, procs=1):
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

    # --- mias-admin ---------------------------------------------------
    def admin(self, *args, check=True, input=None):
        p = subprocess.run([installed("bin", "mias-admin"), "-c", self.conf]
                           + list(args), capture_output=True, text=True,
                           input=input)
        if check and p.returncode != 0:
            raise RuntimeError("mias-admin %s: %s" % (" ".join(args),
                                                       p.stderr))
        return p

    def init(self):
        self.admin("init")
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
                    'include "%s"\n'
                    % (docroot, self.port, self.errorlog,
                       os.path.join(self.dir, "responders.log"), self.dir,
                       self.conf, sockdir, self.procs,
                       installed("share", "mias", "lighttpd",
                                 "mias-fastcgi.conf")))
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
            self.lighttpd = None

    def cleanup(self, keep=False):
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
        return self.request(method, "/dicom/api/" + name + query, body, h)


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
