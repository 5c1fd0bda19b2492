#!/usr/bin/python3
# test_shared_store.py -- two users sharing the store through a group: responders as www-data, the dispatcher as its own user, mias-admin as root
"""
The permission model of CONTRACT.md "First start", as the Debian package
sets it up: a group shared by www-data and a system user of the test's
own; `mias-admin init --user USER:GROUP` run as root makes the state
directory USER:GROUP 2770 and the key 0640; lighttpd runs the responders
as www-data, the dispatcher runs as the other user, and a study goes
through end to end.  Then mias-admin, as root, adds a namespace, and both
runtime users keep working with what it created (a second study in the
new namespace); every file of the state directory is in the group and
group read-write, none is root's.

Needs root (to make the users and to become them), lighttpd and setpriv;
skipped otherwise.  The user and group it makes (and www-data's membership
of that group) are removed at the end, failed or not.
"""
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Stack, FakeOss, LIGHTTPD, PREFIX,  # noqa: E402
                     cmd_engine_conf, delivered, envelope_ok, installed,
                     sink_received, wait_for)

t = TAP()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
WEB = "www-data"
TAG = "%d" % (os.getpid() % 100000)
GROUP = "miasg" + TAG           # the shared group
DISP = "miasd" + TAG            # the dispatcher's user

if os.geteuid() != 0:
    t.skip_all("not root: the test makes users and runs programs as them")
if os.environ.get("MIAS_SANITIZER"):
    # mias-admin run as root acts as the store's owner (seteuid), and
    # LeakSanitizer cannot inspect a process that changed its user; the
    # plain run covers the permission model
    t.skip_all("the sanitizer run: LeakSanitizer fails in a process that "
               "changed its user")
if not LIGHTTPD or not os.access(LIGHTTPD, os.X_OK):
    t.skip_all("no lighttpd")
try:
    WEB_PW = pwd.getpwnam(WEB)
except KeyError:
    t.skip_all("no user %s" % WEB)
SETPRIV = shutil.which("setpriv")
for tool in ("setpriv", "groupadd", "useradd", "gpasswd", "userdel",
             "groupdel"):
    if shutil.which(tool) is None:
        t.skip_all("no %s" % tool)
if not PREFIX or not os.path.exists(installed("bin", "mias-admin")):
    t.skip_all("MIAS_PREFIX does not hold an installed mias")


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def as_user(pw):
    return [SETPRIV, "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
            "--init-groups", "--reset-env", "--"]


def state_modes(state):
    """Files of the state directory that are not in the group, not group
    read-write, open to others, or root's."""
    gid = grp.getgrnam(GROUP).gr_gid
    wrong = []
    for dirpath, dirs, files in os.walk(state):
        for n in files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if (st.st_gid != gid or st.st_uid == 0 or
                    (st.st_mode & 0o060) != 0o060 or st.st_mode & 0o007):
                wrong.append("%s %s:%d %o" % (n, st.st_uid, st.st_gid,
                                              stat.S_IMODE(st.st_mode)))
    return wrong


made = []           # what to undo: ("user", name), ("group", name), ...
s = None
disp = None
try:
    p = run("groupadd", "--system", GROUP)
    if p.returncode != 0:
        t.skip_all("groupadd: %s" % p.stderr.strip())
    made.append(("group", GROUP))
    p = run("useradd", "--system", "--no-create-home", "--gid", GROUP,
            "--shell", "/usr/sbin/nologin", DISP)
    t.ok(p.returncode == 0, "a system user for the dispatcher", p.stderr)
    made.append(("user", DISP))
    p = run("gpasswd", "-a", WEB, GROUP)
    t.ok(p.returncode == 0, "www-data joins the shared group", p.stderr)
    made.append(("member", WEB))
    DISP_PW = pwd.getpwnam(DISP)

    s = Stack("shared", engines={4: cmd_engine_conf(4, "OA")},
              egress="allow_hosts = 127.0.0.1")
    os.chmod(s.dir, 0o755)          # both users reach the key and state
    os.chmod(s.conf, 0o644)
    sock = os.path.join(s.dir, "sock")
    os.makedirs(sock)
    os.chown(sock, WEB_PW.pw_uid, WEB_PW.pw_gid)
    for n in ("lighttpd-error.log", "responders.log"):   # opened as www-data
        open(os.path.join(s.dir, n), "a").close()
        os.chown(os.path.join(s.dir, n), WEB_PW.pw_uid, WEB_PW.pw_gid)
    s.lighttpd_extra = ('server.username = "%s"\nserver.groupname = "%s"\n'
                        % (WEB, WEB))

    # --- init as root, for two users -------------------------------------
    p = s.admin("init", "--user", "%s:%s" % (DISP, GROUP), check=False)
    t.ok(p.returncode == 0, "mias-admin init --user %s:%s as root"
         % (DISP, GROUP), p.stdout + p.stderr)
    st = os.stat(s.state)
    key = os.stat(os.path.join(s.dir, "master.key"))
    gid = grp.getgrnam(GROUP).gr_gid
    t.ok(st.st_uid == DISP_PW.pw_uid and st.st_gid == gid and
         stat.S_IMODE(st.st_mode) == 0o2770,
         "the state directory is %s:%s 2770" % (DISP, GROUP),
         "%d:%d %o" % (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
    t.ok(key.st_uid == DISP_PW.pw_uid and key.st_gid == gid and
         stat.S_IMODE(key.st_mode) == 0o640,
         "the key file is %s:%s 0640" % (DISP, GROUP),
         "%d:%d %o" % (key.st_uid, key.st_gid, stat.S_IMODE(key.st_mode)))
    tok, _ = s.namespace("hosp")        # mias-admin as root
    t.ok(not state_modes(s.state), "after init and namespace add as root, "
         "every file is in the group, group read-write, not root's",
         state_modes(s.state))

    # --- the runtime users ---------------------------------------------------
    s.start()
    oss = FakeOss(s)
    keys = oss.dicom("studies", "ct/s1", 3)
    sink = s.fixture("sink.py")
    s.displog = os.path.join(s.dir, "dispatcher.log")
    disp = subprocess.Popen(
        as_user(DISP_PW) + [installed("sbin", "mias-dispatcher"), "-f",
                            "-c", s.conf],
        stdout=subprocess.DEVNULL, stderr=open(s.displog, "a"),
        start_new_session=True)
    s.dispatcher = disp
    wait_for(lambda: os.path.exists(os.path.join(s.state,
                                                 "dispatcher.sock")), 15)
    t.ok(disp.poll() is None, "mias-dispatcher starts as %s" % DISP,
         s.dispatcher_log())

    def study(token, ns, uid, path):
        r = s.submit(token, ns, uid, sink.base + path, oss, "ct/s1/")
        envelope_ok(t, r, "000000", 200, "executeAnalysis (as www-data) "
                    "accepts study %s of %s" % (uid, ns))
        recs = wait_for(lambda: [x for x in sink_received(sink, path)
                                 if delivered(x)], 90) or []
        try:
            cb = json.loads(recs[-1]["body"]) if recs else {}
        except ValueError:
            cb = {}
        t.ok(cb.get("status") == 0 and cb.get("studyInstanceUid") == uid,
             "the dispatcher (as %s) ran study %s and delivered its "
             "callback" % (DISP, uid), "%r\n%s\n%s" % (
                 recs, s.dispatcher_log()[-2000:], s.log()[-2000:]))
        r = s.get_result(token, ns, uid, 4)
        data = (r.json or {}).get("data") or {}
        t.ok(r.code == "000000" and
             len(data.get("boxes") or []) == len(keys),
             "getAnalysisResult (as www-data): one box per image", r)

    study(tok, "hosp", "1.2.3.4.1", "/cb/1")

    # --- mias-admin as root again: the runtime users still work -------------
    tok_b, _ = s.namespace("hosp-b")
    study(tok_b, "hosp-b", "1.2.3.4.2", "/cb/2")
    p = s.admin("studies", "list", check=False)
    t.ok(p.returncode == 0 and "1.2.3.4.2" in p.stdout,
         "mias-admin studies list as root", p.stderr)

    t.ok(not state_modes(s.state), "every file of the state directory "
         "(databases, regions, logs, audit.log, the wake socket) is in the "
         "group and group read-write, none root's", state_modes(s.state))
    users = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")[0].decode()
            # this stack's responders only (lighttpd's process group):
            # another test's stack may run from the same prefix
            if (cmd.startswith(PREFIX) and cmd.endswith(".fcgi") and
                    os.getpgid(int(pid)) == s.lighttpd.pid):
                users[cmd] = os.stat("/proc/%s" % pid).st_uid
        except OSError:
            pass
    t.ok(users and all(u == WEB_PW.pw_uid for u in users.values()),
         "the responders run as www-data", users)
    t.ok(disp.poll() is None and
         os.stat("/proc/%d" % disp.pid).st_uid == DISP_PW.pw_uid,
         "the dispatcher runs as %s" % DISP)

    # a user outside the group is refused, with what to run
    p = subprocess.run(as_user(pwd.getpwnam("nobody")) +
                       [installed("bin", "mias-admin"), "-c", s.conf,
                        "namespace", "list"], capture_output=True, text=True)
    t.ok(p.returncode != 0 and "runuser -u %s --" % DISP in p.stderr and
         "sudo" not in p.stderr,
         "a user outside the group is refused, told to use runuser",
         p.stderr)
finally:
    if s is not None:
        s.cleanup(keep=KEEP or t.failed > 0)
    for kind, name in reversed(made):
        if kind == "member":
            run("gpasswd", "-d", name, GROUP)
        elif kind == "user":
            run("userdel", name)
        else:
            run("groupdel", name)
    t.ok(run("getent", "group", GROUP).returncode != 0 and
         run("getent", "passwd", DISP).returncode != 0,
         "the test's user and group are gone")
t.done()
