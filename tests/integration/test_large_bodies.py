"""Memory stays bounded however large the body and however slow the client: 50 MiB streamed
through in both directions, and a client that stops reading (the origin is back-pressured).
Suite 'slow' (skipped in the ASan build, whose RSS says nothing about ghala's)."""
import hashlib
import http.client
import json
import threading
import time

import harness
from harness import HOST, GhalaTestCase, RawConn, pattern_sha256, wait_until

SIZE = 50 << 20
MAX_GROWTH_KIB = 32 << 10  # generous: a buffering proxy would grow by >= 50 MiB


class RssSampler:
    """Samples a pid's RSS every 20 ms in a thread; .peak is the maximum seen."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop_ev = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.peak = max(self.peak, harness.rss_kib(self.pid))
            except (OSError, AssertionError):
                return
            self.stop_ev.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join(5)


class LargeBodiesTest(GhalaTestCase):
    def setUp(self):
        super().setUp()
        self.g, self.o = self.proxy_with_origin(limits={"max_request_body": "128MiB"})
        for _ in range(3):  # warm up allocator and pools before the baseline
            self.get("/bytes/100000")
        self.baseline = self.g.rss_kib()

    def assertBounded(self, peak_kib, what):
        growth = peak_kib - self.baseline
        self.assertLess(growth, MAX_GROWTH_KIB,
                        f"{what}: RSS grew {growth} KiB (baseline {self.baseline} KiB)\n{self.ctx()}")

    def test_50mib_response_streams_with_bounded_rss(self):
        c = http.client.HTTPConnection(HOST, self.g.port, timeout=60)
        self.addCleanup(c.close)
        with RssSampler(self.g.pid) as s:
            c.request("GET", f"/bytes/{SIZE}")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            h, n = hashlib.sha256(), 0
            while chunk := r.read(1 << 16):
                h.update(chunk)
                n += len(chunk)
        self.assertEqual((n, h.hexdigest()), (SIZE, pattern_sha256(SIZE)))
        self.assertBounded(s.peak, "50 MiB download")

    def test_50mib_chunked_response_streams_with_bounded_rss(self):
        with RssSampler(self.g.pid) as s, RawConn(self.g.port, timeout=60) as c:
            c.send(f"GET /chunked/{SIZE}?chunk=65536 HTTP/1.1\r\nHost: main.test\r\n\r\n".encode())
            r = c.read_response()
        self.assertEqual(harness.sha256(r.body), pattern_sha256(SIZE))
        self.assertBounded(s.peak, "50 MiB chunked download")

    def upload(self, chunked: bool):
        block = harness.pattern_bytes(1 << 16)
        want = hashlib.sha256()
        with RssSampler(self.g.pid) as s, RawConn(self.g.port, timeout=60) as c:
            framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % SIZE
            c.send(b"POST /echo HTTP/1.1\r\nHost: main.test\r\n" + framing + b"\r\n\r\n")
            for _ in range(SIZE // len(block)):
                c.send(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                want.update(block)
            if chunked:
                c.send(b"0\r\n\r\n")
            r = c.read_response("POST")
        self.assertEqual(r.status, 200, self.ctx())
        e = json.loads(r.body)
        self.assertEqual((e["body_length"], e["body_sha256"]), (SIZE, want.hexdigest()))
        return s.peak

    def test_50mib_content_length_upload_streams_with_bounded_rss(self):
        self.assertBounded(self.upload(chunked=False), "50 MiB upload")

    def test_50mib_chunked_upload_streams_with_bounded_rss(self):
        self.assertBounded(self.upload(chunked=True), "50 MiB chunked upload")

    def test_slow_reader_backpressures_origin_and_rss_stays_bounded(self):
        with RawConn(self.g.port, timeout=60) as c:
            c.sock.setsockopt(harness.socket.SOL_SOCKET, harness.socket.SO_RCVBUF, 65536)
            c.send(f"GET /bytes/{SIZE} HTTP/1.1\r\nHost: main.test\r\n\r\n".encode())
            got = 0
            while got < (1 << 20):  # read 1 MiB, then stop reading
                c._fill()
                got = len(c.buf)

            # Wait until the origin stops making progress: ghala must stop reading from it.
            last = {"sent": -1, "since": time.monotonic()}

            def stalled():
                sent = self.o.stats()["body_bytes_sent"]
                now = time.monotonic()
                if sent != last["sent"]:
                    last.update(sent=sent, since=now)
                    return False
                return now - last["since"] >= 1.5
            wait_until(stalled, 60, "the origin to be back-pressured (stop sending)",
                       interval=0.25)
            self.assertLess(last["sent"], SIZE - (8 << 20),
                            "the origin sent (almost) everything: ghala buffered the body")
            self.assertBounded(self.g.rss_kib(), "slow reader")
            self.assertEqual(self.o.stats()["in_flight"], 2, "origin response still in progress")
            # Read the rest (the buffer still holds the head): the download completes intact.
            r = c.read_response()
        self.assertEqual((r.status, harness.sha256(r.body)), (200, pattern_sha256(SIZE)))


if __name__ == "__main__":
    harness.main()
