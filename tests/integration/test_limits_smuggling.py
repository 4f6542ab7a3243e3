"""Request limits (414, 431, 413), malformed requests (400) and request-smuggling defences: each
pattern gets 400 and a closed connection, and the smuggled request never reaches the origin."""
import harness
from harness import GhalaTestCase, RawConn, parse_status, raw_exchange

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: main.test\r\n\r\n"


class LimitsTest(GhalaTestCase):
    def setUp(self):
        super().setUp()
        self.g, self.o = self.proxy_with_origin(limits={
            "max_request_line": "1KiB", "max_header_bytes": "4KiB", "max_headers": 20,
            "max_request_body": "1KiB"})

    def status_of(self, raw: bytes) -> int:
        data, _ = raw_exchange(self.g.port, raw)
        self.assertTrue(data, f"no response to {raw[:100]!r}\n{self.ctx()}")
        return parse_status(data)

    def test_request_line_over_limit_gives_414(self):
        raw = b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\nHost: main.test\r\n\r\n"
        self.assertEqual(self.status_of(raw), 414, self.ctx())

    def test_request_line_just_under_limit_is_served(self):
        path = b"/status/200?p=" + b"a" * 900
        raw = b"GET " + path + b" HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n"
        self.assertEqual(self.status_of(raw), 200, self.ctx())

    def test_header_bytes_over_limit_give_431(self):
        raw = b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n"
        self.assertEqual(self.status_of(raw), 431, self.ctx())

    def test_header_count_over_limit_gives_431(self):
        hs = b"".join(b"X-H%d: v\r\n" % i for i in range(25))
        raw = b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\n" + hs + b"\r\n"
        self.assertEqual(self.status_of(raw), 431, self.ctx())

    def test_content_length_body_over_limit_gives_413(self):
        raw = (b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 2048\r\n\r\n"
               + b"x" * 2048)
        self.assertEqual(self.status_of(raw), 413, self.ctx())
        self.assertEqual(self.o.path_count("/echo"), 0, "an over-limit body reached the origin")

    def test_chunked_body_over_limit_gives_413(self):
        chunk = b"x" * 600
        raw = (b"POST /echo HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\n\r\n"
               + (b"258\r\n" + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
        data, closed = raw_exchange(self.g.port, raw)
        # The head may already be on its way to the origin when the limit is crossed; the client
        # must still get 413 (or a close if the response had started), never a 200.
        self.assertTrue(data == b"" and closed or parse_status(data) == 413,
                        f"{data[:200]!r}\n{self.ctx()}")

    def test_body_within_limit_is_served(self):
        raw = (b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 1000\r\n"
               b"Connection: close\r\n\r\n" + b"x" * 1000)
        self.assertEqual(self.status_of(raw), 200, self.ctx())


class MalformedTest(GhalaTestCase):
    def setUp(self):
        super().setUp()
        self.g, self.o = self.proxy_with_origin()

    def rejected(self, raw: bytes, status: int = 400):
        self.assertRejectedAndClosed(self.g.port, raw + SMUGGLED, status)
        self.assertEqual(self.o.path_count("/smuggled"), 0, f"smuggled request got through: {raw!r}")

    # --- malformed ---
    def test_garbage_request_line_gives_400(self):
        self.rejected(b"THIS IS NOT HTTP\r\n\r\n")

    def test_missing_host_in_http11_gives_400(self):
        self.rejected(b"GET /status/200 HTTP/1.1\r\n\r\n")

    def test_control_character_in_header_name_gives_400(self):
        self.rejected(b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\nX-\x01Bad: v\r\n\r\n")

    def test_unsupported_http_version_is_refused(self):
        data, _ = raw_exchange(self.g.port, b"GET /status/200 HTTP/2.7\r\nHost: main.test\r\n\r\n")
        self.assertIn(parse_status(data), (400, 505), data[:200])

    # --- smuggling ---
    def test_content_length_with_transfer_encoding_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 4\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_transfer_encoding_with_content_length_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Length: 44\r\n\r\n0\r\n\r\n")

    def test_repeated_content_length_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n"
                      b"Content-Length: 5\r\n\r\nhello")

    def test_conflicting_content_length_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n"
                      b"Content-Length: 6\r\n\r\nhello!")

    def test_content_length_list_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5, 6\r\n\r\n"
                      b"hello!")

    def test_invalid_content_length_values_give_400(self):
        for value in (b"-1", b"+5", b"5x", b"0x5", b"", b"99999999999999999999999"):
            with self.subTest(content_length=value):
                self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length: "
                              + value + b"\r\n\r\nhello")

    def test_transfer_encoding_not_ending_in_chunked_gives_400(self):
        for value in (b"gzip", b"chunked, gzip", b"identity", b"chunked, identity",
                      b"xchunked"):
            with self.subTest(transfer_encoding=value):
                self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: "
                              + value + b"\r\n\r\n0\r\n\r\n")

    def test_bare_lf_line_endings_give_400(self):
        self.rejected(b"GET /status/200 HTTP/1.1\nHost: main.test\n\n")

    def test_bare_lf_inside_headers_gives_400(self):
        self.rejected(b"GET /status/200 HTTP/1.1\r\nHost: main.test\nX-A: b\r\n\r\n")

    def test_bare_lf_in_chunk_size_line_gives_400(self):
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n5\nhello\r\n0\r\n\r\n")

    def test_whitespace_before_colon_gives_400(self):
        self.rejected(b"GET /status/200 HTTP/1.1\r\nHost : main.test\r\n\r\n")
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nContent-Length : 5\r\n\r\n"
                      b"hello")
        self.rejected(b"POST /echo HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding\t: chunked"
                      b"\r\n\r\n0\r\n\r\n")

    def test_valid_request_after_rejections_still_served(self):
        with RawConn(self.g.port) as c:
            c.send(b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)


if __name__ == "__main__":
    harness.main()
