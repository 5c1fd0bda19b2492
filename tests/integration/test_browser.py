#!/usr/bin/python3
# test_browser.py -- a real browser (Debian's Chromium, headless) calls mias cross-origin: CORS allowed and refused
"""
The browser half of issue 8: tests/browser/page.html, served from a second
loopback origin by a small http.server, is opened in Chromium driven by
playwright-core (tests/node/browser.mjs).  The page calls executeAnalysis
with fetch() and the custom headers tokenId/namespace and a JSON
Content-Type (a one-JPEG study in the OSS fixture, a command engine), polls
getAnalysisResult every 500 ms until "000000", and reads
data.boxDataList[0].classLevel.

The same page is then opened from two origins the namespace does not allow:
  - one no namespace allows: the preflight gets no CORS headers, so the
    browser never sends the POST (no study is created);
  - one another namespace allows: the preflight passes, but the real
    response carries no Access-Control-Allow-Origin for this namespace, so
    the browser refuses the page the response (fetch rejects, TypeError).

Needs /usr/bin/chromium (or $MIAS_CHROMIUM), node, and
tests/node/node_modules/playwright-core (npm ci in tests/node); skips
without them.  Playwright never downloads a browser here.
"""
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, FIXTURES, SRCDIR  # noqa: E402

sys.path.insert(0, FIXTURES)
from test_fixtures import JPEG_24x16  # noqa: E402

t = TAP()
CHROMIUM = os.environ.get("MIAS_CHROMIUM") or "/usr/bin/chromium"
NODE = shutil.which("node")
NODEDIR = os.path.join(SRCDIR, "tests", "node")
PAGEDIR = os.path.join(SRCDIR, "tests", "browser")

if not os.access(CHROMIUM, os.X_OK):
    t.skip_all("%s is not installed (apt-get install chromium)" % CHROMIUM)
if NODE is None:
    t.skip_all("node is not installed")
if not os.path.isdir(os.path.join(NODEDIR, "node_modules", "playwright-core")):
    t.skip_all("playwright-core is not installed (cd tests/node && npm ci)")

UID = "1543312345678,4567"          # the deployed client's comma id
UID_EVIL = "1543312345678,4568"
UID_OTHER = "1543312345678,4569"
JPEG_KEY = "knee/2019/0001.jpg"
# what tests/fixtures/cmd_engine.py finds in that JPEG
WANT_CLASS = "KL%d级" % (len(JPEG_24x16) % 5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


class PageServer:
    """tests/browser served on a free loopback port (a thread)."""

    def __init__(self):
        h = functools.partial(QuietHandler, directory=PAGEDIR)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
        self.port = self.httpd.server_address[1]
        # what Chromium sends as Origin for a page from here
        self.origin = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, cfg):
        return "%s/page.html#%s" % (self.origin,
                                    urllib.parse.quote(json.dumps(cfg)))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_browser(stack, pages):
    """browser.mjs over pages [(name, url)]: {name: record}, or
    (None, why)."""
    spec = os.path.join(stack.dir, "browser-spec.json")
    shots = os.path.join(stack.dir, "screenshots")
    os.makedirs(shots, exist_ok=True)
    with open(spec, "w") as f:
        json.dump({"chromium": CHROMIUM, "screenshotDir": shots,
                   "pages": [{"name": n, "url": u, "timeoutMs": 60000}
                             for n, u in pages]}, f)
    try:
        p = subprocess.run([NODE, os.path.join(NODEDIR, "browser.mjs"),
                            spec], capture_output=True, text=True,
                           cwd=NODEDIR, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "browser.mjs did not finish in 300 s"
    out = {}
    for line in p.stdout.splitlines():
        try:
            rec = json.loads(line)
            out[rec["name"]] = rec
        except (ValueError, KeyError, TypeError):
            pass
    if p.returncode != 0:
        return None, "browser.mjs exit %d: %s" % (p.returncode,
                                                  p.stderr.strip()[-2000:])
    return out, p.stderr


def cors_console(rec):
    """Chromium's console report of a CORS refusal, or None."""
    for m in rec.get("console", []):
        if "CORS policy" in m.get("text", ""):
            return m["text"]
    return None


s = Stack("browser", engines={
    4: "command = /usr/bin/python3 %s/cmd_engine.py --type 4 {input}\n"
       "analysis = OA\n" % FIXTURES}, egress="allow_hosts = 127.0.0.1")
servers = []
try:
    good, evil, other = PageServer(), PageServer(), PageServer()
    servers = [good, evil, other]
    s.init()
    token, _ = s.namespace("pacs", "--origin", good.origin)
    s.namespace("other", "--origin", other.origin)

    root = os.path.join(s.dir, "oss")
    os.makedirs(os.path.join(root, "xray", os.path.dirname(JPEG_KEY)))
    with open(os.path.join(root, "xray", JPEG_KEY), "wb") as f:
        f.write(JPEG_24x16)
    creds = os.path.join(s.dir, "creds.json")
    with open(creds, "w") as f:
        json.dump({"keys": {"AKIDBROWSER": "browser-secret"}}, f)
    oss = s.fixture("oss_server.py", "--root", root, "--creds", creds)
    sink = s.fixture("sink.py")
    s.start()
    s.start_dispatcher()

    def cfg(uid):
        return {"api": s.base + "/dicom/api", "tokenId": token,
                "namespace": "pacs", "pollMs": 500, "timeoutMs": 60000,
                "body": {
                    "studyInstanceUid": uid, "studyType": 4,
                    "statusNotifyCallBackUrl": sink.base + "/notify",
                    "accessKeyId": "AKIDBROWSER",
                    "accessKeySecret": "browser-secret",
                    "securityToken": "",
                    "endpoint": "http://127.0.0.1:%d" % oss.port,
                    "bucketName": "xray", "key": JPEG_KEY,
                    "forceAnalysis": True}}

    recs, why = run_browser(s, [("allowed", good.url(cfg(UID))),
                                ("no-namespace", evil.url(cfg(UID_EVIL))),
                                ("other-namespace",
                                 other.url(cfg(UID_OTHER)))])
    if not t.ok(recs is not None, "Chromium ran the page from three origins",
                why):
        recs = {}
    elif why.strip():
        t.diag("browser.mjs: " + why.strip()[-1000:])

    # --- an allowed origin: the whole flow ---------------------------------
    r = recs.get("allowed", {})
    o = r.get("outcome") or {}
    t.ok(o.get("state") == "done",
         "from an allowed origin the page submits, polls and reaches 000000",
         json.dumps(r, ensure_ascii=False)[:3000])
    t.eq(o.get("classLevel"), WANT_CLASS,
         "the page reads data.boxDataList[0].classLevel")
    t.ok(isinstance(o.get("coordinates"), list) and
         len(o["coordinates"]) == 4, "... and its four coordinates", o)
    t.eq(o.get("studyInstanceUid"), UID, "the comma id comes back whole")
    t.ok(o.get("polls", 0) >= 1 and
         all(c in ("100005", "000000") for c in o.get("codes", ["x"])),
         "every poll answered 100005 (not yet) or 000000", o.get("codes"))
    dom = r.get("dom") or {}
    t.ok(dom.get("state") == "done" and WANT_CLASS in dom.get("text", ""),
         "the outcome is written into the page", dom)
    t.ok(any(m.get("text", "").startswith("mias-outcome ") and
             WANT_CLASS in m["text"] for m in r.get("console", [])),
         "... and on the console", r.get("console"))
    reqs = r.get("requests", [])
    t.ok(reqs and all(q.get("origin") == good.origin for q in reqs),
         "the browser sent Origin: %s on every call" % good.origin, reqs)
    t.ok(not cors_console(r) and not r.get("pageErrors") and
         not any("404" in m.get("text", "") for m in r.get("console", [])),
         "no CORS complaint, no script error, nothing missing",
         r.get("console"))
    t.ok(s.get_result(token, "pacs", UID, 4).code == "000000",
         "the study the browser submitted is there for other clients too")

    # --- an origin no namespace allows: blocked at the preflight ----------
    r = recs.get("no-namespace", {})
    o = r.get("outcome") or {}
    t.ok(o.get("state") == "blocked" and o.get("step") == "executeAnalysis"
         and o.get("error") == "TypeError",
         "from an origin no namespace allows, fetch() rejects with a "
         "TypeError", json.dumps(r, ensure_ascii=False)[:3000])
    t.ok("preflight" in (cors_console(r) or ""),
         "... and Chromium reports the refused preflight", r.get("console"))
    t.ok((r.get("dom") or {}).get("state") == "blocked",
         "... which the page shows", r.get("dom"))
    t.eq(s.get_result(token, "pacs", UID_EVIL, 4).code, "100004",
         "the refused preflight kept the POST from being sent at all")

    # --- an origin of another namespace: the response is withheld ---------
    r = recs.get("other-namespace", {})
    o = r.get("outcome") or {}
    t.ok(o.get("state") == "blocked" and o.get("step") == "executeAnalysis"
         and o.get("error") == "TypeError",
         "from an origin allowed only for another namespace, fetch() "
         "rejects with a TypeError", json.dumps(r, ensure_ascii=False)[:3000])
    msg = cors_console(r) or ""
    t.ok("Access-Control-Allow-Origin" in msg and "preflight" not in msg,
         "... Chromium saying the response had no Access-Control-Allow-Origin",
         r.get("console"))
    t.ok(s.get_result(token, "pacs", UID_OTHER, 4).code in ("000000",
                                                             "100005"),
         "(CORS guards the response, not the request: that POST was "
         "accepted, its answer withheld from the page)")
finally:
    for srv in servers:
        srv.stop()
    s.cleanup(keep=t.failed > 0)
t.done()
