#!/usr/bin/env python3
"""A scripted HTTP/1.1 origin for ghala's integration tests and benchmarks.

Independent of ghala (Python standard library only), multi-threaded (one thread per connection),
keep-alive by default. Run it as its own process:

    python3 origin.py [--port 0] [--name NAME] [--port-file PATH]

It binds 127.0.0.1:PORT (0 = chosen by the OS), then writes the port to --port-file atomically
(temp file + rename) and prints "listening 127.0.0.1:PORT" on stdout.

Every response carries:
    X-Origin-Name: NAME            which origin answered (pools of several origins)
    X-Origin-Conn: ID              the origin-side connection id (1, 2, ...): keep-alive reuse
    X-Origin-Conn-Requests: N      how many requests this connection has carried, this one included

Endpoints (GET unless said; every endpoint accepts any method and ignores a request body after
reading it in full; any endpoint accepts ?delay_ms=D to wait before the response head):
    /status/N               status N, body "status N\\n" (none for 1xx, 204, 304 or HEAD)
    /delay/S[?then=PATH]    sleep S seconds (float), then answer as PATH would (default /status/200)
    /bytes/N                N bytes of pattern_bytes() with Content-Length (N may be 50MiB-sized)
    /chunked/N?chunk=K&delay_ms=D
                            N bytes of pattern_bytes() in chunks of K (default 4096), sleeping D ms
                            between chunks (D applies between chunks here, not before the head);
                            &trailer=1 adds a trailer X-Trailer: done
    /echo, /ANY/PREFIX/echo JSON: method, target, version, headers ([name, value] pairs in order),
                            body_length, body_sha256, conn. Reads Content-Length or chunked
                            request bodies; Expect: 100-continue is answered with 100 Continue
                            (unless ?no_continue=1: then the final response is sent without
                            reading the body and the connection is closed)
    /etag                   ETag: "v1" and Last-Modified; If-None-Match "v1" (or *) gives 304
    /headers?set=Name:Value[&set=...]
                            adds the given response headers verbatim (hop-by-hop ones included)
    /counter, /counter/ANY, /ANY/PREFIX/counter/ANY
                            (any path with a segment "counter") body "PATH #N\n", N = how many
                            requests this path has had, this one included: a body that differs
                            per origin request, so a cache hit shows which response it replays.
                            ?status=N (default 200; a request header X-Counter-Status: N wins,
                            so one target can answer differently per method);
                            ?echo=Name[&echo=...] appends "Name: value\n" per request header
                            ("<absent>" when the request has none);
                            with ?set=ETag:"T", a request If-None-Match naming "T" (or *)
                            gets 304 (no body, the set headers; still counted)
    /close                  announces Content-Length 1000, sends 10 bytes, closes the connection
    /close?before_head=1    closes the connection without sending anything
    /hang                   reads the request and never answers (until the peer closes, or 600 s)
    /slow-body/N?chunk=K&delay_ms=D
                            like /chunked but with Content-Length N (a slowly trickling body)
    /__stats                JSON: per-path request counts, connection counts, dropped requests,
                            requests in flight, body bytes written by /bytes (back-pressure)
    /__reset                resets the counters
Query flags valid on any endpoint:
    close=1                 answer with Connection: close and close afterwards
    drop_next=1             after answering, read the next request on this connection and close
                            it without any answer (simulates an origin dropping a reused
                            keep-alive connection: the proxy must retry idempotent requests)
    x_pad=N                 add a response header X-Pad with N bytes
    set=Name:Value          add this response header (repeatable), as /headers does: for
                            Cache-Control, Vary, Set-Cookie... on /bytes, /chunked, /counter
"""
import argparse
import hashlib
import json
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

PATTERN = bytes((i * 7 + 3) % 256 for i in range(65536))


def pattern_bytes(n: int, offset: int = 0) -> bytes:
    """The deterministic body of /bytes/N and /chunked/N (shared with the tests by import)."""
    out = bytearray()
    pos = offset
    while len(out) < n:
        start = pos % len(PATTERN)
        take = min(len(PATTERN) - start, n - len(out))
        out += PATTERN[start:start + take]
        pos += take
    return bytes(out)


def pattern_sha256(n: int) -> str:
    h = hashlib.sha256()
    full, rest = divmod(n, len(PATTERN))
    for _ in range(full):
        h.update(PATTERN)
    h.update(PATTERN[:rest])
    return h.hexdigest()


REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
    403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class BadRequest(Exception):
    pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.paths = {}
            self.requests = 0
            self.connections_total = 0
            self.connections_open = 0
            self.max_connections_open = 0
            self.dropped = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.body_bytes_sent = 0

    def snapshot(self):
        with self.lock:
            return {
                "paths": dict(self.paths), "requests": self.requests,
                "connections_total": self.connections_total,
                "connections_open": self.connections_open,
                "max_connections_open": self.max_connections_open,
                "dropped": self.dropped, "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight, "body_bytes_sent": self.body_bytes_sent,
            }


STATS = Stats()
CONN_IDS = iter(range(1, 1 << 62))
CONN_IDS_LOCK = threading.Lock()
SHUTDOWN = threading.Event()


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value)
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


class Handler(socketserver.StreamRequestHandler):
    rbufsize = 65536
    wbufsize = 0
    timeout = 600  # an idle connection is closed after this long

    def setup(self):
        super().setup()
        with CONN_IDS_LOCK:
            self.conn_id = next(CONN_IDS)
        self.conn_requests = 0
        self.drop_next = False
        with STATS.lock:
            STATS.connections_total += 1
            STATS.connections_open += 1
            STATS.max_connections_open = max(STATS.max_connections_open, STATS.connections_open)

    def finish(self):
        with STATS.lock:
            STATS.connections_open -= 1
        try:
            super().finish()
        except OSError:
            pass

    # --- reading ---
    def read_line(self, limit=65536):
        line = self.rfile.readline(limit + 1)
        if len(line) > limit:
            raise BadRequest("line too long")
        return line

    def read_request(self):
        line = self.read_line()
        while line in (b"\r\n", b"\n"):  # tolerate empty lines between requests
            line = self.read_line()
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise BadRequest("bad request line")
        headers = []
        for _ in range(1000):
            h = self.read_line()
            if not h:
                raise BadRequest("eof in headers")
            if h in (b"\r\n", b"\n"):
                break
            text = h.decode("latin-1").rstrip("\r\n")
            if ":" not in text:
                raise BadRequest("bad header")
            name, value = text.split(":", 1)
            headers.append((name, value.strip()))
        else:
            raise BadRequest("too many headers")
        return Request(parts[0], parts[1], parts[2], headers)

    def read_body(self, req, hasher):
        """Reads the whole request body into hasher; returns its length."""
        te = req.header("transfer-encoding")
        if te is not None and te.lower().strip().endswith("chunked"):
            total = 0
            while True:
                size_line = self.read_line().decode("latin-1").strip()
                if not size_line:
                    raise BadRequest("eof in chunked body")
                size = int(size_line.split(";", 1)[0], 16)
                if size == 0:
                    while self.read_line() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 65536))
                    if not data:
                        raise BadRequest("eof in chunk")
                    hasher.update(data)
                    remaining -= len(data)
                total += size
                self.read_line()  # CRLF after the chunk
        cl = req.header("content-length")
        if cl is None:
            return 0
        remaining = int(cl)
        total = remaining
        while remaining:
            data = self.rfile.read(min(remaining, 65536))
            if not data:
                raise BadRequest("eof in body")
            hasher.update(data)
            remaining -= len(data)
        return total

    # --- writing ---
    def send_head(self, req, status, headers, close=False):
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        headers = list(headers)
        headers += [("X-Origin-Name", self.server.name), ("X-Origin-Conn", str(self.conn_id)),
                    ("X-Origin-Conn-Requests", str(self.conn_requests))]
        if req is not None and req.path != "/headers":  # /headers places its own
            for item in req.query.get("set", []):
                name, _, value = item.partition(":")
                headers.append((name, value))
        pad = req.q("x_pad") if req else None
        if pad:
            headers.append(("X-Pad", "p" * int(pad)))
        if close:
            headers.append(("Connection", "close"))
        for k, v in headers:
            lines.append(f"{k}: {v}")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_simple(self, req, status, body: bytes, headers=(), close=False,
                    content_type="text/plain"):
        no_body = status in (204, 304) or 100 <= status < 200
        hs = [("Content-Type", content_type)] + list(headers)
        if not no_body:
            hs.append(("Content-Length", str(len(body))))
        self.send_head(req, status, hs, close)
        if not no_body and req.method != "HEAD":
            self.wfile.write(body)

    # --- main loop ---
    def handle(self):
        try:
            while not SHUTDOWN.is_set():
                try:
                    req = self.read_request()
                except BadRequest as e:
                    self.send_simple(None, 400, f"bad request: {e}\n".encode(), close=True)
                    return
                if req is None:
                    return
                self.conn_requests += 1
                if self.drop_next:
                    self.read_body(req, hashlib.sha256())
                    with STATS.lock:
                        STATS.dropped += 1
                    return
                with STATS.lock:
                    STATS.requests += 1
                    STATS.paths[req.path] = STATS.paths.get(req.path, 0) + 1
                    STATS.in_flight += 1
                    STATS.max_in_flight = max(STATS.max_in_flight, STATS.in_flight)
                try:
                    keep = self.dispatch(req)
                finally:
                    with STATS.lock:
                        STATS.in_flight -= 1
                if req.q("drop_next") == "1":
                    self.drop_next = True
                if not keep or req.q("close") == "1":
                    return
                if (req.header("connection") or "").lower() == "close":
                    return
                if req.version == "HTTP/1.0" and \
                        (req.header("connection") or "").lower() != "keep-alive":
                    return
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError):
            return

    def dispatch(self, req) -> bool:
        """Answers one request; returns False when the connection must close afterwards."""
        path = req.path
        close = req.q("close") == "1"
        delay = req.q("delay_ms")
        if path.startswith("/delay/"):
            time.sleep(float(path[len("/delay/"):]))
            then = req.q("then", "/status/200")
            req = Request(req.method, then, req.version, req.headers)
            path = req.path
        elif delay and not path.startswith(("/chunked/", "/slow-body/")):
            time.sleep(int(delay) / 1000)

        if path == "/echo" or path.endswith("/echo"):
            return self.do_echo(req, close)
        if path == "/hang":
            self.read_body(req, hashlib.sha256())
            self.connection.settimeout(1.0)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and not SHUTDOWN.is_set():
                try:
                    if not self.connection.recv(65536):
                        return False
                except socket.timeout:
                    continue
            return False
        if path == "/close" and req.q("before_head") == "1":
            self.read_body(req, hashlib.sha256())
            return False

        self.read_body(req, hashlib.sha256())
        if "counter" in path.split("/"):
            return self.do_counter(req, close)
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
            self.send_simple(req, status, f"status {status}\n".encode(), close=close)
            return True
        if path.startswith("/bytes/"):
            n = int(path[len("/bytes/"):])
            self.send_head(req, 200, [("Content-Type", "application/octet-stream"),
                                      ("Content-Length", str(n))], close)
            if req.method != "HEAD":
                sent = 0
                while sent < n:
                    take = min(len(PATTERN), n - sent)
                    self.wfile.write(PATTERN[:take])
                    sent += take
                    with STATS.lock:
                        STATS.body_bytes_sent += take
            return True
        if path.startswith("/chunked/") or path.startswith("/slow-body/"):
            return self.do_chunked(req, close)
        if path == "/etag":
            inm = req.header("if-none-match")
            hs = [("ETag", '"v1"'), ("Last-Modified", "Mon, 02 Jan 2023 03:04:05 GMT"),
                  ("Cache-Control", "max-age=60")]
            if inm is not None and ('"v1"' in inm or inm.strip() == "*"):
                self.send_simple(req, 304, b"", hs, close)
            else:
                self.send_simple(req, 200, b"etag body\n", hs, close)
            return True
        if path == "/headers":
            hs = []
            for item in req.query.get("set", []):
                name, _, value = item.partition(":")
                hs.append((name, value))
            self.send_simple(req, 200, b"headers\n", hs, close)
            return True
        if path == "/close":
            self.send_head(req, 200, [("Content-Type", "text/plain"),
                                      ("Content-Length", "1000")])
            self.wfile.write(b"0123456789")
            return False
        if path == "/__stats":
            body = json.dumps(STATS.snapshot()).encode()
            self.send_simple(req, 200, body, close=close, content_type="application/json")
            return True
        if path == "/__reset":
            STATS.reset()
            self.send_simple(req, 200, b"reset\n", close=close)
            return True
        self.send_simple(req, 404, b"no such endpoint\n", close=close)
        return True

    def do_echo(self, req, close):
        expect = (req.header("expect") or "").lower()
        if expect == "100-continue":
            if req.q("no_continue") == "1":
                self.send_simple(req, 417, b"no continue\n", close=True)
                return False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        h = hashlib.sha256()
        length = self.read_body(req, h)
        body = json.dumps({
            "method": req.method, "target": req.target, "version": req.version,
            "headers": req.headers, "body_length": length, "body_sha256": h.hexdigest(),
            "conn": self.conn_id,
        }).encode()
        self.send_simple(req, 200, body, close=close, content_type="application/json")
        return True

    def do_counter(self, req, close):
        with STATS.lock:
            n = STATS.paths.get(req.path, 0)
        lines = [f"{req.path} #{n}"]
        for name in req.query.get("echo", []):
            lines.append(f"{name}: {req.header(name, '<absent>')}")
        status = int(req.header("x-counter-status") or req.q("status", "200"))
        etag = next((v.partition(":")[2] for v in req.query.get("set", [])
                     if v.partition(":")[0].lower() == "etag"), None)
        inm = req.header("if-none-match")
        if etag and inm is not None and (etag in inm or inm.strip() == "*"):
            status = 304
        self.send_simple(req, status, ("\n".join(lines) + "\n").encode(), close=close)
        return True

    def do_chunked(self, req, close):
        n = int(req.path.split("/")[2])
        k = int(req.q("chunk", "4096"))
        delay = int(req.q("delay_ms", "0")) / 1000
        chunked = req.path.startswith("/chunked/")
        hs = [("Content-Type", "application/octet-stream")]
        hs.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n)))
        if chunked and req.q("trailer") == "1":
            hs.append(("Trailer", "X-Trailer"))
        self.send_head(req, 200, hs, close)
        if req.method == "HEAD":
            return True
        sent = 0
        while sent < n:
            take = min(k, n - sent)
            data = pattern_bytes(take, sent)
            if chunked:
                self.wfile.write(b"%x\r\n" % take + data + b"\r\n")
            else:
                self.wfile.write(data)
            sent += take
            if delay and sent < n:
                time.sleep(delay)
        if chunked:
            trailer = b"X-Trailer: done\r\n" if req.q("trailer") == "1" else b""
            self.wfile.write(b"0\r\n" + trailer + b"\r\n")
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, addr, name):
        self.name = name
        super().__init__(addr, Handler)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="origin")
    ap.add_argument("--port-file")
    args = ap.parse_args()
    server = Server((args.host, args.port), args.name)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening {args.host}:{port}", flush=True)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    SHUTDOWN.set()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
