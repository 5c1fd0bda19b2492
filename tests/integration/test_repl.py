#!/usr/bin/python3
# test_repl.py -- a group of three mias nodes on Berkeley DB replication: the master killed, hung, restarted
"""
Three nodes, each with its own state directory, lighttpd and dispatcher,
replicate on 127.0.0.11, 127.0.0.12 and 127.0.0.13 ([replication] of
mias.conf(5)); one OSS fixture and one callback sink serve them all.

  kill      studies submitted to every node in turn; then every process of
            the master (lighttpd, its responders, the dispatcher) gets
            SIGKILL at once, as a power loss would; submissions go on to
            the survivors.  A new master within seconds; every study
            answered 000000 completes, with its callback and one
            webhook-id; results readable on every survivor; the old master,
            restarted, is a replica and serves what was accepted meanwhile.
            Repeated MIAS_REPL_KILLS times (default 1) at random moments.
  hang      SIGSTOP of every process of the master: a new master within
            the heartbeat's bound; SIGCONT: the old one steps down.
  unacked   both replicas stopped (SIGSTOP) while the master's engine
            runs a study: its result and assembly are committed on the
            master alone, which no quorum acknowledged and an election
            could take back; no callback leaves until they are (a
            callback sent from them went twice, with two webhook-ids,
            once a new master did the assembly again).  SIGCONT: the
            callback goes, once, with one webhook-id.
  admin     mias-admin write commands on a replica exit 3 and print
            master=HOST:PORT; repl status; health's X-Mias-Role.
  key       a replica given another key file: its dispatcher refuses to
            join and says why.

Figures (diagnostics): failover time, from the kill to the first 000000
answered by the new master; writes/s with quorum acknowledgement against a
single host.  MIAS_TEST_KEEP=1 keeps the directories.
"""
import json
import os
import random
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from harness import (TAP, Stack, FakeOss, FIXTURES, wait_for,  # noqa: E402
                     sink_received, delivered, free_port)

t = TAP()
T0 = time.time()
KEEP = os.environ.get("MIAS_TEST_KEEP") == "1"
KILLS = int(os.environ.get("MIAS_REPL_KILLS", "1"))
SEED = int(os.environ.get("MIAS_REPL_SEED", str(int(time.time() * 1000) %
                                                 1000000)))
rnd = random.Random(SEED)
CMD = "/usr/bin/python3 %s/cmd_engine.py" % FIXTURES
ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
NS = "hosp-r"
stacks = []
# a SIGTERM (make check's timeout) still stops every process started here
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def can_bind(addr):
    import socket
    s = socket.socket()
    try:
        s.bind((addr, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


for a in ADDRS:
    if not can_bind(a):
        t.skip_all("cannot bind %s on this machine" % a)


class Node(Stack):
    """A Stack whose configuration has a [replication] section."""

    def __init__(self, i, reps, fx_sink):
        self.i = i
        Stack.__init__(self, "repl%d" % i)
        self.rep = reps[i]
        peers = ", ".join(r for j, r in enumerate(reps) if j != i)
        with open(self.conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nkey_file = %s\n"
                    "public_url = %s\nmax_body_bytes = 65536\n\n"
                    "[dispatcher]\ncallback_timeout = 5\n"
                    "retry_schedule = %s\n\n"
                    "[egress]\nallow_hosts = 127.0.0.1\n\n"
                    "[replication]\nlocal = %s\npeers = %s\n"
                    "ack_timeout = 2s\n\n"
                    "[engine.4]\ncommand = %s --type 4 {input}\n"
                    "analysis = OA\ntimeout = 30\nconcurrency = 2\n"
                    % (self.state, os.path.join(self.dir, "master.key"),
                       self.base, ",".join(["1s"] * 20), self.rep, peers,
                       CMD))

    def up(self):
        self.start_dispatcher()
        self.start()
        return self

    def kill_all(self, sig=signal.SIGKILL):
        """sig to lighttpd with its responders, and to the dispatcher,
        at once."""
        for p in (self.lighttpd, self.dispatcher):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
        if sig == signal.SIGKILL:
            for p in (self.lighttpd, self.dispatcher):
                if p is not None:
                    p.wait(30)
            self.lighttpd = self.dispatcher = None

    def status(self):
        p = self.admin("repl", "status", check=False)
        kv = {}
        nodes = {}
        for line in p.stdout.splitlines():
            if line.startswith("node="):
                parts = dict(x.split("=", 1) for x in line.split())
                nodes[parts["node"]] = parts.get("state")
            elif "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
        kv["nodes"] = nodes
        kv["rc"] = p.returncode
        return kv


def hang(nodes, find_master, submit, answers, settled, tok):
    """SIGSTOP of every process of the master, then SIGCONT."""
    m = find_master(nodes)
    survivors = [n for n in nodes if n is not m]
    ts = time.time()
    m.kill_all(signal.SIGSTOP)
    try:
        nm = find_master(survivors, 30)
        took = time.time() - ts
        first = None
        k = 0
        while nm is not None and time.time() < ts + 30:
            if submit(survivors[k % 2]) == "000000":
                first = time.time() - ts
                break
            k += 1
            time.sleep(0.05)
        t.ok(nm is not None and first is not None and first < 10,
             "hung master (SIGSTOP): a new master after %.2f s, first "
             "000000 after %s s" % (took, "%.2f" % first if first else
                                    None))
    finally:
        m.kill_all(signal.SIGCONT)
    tc = time.time()
    stepped = wait_for(lambda: m.status().get("role") == "replica", 90, 0.2)
    t.ok(stepped, "the hung master, resumed, steps down to replica "
         "(%.1f s after SIGCONT)" % (time.time() - tc), m.status())
    uid = [u for (_, _, u, c) in answers if c == "000000"][-1]
    ok = wait_for(lambda: settled(uid), 60, 0.5)
    t.ok(ok, "a study accepted while the old master hung completes")
    ok = wait_for(lambda: m.get_result(tok, NS, uid, 4).code == "000000",
                  30, 0.2)
    t.ok(ok, "the resumed node serves the study accepted meanwhile")



def engine_starts(path):
    """How many engine runs have started (cmd_engine.py's --log)."""
    try:
        with open(path) as f:
            return sum(1 for l in f if '"start"' in l)
    except OSError:
        return 0


def unacked(nodes, find_master, submit, answers, settled, sink, mode, elog):
    """The replicas stopped while the master's engine runs: no callback
    leaves for a result that no quorum acknowledged."""
    m = find_master(nodes)
    reps = [n for n in nodes if n is not m]
    with open(mode, "w") as f:
        f.write("slow\n")
    n0 = engine_starts(elog)
    code = submit(m)
    uid = answers[-1][2]
    started = code == "000000" and wait_for(
        lambda: engine_starts(elog) > n0, 30, 0.05)
    for r in reps:
        r.kill_all(signal.SIGSTOP)
    try:
        # the engine ends (MIAS_TEST_ENGINE_DELAY), its result and the
        # assembly are committed on the master alone (each waits out the
        # ack timeout); a callback would go a few seconds later
        time.sleep(14)
        held = sink_received(sink, "/cb/" + uid)
    finally:
        for r in reps:
            r.kill_all(signal.SIGCONT)
        with open(mode, "w") as f:
            f.write("ok\n")
    t.ok(started and not held, "the replicas stopped while the master "
         "assembles a study: no callback leaves for what no quorum "
         "acknowledged", (code, started, held))
    ok = wait_for(lambda: settled(uid), 60, 0.5)
    recs = sink_received(sink, "/cb/" + uid)
    ids = {r.get("webhook_id") for r in recs}
    t.ok(ok and len(ids) == 1, "the replicas resumed: its callback goes, "
         "with one webhook-id", (ok, sorted(ids)))


def main():
    reps = ["%s:%d" % (a, free_port()) for a in ADDRS]
    fx = Stack("repl-fx")          # fixtures only: never started
    stacks.append(fx)
    # the engine's pace, changeable while the dispatchers run (unacked)
    mode = os.path.join(fx.dir, "engine.mode")
    elog = os.path.join(fx.dir, "engine.log")
    with open(mode, "w") as f:
        f.write("ok\n")
    os.environ["MIAS_TEST_ENGINE_MODE_FILE"] = mode
    os.environ["MIAS_TEST_ENGINE_DELAY"] = "4"
    os.environ["MIAS_TEST_ENGINE_LOG"] = elog
    sink = fx.fixture("sink.py")
    oss = FakeOss(fx)
    keys = oss.dicom("studies", "ct/r", 2)
    nodes = [Node(i, reps, sink) for i in range(3)]
    stacks.extend(nodes)
    nodes[0].init()
    for n in nodes[1:]:
        dst = os.path.join(n.dir, "master.key")
        shutil.copy(os.path.join(nodes[0].dir, "master.key"), dst)
        os.chmod(dst, 0o600)
        n.init()
    t.diag("seed %d (MIAS_REPL_SEED), %d kill round(s) (MIAS_REPL_KILLS)"
           % (SEED, KILLS))
    t_up = time.time()
    for n in nodes:
        n.up()
    alive = list(nodes)

    def find_master(among, timeout=30):
        def pred():
            for n in among:
                if n.status().get("role") == "master":
                    return n
            return None
        return wait_for(pred, timeout, 0.2)

    m = find_master(nodes)
    t.ok(m is not None, "a master is elected (%.1f s after the start)"
         % (time.time() - t_up))
    if m is None:
        return
    # the master records its address and key for the group: wait for it
    wait_for(lambda: "became the master" in m.dispatcher_log(), 20)
    p = m.admin("namespace", "add", NS)
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    tok = kv["token"]

    # --- admin, status, health -----------------------------------------
    rep = [n for n in nodes if n is not m][0]
    wait_for(lambda: rep.status().get("master") == m.rep, 20)
    st = rep.status()
    t.ok(st.get("role") == "replica" and st.get("master") == m.rep and
         st["rc"] == 0 and set(st["nodes"]) == set(reps),
         "repl status on a replica: role, master, one line per member", st)
    st = m.status()
    # (the peers' state=up on the master is not checked: Berkeley DB 5.3's
    # site list on a master reports its clients down; doc/REPLICATION.md)
    t.ok(st.get("role") == "master" and st.get("master") == m.rep and
         set(st["nodes"]) == set(reps) and st["nodes"][m.rep] == "up",
         "repl status on the master: role, master, one line per member",
         st)
    p = rep.admin("namespace", "add", "other", check=False)
    t.ok(p.returncode == 3 and ("master=%s" % m.rep) in p.stdout.split(),
         "mias-admin namespace add on a replica exits 3 with master=",
         (p.returncode, p.stdout, p.stderr))
    r = m.api("GET", "health")
    r2 = rep.api("GET", "health")
    t.ok(r.status == 200 and r.headers.get("x-mias-role") == "master" and
         r2.status == 200 and r2.headers.get("x-mias-role") == "replica",
         "health answers with X-Mias-Role master / replica",
         (r.headers, r2.headers))
    # (read on the replicas only: a short-lived process that opens the
    # databases on the master is a subordinate there, whose exit calls an
    # election in Berkeley DB 5.3; doc/REPLICATION.md)
    wait_for(lambda: all(n.admin("namespace", "list").stdout.find(NS) >= 0
                         for n in nodes if n is not m), 10)
    wait_for(lambda: all(n.status().get("master") == m.rep for n in nodes),
             20, 0.2)

    accepted = {}       # uid -> node index that answered 000000
    answers = []        # (time, node, uid, code)
    seq = [0]

    def submit(n):
        seq[0] += 1
        uid = "1.2.826.0.1.%d.%d" % (os.getpid(), seq[0])
        try:
            r = n.submit(tok, NS, uid, sink.base + "/cb/" + uid, oss,
                         "ct/r")
            code = r.code
        except OSError as e:
            code = "conn:%s" % e.__class__.__name__
        answers.append((time.time(), n.i, uid, code))
        if code == "000000":
            accepted[uid] = n.i
        return code

    for k in range(6):
        c = submit(nodes[k % 3])
        if c != "000000":
            t.diag("node %d answered %s" % (k % 3, c))
    t.ok(len(accepted) == 6, "six studies submitted to every node in turn, "
         "each answered 000000 (replicas forward to the master)",
         answers[-6:])

    # --- writes/s with quorum acknowledgement, against one host ---------
    n0 = len(accepted)
    tw = time.time()
    for _ in range(20):
        submit(m)
    rate = (len(accepted) - n0) / (time.time() - tw)
    one = Stack("repl-one", engines={4: "command = /bin/true\nanalysis = OA\n"},
                egress="allow_hosts = 127.0.0.1")
    stacks.append(one)
    one.init()
    otok = one.namespace(NS)[0]
    one.start()
    tw = time.time()
    ok1 = 0
    for k in range(20):
        ok1 += one.submit(otok, NS, "1.2.9.%d" % k, sink.base + "/one", oss,
                          "ct/r").code == "000000"
    rate1 = ok1 / (time.time() - tw)
    one.cleanup()
    stacks.remove(one)
    t.diag("executeAnalysis, one client, 20 in a row: %.1f/s on the "
           "group's master (quorum acks), %.1f/s on one host" % (rate,
                                                                 rate1))

    # --- kill -9 of every process of the master, MIAS_REPL_KILLS times --
    failovers = []
    for rnd_no in range(KILLS):
        m = find_master(alive)
        if m is None:
            t.ok(False, "round %d: a master to kill" % rnd_no)
            break
        # a random moment: some submissions first, some in flight
        for _ in range(rnd.randint(0, 3)):
            submit(rnd.choice(alive))
        time.sleep(rnd.random())
        survivors = [n for n in alive if n is not m]
        tk = time.time()
        m.kill_all()
        first = None
        deadline = tk + 30
        k = 0
        while time.time() < deadline:
            n = survivors[k % len(survivors)]
            k += 1
            if submit(n) == "000000":
                first = time.time()
                break
            time.sleep(0.02)
        nm = find_master(survivors, 10)
        if first is not None:
            failovers.append(first - tk)
        t.ok(first is not None and nm is not None and first - tk < 10,
             "round %d: a new master (%s) within seconds; first 000000 "
             "from the survivors %.2f s after the kill" % (
                 rnd_no, nm.rep if nm else None,
                 (first - tk) if first else -1))
        for _ in range(4):
            submit(survivors[k % len(survivors)])
            k += 1
        # the old master comes back, as a replica
        m.up()
        back = wait_for(lambda: m.status().get("role") == "replica", 30,
                        0.1)
        t.ok(back, "round %d: the old master restarted is a replica"
             % rnd_no, m.status())
    if failovers:
        t.diag("failover (kill -9 to the first 000000 from the new "
               "master): %s s" % ", ".join("%.3f" % f for f in failovers))

    def settled(uid):
        recs = sink_received(sink, "/cb/" + uid)
        return any(delivered(r) for r in recs)
    # --- a hung master (SIGSTOP) ------------------------------------------
    hang(nodes, find_master, submit, answers, settled, tok)
    wait_for(lambda: all(settled(u) for u in accepted), 120, 0.5)
    # --- the replicas hung while the master assembles -------------------
    unacked(nodes, find_master, submit, answers, settled, sink, mode, elog)
    # --- every accepted study completes, one callback, one webhook-id ---
    bad = []
    for uid in accepted:
        recs = sink_received(sink, "/cb/" + uid)
        ids = {r.get("webhook_id") for r in recs}
        good = [r for r in recs if delivered(r)]
        if not good or len(ids) != 1:
            bad.append((uid, accepted[uid], len(recs), sorted(ids)))
    t.ok(not bad, "every one of %d studies answered 000000 has its "
         "callback, with one webhook-id per study" % len(accepted), bad)
    # --- a node whose key differs from the group's does not join -------
    m = find_master(nodes)
    r = [n for n in nodes if n is not m][0]
    r.stop_dispatcher()
    key = os.path.join(r.dir, "master.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    r.start_dispatcher()
    p = r.dispatcher
    ended = wait_for(lambda: p.poll() is not None, 30, 0.2)
    t.ok(ended and p.returncode != 0 and
         "key_file is not the group's" in r.dispatcher_log(),
         "a node whose key differs from the group's refuses to join and "
         "says so", r.dispatcher_log()[-600:])
    if ended:       # else cleanup stops it
        r.dispatcher = None
    nodes = [n for n in nodes if n is not r]
    # a replica may be a moment behind the quorum that acknowledged the
    # last commits: each node is given time to catch up
    bad = []
    for n in nodes:
        for uid in accepted:
            got = []
            wait_for(lambda: got.append(n.get_result(tok, NS, uid, 4).code)
                     or got[-1] == "000000", 20, 0.2)
            if got[-1] != "000000":
                bad.append((n.i, uid, got[-1]))
    t.ok(not bad, "every study's result is readable on every node, the "
         "restarted ones included", bad[:10])




try:
    main()
except Exception as e:     # a harness failure is a failed test, not a crash
    import traceback
    t.ok(False, "the test ran to its end", traceback.format_exc())
finally:
    for s in stacks:
        if isinstance(s, Node):
            s.kill_all(signal.SIGCONT)
        if KEEP:
            t.diag("kept %s" % s.dir)
        s.cleanup(keep=KEEP)
t.diag("%.1f s" % (time.time() - T0))
t.done()
