#!/usr/bin/python3
# test_bodies.py -- lighttpd refuses oversized request bodies (413) before reading them, under the shipped snippet
"""
The responders refuse a body over max_body_bytes, but lighttpd reads a
whole request body (spooling it to a file in server.upload-dirs) before it
hands the request on: the snippet's server.max-request-size, scoped to the
mias URLs, makes lighttpd answer 413 from the headers alone.  Each request
here announces a body and sends it a piece at a time while watching for
the answer: the 413 must come before the body has been sent, and no upload
spool file may grow in the (private) upload directory.  The Apache side of
the same checks is in test_apache.py.
"""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TAP, Stack, envelope_ok  # noqa: E402

t = TAP()
MIB = 1024 * 1024
LIMIT = 2048 * 1024         # server.max-request-size of the snippet, bytes


def spooled(d):
    """The bytes in the files of d (lighttpd's upload spool)."""
    n = 0
    for f in os.listdir(d):
        try:
            n += os.path.getsize(os.path.join(d, f))
        except OSError:
            pass
    return n


def send_body(s, path, length, total, spool, chunked=False, headers=None,
              wait=10.0):
    """Announces a body of length bytes (or a chunked one) and sends the
    headers with its first 64 KiB; waits up to wait seconds for an answer,
    then sends the rest, up to total bytes, in 64 KiB pieces, looking for
    an answer between pieces.  (status line or None, bytes of the body
    sent before the answer came, seconds taken, largest spool file
    seen)."""
    sock = socket.create_connection(("127.0.0.1", s.port), 10)
    buf = b""
    started = time.time()
    piece = b" " * 65536
    if chunked:
        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
    try:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
            "Content-Type: application/json\r\n" % path
        head += "Transfer-Encoding: chunked\r\n" if chunked else \
            "Content-Length: %d\r\n" % length
        head += "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        sock.sendall((head + "\r\n").encode() + piece)
        sent = 65536
        seen = spooled(spool)
        r, _, _ = select.select([sock], [], [], wait)
        w = []
        while time.time() - started < wait + 30:
            seen = max(seen, spooled(spool))
            if r:
                try:
                    d = sock.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    break
                buf += d
                if b"\r\n" in buf:
                    break
            elif w:
                try:
                    sock.send(piece)
                    sent += 65536
                except OSError:
                    break
            elif sent >= total:
                break       # all sent, no answer within a second
            r, w, _ = select.select([sock], [sock] if sent < total else [],
                                    [], 1.0)
        line = buf.split(b"\r\n", 1)[0].decode(errors="replace") \
            if b"\r\n" in buf else None
        return line, sent, time.time() - started, seen
    finally:
        sock.close()


def status(line):
    try:
        return int(line.split()[1])
    except (AttributeError, IndexError, ValueError):
        return None


def run(s, prefix, spool, tok):
    ep = prefix + "/executeAnalysis"
    r = s.api("GET", "health")
    envelope_ok(t, r, "000000", 200, "health answers through the snippet",
                post=False)
    # a body between max_body_bytes and lighttpd's limit: the responder's
    r = s.api("POST", "executeAnalysis", "x" * (64 * 1024), token=tok,
              ns="hosp")
    envelope_ok(t, r, "100008", 413, "a 64 KiB body over max_body_bytes: "
                "the responder's 100008/413")

    line, sent, took, seen = send_body(s, ep, 10 ** 12, 16 * MIB, spool)
    t.ok(status(line) == 413 and sent == 65536,
         "Content-Length: 1000000000000 without a token: 413 after the "
         "headers and 64 KiB (%d bytes sent, %.2f s)" % (sent, took), line)
    t.ok(seen < MIB, "  nothing spooled (at most %d bytes in the upload files)"
         % seen)
    line, sent, took, seen = send_body(s, ep, 300 * MIB, 16 * MIB, spool)
    t.ok(status(line) == 413 and sent == 65536,
         "a 300 MB body without a token: 413 after the headers and 64 KiB "
         "(%d bytes sent, %.2f s)" % (sent, took), line)
    t.ok(seen < MIB, "  nothing spooled (at most %d bytes in the upload files)"
         % seen)
    line, sent, took, seen = send_body(s, ep, 0, 64 * MIB, spool,
                                       chunked=True, wait=0,
                                       headers={"tokenId": tok,
                                                "namespace": "hosp"})
    t.ok(status(line) == 413 and sent < 16 * MIB,
         "a chunked body without an end: 413 once past the limit (%d "
         "bytes sent, %.2f s)" % (sent, took), line)
    t.ok(seen <= LIMIT + MIB, "  at most the limit spooled (at most %d "
         "bytes in the upload files)" % seen)


def main():
    stacks = []
    try:
        for prefix in ("/dicom/api", ""):
            s = Stack("bodies", url_prefix=prefix)
            stacks.append(s)
            spool = os.path.join(s.dir, "upload")
            os.makedirs(spool)
            s.lighttpd_extra = 'server.upload-dirs = ( "%s" )\n' % spool
            s.init()
            tok, _ = s.namespace("hosp")
            s.start()
            t.diag("URL prefix %r" % prefix)
            run(s, prefix, spool, tok)
            log = s.log()
            t.ok(tok not in log, "no token in lighttpd's logs")
        # an administrator raising the limit after the include, as the
        # snippet says: a 3 MiB body then reaches the responder
        s = Stack("bodies-raised", lighttpd_extra=(
            '$HTTP["url"] =~ "^/dicom/api/" {\n'
            '\tserver.max-request-size = 8192\n}\n'))
        stacks.append(s)
        s.init()
        tok, _ = s.namespace("hosp")
        s.start()
        r = s.api("POST", "executeAnalysis", "x" * (3 * MIB), token=tok,
                  ns="hosp")
        envelope_ok(t, r, "100008", 413, "server.max-request-size raised "
                    "after the include: a 3 MiB body gets the responder's "
                    "100008/413")
        line, sent, took, _ = send_body(s, "/dicom/api/executeAnalysis",
                                        9 * MIB, MIB, os.path.join(
                                            s.dir, "www"))
        t.ok(status(line) == 413 and sent == 65536,
             "  and 9 MiB is still refused from the headers", line)
    finally:
        for s in stacks:
            s.cleanup(keep=t.failed > 0)
            if t.failed:
                t.diag("kept %s" % s.dir)
    t.done()


main()
