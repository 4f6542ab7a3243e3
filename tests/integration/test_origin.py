"""Self-test of the scripted origin (tests/integration/origin.py), without ghala: when an
integration test fails, this tells whether the origin or ghala is at fault."""
import json
import time

import harness
from harness import RawConn, request, header, pattern_bytes, pattern_sha256, sha256


class OriginTest(harness.unittest.TestCase):
    def setUp(self):
        self._tmp = harness.tempfile.TemporaryDirectory(prefix="ghala-origin-")
        self.addCleanup(self._tmp.cleanup)
        self.origin = harness.Origin(self._tmp.name, "o1")
        self.addCleanup(self.origin.stop)
        self.port = self.origin.port

    def test_status_endpoint_returns_the_status_and_short_body(self):
        status, hs, body = request(self.port, "GET", "/status/201")
        self.assertEqual((status, body), (201, b"status 201\n"))
        self.assertEqual(header(hs, "X-Origin-Name"), "o1")

    def test_204_and_304_and_head_have_no_body(self):
        with RawConn(self.port) as c:
            c.send(b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /etag HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\n\r\n"
                   b"HEAD /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().status, 204)
            self.assertEqual(c.read_response().status, 304)
            r = c.read_response("HEAD")
            self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "100", b""))
            r = c.read_response()
            self.assertEqual((r.status, r.body, r.header("X-Origin-Conn-Requests")),
                             (200, b"status 200\n", "4"))

    def test_bytes_and_chunked_bodies_match_the_pattern(self):
        status, hs, body = request(self.port, "GET", "/bytes/100000")
        self.assertEqual((status, len(body), sha256(body)), (200, 100000, pattern_sha256(100000)))
        with RawConn(self.port) as c:
            c.send(b"GET /chunked/70000?chunk=999&trailer=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertEqual(r.body, pattern_bytes(70000))
            self.assertEqual(r.trailers, [("X-Trailer", "done")])

    def test_echo_reads_chunked_body_and_answers_100_continue(self):
        with RawConn(self.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
            r = c.read_response(skip_interim=False)
            self.assertEqual(r.status, 100)
            c.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            r = c.read_response()
            e = json.loads(r.body)
            self.assertEqual((e["method"], e["body_length"], e["body_sha256"]),
                             ("POST", 11, sha256(b"hello world")))

    def test_keepalive_reuse_is_visible_in_conn_headers(self):
        with RawConn(self.port) as c:
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            a = c.read_response()
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            b = c.read_response()
        self.assertEqual(a.header("X-Origin-Conn"), b.header("X-Origin-Conn"))
        self.assertEqual(b.header("X-Origin-Conn-Requests"), "2")

    def test_drop_next_closes_the_next_request_without_answer(self):
        with RawConn(self.port) as c:
            c.send(b"GET /status/200?drop_next=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = c.read_until_closed(10)
            self.assertEqual((data, closed), (b"", True))
        self.assertEqual(self.origin.stats()["dropped"], 1)

    def test_close_sends_a_truncated_body(self):
        with RawConn(self.port) as c:
            c.send(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = c.read_until_closed(10)
        self.assertTrue(closed)
        self.assertTrue(data.endswith(b"\r\n\r\n0123456789"), data)

    def test_headers_sets_arbitrary_response_headers(self):
        status, hs, _ = request(self.port, "GET", "/headers?set=X-A:1&set=Keep-Alive:timeout%3D5")
        self.assertEqual((header(hs, "X-A"), header(hs, "Keep-Alive")), ("1", "timeout=5"))

    def test_delay_waits_then_answers(self):
        t0 = time.monotonic()
        status, _, body = request(self.port, "GET", "/delay/0.3?then=/status/202")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual((status, body), (202, b"status 202\n"))

    def test_stats_count_requests_per_path(self):
        request(self.port, "GET", "/status/200")
        request(self.port, "GET", "/status/200")
        self.assertEqual(self.origin.path_count("/status/200"), 2)
        self.origin.reset()
        self.assertEqual(self.origin.path_count("/status/200"), 0)


if __name__ == "__main__":
    harness.main()
