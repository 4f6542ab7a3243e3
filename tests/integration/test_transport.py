"""Client-side transport: keep-alive, pipelining, connection close, timeouts, max_connections."""
import socket
import time

import harness
from harness import GhalaTestCase, RawConn, base_config, http_upstream, wait_until, TIMEOUTS

GET = b"GET %s HTTP/1.1\r\nHost: main.test\r\n\r\n"


class TransportTest(GhalaTestCase):
    def test_keepalive_connection_serves_several_requests(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            for i in range(5):
                c.send(GET % b"/status/200")
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"status 200\n"), f"request {i}")
            c.send(GET % b"/status/201")
            self.assertEqual(c.read_response().status, 201)

    def test_pipelined_responses_arrive_in_request_order(self):
        g, _ = self.proxy_with_origin()
        # The first request is the slowest: a proxy that answers as responses come in would
        # reorder them.
        with RawConn(g.port) as c:
            c.send(GET % b"/delay/1?then=/status/201"
                   + GET % b"/status/202"
                   + GET % b"/bytes/3000"
                   + b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n\r\nhello"
                   + GET % b"/chunked/20000?chunk=3000"
                   + b"HEAD /bytes/10 HTTP/1.1\r\nHost: main.test\r\n\r\n"
                   + GET % b"/status/203")
            r1 = c.read_response()
            r2 = c.read_response()
            r3 = c.read_response()
            r4 = c.read_response("POST")
            r5 = c.read_response()
            r6 = c.read_response("HEAD")
            r7 = c.read_response()
        self.assertEqual((r1.status, r1.body), (201, b"status 201\n"))
        self.assertEqual((r2.status, r2.body), (202, b"status 202\n"))
        self.assertEqual((r3.status, r3.body), (200, harness.pattern_bytes(3000)))
        self.assertEqual(harness.json.loads(r4.body)["body_sha256"], harness.sha256(b"hello"))
        self.assertEqual((r5.status, r5.body), (200, harness.pattern_bytes(20000)))
        self.assertEqual((r6.status, r6.header("Content-Length"), r6.body), (200, "10", b""))
        self.assertEqual((r7.status, r7.body), (203, b"status 203\n"))

    def test_connection_close_request_gets_response_then_close(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertTrue(c.is_closed_by_peer(), "connection left open after Connection: close")

    def test_http10_request_without_keepalive_is_answered_and_closed(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"GET /status/200 HTTP/1.0\r\nHost: main.test\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"status 200\n"))
            self.assertTrue(c.is_closed_by_peer(), "HTTP/1.0 connection left open")

    def test_header_read_timeout_gives_408_and_close(self):
        g, _ = self.proxy_with_origin(timeouts={"header_read": "1s"})
        before = g.metrics().value(TIMEOUTS, kind="header_read")
        with RawConn(g.port) as c:
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\n")  # head never ends
            data, closed = c.read_until_closed(20)
        self.assertEqual(harness.parse_status(data), 408, f"{data!r}\n{self.ctx()}")
        self.assertTrue(closed, "connection left open after 408")
        wait_until(lambda: g.metrics().value(TIMEOUTS, kind="header_read") == before + 1, 10,
                   "ghala_timeouts_total{kind=\"header_read\"} to count the timeout")

    def test_new_connection_waits_keepalive_idle_not_header_read_for_its_first_byte(self):
        # Browsers preconnect: a connection may stay silent before its first request.
        g, _ = self.proxy_with_origin(timeouts={"header_read": "1s", "keepalive_idle": "60s"})
        with RawConn(g.port) as c:
            time.sleep(2.5)  # the scenario: silent for longer than header_read
            c.send(GET % b"/status/200")
            self.assertEqual(c.read_response().status, 200)

    def test_idle_keepalive_connection_is_closed_without_response(self):
        g, _ = self.proxy_with_origin(timeouts={"keepalive_idle": "1s"})
        with RawConn(g.port) as c:
            c.send(GET % b"/status/200")
            self.assertEqual(c.read_response().status, 200)
            data, closed = c.read_until_closed(20)
        self.assertEqual(data, b"", "idle close must not send a response")
        self.assertTrue(closed, "idle keep-alive connection not closed")

    def test_connections_beyond_max_connections_are_refused(self):
        g, _ = self.proxy_with_origin(limits={"max_connections": 3})
        held = []
        self.addCleanup(lambda: [c.close() for c in held])
        for i in range(3):
            c = RawConn(g.port)
            held.append(c)
            c.send(GET % b"/status/200")
            self.assertEqual(c.read_response().status, 200, f"connection {i} within the limit")
        # The fourth connection is refused: closed (or reset) without a successful response.
        try:
            with RawConn(g.port) as extra:
                try:
                    extra.send(GET % b"/status/200")
                except OSError:
                    pass
                data, closed = extra.read_until_closed(20)
            self.assertTrue(closed, "connection over max_connections left open")
            self.assertFalse(data.startswith(b"HTTP/1.1 200"),
                             f"connection over max_connections was served: {data[:200]!r}")
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            pass
        # Room again after one closes.
        held.pop().close()

        def served():
            with RawConn(g.port, timeout=5) as c:
                c.send(GET % b"/status/200")
                return c.read_response().status == 200
        wait_until(served, 20, "a new connection to be served once one closed")


if __name__ == "__main__":
    harness.main()
