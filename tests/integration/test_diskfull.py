#!/usr/bin/python3
# test_diskfull.py -- the state directory's disk fills up: 100001, no false 000000, nothing accepted lost
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack  # noqa: E402

t = TAP()
if os.geteuid() != 0:
    t.skip_all("mounting a small tmpfs needs root")
mnt = tempfile.mkdtemp(prefix="mias-full-")
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt],
                  capture_output=True).returncode != 0:
    os.rmdir(mnt)
    t.skip_all("cannot mount a tmpfs here")


def study(uid):
    return {"studyInstanceUid": uid, "studyType": 4,
            "statusNotifyCallBackUrl": "https://cb.hospital.example/n",
            "accessKeyId": "AK", "accessKeySecret": "SK",
            "endpoint": "oss-cn-beijing.aliyuncs.com",
            "bucketName": "hospital-studies",
            "key": "knee/" + "k" * 900 + "/%s/" % uid}


s = Stack("diskfull", state_dir=os.path.join(mnt, "state"),
          max_body=65536)
try:
    with open(s.conf, "a") as f:
        f.write("[limits]\nqueued_studies = 100000\n"
                "requests_per_second = 100000\n")
    s.init()
    tok, _ = s.namespace("hosp")
    s.start()
    # leave about two megabytes free
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - 2 * 1024 * 1024))
    accepted, codes = [], {}
    for i in range(4000):
        uid = "9.%d" % i
        r = s.api("POST", "executeAnalysis", study(uid), token=tok,
                  ns="hosp")
        codes[r.code] = codes.get(r.code, 0) + 1
        if r.code == "000000":
            accepted.append(uid)
        elif r.code == "100001":
            if codes["100001"] >= 5:
                break
        else:
            break
    t.diag("answers while filling: %r" % codes)
    t.ok(codes.get("100001", 0) >= 1 and set(codes) <= {"000000", "100001"},
         "a full disk answers 100001 (no crash, no other code)", codes)
    r = s.api("GET", "health")
    t.ok(r.status in (200, 500) and r.code in ("000000", "100001"),
         "health still answers", r)
    os.unlink(filler)
    r = s.api("POST", "executeAnalysis", study("after.1"), token=tok,
              ns="hosp")
    t.eq(r.code, "000000", "with space back, submissions work again")
    accepted.append("after.1")
    got = json.loads(s.admin("studies", "list", "--namespace", "hosp",
                             "--json").stdout)
    have = {x["studyInstanceUid"] for x in got}
    lost = [u for u in accepted if u not in have]
    t.ok(not lost and len(accepted) > 10,
         "every one of the %d accepted studies is stored" % len(accepted),
         lost[:5])
    verify = [f for f in os.listdir(s.state) if f.endswith(".db")]
    bad = []
    for f in verify:
        p = subprocess.run(["db5.3_verify", "-h", s.state, f],
                           capture_output=True, text=True)
        if p.returncode != 0:
            bad.append((f, p.stderr[-200:]))
    t.ok(not bad, "db_verify passes on every database after the full disk",
         bad)
except Exception as e:
    t.ok(False, "the run went through", repr(e))
    raise
finally:
    s.cleanup(keep=t.failed > 0)
    subprocess.run(["umount", "-l", mnt], capture_output=True)
    try:
        os.rmdir(mnt)
    except OSError:
        pass
t.done()
