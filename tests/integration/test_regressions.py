"""Regression scenarios (category r): object lifetimes, re-entrancy and HTTP correctness under
awkward event orders -- clients that close or reset mid-exchange, pipelined requests that arrive
in later packets, early origin answers, reloads and shutdowns with requests in flight.

Every test ends by checking that ghala is still alive and, after it stopped, that its stderr
holds no AddressSanitizer / UBSan report (run it against the sanitizer build:
  GHALA_BIN=build-review/src/ghala PYTHONPATH=tests/integration \
      python3 tests/integration/test_regressions.py).

Some scenarios need an origin that misbehaves in ways tests/integration/origin.py does not script
(answers before reading the body, closes a reused connection on cue, framing errors); they use
ScriptedOrigin below: a raw socket server in a thread of the test process, independent of ghala.
"""
import json
import os
import signal
import socket
import struct
import threading
import time

import harness
from harness import (GhalaTestCase, RawConn, base_config, dir_upstream, header, http_upstream,
                     request, route, wait_until)

GET = b"GET %s HTTP/1.1\r\nHost: main.test\r\n\r\n"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


# ---------------------------------------------------------------------------------------------
# Helpers

class ScriptedOrigin:
    """Raw TCP origin on 127.0.0.1:0. Each accepted connection runs handler(sock, index) in its
    own daemon thread (index counts connections from 1). backlog=0 plus hold_backlog() gives a
    server whose further connects hang (the kernel drops SYNs while the accept queue is full)."""

    def __init__(self, handler, backlog: int = 64, accept: bool = True):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((harness.HOST, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.addr = f"{harness.HOST}:{self.port}"
        self.conns = []
        self.count = 0
        self.closed = False
        self.accepting = threading.Event()
        if accept:
            self.accepting.set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed:
            self.accepting.wait()
            if self.closed:
                return
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            self.conns.append(s)
            threading.Thread(target=self._serve, args=(s, self.count), daemon=True).start()

    def _serve(self, s, index):
        try:
            s.settimeout(60)
            self.handler(s, index)
        except OSError:
            pass

    def close(self):
        self.closed = True
        self.accepting.set()
        for s in [self.sock] + self.conns:
            try:
                s.close()
            except OSError:
                pass


def read_head(s: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes]:
    """Reads one request head from s; returns (head, bytes after it)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("eof before the end of a request head")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return 0


def read_exact(s: socket.socket, n: int, buf: bytes = b"") -> bytes:
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError(f"eof after {len(buf)} of {n} bytes")
        buf += d
    return buf


def reply(s, status=200, body=b"ok\n", extra=b""):
    s.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra) + body)


def small_rcvbuf_conn(port: int, rcvbuf: int = 4096, timeout: float = 30) -> RawConn:
    """A RawConn whose receive buffer is small (set before connect): a slow reader."""
    c = RawConn.__new__(RawConn)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((harness.HOST, port))
    c.sock, c.buf, c.timeout = s, b"", timeout
    return c


def reset_close(sock: socket.socket):
    """Closes with RST (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class RegressionCase(GhalaTestCase):
    def start_ghala(self, cfg, **kw):
        holder = {}
        # Registered before the harness's own stop cleanup, so it runs after ghala stopped.
        self.addCleanup(lambda: self._check_sanitizers(holder.get("g")))
        g = super().start_ghala(cfg, **kw)
        holder["g"] = g
        return g

    def _check_sanitizers(self, g):
        if g is None:
            return
        with open(g.stderr_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                raise AssertionError(f"sanitizer report in ghala's stderr:\n{text[max(0, i - 200):i + 4000]}")

    def assertAlive(self):
        self.assertTrue(self.ghala.alive(), f"ghala died\n{self.ctx()}")
        status, _, body = request(self.ghala.port, "GET", "/status/200", timeout=10)
        self.assertEqual(status, 200, f"ghala stopped serving: {body!r}\n{self.ctx()}")

    def scripted(self, handler, **kw) -> ScriptedOrigin:
        o = ScriptedOrigin(handler, **kw)
        self.addCleanup(o.close)
        return o


# ---------------------------------------------------------------------------------------------
# Bugs (each test asserts the correct behaviour; see the docstring for the sequence)

class KeepAliveAfterBodyTest(RegressionCase):
    def test_r01_keepalive_connection_serves_next_request_after_post_on_fresh_upstream(self):
        """A POST whose body arrives with its head, before the upstream connection is ready:
        Exchange::on_request_body parks the body and calls ClientConn::pause_reading
        (read_paused_ = true). on_request_complete follows in the same parse. When the upstream
        connects, send_upstream_head sees request_done_ and never calls resume_reading, so
        read_paused_ stays true; after the response, exchange_done -> start_reading() returns at
        once. The next request on the connection is never read: the connection sits until
        keepalive_idle closes it (with the request unanswered)."""
        g, _ = self.proxy_with_origin(timeouts={"keepalive_idle": "3s"})
        with RawConn(g.port, timeout=10) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n\r\nhello")
            r1 = c.read_response("POST")
            self.assertEqual(r1.status, 200)
            c.send(GET % b"/status/202")
            try:
                r2 = c.read_response()
            except (EOFError, ConnectionResetError, socket.timeout) as e:
                self.fail(f"second request on the keep-alive connection was not answered: {e!r}"
                          f"\n{self.ctx()}")
            self.assertEqual(r2.status, 202)
        self.assertAlive()


class PipelineLaterPacketTest(RegressionCase):
    def test_r02_pipelined_request_sent_in_a_later_packet(self):
        """Request A is complete and its response pending; request B arrives in a later read.
        ClientConn keeps reading (leftover_ is only set when B's bytes come in A's read) and
        feeds B to a parser still paused after A (HPE_PAUSED). llhttp_execute returns the
        lingering HPE_PAUSED without parsing and llhttp_get_error_pos() is A's old position in a
        previous buffer; RequestParser::feed returns consumed = old_pos - new_data, garbage. With
        the recycled block it is A's length: `len -= consumed` underflows when B is shorter than
        A, and leftover_ becomes a slice of ~2^64 bytes of stale block memory; B then gets 400."""
        g, _ = self.proxy_with_origin()
        with RawConn(g.port, timeout=15) as c:
            c.send(b"GET /delay/1?then=/status/201 HTTP/1.1\r\nHost: main.test\r\n"
                   b"X-Pad: " + b"p" * 200 + b"\r\n\r\n")
            time.sleep(0.3)  # A has reached the origin; B comes in its own packet
            c.send(GET % b"/status/202")
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.status, 201)
        self.assertEqual((r2.status, r2.body), (202, b"status 202\n"), f"{self.ctx()}")
        self.assertAlive()

    def test_r02b_stray_crlf_after_post_body_while_response_pending(self):
        """Old clients send CRLF after a POST body; here it comes in its own packet while the
        response is pending. Same mechanism as r02. (A first GET warms the upstream connection
        so that the POST body is forwarded at once and r01 does not interfere.)"""
        g, _ = self.proxy_with_origin()
        with RawConn(g.port, timeout=15) as c:
            c.send(GET % b"/status/200")
            self.assertEqual(c.read_response().status, 200)
            c.send(b"POST /delay/1?then=/status/201 HTTP/1.1\r\nHost: main.test\r\n"
                   b"X-Pad: " + b"p" * 200 + b"\r\nContent-Length: 3\r\n\r\nabc")
            time.sleep(0.3)
            c.send(b"\r\n")
            r1 = c.read_response("POST")
            c.send(GET % b"/status/202")
            try:
                r2 = c.read_response()
            except (EOFError, ConnectionResetError, socket.timeout) as e:
                self.fail(f"request after the stray CRLF not answered: {e!r}\n{self.ctx()}")
        self.assertEqual(r1.status, 201)
        self.assertEqual(r2.status, 202, self.ctx())
        self.assertAlive()

    def test_r02c_stale_error_pos_reads_past_the_block(self):
        """r02 made visible to ASan: A's head is sent as 65536 bytes (one full block) and a
        150-byte tail, so that the recycled block holds A's first part after offset 150 while
        A ends at offset 150 of it. B (45 bytes) arrives while A's response is pending:
        consumed = 150 > 45, len underflows, and leftover_ = block+150 with ~2^64 bytes. After A,
        continue_after_exchange feeds that to llhttp, which reads the stale "GET /aaaa..." out
        of the block and past its end (heap-buffer-overflow)."""
        def slow_origin(s, index):  # no line-length limit, unlike origin.py
            buf = b""
            while True:
                try:
                    head, buf = read_head(s, buf)
                except EOFError:
                    return
                time.sleep(0.5)
                target = head.split(b" ")[1]
                status = 202 if target == b"/status/202" else 201
                reply(s, status, b"status %d\n" % status)
        o = self.scripted(slow_origin)
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(o.addr)},
                                         limits={"max_header_bytes": "256KiB",
                                                 "max_request_line": "256KiB"}))
        for attempt in range(3):
            prefix = b"GET /delay/0.5?then=/status/201 HTTP/1.1\r\nHost: main.test\r\nX-Pad: "
            first = prefix + b"q" * (150 - len(prefix)) + b"GET /"
            first += b"a" * (65536 - len(first))
            tail = b"a" * 146 + b"\r\n\r\n"
            with RawConn(g.port, timeout=15) as c:
                c.send(first)
                time.sleep(0.2)
                c.send(tail)
                time.sleep(0.2)
                c.send(GET % b"/status/202")
                try:
                    r1 = c.read_response()
                    r2 = c.read_response()
                except (EOFError, ConnectionResetError, socket.timeout) as e:
                    self.fail(f"attempt {attempt}: {e!r}\n{self.ctx()}")
            self.assertTrue(g.alive(), f"ghala died\n{self.ctx()}")
            self.assertEqual((r1.status, r2.status), (201, 202), f"attempt {attempt}\n{self.ctx()}")
        self.assertTrue(g.alive())


class PipelinedUploadTest(RegressionCase):
    def test_r03_pipelined_post_whose_body_continues_after_the_leftover(self):
        """A (slow GET) and the head plus the first bytes of B (POST, 100 kB) arrive in one
        packet: B's bytes are kept in leftover_ and reading stops. After A,
        continue_after_exchange parses B's head (an Exchange now exists) and the partial body,
        then starts reading only `if (!exchange_ && leftover_.empty())`. B's upstream connection
        is A's idle one, ready at once, so resume_reading() is a no-op (read_paused_ false).
        Nobody restarts reading: the rest of B's body is never read and B ends in a 408 after
        body_read."""
        g, o = self.proxy_with_origin(timeouts={"body_read": "3s"})
        body = os.urandom(100_000)
        with RawConn(g.port, timeout=20) as c:
            c.send(b"GET /delay/0.5?then=/status/201 HTTP/1.1\r\nHost: main.test\r\n\r\n"
                   b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: %d\r\n\r\n"
                   % len(body) + body[:1000])
            r1 = c.read_response()
            time.sleep(0.3)
            c.send(body[1000:])
            r2 = c.read_response("POST")
        self.assertEqual(r1.status, 201)
        self.assertEqual(r2.status, 200, f"{r2!r}\n{self.ctx()}")
        self.assertEqual(json.loads(r2.body)["body_sha256"], harness.sha256(body))
        self.assertAlive()


class DirOriginResetTest(RegressionCase):
    def test_r04_client_reset_while_pipelined_file_is_served_does_not_crash(self):
        """Dir origin, a file larger than one 64 KiB block, the request pipelined with another
        (so ClientConn stops reading and does not see the RST). The first block's write fails
        synchronously (uv_try_write: EPIPE/ECONNRESET): ClientConn::write ->
        Exchange::on_client_gone detaches the FileReader and sets file_ = nullptr; back in
        Exchange::on_file_data, `else if (!client_->write_blocked()) file_->read_next();`
        dereferences the null file_: SIGSEGV, the whole process dies."""
        root = os.path.join(self.tmp, "site")
        os.makedirs(root)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(4 << 20))
        with open(os.path.join(root, "a.txt"), "wb") as f:
            f.write(b"a\n")
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr), "site": dir_upstream(root)},
                          sites=[{"name": "main", "hosts": ["main.test"], "default": True,
                                  "routes": [route("/status/", "o"), route("/", "site")]}])
        g = self.start_ghala(cfg)
        for _ in range(15):
            s = socket.create_connection((harness.HOST, g.port))
            s.sendall(GET % b"/big.bin" + GET % b"/a.txt")
            reset_close(s)
            time.sleep(0.05)
            if not g.alive():
                break
        time.sleep(0.5)
        self.assertTrue(g.alive(), f"ghala died after a client reset\n{self.ctx()}")
        self.assertAlive()


class SlowReaderTest(RegressionCase):
    def _slow_download(self, g, n: int, pause: float):
        c = small_rcvbuf_conn(g.port)
        try:
            c.send(GET % (b"/bytes/%d" % n))
            time.sleep(pause)
            r = c.read_response()
        except (EOFError, ConnectionResetError) as e:
            self.fail(f"response to a slow reader cut short: {e!r}\n{self.ctx()}")
        finally:
            c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), n)
        self.assertEqual(r.body, harness.pattern_bytes(n))

    def test_r05_queued_response_tail_survives_keepalive_idle(self):
        """The exchange completes (all of the origin's body read) while part of the response is
        still in the client's write queue. exchange_done -> reset_for_next -> arm(Idle)
        replaces the write-stall clock with keepalive_idle, which write progress never restarts:
        after keepalive_idle the connection is closed and uv_close drops the queued tail.
        The response must be larger than what the kernel buffers hold (S, ~2.5 MB on loopback)
        but small enough that ghala reads all of it (S + ~320 KiB of write queue): the sizes
        are swept in 200 kB steps so that one of them falls into that window."""
        g, _ = self.proxy_with_origin(timeouts={"keepalive_idle": "1s",
                                                "client_write_stall": "30s"})
        for n in range(1_600_000, 4_200_001, 200_000):
            self._slow_download(g, n, 1.8)
        self.assertAlive()

    def test_r06_upstream_read_timeout_does_not_fire_while_paused_by_a_slow_client(self):
        """Client backpressure pauses reading the origin (UpstreamConn::pause_reading), but the
        upstream read_timeout timer keeps running: a client that reads more slowly than
        read_timeout between two upstream reads gets a truncated response (upstream_read_timeout
        logged, client connection closed), although the origin is fine."""
        o = self.start_origin()
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(o.addr, read_timeout="1s")}))
        self._slow_download(g, 4 << 20, 3.0)
        self.assertAlive()


    def test_r06b_body_read_timeout_does_not_fire_while_paused_by_a_slow_origin(self):
        """The mirror of r06: the origin reads the upload slowly (it sleeps 2 s before reading),
        the upstream write queue passes the high-water mark and ghala stops reading the client
        (pause_reading) -- but the client's body_read timer keeps running, so the client, which
        did nothing wrong, gets 408 "request body timeout" after body_read."""
        g, _ = self.proxy_with_origin(timeouts={"body_read": "1s"})
        body = os.urandom(8 << 20)
        c = RawConn(g.port, timeout=30)
        self.addCleanup(c.close)

        def send():
            try:
                c.send(b"POST /delay/2.5?then=/echo HTTP/1.1\r\nHost: main.test\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
            except OSError:
                pass
        t = threading.Thread(target=send, daemon=True)
        t.start()
        r = c.read_response("POST")
        t.join(30)
        self.assertEqual(r.status, 200, f"{r!r}\n{self.ctx()}")
        self.assertEqual(json.loads(r.body)["body_sha256"], harness.sha256(body))
        self.assertAlive()


class EarlyResponseTest(RegressionCase):
    def _no_route_cfg(self, o, **over):
        return base_config(self.tmp, {"o": http_upstream(o.addr)},
                           sites=[{"name": "main", "hosts": ["main.test"], "default": True,
                                   "routes": [route("/status/", "o"), route("/echo", "o")]}],
                           **over)

    def test_r07_bad_body_after_an_early_response_gets_no_second_response(self):
        """ghala answers before the request body ended (404 here) and keeps the connection to
        discard the body. A framing error in the rest of the body reaches ClientConn::reject
        with exchange_ == nullptr, which believes the head was bad and writes a second
        response (400) for the same request -- plus a second access-log line."""
        o = self.start_origin()
        g = self.start_ghala(self._no_route_cfg(o))
        with RawConn(g.port, timeout=10) as c:
            c.send(b"POST /nowhere HTTP/1.1\r\nHost: main.test\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
            r1 = c.read_response("POST")
            self.assertEqual(r1.status, 404)
            c.send(b"zz\r\n")
            data, closed = c.read_until_closed(10)
        self.assertNotIn(b"HTTP/1.1", data, f"a second response for one request: {data[:300]!r}")
        self.assertTrue(closed)
        self.assertAlive()

    def test_r07b_body_limit_after_an_early_response(self):
        """Same with max_request_body exceeded while discarding: no unsolicited 413."""
        o = self.start_origin()
        g = self.start_ghala(self._no_route_cfg(o, limits={"max_request_body": "1KiB"}))
        with RawConn(g.port, timeout=10) as c:
            c.send(b"POST /nowhere HTTP/1.1\r\nHost: main.test\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
            self.assertEqual(c.read_response("POST").status, 404)
            c.send(b"800\r\n" + b"x" * 0x800 + b"\r\n")
            data, _ = c.read_until_closed(10)
        self.assertNotIn(b"HTTP/1.1", data, f"a second response for one request: {data[:300]!r}")
        self.assertAlive()


    def test_r09_early_response_on_a_connection_that_carried_a_head_request(self):
        """ResponseParser::expect(method) is only called in request_sent(), once the whole
        request went out. An origin that answers a POST before reading its body, on a pooled
        connection whose previous request was HEAD, is parsed as a response to HEAD: its body
        is dropped (and re-framed as an empty chunked body to the client)."""
        def handler(s, index):
            buf = b""
            while True:
                try:
                    head, buf = read_head(s, buf)
                except EOFError:
                    return
                if head.startswith(b"HEAD"):
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
                    continue
                reply(s, 413, b"too big\n", b"Connection: close\r\n")
                time.sleep(0.5)
                return
        b = self.scripted(handler)
        g = self.start_ghala(base_config(self.tmp, {"b": http_upstream(b.addr)}))
        with RawConn(g.port, timeout=15) as c:
            c.send(b"HEAD /x HTTP/1.1\r\nHost: main.test\r\n\r\n")
            self.assertEqual(c.read_response("HEAD").status, 200)
            c.send(b"POST /y HTTP/1.1\r\nHost: main.test\r\nContent-Length: 3000000\r\n\r\n"
                   + b"z" * 100_000)
            r = c.read_response("POST")
        self.assertEqual((r.status, r.body), (413, b"too big\n"), f"{r!r}\n{self.ctx()}")
        self.assertTrue(g.alive())


class ReloadRetryTest(RegressionCase):
    def _two_upstream_cfg(self, a, b, order):
        ups = {"a": http_upstream(a.addr), "b": http_upstream(b.addr)}
        ups = {k: ups[k] for k in order}
        return base_config(self.tmp, ups, sites=[
            {"name": "main", "hosts": ["main.test"], "default": True,
             "routes": [route("/", "b")]}])

    def _run(self, second_order):
        """Request 1 leaves a keep-alive connection to origin b in the pool. Request 2 reuses it;
        b reads it, then (after a reload) closes without answering: the reused-connection retry
        runs Exchange::fetch_http -> client_->worker().pools_for(route_->upstream_index), where
        upstream_index comes from the request's (old) snapshot but the pool lists are the
        worker's current ones."""
        got_second = threading.Event()
        reloaded = threading.Event()

        def b_handler(s, index):
            buf = b""
            n = 0
            while True:
                try:
                    head, buf = read_head(s, buf)
                except EOFError:
                    return
                n += 1
                if index == 1 and n == 2:
                    got_second.set()
                    reloaded.wait(30)
                    s.close()
                    return
                reply(s, 200, b"from b\n", b"X-Origin-Name: b\r\n")

        b = self.scripted(b_handler)
        a = self.start_origin("a")
        g = self.start_ghala(self._two_upstream_cfg(a, b, ["a", "b"]))
        status, hs, body = self.get("/first")
        self.assertEqual((status, body), (200, b"from b\n"))
        result = {}

        def second():
            try:
                result["r"] = request(g.port, "GET", "/second", timeout=30)
            except Exception as e:  # noqa: BLE001
                result["e"] = e
        t = threading.Thread(target=second, daemon=True)
        t.start()
        self.assertTrue(got_second.wait(20), "request 2 did not reach origin b")
        g.reload_via_sighup(self._two_upstream_cfg(a, b, second_order))
        time.sleep(0.5)  # the worker applies the snapshot through its uv_async
        reloaded.set()
        t.join(40)
        return g, result

    def test_r08_retry_after_reload_reordering_upstreams_stays_on_its_upstream(self):
        g, result = self._run(["b", "a"])
        self.assertIn("r", result, f"{result}\n{self.ctx()}")
        status, hs, body = result["r"]
        self.assertEqual((status, header(hs, "X-Origin-Name"), body), (200, "b", b"from b\n"),
                         f"the retry went to another upstream\n{self.ctx()}")
        self.assertAlive()

    def test_r08b_retry_after_reload_removing_an_upstream(self):
        # Only "b" is left: the old index 1 is past the end of the worker's pool lists.
        g, result = self._run(["b"])
        self.assertTrue(g.alive(), f"ghala died\n{self.ctx()}")
        self.assertIn("r", result, f"{result}\n{self.ctx()}")
        status, hs, body = result["r"]
        self.assertEqual((status, body), (200, b"from b\n"), self.ctx())


# ---------------------------------------------------------------------------------------------
# Scenarios that currently behave (kept as regression guards)

class ClientGoneTest(RegressionCase):
    def test_r20_client_closes_mid_response_content_length_and_chunked(self):
        g, o = self.proxy_with_origin()
        for path in (b"/bytes/8000000", b"/chunked/8000000?chunk=65536"):
            for how in ("close", "reset"):
                s = socket.create_connection((harness.HOST, g.port))
                s.sendall(GET % path)
                got = 0
                while got < 200_000:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += len(d)
                if how == "reset":
                    reset_close(s)
                else:
                    s.close()
        for _ in range(5):
            self.assertEqual(self.get("/bytes/100000")[2], harness.pattern_bytes(100000))
        self.assertAlive()

    def test_r21_client_closes_while_waiting_for_a_slow_origin_head(self):
        g, o = self.proxy_with_origin()
        for how in ("close", "reset"):
            s = socket.create_connection((harness.HOST, g.port))
            s.sendall(GET % b"/delay/1")
            time.sleep(0.2)
            reset_close(s) if how == "reset" else s.close()
        time.sleep(1.5)
        self.assertAlive()
        lines = [l for l in g.access_log_lines() if l.get("target") == "/delay/1"]
        self.assertEqual([l["status"] for l in lines], [499, 499], lines)

    def test_r22_half_close_after_request(self):
        """shutdown(SHUT_WR) right after the request: ghala treats the EOF as an abort (499,
        like nginx without proxy_ignore_client_abort) -- documented here, not a crash."""
        g, o = self.proxy_with_origin()
        s = socket.create_connection((harness.HOST, g.port), timeout=10)
        s.sendall(GET % b"/delay/0.3")
        s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except OSError:
            pass
        s.close()
        self.assertAlive()

    def test_r23_client_gone_during_upload_to_slow_origin(self):
        g, o = self.proxy_with_origin()
        s = socket.create_connection((harness.HOST, g.port))
        s.sendall(b"POST /delay/1?then=/echo HTTP/1.1\r\nHost: main.test\r\n"
                  b"Content-Length: 10000000\r\n\r\n" + b"x" * 3_000_000)
        reset_close(s)
        time.sleep(1.5)
        self.assertAlive()


class OriginMisbehaviourTest(RegressionCase):
    def test_r30_origin_closes_mid_response(self):
        g, o = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(GET % b"/close")
            data, closed = c.read_until_closed(10)
        self.assertTrue(closed)
        self.assertAlive()

    def test_r31_origin_answers_413_before_reading_the_body(self):
        """The origin answers (and closes) after the head of a 2 MB upload; ghala forwards the
        answer and then either discards the body on a kept connection or closes it."""
        def handler(s, index):
            head, rest = read_head(s)
            reply(s, 413, b"too big\n", b"Connection: close\r\n")
            time.sleep(0.2)
            s.close()
        b = self.scripted(handler)
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr), "b": http_upstream(b.addr)},
                          sites=[{"name": "main", "hosts": ["main.test"], "default": True,
                                  "routes": [route("/up", "b"), route("/", "o")]}])
        g = self.start_ghala(cfg)
        body = b"y" * 2_000_000
        with RawConn(g.port, timeout=15) as c:
            c.send(b"POST /up HTTP/1.1\r\nHost: main.test\r\nContent-Length: %d\r\n\r\n"
                   % len(body))
            try:
                c.send(body)
            except OSError:
                pass
            r = c.read_response("POST")
            self.assertEqual(r.status, 413, r)
            if r.header("Connection") != "close":
                c.send(GET % b"/status/200")
                self.assertEqual(c.read_response().status, 200, self.ctx())
        self.assertAlive()

    def test_r32_head_answered_with_a_body(self):
        def handler(s, index):
            buf = b""
            while True:
                try:
                    head, buf = read_head(s, buf)
                except EOFError:
                    return
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        b = self.scripted(handler)
        g = self.start_ghala(base_config(self.tmp, {"b": http_upstream(b.addr)}))
        with RawConn(g.port) as c:
            c.send(b"HEAD /x HTTP/1.1\r\nHost: main.test\r\n\r\n")
            r = c.read_response("HEAD")
            self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "5", b""))
            c.send(GET % b"/y")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"hello"))
            data, _ = c.read_until_closed(0.5)
            self.assertEqual(data, b"", "the HEAD body leaked into the next response")
        self.assertTrue(g.alive())

    def test_r33_response_with_content_length_and_transfer_encoding(self):
        def handler(s, index):
            read_head(s)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n5\r\nhello\r\n0\r\n\r\n")
            time.sleep(0.5)
        b = self.scripted(handler)
        g = self.start_ghala(base_config(self.tmp, {"b": http_upstream(b.addr)}))
        status, _, _ = request(g.port, "GET", "/x")
        self.assertEqual(status, 502)
        self.assertTrue(g.alive())

    def test_r34_idle_upstream_closed_by_origin_then_reused(self):
        g, o = self.proxy_with_origin()
        for _ in range(3):
            self.assertEqual(self.get("/status/200?drop_next=1")[0], 200)
            status, _, body = self.get("/status/200")
            self.assertEqual((status, body), (200, b"status 200\n"), self.ctx())
        # Closed while idle (origin closes after answering): detected, never handed out.
        self.assertEqual(self.get("/status/200?close=1")[0], 200)
        time.sleep(0.2)
        self.assertEqual(self.get("/status/200")[0], 200)
        self.assertAlive()


class PipelineMixTest(RegressionCase):
    def test_r40_pipelined_404_then_proxied_then_dir(self):
        root = os.path.join(self.tmp, "site")
        os.makedirs(root)
        with open(os.path.join(root, "f.txt"), "wb") as f:
            f.write(b"file\n")
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr), "site": dir_upstream(root)},
                          sites=[{"name": "main", "hosts": ["main.test"], "default": True,
                                  "routes": [route("/status/", "o"), route("/bytes/", "o"),
                                             route("/f.txt", "site")]}])
        g = self.start_ghala(cfg)
        with RawConn(g.port) as c:
            c.send(GET % b"/nowhere" + GET % b"/status/201" + GET % b"/bytes/3000000"
                   + GET % b"/f.txt" + GET % b"/nowhere" + GET % b"/status/202")
            rs = [c.read_response() for _ in range(6)]
        self.assertEqual([r.status for r in rs], [404, 201, 200, 200, 404, 202])
        self.assertEqual(rs[2].body, harness.pattern_bytes(3000000))
        self.assertEqual(rs[3].body, b"file\n")
        self.assertAlive()


class ContinueTest(RegressionCase):
    def test_r50_expect_100_continue_to_an_origin_slow_to_connect(self):
        """The origin's accept queue is full: ghala's connect hangs until connect_timeout (504),
        with nothing sent to the client before; the 100 Continue must not precede it."""
        stuck = self.scripted(lambda s, i: None, backlog=0, accept=False)
        filler = socket.create_connection((harness.HOST, stuck.port))
        self.addCleanup(filler.close)
        g = self.start_ghala(base_config(
            self.tmp, {"b": http_upstream(stuck.addr, connect_timeout="1s")}))
        with RawConn(g.port, timeout=20) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            r = c.read_response("POST", skip_interim=False)
            self.assertEqual(r.status, 504, r)
        self.assertTrue(g.alive())


class LifecycleTest(RegressionCase):
    def test_r60_sigterm_while_a_body_is_uploaded_slowly(self):
        g, o = self.proxy_with_origin(timeouts={"shutdown_grace": "5s"})
        body = b"z" * 200_000
        result = {}

        def upload():
            try:
                s = socket.create_connection((harness.HOST, g.port), timeout=20)
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: %d\r\n\r\n"
                          % len(body))
                for i in range(0, len(body), 20_000):
                    s.sendall(body[i:i + 20_000])
                    time.sleep(0.1)
                c = RawConn.__new__(RawConn)
                c.sock, c.buf, c.timeout = s, b"", 20
                result["r"] = c.read_response("POST")
                s.close()
            except Exception as e:  # noqa: BLE001
                result["e"] = e
        t = threading.Thread(target=upload, daemon=True)
        t.start()
        time.sleep(0.3)
        g.send_signal(signal.SIGTERM)
        t.join(30)
        self.assertIn("r", result, result)
        r = result["r"]
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["body_length"], len(body))
        self.assertEqual(g.proc.wait(30), 0, self.ctx())

    def test_r61_reload_removing_the_upstream_of_a_request_in_flight(self):
        a = self.start_origin("a")
        b = self.start_origin("b")
        cfg1 = base_config(self.tmp, {"a": http_upstream(a.addr), "b": http_upstream(b.addr)},
                           sites=[{"name": "main", "hosts": ["main.test"], "default": True,
                                   "routes": [route("/", "b")]}])
        cfg2 = base_config(self.tmp, {"a": http_upstream(a.addr)})
        g = self.start_ghala(cfg1)
        result = {}

        def slow():
            try:
                result["r"] = request(g.port, "GET", "/chunked/400000?chunk=20000&delay_ms=100",
                                      timeout=30)
            except Exception as e:  # noqa: BLE001
                result["e"] = e
        t = threading.Thread(target=slow, daemon=True)
        t.start()
        wait_until(lambda: b.stats()["in_flight"] >= 1, 10, "the request to reach b")
        g.reload_via_sighup(cfg2)
        t.join(30)
        self.assertIn("r", result, result)
        status, _, body = result["r"]
        self.assertEqual((status, body), (200, harness.pattern_bytes(400000)))
        status, hs, _ = self.get("/status/200")
        self.assertEqual(header(hs, "X-Origin-Name"), "a")
        self.assertTrue(g.alive())


if __name__ == "__main__":
    harness.main()
