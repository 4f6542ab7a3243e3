"""HTTP cache, first slice (issue 3): RFC 9111 storability, freshness and Age on the wire, hits
served without the origin, Cache-Status (RFC 9211), Vary variants, HEAD from a stored GET,
invalidation after unsafe methods, cache rules (ttl, force_ttl, min/max_ttl, negative_ttl,
ignore_query, bypass, cache: false), the Host in the key, the memory bound and
max_object_size, and the access-log field and lookup metric.

The origin's /counter endpoint answers "PATH #N" (N = origin requests for that path so far), so a
body tells which origin response a hit replays, and ?set=Name:Value makes the origin send
Cache-Control, Vary, Set-Cookie... on /counter, /bytes and /chunked. The origin counts requests
per path without the query (Origin.path_count), which is how every test proves that a hit did not
reach the origin.
"""
import email.utils
import os
import re
import time
import urllib.parse

import harness
from harness import (GhalaTestCase, RawConn, base_config, dir_upstream, header, header_all,
                     http_upstream, pattern_bytes, request, route, wait_until)

LOOKUPS = "ghala_cache_lookups_total"
HOST = "main.test"  # every request names it: the key includes the Host, so it must not vary
LONG = 600          # a max-age that cannot run out during a test
EXPIRE_WAIT = 2.2   # past a max-age=1 lifetime, whole seconds of age included


def cc(value: str) -> tuple[str, str]:
    return ("Cache-Control", value)


def url(path: str, *set_headers: tuple[str, str], **query) -> str:
    """path plus ?set=Name:Value for each response header the origin must send, then query."""
    params = [("set", f"{n}:{v}") for n, v in set_headers]
    for k, v in query.items():
        params += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    if not params:
        return path
    sep = "&" if "?" in path else "?"
    return path + sep + urllib.parse.urlencode(params, safe=":/", quote_via=urllib.parse.quote)


def http_date(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def parse_cache_status(headers) -> dict | None:
    """ghala's member of Cache-Status (RFC 9211) as {param: value}: {"hit": True, "ttl": 599},
    {"fwd": "uri-miss", "stored": True}. None when ghala added no member."""
    members = [m.strip() for v in header_all(headers, "Cache-Status") for m in v.split(",")]
    mine = [m for m in members if m.split(";", 1)[0].strip() == "ghala"]
    if not mine:
        return None
    params = {}
    for p in mine[-1].split(";")[1:]:
        k, eq, v = p.strip().partition("=")
        if not eq:
            params[k] = True
        elif re.fullmatch(r"-?\d+", v):
            params[k] = int(v)
        else:
            params[k] = v.strip('"')
    return params


class Got:
    """One response: status, headers (pairs), body, and ghala's Cache-Status parameters."""

    def __init__(self, method, target, status, headers, body):
        self.method, self.target = method, target
        self.status, self.headers, self.body = status, headers, body
        self.cs = parse_cache_status(headers)

    def header(self, name):
        return header(self.headers, name)

    def __repr__(self):
        return (f"{self.method} {self.target} -> {self.status} "
                f"Cache-Status={header_all(self.headers, 'Cache-Status')} "
                f"Age={self.header('Age')!r} body={self.body[:60]!r}")


class CacheTestCase(GhalaTestCase):
    def fetch(self, target, method="GET", headers=None, body=None, host=HOST) -> Got:
        status, hs, data = request(self.ghala.port, method, target, headers=headers, body=body,
                                   host=host)
        return Got(method, target, status, hs, data)

    def proxy(self, sites=None, **over):
        """One origin "o" behind ghala; sites default to one default site routing / to it."""
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr)}, sites=sites, **over)
        return self.start_ghala(cfg), o

    def site(self, routes, name="main", hosts=(HOST,), default=True, cache=None) -> dict:
        s = {"name": name, "hosts": list(hosts), "default": default, "routes": routes}
        if cache is not None:
            s["cache"] = cache
        return s

    # --- assertions ---
    def fail_with(self, r: Got, msg: str):
        self.fail(f"{msg}\n  {r!r}\n{self.ctx()}")

    def age_of(self, r: Got) -> int:
        ages = header_all(r.headers, "Age")
        if len(ages) != 1 or not re.fullmatch(r"\d+", ages[0]):
            self.fail_with(r, f"want exactly one Age header with integer seconds, got {ages}")
        return int(ages[0])

    def assertHit(self, r: Got, lifetime: int | None = None, tolerance: int = 1,
                  status: int = 200) -> int:
        """A hit: status, Cache-Status `ghala; hit; ttl=N`, Age >= 0; with lifetime, ttl + Age
        is the freshness lifetime (within tolerance seconds). Returns ttl."""
        if r.status != status:
            self.fail_with(r, f"status {r.status}, want {status}")
        if r.cs is None or r.cs.get("hit") is not True or "fwd" in r.cs:
            self.fail_with(r, "want a cache hit (Cache-Status: ghala; hit; ttl=N)")
        ttl = r.cs.get("ttl")
        if not isinstance(ttl, int):
            self.fail_with(r, "hit without an integer ttl parameter")
        age = self.age_of(r)
        if lifetime is not None and abs(ttl + age - lifetime) > tolerance:
            self.fail_with(r, f"ttl {ttl} + Age {age} = {ttl + age}, want the freshness "
                              f"lifetime {lifetime} (±{tolerance})")
        return ttl

    def assertForwarded(self, r: Got, fwd: str, stored: bool, detail: str | None = None,
                        status: int = 200):
        """A response from the origin: Cache-Status `ghala; fwd=FWD[; stored][; detail=...]`."""
        if r.status != status:
            self.fail_with(r, f"status {r.status}, want {status}")
        if r.cs is None or r.cs.get("hit") or r.cs.get("fwd") != fwd:
            self.fail_with(r, f"want Cache-Status: ghala; fwd={fwd}")
        if (r.cs.get("stored") is True) != stored:
            self.fail_with(r, "want the response stored" if stored else
                           "want the response not stored (no `stored` parameter)")
        if detail is not None and r.cs.get("detail") != detail:
            self.fail_with(r, f"want detail={detail}")

    def assertNotHit(self, r: Got, status: int = 200):
        if r.status != status:
            self.fail_with(r, f"status {r.status}, want {status}")
        if r.cs is not None and r.cs.get("hit"):
            self.fail_with(r, "served from the cache, want a response from the origin")

    def assertOriginCount(self, origin, path: str, want: int, what: str = ""):
        got = origin.path_count(path)
        self.assertEqual(got, want, f"origin requests for {path}: {got}, want {want} {what}\n"
                                    f"{self.ctx()}")

    def assertBody(self, r: Got, want: bytes):
        if r.body != want:
            self.fail_with(r, f"body ({len(r.body)} bytes) differs from the expected "
                              f"{len(want)} bytes {want[:60]!r}")


# ---------------------------------------------------------------------------------------------

class HitTest(CacheTestCase):
    def test_second_get_is_a_hit_served_without_the_origin(self):
        g, o = self.proxy()
        target = url("/counter/a", cc(f"max-age={LONG}"))
        r1 = self.fetch(target)
        self.assertForwarded(r1, "uri-miss", stored=True)
        self.assertBody(r1, b"/counter/a #1\n")
        for _ in range(2):
            r = self.fetch(target)
            self.assertHit(r, lifetime=LONG)
            self.assertBody(r, b"/counter/a #1\n")
            self.assertEqual(r.header("Content-Type"), "text/plain", r)
            self.assertEqual(r.header("Cache-Control"), f"max-age={LONG}", r)
            self.assertNotEqual(r.header("X-Request-Id"), r1.header("X-Request-Id"),
                                f"a hit replays the stored request id: {r}")
        self.assertOriginCount(o, "/counter/a", 1, "(one miss, two hits)")

    def test_hit_head_has_each_field_once_and_combines_a_stored_via(self):
        # Two ways of writing a hit's head (a text fast path for objects without stored Via,
        # X-Request-Id or Connection, the header map otherwise) must give the same fields.
        g, o = self.proxy()
        plain = url("/counter/head-plain", cc(f"max-age={LONG}"))
        relayed = url("/counter/head-via", cc(f"max-age={LONG}"), ("Via", "1.1 upstream"),
                      ("X-Request-Id", "from-origin"))
        for target, via in ((plain, "1.1 ghala"), (relayed, "1.1 upstream, 1.1 ghala")):
            with self.subTest(target=target):
                self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
                for conn in ("keep-alive", "close"):
                    r = self.fetch(target, headers={"X-Request-Id": "mine-1",
                                                    "Connection": conn})
                    self.assertHit(r, lifetime=LONG)
                    for name in ("Age", "Content-Length", "Date", "Via", "X-Request-Id",
                                 "Cache-Status", "Cache-Control", "Content-Type"):
                        self.assertEqual(len(header_all(r.headers, name)), 1, f"{name}: {r}")
                    self.assertEqual(r.header("Via"), via, r)
                    self.assertEqual(r.header("X-Request-Id"), "mine-1", r)
                    self.assertEqual(r.header("Content-Length"), str(len(r.body)), r)
                    want = ["close"] if conn == "close" else []
                    self.assertEqual(header_all(r.headers, "Connection"), want, r)

    def test_hit_age_includes_the_age_the_origin_sent(self):
        g, o = self.proxy()
        target = url("/counter/aged", cc(f"max-age={LONG}"), ("Age", "100"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        r = self.fetch(target)
        ttl = self.assertHit(r, lifetime=LONG)
        self.assertGreaterEqual(self.age_of(r), 100, r)
        self.assertLessEqual(ttl, LONG - 100, r)
        self.assertOriginCount(o, "/counter/aged", 1)

    def test_hit_body_is_byte_identical_to_the_origin_body(self):
        g, o = self.proxy()
        for n in (100_000, 2 * 1024 * 1024):
            with self.subTest(bytes=n):
                target = url(f"/bytes/{n}", cc(f"max-age={LONG}"))
                r1 = self.fetch(target)
                self.assertForwarded(r1, "uri-miss", stored=True)
                self.assertBody(r1, pattern_bytes(n))
                r2 = self.fetch(target)
                self.assertHit(r2)
                self.assertBody(r2, pattern_bytes(n))
                self.assertEqual(r2.header("Content-Length"), str(n), r2)
                self.assertOriginCount(o, f"/bytes/{n}", 1)

    def test_chunked_origin_response_is_stored_and_served_with_correct_framing(self):
        g, o = self.proxy()
        n = 100_000
        target = url(f"/chunked/{n}", cc(f"max-age={LONG}"), chunk="7000")
        r1 = self.fetch(target)
        self.assertForwarded(r1, "uri-miss", stored=True)
        self.assertBody(r1, pattern_bytes(n))
        # Byte-exact reader: two hits on one connection. A wrong length or a broken chunk would
        # make the first body wrong or the second response unparseable.
        with RawConn(g.port) as c:
            for i in range(2):
                c.send(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                resp = c.read_response()
                r = Got("GET", target, resp.status, resp.headers, resp.body)
                self.assertHit(r)
                self.assertBody(r, pattern_bytes(n))
                te, cl = r.header("Transfer-Encoding"), r.header("Content-Length")
                if (te is None) == (cl is None):
                    self.fail_with(r, f"want exactly one of Content-Length / Transfer-Encoding, "
                                      f"got {cl!r} / {te!r}")
                if cl is not None:
                    self.assertEqual(cl, str(n), r)
        self.assertOriginCount(o, f"/chunked/{n}", 1)

    def test_head_after_get_is_answered_from_the_stored_get(self):
        g, o = self.proxy()
        n = 5000
        target = url(f"/bytes/{n}", cc(f"max-age={LONG}"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        with RawConn(g.port) as c:
            c.send(f"HEAD {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            resp = c.read_response("HEAD")
            r = Got("HEAD", target, resp.status, resp.headers, resp.body)
            self.assertHit(r)
            self.assertEqual(r.header("Content-Length"), str(n), f"HEAD: {r}")
            # A HEAD response has no body: if ghala sent one, this GET's response would not
            # parse (or would be the body bytes).
            c.send(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            resp = c.read_response()
            r = Got("GET", target, resp.status, resp.headers, resp.body)
            self.assertHit(r)
            self.assertBody(r, pattern_bytes(n))
        self.assertOriginCount(o, f"/bytes/{n}", 1, "(the HEAD must not reach the origin)")


class StorabilityTest(CacheTestCase):
    def test_responses_that_must_not_be_stored_go_to_the_origin_every_time(self):
        g, o = self.proxy()
        cases = [  # name, response headers, request headers, Cache-Status detail
            ("no-store", [cc(f"no-store, max-age={LONG}")], {}, "no-store"),
            ("private", [cc(f"private, max-age={LONG}")], {}, "private"),
            ("set-cookie", [cc(f"max-age={LONG}"), ("Set-Cookie", "id=42; Path=/")], {},
             "set-cookie"),
            ("authorization", [cc(f"max-age={LONG}")], {"Authorization": "Bearer t0ken"},
             "authorization"),
        ]
        for name, resp_headers, req_headers, detail in cases:
            with self.subTest(name):
                path = f"/counter/{name}"
                target = url(path, *resp_headers)
                r1 = self.fetch(target, headers=req_headers)
                self.assertForwarded(r1, "uri-miss", stored=False, detail=detail)
                self.assertBody(r1, f"{path} #1\n".encode())
                r2 = self.fetch(target, headers=req_headers)
                # The second request may also be answered by a hit-for-pass marker: only "from
                # the origin, not stored" is part of this slice's contract.
                self.assertNotHit(r2)
                self.assertNotEqual(r2.cs.get("stored") if r2.cs else None, True, r2)
                self.assertBody(r2, f"{path} #2\n".encode())
                self.assertOriginCount(o, path, 2)
                if name == "set-cookie":
                    self.assertEqual(r2.header("Set-Cookie"), "id=42; Path=/", r2)

    def test_authorization_response_is_stored_with_public_s_maxage_or_must_revalidate(self):
        g, o = self.proxy()
        auth = {"Authorization": "Bearer t0ken"}
        for i, value in enumerate([f"public, max-age={LONG}", f"s-maxage={LONG}",
                                   f"max-age={LONG}, must-revalidate"]):
            with self.subTest(value):
                path = f"/counter/auth{i}"
                target = url(path, cc(value))
                self.assertForwarded(self.fetch(target, headers=auth), "uri-miss", stored=True)
                r = self.fetch(target, headers=auth)
                self.assertHit(r, lifetime=LONG)
                self.assertBody(r, f"{path} #1\n".encode())
                self.assertOriginCount(o, path, 1)

    def test_s_maxage_beats_max_age(self):
        g, o = self.proxy()
        target = url("/counter/s", cc(f"max-age=0, s-maxage={LONG}"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        self.assertHit(self.fetch(target), lifetime=LONG)
        self.assertOriginCount(o, "/counter/s", 1)
        # And the other way round: s-maxage=0 makes a max-age=600 response stale at once.
        target = url("/counter/s0", cc(f"max-age={LONG}, s-maxage=0"))
        self.fetch(target)
        self.assertNotHit(self.fetch(target))
        self.assertOriginCount(o, "/counter/s0", 2)

    def test_expires_minus_date_is_the_lifetime_without_max_age(self):
        g, o = self.proxy()
        now = time.time()
        target = url("/counter/exp", ("Date", http_date(now)), ("Expires", http_date(now + LONG)))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        self.assertHit(self.fetch(target), lifetime=LONG, tolerance=2)
        self.assertOriginCount(o, "/counter/exp", 1)

    def test_heuristic_lifetime_is_ten_percent_of_date_minus_last_modified(self):
        g, o = self.proxy()
        now = time.time()
        target = url("/counter/lm", ("Date", http_date(now)),
                     ("Last-Modified", http_date(now - 10 * LONG)))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        self.assertHit(self.fetch(target), lifetime=LONG, tolerance=2)
        self.assertOriginCount(o, "/counter/lm", 1)

    def test_response_without_freshness_information_is_not_reused(self):
        g, o = self.proxy()
        for _ in range(2):
            self.assertNotHit(self.fetch("/counter/plain"))
        self.assertOriginCount(o, "/counter/plain", 2)

    def test_client_no_cache_and_max_age_0_are_ignored_by_default(self):
        g, o = self.proxy()
        target = url("/counter/reload", cc(f"max-age={LONG}"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        for req in ({"Cache-Control": "no-cache"}, {"Pragma": "no-cache"},
                    {"Cache-Control": "max-age=0"}):
            with self.subTest(req):
                r = self.fetch(target, headers=req)
                self.assertHit(r)
                self.assertBody(r, b"/counter/reload #1\n")
        self.assertOriginCount(o, "/counter/reload", 1)

    def test_expired_response_is_fetched_again_and_stored(self):
        g, o = self.proxy()
        target = url("/counter/short", cc("max-age=1"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        time.sleep(EXPIRE_WAIT)  # the spec'd expiry: past max-age=1 in whole seconds of age
        r = self.fetch(target)
        self.assertForwarded(r, "stale", stored=True)
        self.assertBody(r, b"/counter/short #2\n")
        self.assertOriginCount(o, "/counter/short", 2)


class VaryTest(CacheTestCase):
    def test_vary_keeps_one_variant_per_request_header_value(self):
        g, o = self.proxy()
        path = "/counter/v"
        target = url(path, cc(f"max-age={LONG}"), ("Vary", "Accept-Language"),
                     echo="Accept-Language")

        def get(lang):
            return self.fetch(target, headers={"Accept-Language": lang} if lang else None)

        fr1 = get("fr")
        self.assertForwarded(fr1, "uri-miss", stored=True)
        self.assertBody(fr1, f"{path} #1\nAccept-Language: fr\n".encode())
        en1 = get("en")
        self.assertForwarded(en1, "vary-miss", stored=True)
        self.assertBody(en1, f"{path} #2\nAccept-Language: en\n".encode())
        for lang, body in (("fr", fr1.body), ("en", en1.body), ("fr", fr1.body)):
            r = get(lang)
            self.assertHit(r)
            self.assertBody(r, body)
        self.assertOriginCount(o, path, 2)
        # An absent header is a value of its own (RFC 9111 §4.1).
        r = get(None)
        self.assertForwarded(r, "vary-miss", stored=True)
        self.assertBody(r, f"{path} #3\nAccept-Language: <absent>\n".encode())
        self.assertHit(get(None))
        self.assertOriginCount(o, path, 3)

    def test_vary_accept_encoding_keeps_one_variant_per_encoding_list(self):
        # Browsers send a handful of distinct Accept-Encoding values; each is its own variant
        # (RFC 9111 §4.1: values are compared after normalising whitespace, not by meaning).
        g, o = self.proxy()
        path = "/counter/ae"
        target = url(path, cc(f"max-age={LONG}"), ("Vary", "Accept-Encoding"),
                     echo="Accept-Encoding")

        def get(ae):
            return self.fetch(target, headers={"Accept-Encoding": ae})

        br = get("br, gzip")
        self.assertForwarded(br, "uri-miss", stored=True)
        gz = get("gzip")
        self.assertForwarded(gz, "vary-miss", stored=True)
        self.assertNotEqual(br.body, gz.body)
        for ae, body in (("gzip", gz.body), ("br, gzip", br.body), ("br,gzip", br.body)):
            r = get(ae)
            self.assertHit(r)
            self.assertBody(r, body)
        self.assertOriginCount(o, path, 2)

    def test_vary_star_is_never_stored(self):
        g, o = self.proxy()
        target = url("/counter/star", cc(f"max-age={LONG}"), ("Vary", "*"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=False, detail="vary-star")
        self.assertNotHit(self.fetch(target))
        self.assertOriginCount(o, "/counter/star", 2)


class InvalidationTest(CacheTestCase):
    def test_successful_unsafe_methods_invalidate_the_stored_response(self):
        g, o = self.proxy()
        other = url("/counter/other", cc(f"max-age={LONG}"))
        self.assertForwarded(self.fetch(other), "uri-miss", stored=True)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            with self.subTest(method):
                path = f"/counter/inv-{method.lower()}"
                target = url(path, cc(f"max-age={LONG}"))
                self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
                self.assertHit(self.fetch(target))
                r = self.fetch(target, method=method, body=b"changed")
                self.assertEqual(r.status, 200, r)
                r = self.fetch(target)
                self.assertForwarded(r, "uri-miss", stored=True)
                self.assertBody(r, f"{path} #3\n".encode())  # GET, unsafe request, this GET
                self.assertHit(self.fetch(target))
                self.assertOriginCount(o, path, 3)
        r = self.fetch(other)
        self.assertHit(r)  # another URL is untouched
        self.assertBody(r, b"/counter/other #1\n")

    def test_unsafe_request_invalidates_every_variant(self):
        g, o = self.proxy()
        path = "/counter/vinv"
        target = url(path, cc(f"max-age={LONG}"), ("Vary", "Accept-Language"),
                     echo="Accept-Language")
        for lang, fwd in (("fr", "uri-miss"), ("en", "vary-miss")):
            self.assertForwarded(self.fetch(target, headers={"Accept-Language": lang}), fwd,
                                 stored=True)
            self.assertHit(self.fetch(target, headers={"Accept-Language": lang}))
        self.assertEqual(self.fetch(target, method="POST", body=b"x").status, 200)
        self.assertOriginCount(o, path, 3)
        for lang in ("fr", "en"):
            with self.subTest(lang):
                r = self.fetch(target, headers={"Accept-Language": lang})
                self.assertNotHit(r)
                self.assertIn(f"Accept-Language: {lang}\n".encode(), r.body, r)
        self.assertOriginCount(o, path, 5)

    def test_failed_unsafe_request_does_not_invalidate(self):
        g, o = self.proxy()
        path = "/counter/keep"
        target = url(path, cc(f"max-age={LONG}"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        r = self.fetch(target, method="POST", body=b"x", headers={"X-Counter-Status": "500"})
        self.assertEqual(r.status, 500, r)
        r = self.fetch(target)
        self.assertHit(r)
        self.assertBody(r, f"{path} #1\n".encode())
        self.assertOriginCount(o, path, 2)


class RulesTest(CacheTestCase):
    def test_rule_ttl_stores_a_response_without_freshness_and_defers_to_max_age(self):
        g, o = self.proxy(sites=[self.site([route("/ttl/", "o", cache=[{"ttl": "60s"}]),
                                            route("/", "o")])])
        r1 = self.fetch("/ttl/counter/a")
        self.assertForwarded(r1, "uri-miss", stored=True)
        r2 = self.fetch("/ttl/counter/a")
        self.assertHit(r2, lifetime=60)
        self.assertBody(r2, r1.body)
        self.assertOriginCount(o, "/ttl/counter/a", 1)
        # ttl is only a default: the origin's max-age wins.
        target = url("/ttl/counter/b", cc(f"max-age={LONG}"))
        self.fetch(target)
        self.assertHit(self.fetch(target), lifetime=LONG)
        # Control: the same response on a route without the rule is not reused.
        self.fetch("/counter/a")
        self.assertNotHit(self.fetch("/counter/a"))
        self.assertOriginCount(o, "/counter/a", 2)

    def test_rule_force_ttl_overrides_the_origin_max_age(self):
        g, o = self.proxy(sites=[self.site([route("/", "o", cache=[{"force_ttl": "900s"}])])])
        target = url("/counter/f", cc("max-age=5"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        self.assertHit(self.fetch(target), lifetime=900)
        self.assertOriginCount(o, "/counter/f", 1)

    def test_rule_min_ttl_and_max_ttl_clamp_the_origin_lifetime(self):
        g, o = self.proxy(sites=[self.site([
            route("/min/", "o", cache=[{"min_ttl": "300s"}]),
            route("/max/", "o", cache=[{"max_ttl": "120s"}])])])
        for path, origin_max_age, lifetime in (("/min/counter", 60, 300),
                                               ("/max/counter", LONG, 120)):
            with self.subTest(path):
                target = url(path, cc(f"max-age={origin_max_age}"))
                self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
                self.assertHit(self.fetch(target), lifetime=lifetime)
                self.assertOriginCount(o, path, 1)

    def test_rule_negative_ttl_stores_404(self):
        rules = [{"match": {"status": [404]}, "negative_ttl": "60s"}]
        g, o = self.proxy(sites=[self.site([route("/neg/", "o", cache=rules),
                                            route("/", "o")])])
        target = url("/neg/counter", status="404")
        r1 = self.fetch(target)
        self.assertForwarded(r1, "uri-miss", stored=True, status=404)
        r2 = self.fetch(target)
        self.assertHit(r2, lifetime=60, status=404)
        self.assertBody(r2, b"/neg/counter #1\n")
        self.assertOriginCount(o, "/neg/counter", 1)
        # Control: without the rule, a 404 without freshness is not reused.
        target = url("/counter", status="404")
        self.assertNotHit(self.fetch(target), status=404)
        self.assertNotHit(self.fetch(target), status=404)
        self.assertOriginCount(o, "/counter", 2)

    def test_rule_ignore_query_makes_query_variants_one_object(self):
        rules = [{"key": {"ignore_query": True}}]
        g, o = self.proxy(sites=[self.site([route("/iq/", "o", cache=rules),
                                            route("/", "o")])])
        a1 = url("/iq/counter", cc(f"max-age={LONG}"), x="1")
        a2 = url("/iq/counter", cc(f"max-age={LONG}"), x="2")
        self.assertForwarded(self.fetch(a1), "uri-miss", stored=True)
        r = self.fetch(a2)
        self.assertHit(r)
        self.assertBody(r, b"/iq/counter #1\n")
        self.assertOriginCount(o, "/iq/counter", 1)
        # Control: by default the query is part of the key.
        b1 = url("/counter", cc(f"max-age={LONG}"), x="1")
        b2 = url("/counter", cc(f"max-age={LONG}"), x="2")
        self.assertForwarded(self.fetch(b1), "uri-miss", stored=True)
        self.assertForwarded(self.fetch(b2), "uri-miss", stored=True)
        self.assertOriginCount(o, "/counter", 2)

    def test_bypass_cookie_is_never_stored_nor_served_from_cache(self):
        site = self.site([route("/", "o")], cache=[{"bypass": {"cookies": ["session"]}}])
        g, o = self.proxy(sites=[site])
        path = "/counter/by"
        target = url(path, cc(f"max-age={LONG}"))
        session = {"Cookie": "theme=dark; session=abc"}
        r = self.fetch(target, headers=session)
        self.assertForwarded(r, "bypass", stored=False)
        self.assertBody(r, f"{path} #1\n".encode())
        r = self.fetch(target)  # the bypassed response was not stored
        self.assertForwarded(r, "uri-miss", stored=True)
        self.assertBody(r, f"{path} #2\n".encode())
        r = self.fetch(target, headers=session)  # nor is the stored one served to a bypass
        self.assertForwarded(r, "bypass", stored=False)
        self.assertBody(r, f"{path} #3\n".encode())
        for hs in (None, {"Cookie": "theme=dark"}):
            with self.subTest(cookie=hs):
                r = self.fetch(target, headers=hs)
                self.assertHit(r)
                self.assertBody(r, f"{path} #2\n".encode())  # the bypass did not replace it
        self.assertOriginCount(o, path, 3)

    def test_cache_false_on_a_route_or_a_site_passes_every_request(self):
        sites = [self.site([route("/off/", "o", cache=[{"cache": False}]), route("/", "o")]),
                 self.site([route("/", "o")], name="off", hosts=["off.test"], default=False,
                           cache=[{"cache": False}])]
        g, o = self.proxy(sites=sites)
        for path, host in (("/off/counter", HOST), ("/counter/site-off", "off.test")):
            with self.subTest(path):
                target = url(path, cc(f"public, max-age={LONG}"))
                for n in (1, 2):
                    r = self.fetch(target, host=host)
                    self.assertNotHit(r)
                    self.assertBody(r, f"{path} #{n}\n".encode())
                self.assertOriginCount(o, path, 2)
        # Control: the same response on a cached route of the first site.
        target = url("/counter/on", cc(f"public, max-age={LONG}"))
        self.fetch(target)
        self.assertHit(self.fetch(target))

    def test_dir_origin_is_not_cached(self):
        root = os.path.join(self.tmp, "public")
        os.mkdir(root)
        f = os.path.join(root, "page.txt")
        with open(f, "w", encoding="ascii") as fh:
            fh.write("version one\n")
        sites = [self.site([route("/", "static")], cache=[{"ttl": "60s"}])]
        cfg = base_config(self.tmp, {"static": dir_upstream(root)}, sites=sites)
        self.start_ghala(cfg)
        r = self.fetch("/page.txt")
        self.assertEqual((r.status, r.body), (200, b"version one\n"), r)
        self.assertNotHit(r)
        with open(f, "w", encoding="ascii") as fh:
            fh.write("version two, longer\n")
        os.utime(f, (time.time() + 5, time.time() + 5))
        r = self.fetch("/page.txt")
        self.assertEqual((r.status, r.body), (200, b"version two, longer\n"), r)
        self.assertNotHit(r)
        lines = wait_until(lambda: (lambda ls: ls if len(ls) >= 2 else None)(
            self.ghala.access_log_lines()), 15, "2 access-log lines")
        self.assertEqual([rec["cache_status"] for rec in lines], ["pass", "pass"], lines)


class KeyTest(CacheTestCase):
    def test_same_path_on_two_hosts_is_two_objects(self):
        sites = [self.site([route("/", "o")], name="a", hosts=["a.test", "a2.test"]),
                 self.site([route("/", "o")], name="b", hosts=["b.test"], default=False)]
        g, o = self.proxy(sites=sites)
        path = "/counter/k"
        target = url(path, cc(f"max-age={LONG}"), echo="Host")
        first = {}
        for n, host in enumerate(("a.test", "b.test", "a2.test"), 1):
            r = self.fetch(target, host=host)
            self.assertForwarded(r, "uri-miss", stored=True)
            self.assertBody(r, f"{path} #{n}\nHost: {host}\n".encode())
            first[host] = r.body
        for host in ("a.test", "b.test", "a2.test"):
            r = self.fetch(target, host=host)
            self.assertHit(r)
            self.assertBody(r, first[host])
        self.assertOriginCount(o, path, 3)


class StorageTest(CacheTestCase):
    def test_object_larger_than_max_object_size_is_passed_through_not_stored(self):
        g, o = self.proxy(cache={"max_object_size": "64KiB"})
        n = 100_000
        target = url(f"/bytes/{n}", cc(f"max-age={LONG}"))
        for _ in range(2):
            r = self.fetch(target)
            self.assertNotHit(r)
            self.assertBody(r, pattern_bytes(n))
        self.assertOriginCount(o, f"/bytes/{n}", 2)
        # Control: a small object is stored under the same settings.
        small = url("/bytes/1000", cc(f"max-age={LONG}"))
        self.fetch(small)
        self.assertHit(self.fetch(small))

    def test_memory_tier_is_bounded_by_max_size(self):
        g, o = self.proxy(cache={"memory": {"max_size": "1MiB"}})
        base, count = 50_000, 60  # 3 MB of bodies through a 1 MiB cache
        sizes = [base + i for i in range(count)]  # one origin path per object
        for n in sizes:
            target = url(f"/bytes/{n}", cc(f"max-age={LONG}"))
            self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
            r = self.fetch(target)  # each object fits and is stored...
            self.assertHit(r)
            self.assertBody(r, pattern_bytes(n))
        for n in sizes:
            self.assertBody(self.fetch(url(f"/bytes/{n}", cc(f"max-age={LONG}"))),
                            pattern_bytes(n))
        # ...but at most 1 MiB of them stay: at least 40 of the 60 must be fetched again.
        paths = o.stats()["paths"]
        refetched = sum(paths.get(f"/bytes/{n}", 0) - 1 for n in sizes)
        self.assertGreaterEqual(refetched, count - (1 << 20) // base,
                                f"only {refetched} of {count} objects were fetched again through "
                                f"a 1 MiB memory tier after {count * base} bytes\n{self.ctx()}")


class ObservabilityTest(CacheTestCase):
    def cache_config(self):
        sites = [self.site([route("/off/", "o", cache=[{"cache": False}]), route("/", "o")],
                           cache=[{"bypass": {"cookies": ["session"]}}])]
        return self.proxy(sites=sites)

    def one_of_each(self):
        """Requests, in order, with the cache_status the access log must say for each."""
        fresh = url("/counter/log", cc(f"max-age={LONG}"))
        short = url("/counter/short", cc("max-age=1"))
        plan = [("GET", fresh, None, "miss"), ("GET", fresh, None, "hit"),
                ("HEAD", fresh, None, "hit"),
                ("GET", fresh, {"Cookie": "session=1"}, "bypass"),
                ("GET", url("/off/counter", cc(f"max-age={LONG}")), None, "pass"),
                ("GET", short, None, "miss")]
        out = []
        for method, target, hs, want in plan:
            r = self.fetch(target, method=method, headers=hs)
            self.assertEqual(r.status, 200, r)
            out.append((r, want))
        time.sleep(EXPIRE_WAIT)
        out.append((self.fetch(short), "stale"))
        return out

    def test_access_log_cache_status_says_hit_miss_stale_bypass_pass(self):
        g, o = self.cache_config()
        done = self.one_of_each()
        post = self.fetch(url("/counter/log"), method="POST", body=b"x")
        done.append((post, "pass"))
        ids = {r.header("X-Request-Id"): (r, want) for r, want in done}
        lines = wait_until(lambda: (lambda ls: ls if len(ls) >= len(done) else None)(
            g.access_log_lines()), 15, f"{len(done)} access-log lines")
        got = {rec["request_id"]: rec["cache_status"] for rec in lines}
        for rid, (r, want) in ids.items():
            self.assertEqual(got.get(rid), want, f"access-log cache_status for {r!r}")

    def test_lookup_metric_counts_each_result(self):
        g, o = self.cache_config()
        results = ("hit", "miss", "stale", "bypass", "pass")
        before = g.metrics()
        done = self.one_of_each()
        want = {res: sum(1 for _, w in done if w == res) for res in results}

        def deltas():
            m = g.metrics()
            return {res: m.value(LOOKUPS, result=res) - before.value(LOOKUPS, result=res)
                    for res in results}
        try:
            wait_until(lambda: deltas() == want, 10, f"{LOOKUPS} deltas {want}")
            return
        except AssertionError:
            pass
        exposed = [ln for ln in g.metrics_text().splitlines() if ln.startswith(LOOKUPS)]
        self.fail(f"{LOOKUPS} moved by {deltas()}, want {want}\n{exposed}\n{self.ctx()}")


class OnlyIfCachedTest(CacheTestCase):
    def test_only_if_cached_answers_504_without_asking_the_origin(self):
        g, o = self.proxy()
        # A long lifetime for the hit (a max-age of 1 s could expire between two requests on a
        # loaded machine), and an object stored already stale (max-age=0) for the 504.
        target = url("/counter/oic", cc(f"max-age={LONG}"), ("ETag", '"e"'))
        oic = {"Cache-Control": "only-if-cached"}
        r = self.fetch(target, headers=oic)
        self.assertEqual(r.status, 504, r)
        self.assertOriginCount(o, "/counter/oic", 0, "(only-if-cached never forwards)")
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        self.assertHit(self.fetch(target, headers=oic))
        stale = url("/counter/oic-stale", cc("max-age=0"), ("ETag", '"s"'))
        self.assertForwarded(self.fetch(stale), "uri-miss", stored=True)
        r = self.fetch(stale, headers=oic)  # answering would need a validation
        self.assertEqual(r.status, 504, r)
        self.assertOriginCount(o, "/counter/oic", 1)
        self.assertOriginCount(o, "/counter/oic-stale", 1)

if __name__ == "__main__":
    harness.main()
