#!/usr/bin/python3
# fcgi_client.py -- sends N FastCGI requests to a responder's Unix socket
"""
usage: fcgi_client.py SOCKET N QUERY TOKEN NAMESPACE

One GET of getAnalysisResult per connection (as lighttpd and mod_fcgid
send them: a responder request, its parameters, an empty stdin), N times;
prints the last answer's status line.  Used by bench.py's row 1c, which
counts the responder's instructions per request under callgrind.
"""
import socket
import struct
import sys


def record(rtype, content):
    return struct.pack("!BBHHBB", 1, rtype, 1, len(content), 0, 0) + content


def pair(name, value):
    def length(x):
        return bytes([len(x)]) if len(x) < 128 else \
            struct.pack("!I", len(x) | 0x80000000)
    return length(name) + length(value) + name + value


def one(path, params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    body = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())
    s.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, body) +
              record(4, b"") + record(5, b""))
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out


def main():
    path, n, query, token, ns = sys.argv[1:6]
    params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
              "REQUEST_METHOD": "GET", "QUERY_STRING": query,
              "REQUEST_URI": "/dicom/api/getAnalysisResult?" + query,
              "HTTP_TOKENID": token, "HTTP_NAMESPACE": ns,
              "REMOTE_ADDR": "127.0.0.1"}
    out = b""
    for _ in range(int(n)):
        out = one(path, params)
    # the first record's content starts with the CGI headers
    print(out[8:].split(b"\r\n", 1)[0].decode("latin-1"))


if __name__ == "__main__":
    main()
