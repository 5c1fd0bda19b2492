#!/usr/bin/python3
# test_ops_build.py -- a store without the ops index: the responders that read it build it first
"""
A store made before the submission index and the metrics counters has no
meta.db "ops-index" record (lib/ops.h).  listAnalyses, metrics and
redeliverCallbacks then build them (ops_build) and answer as on any
store (req_txn_ops, lib/fcgi.h); so does a new store (mias-admin init
writes no index).  Here the record is deleted
(tests/store_tool, the gateway stopped) before each of them; that it is
there again afterwards shows that the call built the index.
"""
import os
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (TAP, FakeOss, Stack, cmd_engine_conf,  # noqa: E402
                     envelope_ok)
import ops_checks  # noqa: E402

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
STORE_TOOL = os.path.join(os.environ.get("MIAS_BUILDDIR", "build"),
                          "tests", "store_tool")
BUILT = b"ops-index".hex()      # METRICS_BUILT, lib/metrics.h
UID = "1.2.840.opsbuild.1"


def unbuild(s, desc, want="deleted"):
    """Stops the gateway, deletes the marker (want: what store_tool says
    of it), starts it again."""
    s.stop()
    p = subprocess.run([STORE_TOOL, s.state, "del", "meta.db", BUILT],
                       capture_output=True, text=True, timeout=60)
    t.ok(p.returncode == 0 and p.stdout.strip() == want, desc,
         p.stdout + p.stderr)
    s.start()


def main():
    s = Stack("opsbuild", egress="allow_hosts = 127.0.0.1",
              engines={4: cmd_engine_conf(4, "OA")})
    try:
        s.init()
        ops_checks.enable_metrics(s)
        s.start()
        tok, _ = s.namespace("ob")
        oss = FakeOss(s)
        oss.dicom("studies", "ob/s", 1)
        sink = s.fixture("sink.py")
        r = s.submit(tok, "ob", UID, sink.base + "/ob", oss, "ob/s/")
        envelope_ok(t, r, "000000", 200, "executeAnalysis (no dispatcher: "
                    "the study stays QUEUED)")

        # a new store has none either: the first caller builds it
        unbuild(s, "a new store: no index record yet", "absent")
        r, d = ops_checks.listing(s, tok, "ob")
        envelope_ok(t, r, "000000", 200, "listAnalyses on a store without "
                    "the index: 000000", post=False)
        items = d.get("items") or []
        t.ok([i.get("studyInstanceUid") for i in items] == [UID] and
             items[0].get("state") == "QUEUED",
             "  ... and it lists the study, QUEUED", d)

        unbuild(s, "listAnalyses built the index (its record is back)")
        r = s.api("GET", "metrics", headers={
            "Authorization": "Bearer " + ops_checks.TOKEN})
        text = r.raw.decode("utf-8", "replace")
        t.ok(r.status == 200, "metrics on a store without the index: 200",
             r)
        want = 'mias_studies{namespace="ob",study_type="4",state="QUEUED"} 1'
        t.ok(want in text.splitlines(), "  ... counting the study: " + want,
             text)

        unbuild(s, "metrics built the index (its record is back)")
        r = s.api("POST", "redeliverCallbacks", {}, token=tok, ns="ob")
        envelope_ok(t, r, "000000", 200, "redeliverCallbacks on a store "
                    "without the index: 000000")
        t.ok(((r.json or {}).get("data") or {}).get("redelivered") == 0,
             "  ... no dead letter to send", r)

        unbuild(s, "redeliverCallbacks built the index (its record is "
                "back)")
    except Exception:
        t.ok(False, "the checks run to their end", traceback.format_exc())
    finally:
        s.cleanup(keep=KEEP or t.failed > 0)
        if t.failed:
            t.diag("kept %s" % s.dir)
    t.done()


main()
