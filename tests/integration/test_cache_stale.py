"""HTTP cache, stale handling and validation (issue 3, items 1 and 2): conditional revalidation
with a 304 that refreshes the stored headers (RFC 9111 §4.3.3, §4.3.4), stale-if-error with the
origin refusing connections and answering 503 (RFC 5861 §4, RFC 9111 §4.2.4), the rule's grace,
no stale serving past the windows or under must-revalidate, stale-while-revalidate with exactly
one background fetch (RFC 5861 §3), and client conditionals and Range answered from a stored
object (RFC 9110 §13, §14).

The origin's /counter endpoint answers 304 to an If-None-Match naming the ETag it was told to
send (?set=ETag:"T"), and a request header X-Counter-Status: N makes it answer N for the same
target (the cache key ignores that header). Routes under /iq/ ignore the query in the cache key,
so the same object can be asked for with different ?set= response headers (a 304 with new
fields, a refetch with a longer lifetime).
"""
import threading
import time

import harness
from harness import header, pattern_bytes, route, wait_until
from test_cache import EXPIRE_WAIT, HOST, LONG, CacheTestCase, cc, url

PAST_ONE = 3.2  # past a 1 s window after a max-age=1 lifetime, in whole seconds of age
ETAG = ("ETag", '"e1"')


class StaleTestCase(CacheTestCase):
    def proxy_iq(self, **rule):
        """Routes /iq/ with a rule ignoring the query (plus `rule`'s actions), and / plain."""
        rules = [dict({"key": {"ignore_query": True}}, **rule)]
        return self.proxy(sites=[self.site([route("/iq/", "o", cache=rules), route("/", "o")])])

    def assertStale(self, r, detail: str, body: bytes, fwd_status: int | None = None):
        """A stale object served instead of the origin's error: forwarded (RFC 9211 §2.1: not a
        hit), a negative ttl and the detail saying why."""
        if r.status != 200 or r.cs is None or r.cs.get("fwd") != "stale" or r.cs.get("hit"):
            self.fail_with(r, "want the stale object (Cache-Status: ghala; fwd=stale; ...)")
        if not isinstance(r.cs.get("ttl"), int) or r.cs["ttl"] >= 0:
            self.fail_with(r, "want a negative ttl")
        if r.cs.get("detail") != detail:
            self.fail_with(r, f"want detail={detail}")
        if r.cs.get("fwd-status") != fwd_status:
            self.fail_with(r, f"want fwd-status={fwd_status}")
        self.assertBody(r, body)
        self.age_of(r)


class RevalidationTest(StaleTestCase):
    def test_304_refreshes_the_stored_headers_and_serves_the_stored_body(self):
        g, o = self.proxy_iq()
        path = "/iq/counter/rv"
        r1 = self.fetch(url(path, cc("max-age=1"), ETAG, ("X-Version", "1")))
        self.assertForwarded(r1, "uri-miss", stored=True)
        time.sleep(EXPIRE_WAIT)
        # Same key (the query is ignored): the origin answers 304 only if ghala sent
        # If-None-Match: "e1", and its 304 carries the new fields.
        r2 = self.fetch(url(path, cc(f"max-age={LONG}"), ETAG, ("X-Version", "2")))
        self.assertForwarded(r2, "stale", stored=True)
        self.assertEqual(r2.cs.get("fwd-status"), 304, r2)
        self.assertBody(r2, f"{path} #1\n".encode())
        self.assertEqual(r2.header("X-Version"), "2", r2)
        self.assertEqual(r2.header("Cache-Control"), f"max-age={LONG}", r2)
        self.assertEqual(r2.header("Content-Length"), str(len(r2.body)), r2)
        self.assertLessEqual(self.age_of(r2), 1, r2)
        self.assertOriginCount(o, path, 2, "(the miss, then the conditional request)")
        # The refreshed object is fresh for LONG now, with the new headers and the old body.
        r3 = self.fetch(url(path, cc("max-age=1"), ETAG))
        self.assertHit(r3, lifetime=LONG)
        self.assertBody(r3, f"{path} #1\n".encode())
        self.assertEqual(r3.header("X-Version"), "2", r3)
        self.assertOriginCount(o, path, 2)
        statuses = [line.get("cache_status") for line in wait_until(
            lambda: (lambda ls: ls if len(ls) >= 3 else None)(g.access_log_lines()), 15,
            "3 access-log lines")]
        self.assertEqual(statuses[:3], ["miss", "revalidated", "hit"], statuses)

    def test_response_with_a_validator_and_no_lifetime_is_stored_and_revalidated(self):
        g, o = self.proxy()
        path = "/counter/nottl"
        target = url(path, ETAG)
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        r = self.fetch(target)
        self.assertForwarded(r, "stale", stored=True)
        self.assertEqual(r.cs.get("fwd-status"), 304, r)
        self.assertBody(r, f"{path} #1\n".encode())
        self.assertOriginCount(o, path, 2)

    def test_client_conditional_on_a_stale_object_is_forwarded_and_its_304_relayed(self):
        g, o = self.proxy()
        path = "/counter/cc304"
        target = url(path, cc("max-age=1"), ETAG)
        self.fetch(target)
        time.sleep(EXPIRE_WAIT)
        r = self.fetch(target, headers={"If-None-Match": '"e1"'})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"", r)
        self.assertOriginCount(o, path, 2)


class StaleIfErrorTest(StaleTestCase):
    def test_stale_if_error_serves_stale_when_origin_refuses(self):
        g, o = self.proxy()
        path = "/counter/sie"
        target = url(path, cc("max-age=1, stale-if-error=600"))
        self.assertForwarded(self.fetch(target), "uri-miss", stored=True)
        time.sleep(EXPIRE_WAIT)
        o.stop()
        for _ in range(2):
            self.assertStale(self.fetch(target), "stale-if-error", f"{path} #1\n".encode())

    def test_stale_answers_at_once_while_every_origin_server_is_failing(self):
        g, o = self.proxy()
        path = "/counter/suspect"
        target = url(path, cc("max-age=1, stale-if-error=600"))
        body = f"{path} #1\n".encode()
        self.fetch(target)
        time.sleep(EXPIRE_WAIT)
        o.stop()
        refused = lambda: g.metrics().value(harness.UPSTREAM_ERRORS, upstream="o",
                                            kind="connect_refused")
        self.assertStale(self.fetch(target), "stale-if-error", body)  # tried: refused
        after_first = refused()
        self.assertGreaterEqual(after_first, 1)
        # Within the next 5 s the only server is suspect: no connect attempt, stale at once.
        for _ in range(3):
            self.assertStale(self.fetch(target), "stale-if-error", body)
        self.assertEqual(refused(), after_first, "stale requests must not try the failing origin")
        # A request with nothing stale to fall back on still tries (and so probes the origin).
        self.assertEqual(self.fetch(url("/counter/fresh-miss")).status, 502)
        self.assertEqual(refused(), after_first + 1)
        suspect = lambda: [l.get("error") for l in g.access_log_lines()].count("upstream_suspect")
        wait_until(lambda: suspect() == 3, 10, "three access-log lines with upstream_suspect")

    def test_stale_if_error_replaces_an_origin_503(self):
        g, o = self.proxy()
        path = "/counter/sie503"
        target = url(path, cc("max-age=1, stale-if-error=600"))
        self.fetch(target)
        time.sleep(EXPIRE_WAIT)
        r = self.fetch(target, headers={"X-Counter-Status": "503"})
        self.assertStale(r, "stale-if-error", f"{path} #1\n".encode(), fwd_status=503)
        self.assertOriginCount(o, path, 2)
        # The origin recovers: a normal refetch replaces the object.
        r = self.fetch(target)
        self.assertForwarded(r, "stale", stored=True)
        self.assertBody(r, f"{path} #3\n".encode())

    def test_no_stale_past_the_stale_if_error_window(self):
        self.check_no_stale("max-age=1, stale-if-error=1", PAST_ONE)

    def test_must_revalidate_blocks_stale_if_error(self):
        self.check_no_stale("max-age=1, must-revalidate, stale-if-error=600", EXPIRE_WAIT)

    def check_no_stale(self, cache_control: str, wait: float):
        """The origin's 503 is relayed and a refused connection is a 502. Two objects: the 503
        (max-age=1 and storable, RFC 9111 §3) replaces the first one."""
        g, o = self.proxy()
        t503, tdown = (url(f"/counter/{p}", cc(cache_control)) for p in ("ns503", "nsdown"))
        self.fetch(t503)
        self.fetch(tdown)
        time.sleep(wait)
        r = self.fetch(t503, headers={"X-Counter-Status": "503"})
        self.assertNotHit(r, status=503)
        self.assertBody(r, b"/counter/ns503 #2\n")
        o.stop()
        r = self.fetch(tdown)
        self.assertNotHit(r, status=502)
        self.assertIsNone(r.cs and r.cs.get("detail") in ("stale-if-error", "grace") or None, r)


class GraceTest(StaleTestCase):
    def test_grace_serves_stale_when_origin_stopped_past_stale_if_error(self):
        g, o = self.proxy_iq(grace="60s")
        path = "/iq/counter/grace"
        target = url(path, cc("max-age=1, stale-if-error=1"))
        self.fetch(target)
        time.sleep(PAST_ONE)
        o.stop()
        self.assertStale(self.fetch(target), "grace", f"{path} #1\n".encode())

    def test_grace_does_not_override_must_revalidate(self):
        g, o = self.proxy_iq(grace="60s")
        path = "/iq/counter/grace-mr"
        target = url(path, cc("max-age=1, must-revalidate"))
        self.fetch(target)
        time.sleep(EXPIRE_WAIT)
        o.stop()
        self.assertNotHit(self.fetch(target), status=502)


class StaleWhileRevalidateTest(StaleTestCase):
    def test_stale_while_revalidate_serves_stale_and_makes_exactly_one_background_fetch(self):
        g, o = self.proxy_iq()
        path = "/iq/counter/swr"
        self.assertForwarded(self.fetch(url(path, cc("max-age=1, stale-while-revalidate=600"))),
                             "uri-miss", stored=True)
        time.sleep(EXPIRE_WAIT)
        # The background fetch is slow (1.5 s before the origin's head) and its response is
        # fresh for LONG; every concurrent request must be answered stale long before that.
        slow = url(path, cc(f"max-age={LONG}"), delay_ms="1500")
        results, errors = [], []

        def one():
            try:
                t0 = time.monotonic()
                r = self.fetch(slow)
                results.append((r, time.monotonic() - t0))
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 20)
        for r, took in results:
            if r.status != 200 or not r.cs or r.cs.get("hit") is not True \
                    or r.cs.get("detail") != "stale-while-revalidate" or r.cs.get("ttl", 0) >= 0:
                self.fail_with(r, "want a stale hit (ghala; hit; ttl=-N; "
                                  "detail=stale-while-revalidate)")
            self.assertBody(r, f"{path} #1\n".encode())
            self.assertLess(took, 1.2, f"a stale answer waited for the origin: {r}")
        wait_until(lambda: self.fetch(slow).body == f"{path} #2\n".encode(), 15,
                   "the background revalidation to store the new response")
        r = self.fetch(slow)
        self.assertHit(r, lifetime=LONG, tolerance=3)
        self.assertOriginCount(o, path, 2, "(the miss and exactly one background fetch)")


class ConditionalAndRangeHitTest(StaleTestCase):
    def test_client_if_none_match_and_if_modified_since_get_304_from_the_cache(self):
        g, o = self.proxy()
        path = "/counter/inm"
        lm = "Mon, 02 Jan 2023 03:04:05 GMT"
        target = url(path, cc(f"max-age={LONG}"), ETAG, ("Last-Modified", lm))
        self.fetch(target)
        for hs in ({"If-None-Match": '"e1"'}, {"If-None-Match": 'W/"e1", "x"'},
                   {"If-Modified-Since": lm}):
            with self.subTest(hs):
                r = self.fetch(target, headers=hs)
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.body, b"", r)
                self.assertEqual(r.header("ETag"), '"e1"', r)
                self.assertTrue(r.cs and r.cs.get("hit"), r)
        r = self.fetch(target, headers={"If-None-Match": '"other"'})
        self.assertHit(r)
        self.assertBody(r, f"{path} #1\n".encode())
        self.assertOriginCount(o, path, 1, "(conditionals answered by the cache)")

    def test_range_on_a_hit_gives_206_with_exact_bytes_and_416_when_unsatisfiable(self):
        g, o = self.proxy()
        # Above the 256 KiB a body may be stored as one chunk: several chunks, so that ranges
        # fall inside one chunk and across chunks.
        n = 600_000
        target = url(f"/bytes/{n}", cc(f"max-age={LONG}"), ETAG)
        self.fetch(target)
        body = pattern_bytes(n)
        for first, last in ((10, 19), (65530, 65545), (0, n - 1), (n - 5, n - 1), (70000, 140000),
                            (100, 400_000)):
            with self.subTest(range=(first, last)):
                r = self.fetch(target, headers={"Range": f"bytes={first}-{last}"})
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.header("Content-Range"), f"bytes {first}-{last}/{n}", r)
                self.assertEqual(r.header("Content-Length"), str(last - first + 1), r)
                self.assertBody(r, body[first:last + 1])
        r = self.fetch(target, headers={"Range": "bytes=-100"})
        self.assertEqual(r.status, 206, r)
        self.assertBody(r, body[-100:])
        r = self.fetch(target, headers={"Range": f"bytes={n}-"})
        self.assertEqual(r.status, 416, r)
        self.assertEqual(r.header("Content-Range"), f"bytes */{n}", r)
        # If-Range: a matching strong ETag honours the range, another one gets the whole body.
        r = self.fetch(target, headers={"Range": "bytes=0-9", "If-Range": '"e1"'})
        self.assertEqual(r.status, 206, r)
        self.assertBody(r, body[:10])
        r = self.fetch(target, headers={"Range": "bytes=0-9", "If-Range": '"e2"'})
        self.assertHit(r)
        self.assertBody(r, body)
        self.assertOriginCount(o, f"/bytes/{n}", 1)

    def test_a_body_kept_for_sendfile_is_exact_whole_and_in_ranges(self):
        # 100,000 bytes: a 1,696-byte lead on the heap, then 24 pages in the body arena
        # (SharedBytes::append_sendable); hits join the two, ranges cross the seam.
        g, o = self.proxy()
        n = 100_000
        lead = n % 4096
        target = url(f"/bytes/{n}", cc(f"max-age={LONG}"), ETAG)
        body = pattern_bytes(n)
        self.assertBody(self.fetch(target), body)
        for _ in range(3):
            r = self.fetch(target)
            self.assertHit(r)
            self.assertBody(r, body)
        for first, last in ((0, lead - 1), (lead - 5, lead + 5), (lead, n - 1), (50, n - 10),
                            (n - 4096, n - 1)):
            with self.subTest(range=(first, last)):
                r = self.fetch(target, headers={"Range": f"bytes={first}-{last}"})
                self.assertEqual(r.status, 206, r)
                self.assertBody(r, body[first:last + 1])
        self.assertOriginCount(o, f"/bytes/{n}", 1)


if __name__ == "__main__":
    harness.main()
