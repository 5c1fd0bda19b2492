#!/usr/bin/python3
# test_ops.py -- the operations API (listAnalyses, cancelAnalysis, redeliverCallbacks) and the metrics, under lighttpd
"""
The checks are in ops_checks.py, shared with test_apache.py, which runs
them under Apache (mod_fcgid and mod_proxy_fcgi).  Here: lighttpd, with
the responders as the installed snippet maps them.
"""
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import TAP, Stack, cmd_engine_conf  # noqa: E402
import ops_checks  # noqa: E402

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"


def main():
    s = Stack("ops", egress="allow_hosts = 127.0.0.1",
              engines={4: cmd_engine_conf(4, "OA")})
    log = os.path.join(s.dir, "engine3.jsonl")
    with open(s.conf, "a") as f:   # a slow engine, one image at a time
        f.write("[engine.3]\n" + cmd_engine_conf(
            3, "DR", timeout=60, concurrency=1,
            args="--mode slow --delay 4 --log %s" % log))
    try:
        s.init()
        ops_checks.enable_metrics(s)
        s.start()
        ops_checks.run(t, s)
        ops_checks.run_running_cancel(t, s, 3, log)
    except Exception:
        t.ok(False, "the checks run to their end", traceback.format_exc())
    finally:
        s.cleanup(keep=KEEP or t.failed > 0)
        if t.failed:
            t.diag("kept %s" % s.dir)
    t.done()


main()
