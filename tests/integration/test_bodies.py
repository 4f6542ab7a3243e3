"""Request and response bodies through the proxy: Content-Length and chunked both ways,
streaming (not store-and-forward), HEAD, 204, 304, Expect: 100-continue."""
import json
import os

import harness
from harness import GhalaTestCase, RawConn, pattern_bytes, request, sha256, wait_until

HOST = b"Host: main.test\r\n"


class BodiesTest(GhalaTestCase):
    def test_content_length_request_body_reaches_origin_intact(self):
        g, _ = self.proxy_with_origin()
        body = os.urandom(1 << 20)
        status, _, data = request(g.port, "POST", "/echo", body=body)
        self.assertEqual(status, 200, self.ctx())
        e = json.loads(data)
        self.assertEqual((e["method"], e["body_length"], e["body_sha256"]),
                         ("POST", len(body), sha256(body)))

    def test_chunked_request_body_reaches_origin_intact(self):
        g, _ = self.proxy_with_origin()
        parts = [os.urandom(n) for n in (1, 100, 70000, 5)]
        with RawConn(g.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n")
            for p in parts:
                c.send(b"%x\r\n%s\r\n" % (len(p), p))
            c.send(b"0\r\n\r\n")
            r = c.read_response("POST")
        self.assertEqual(r.status, 200, self.ctx())
        e = json.loads(r.body)
        whole = b"".join(parts)
        self.assertEqual((e["body_length"], e["body_sha256"]), (len(whole), sha256(whole)))

    def test_chunked_request_body_is_streamed_before_it_ends(self):
        g, o = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
                   + b"5\r\nhello\r\n")
            # The origin gets the request while the client has not finished the body.
            wait_until(lambda: o.path_count("/echo") == 1, 20,
                       "the origin to receive the request before the body ended")
            c.send(b"6\r\n world\r\n0\r\n\r\n")
            r = c.read_response("POST")
        self.assertEqual(json.loads(r.body)["body_sha256"], sha256(b"hello world"))

    def test_chunked_response_body_reaches_client_intact(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"GET /chunked/300000?chunk=7000 HTTP/1.1\r\n" + HOST + b"\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200, self.ctx())
        self.assertEqual(r.body, pattern_bytes(300000))

    def test_chunked_response_is_streamed_while_origin_is_still_sending(self):
        g, o = self.proxy_with_origin()
        with RawConn(g.port) as c:
            # Two chunks of 1000 bytes, 8 s apart: the first must reach the client while the
            # origin still sleeps before the second.
            c.send(b"GET /chunked/2000?chunk=1000&delay_ms=8000 HTTP/1.1\r\n" + HOST + b"\r\n")
            while b"\r\n\r\n" not in c.buf or len(c.buf.split(b"\r\n\r\n", 1)[1]) < 1000:
                self.assertTrue(c._fill(), "connection closed before the first chunk")
            in_flight = o.stats()["in_flight"]  # this /__stats request counts as one
            self.assertEqual(in_flight, 2, "first chunk arrived only after the origin finished")
            r = c.read_response()
        self.assertEqual(r.body, pattern_bytes(2000))

    def test_head_response_has_headers_and_no_body(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"HEAD /bytes/5000 HTTP/1.1\r\n" + HOST + b"\r\n"
                   + b"GET /status/200 HTTP/1.1\r\n" + HOST + b"\r\n")
            r = c.read_response("HEAD")
            self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "5000", b""))
            r = c.read_response()  # would be garbage if a HEAD body had been sent
            self.assertEqual((r.status, r.body), (200, b"status 200\n"))

    def test_204_and_304_responses_have_no_body(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"GET /status/204 HTTP/1.1\r\n" + HOST + b"\r\n"
                   + b"GET /etag HTTP/1.1\r\n" + HOST + b"If-None-Match: \"v1\"\r\n\r\n"
                   + b"GET /status/200 HTTP/1.1\r\n" + HOST + b"\r\n")
            r204 = c.read_response()
            r304 = c.read_response()
            r200 = c.read_response()
        self.assertEqual(r204.status, 204)
        self.assertIsNone(r204.header("Transfer-Encoding"))
        self.assertEqual(r304.status, 304)
        self.assertEqual(r304.header("ETag"), '"v1"')
        self.assertEqual((r200.status, r200.body), (200, b"status 200\n"))

    def test_expect_100_continue_gets_interim_response_then_final(self):
        g, _ = self.proxy_with_origin()
        with RawConn(g.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 11\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            interim = c.read_response(skip_interim=False)
            self.assertEqual(interim.status, 100, self.ctx())
            c.send(b"hello world")
            r = c.read_response("POST")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["body_sha256"], sha256(b"hello world"))

    def test_large_content_length_response_is_exact(self):
        g, _ = self.proxy_with_origin()
        status, hs, body = self.get("/bytes/5000000")
        self.assertEqual((status, harness.header(hs, "Content-Length")), (200, "5000000"))
        self.assertEqual(sha256(body), harness.pattern_sha256(5000000))

    def test_origin_error_status_and_body_pass_through(self):
        g, _ = self.proxy_with_origin()
        self.assertEqual(self.get("/status/503")[::2], (503, b"status 503\n"))
        self.assertEqual(self.get("/status/404")[::2], (404, b"status 404\n"))


if __name__ == "__main__":
    harness.main()
