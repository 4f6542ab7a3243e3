"""The directory origin (`origin: dir:PATH`): files, MIME types, ETag / Last-Modified and 304,
Range (206 / 416), directory redirects, and every traversal attempt refused (400/403/404) without
ever returning a byte of a file outside the root or a hidden file."""
import os

import harness
from harness import GhalaTestCase, RawConn, base_config, dir_upstream, header, request

SECRET = b"TOP-SECRET-outside-the-root\n"
HIDDEN = b"hidden-file-contents\n"
TEXT = b"0123456789abcdefghij\n"


class DirOriginTest(GhalaTestCase):
    def setUp(self):
        super().setUp()
        root = os.path.join(self.tmp, "site")
        os.makedirs(os.path.join(root, "sub"))
        os.makedirs(os.path.join(root, ".git"))
        self.write(os.path.join(self.tmp, "secret.txt"), SECRET)
        self.write(os.path.join(root, "index.html"), b"<!doctype html><title>home</title>\n")
        self.write(os.path.join(root, "a.txt"), TEXT)
        self.write(os.path.join(root, "style.css"), b"body{}\n")
        self.write(os.path.join(root, "sub", "index.html"), b"<p>sub</p>\n")
        self.write(os.path.join(root, ".hidden"), HIDDEN)
        self.write(os.path.join(root, "sub", ".env"), HIDDEN)
        self.write(os.path.join(root, ".git", "config"), HIDDEN)
        os.symlink(os.path.join(self.tmp, "secret.txt"), os.path.join(root, "link-out.txt"))
        os.symlink(self.tmp, os.path.join(root, "dirlink-out"))
        self.g = self.start_ghala(base_config(self.tmp, {"site": dir_upstream(root)}))

    @staticmethod
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)

    def raw_get(self, target: bytes, extra: bytes = b""):
        with RawConn(self.g.port) as c:
            c.send(b"GET " + target + b" HTTP/1.1\r\nHost: main.test\r\n" + extra + b"\r\n")
            try:
                return c.read_response()
            except EOFError:
                return None  # closed without a response: acceptable for a refused target

    def test_file_is_served_with_type_validators_and_exact_body(self):
        status, hs, body = request(self.g.port, "GET", "/a.txt")
        self.assertEqual((status, body), (200, TEXT), self.ctx())
        self.assertTrue(header(hs, "Content-Type").startswith("text/plain"), hs)
        self.assertEqual(header(hs, "Content-Length"), str(len(TEXT)))
        self.assertTrue(header(hs, "ETag"), "no ETag")
        self.assertTrue(header(hs, "Last-Modified"), "no Last-Modified")
        self.assertEqual(header(hs, "Accept-Ranges"), "bytes")
        _, hs, _ = request(self.g.port, "GET", "/style.css")
        self.assertTrue(header(hs, "Content-Type").startswith("text/css"), hs)

    def test_index_html_is_served_for_the_root(self):
        status, hs, body = request(self.g.port, "GET", "/")
        self.assertEqual((status, body), (200, b"<!doctype html><title>home</title>\n"))
        self.assertTrue(header(hs, "Content-Type").startswith("text/html"), hs)

    def test_if_none_match_gives_304_without_body(self):
        _, hs, _ = request(self.g.port, "GET", "/a.txt")
        etag = header(hs, "ETag")
        r = self.raw_get(b"/a.txt", b"If-None-Match: " + etag.encode() + b"\r\n")
        self.assertEqual((r.status, r.body, r.header("ETag")), (304, b"", etag))
        r = self.raw_get(b"/a.txt", b'If-None-Match: "something-else"\r\n')
        self.assertEqual((r.status, r.body), (200, TEXT))

    def test_if_modified_since_gives_304(self):
        _, hs, _ = request(self.g.port, "GET", "/a.txt")
        lm = header(hs, "Last-Modified")
        r = self.raw_get(b"/a.txt", b"If-Modified-Since: " + lm.encode() + b"\r\n")
        self.assertEqual((r.status, r.body), (304, b""))

    def test_range_gives_206_with_exact_bytes(self):
        n = len(TEXT)
        for rng, want, content_range in ((b"bytes=0-3", TEXT[0:4], f"bytes 0-3/{n}"),
                                         (b"bytes=10-", TEXT[10:], f"bytes 10-{n - 1}/{n}"),
                                         (b"bytes=-3", TEXT[-3:], f"bytes {n - 3}-{n - 1}/{n}"),
                                         (b"bytes=5-5000", TEXT[5:], f"bytes 5-{n - 1}/{n}")):
            with self.subTest(range=rng):
                r = self.raw_get(b"/a.txt", b"Range: " + rng + b"\r\n")
                self.assertEqual((r.status, r.body, r.header("Content-Range")),
                                 (206, want, content_range))

    def test_unsatisfiable_range_gives_416(self):
        r = self.raw_get(b"/a.txt", b"Range: bytes=1000-2000\r\n")
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("Content-Range"), f"bytes */{len(TEXT)}")

    def test_head_on_file_gives_length_without_body(self):
        with RawConn(self.g.port) as c:
            c.send(b"HEAD /a.txt HTTP/1.1\r\nHost: main.test\r\n\r\n")
            r = c.read_response("HEAD")
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, str(len(TEXT)), b""))

    def test_directory_without_slash_redirects_with_301(self):
        r = self.raw_get(b"/sub")
        self.assertEqual(r.status, 301)
        self.assertTrue(r.header("Location").endswith("/sub/"), r.headers)
        r = self.raw_get(b"/sub/")
        self.assertEqual((r.status, r.body), (200, b"<p>sub</p>\n"))

    def test_missing_file_gives_404(self):
        self.assertEqual(self.raw_get(b"/nope.txt").status, 404)

    def test_traversal_attempts_never_return_outside_or_hidden_files(self):
        targets = [
            b"/../secret.txt", b"/sub/../../secret.txt", b"/%2e%2e/secret.txt",
            b"/%2E%2E/secret.txt", b"/.%2e/secret.txt", b"/sub/%2e%2e/%2e%2e/secret.txt",
            b"/%2e%2e%2fsecret.txt", b"/sub%2F..%2F..%2Fsecret.txt", b"/..%2Fsecret.txt",
            b"/..%5csecret.txt", b"/a.txt%00.html", b"/%00", b"/link-out.txt",
            b"/dirlink-out/secret.txt", b"/.hidden", b"/sub/.env", b"/.git/config",
            b"/%2ehidden", b"/sub/./../.hidden", b"//../secret.txt", b"/./../secret.txt",
        ]
        for target in targets:
            with self.subTest(target=target):
                r = self.raw_get(target)
                if r is None:
                    continue
                self.assertIn(r.status, (400, 403, 404), f"{target!r} gave {r.status}")
                self.assertNotIn(b"SECRET", r.body)
                self.assertNotIn(b"hidden-file", r.body)
        self.assertTrue(self.g.alive(), self.ctx())

    def test_dot_segments_inside_the_root_do_not_escape(self):
        r = self.raw_get(b"/sub/../a.txt")
        # Normalised inside the root (RFC 3986 remove_dot_segments) or refused; never outside.
        if r is not None:
            self.assertIn(r.status, (200, 400, 403, 404))
            if r.status == 200:
                self.assertEqual(r.body, TEXT)


if __name__ == "__main__":
    harness.main()
