"""Upstream connections: keep-alive reuse, one retry of an idempotent request on a fresh
connection, dead origin (502), slow origin (504), origin closing mid-response."""
import json
import time

import harness
from harness import (GhalaTestCase, RawConn, UPSTREAM_ERRORS, base_config, header, http_upstream,
                     request, wait_until)


class UpstreamTest(GhalaTestCase):
    def test_origin_connection_is_reused_across_client_connections(self):
        g, o = self.proxy_with_origin()
        conns = []
        for _ in range(3):  # three separate client connections
            status, hs, _ = self.get("/status/200")
            self.assertEqual(status, 200)
            conns.append((header(hs, "X-Origin-Conn"), header(hs, "X-Origin-Conn-Requests")))
        self.assertEqual(len({c for c, _ in conns}), 1, f"origin connections: {conns}")
        self.assertEqual([n for _, n in conns], ["1", "2", "3"])

    def test_idempotent_request_is_retried_once_when_reused_connection_fails(self):
        g, o = self.proxy_with_origin()
        status, hs1, _ = self.get("/status/200?drop_next=1")
        self.assertEqual(status, 200)
        # The pooled connection now drops the next request without a response byte.
        status, hs2, body = self.get("/status/200")
        self.assertEqual((status, body), (200, b"status 200\n"), self.ctx())
        self.assertNotEqual(header(hs1, "X-Origin-Conn"), header(hs2, "X-Origin-Conn"),
                            "the retry must use a fresh connection")
        self.assertEqual(o.stats()["dropped"], 1)

    def test_non_idempotent_request_is_not_retried(self):
        g, o = self.proxy_with_origin()
        self.assertEqual(self.get("/status/200?drop_next=1")[0], 200)
        status, _, body = request(g.port, "POST", "/echo", body=b"once")
        self.assertEqual(status, 502, f"{body!r}\n{self.ctx()}")
        self.assertEqual(o.path_count("/echo"), 0, "POST must not be replayed")

    def test_dead_origin_gives_502_with_short_body(self):
        o = self.start_origin()
        dead = o.addr
        o.stop()  # nothing listens on that port any more
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(dead)}))
        t0 = time.monotonic()
        status, hs, body = self.get("/status/200")
        self.assertEqual(status, 502, self.ctx())
        self.assertTrue(0 < len(body) < 1024, f"502 body: {body!r}")
        self.assertLess(time.monotonic() - t0, 15, "a refused connection must not hang")
        wait_until(lambda: g.metrics().value(UPSTREAM_ERRORS, kind="connect_refused") >= 1, 10,
                   "ghala_upstream_errors_total{kind=\"connect_refused\"}")

    def test_slow_origin_gives_504_after_first_byte_timeout(self):
        o = self.start_origin()
        g = self.start_ghala(base_config(
            self.tmp, {"o": http_upstream(o.addr, first_byte_timeout="1s")}))
        status, _, body = self.get("/delay/6")
        self.assertEqual(status, 504, self.ctx())
        self.assertTrue(0 < len(body) < 1024, f"504 body: {body!r}")
        wait_until(lambda: g.metrics().value(UPSTREAM_ERRORS, kind="first_byte_timeout") >= 1, 10,
                   "ghala_upstream_errors_total{kind=\"first_byte_timeout\"}")
        # The pool is still usable afterwards.
        self.assertEqual(self.get("/status/200")[0], 200)

    def test_hanging_origin_gives_504_not_a_hang(self):
        o = self.start_origin()
        g = self.start_ghala(base_config(
            self.tmp, {"o": http_upstream(o.addr, first_byte_timeout="1s")}))
        self.assertEqual(self.get("/hang")[0], 504, self.ctx())

    def test_origin_closing_mid_body_closes_the_client_connection(self):
        g, o = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"GET /close HTTP/1.1\r\nHost: main.test\r\n\r\n")
            data, closed = c.read_until_closed(20)
        self.assertTrue(closed, "client connection kept open after a truncated upstream body")
        if data.startswith(b"HTTP/1.1 200"):
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertLess(len(body), 1000, "a truncated body must not be padded")
        else:
            self.assertEqual(harness.parse_status(data), 502, data[:200])

    def test_origin_closing_before_head_gives_502(self):
        g, o = self.proxy_with_origin()
        status, _, body = self.get("/close?before_head=1")
        # GET is idempotent, but the connection was fresh: no retry, 502.
        self.assertEqual(status, 502, self.ctx())

    def test_post_with_body_reaches_origin_on_reused_connection(self):
        g, o = self.proxy_with_origin()
        for i in range(3):
            status, hs, body = request(g.port, "POST", "/echo", body=b"x" * (i + 1) * 1000)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["body_length"], (i + 1) * 1000)
            self.assertEqual(header(hs, "X-Origin-Conn-Requests"), str(i + 1))


if __name__ == "__main__":
    harness.main()
