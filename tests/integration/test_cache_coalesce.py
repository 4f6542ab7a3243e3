"""Request coalescing (issue 3, item 3): concurrent misses on one key make one origin request;
waiters stream the leader's response as it arrives (read-while-writer); cache.lock_timeout bounds
the wait; an uncacheable answer makes the key hit-for-pass so later requests go to the origin in
parallel; Vary mismatches, leader failures and stale revalidations behave as documented in
docs/caching.md ("Coalescing").

The origin delays its answers (?delay_ms=, /slow-body/) so that requests really overlap; every
check is on behaviour (origin request counts, bodies, Cache-Status), never on elapsed time.
"""
import threading
import time

from harness import RawConn, pattern_bytes, wait_until
from test_cache import EXPIRE_WAIT, HOST, LONG, LOOKUPS, CacheTestCase, cc, url

WAITING = "ghala_cache_coalesce_waiting"


def run_concurrently(n, fn):
    """Runs fn(i) on n threads started together; returns the results in order (re-raises)."""
    results = [None] * n
    errors = []
    start = threading.Barrier(n)

    def one(i):
        try:
            start.wait()
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below with its index
            errors.append((i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise AssertionError(f"{len(errors)} requests failed, first: {errors[0]}")
    return results


def fetches_at_origin(o):
    """Requests the origin is answering now, not counting the /__stats request that asks."""
    return o.stats()["in_flight"] - 1


def two_workers(**over):
    return {"workers": 2, **over}


class CoalesceTest(CacheTestCase):
    def test_100_concurrent_cold_requests_make_one_origin_request(self):
        g, o = self.proxy(**two_workers())
        target = url("/counter/cold", cc(f"max-age={LONG}"), delay_ms="1500")
        got = run_concurrently(100, lambda i: self.fetch(target))
        for r in got:
            self.assertEqual(r.status, 200, r)
            self.assertBody(r, b"/counter/cold #1\n")
        self.assertOriginCount(o, "/counter/cold", 1, "(100 concurrent requests, one fetch)")
        forwarded = [r for r in got if r.cs and r.cs.get("fwd")]
        self.assertEqual(len(forwarded), 1, [r.cs for r in got])
        self.assertTrue(forwarded[0].cs.get("stored"), forwarded[0])
        coalesced = [r for r in got if r.cs and r.cs.get("detail") == "coalesced"]
        for r in coalesced:
            self.assertTrue(r.cs.get("hit"), r)
            self.age_of(r)
        m = g.metrics()
        self.assertEqual(m.value(LOOKUPS, result="miss"), 1)
        self.assertEqual(m.value(LOOKUPS, result="coalesced") + m.value(LOOKUPS, result="hit"),
                         99)
        self.assertGreater(m.value(LOOKUPS, result="coalesced"), 0)
        self.assertEqual(m.value("ghala_cache_origin_fetches_total", kind="foreground"), 1)
        n = len(b"/counter/cold #1\n")
        self.assertEqual(m.value("ghala_cache_served_bytes_total", source="origin"), n)
        self.assertEqual(m.value("ghala_cache_served_bytes_total", source="cache"), 99 * n)
        # The key is stored: the next request is a plain hit.
        self.assertHit(self.fetch(target))

    def test_waiter_streams_the_body_while_the_origin_is_still_sending(self):
        g, o = self.proxy(**two_workers())
        n, chunk = 400_000, 20_000
        target = url(f"/slow-body/{n}", cc(f"max-age={LONG}"), chunk=str(chunk),
                     delay_ms="100")
        with RawConn(g.port) as leader, RawConn(g.port) as waiter:
            req = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
            leader.send(req)
            wait_until(lambda: fetches_at_origin(o) == 1, 10, "the leader's fetch started")
            waiter.send(req)
            # The waiter's head and first body bytes arrive while the origin is still sending
            # (its 20 pieces take about 2 s): the waiter did not wait for the end.
            head = b""
            while b"\r\n\r\n" not in head:
                self.assertTrue(waiter._fill(), "waiter connection closed")
                head = bytes(waiter.buf)
            while len(waiter.buf) <= head.index(b"\r\n\r\n") + 4:
                self.assertTrue(waiter._fill(), "waiter connection closed")
            self.assertEqual(fetches_at_origin(o), 1,
                             "the origin finished before the waiter saw any body byte")
            self.assertIn(b"detail=coalesced", head, head[:head.index(b"\r\n\r\n")])
            self.assertIn(f"Content-Length: {n}".encode(), head)
            rw = waiter.read_response()
            rl = leader.read_response()
        self.assertEqual(rw.body, pattern_bytes(n))
        self.assertEqual(rl.body, pattern_bytes(n))
        self.assertEqual(o.path_count(f"/slow-body/{n}"), 1)

    def test_waiter_streams_a_chunked_response_with_chunked_framing(self):
        g, o = self.proxy()
        n = 300_000
        target = url(f"/chunked/{n}", cc(f"max-age={LONG}"), chunk="30000", delay_ms="50")
        got = run_concurrently(5, lambda i: self.fetch(target))
        for r in got:
            self.assertEqual(r.status, 200, r)
            self.assertBody(r, pattern_bytes(n))
        self.assertEqual(o.path_count(f"/chunked/{n}"), 1)

    def test_lock_timeout_sends_the_waiter_to_the_origin(self):
        g, o = self.proxy(cache={"lock_timeout": "300ms"})
        target = url("/counter/slow", cc(f"max-age={LONG}"), delay_ms="2500")
        got = run_concurrently(2, lambda i: self.fetch(target))
        self.assertOriginCount(o, "/counter/slow", 2, "(the waiter gave up after 300 ms)")
        details = sorted(str(r.cs.get("detail")) for r in got)
        self.assertIn("lock-timeout", details, [r.cs for r in got])
        for r in got:
            self.assertEqual(r.status, 200, r)

    def test_uncacheable_answer_makes_the_key_hit_for_pass(self):
        g, o = self.proxy(**two_workers(cache={"hit_for_pass": "60s"}))
        target = url("/counter/private", cc("private"), delay_ms="1500")
        first = run_concurrently(5, lambda i: self.fetch(target))
        # The leader's answer cannot be shared: the waiters went to the origin themselves.
        self.assertOriginCount(o, "/counter/private", 5, "(each waiter asked the origin itself)")
        for r in first:
            self.assertEqual(r.status, 200, r)
        o.reset()
        second = run_concurrently(8, lambda i: self.fetch(target))
        self.assertOriginCount(o, "/counter/private", 8)
        # Queued behind one another they would reach the origin one at a time.
        self.assertGreaterEqual(o.stats()["max_in_flight"], 2,
                                "hit-for-pass requests go to the origin in parallel")
        for r in second:
            self.assertEqual(r.cs.get("detail"), "hit-for-pass", r)
        self.assertGreaterEqual(g.metrics().value(LOOKUPS, result="pass"), 8)

    def test_vary_mismatch_goes_to_the_origin_and_matching_waiters_coalesce(self):
        g, o = self.proxy()
        target = url("/counter/lang", cc(f"max-age={LONG}"), ("Vary", "Accept-Language"),
                     delay_ms="1000")
        langs = ["fr", "fr", "fr", "sw"]

        def get(i):
            return self.fetch(target, headers={"Accept-Language": langs[i]})

        got = run_concurrently(4, get)
        fr = [r for r, lang in zip(got, langs) if lang == "fr"]
        sw = [r for r, lang in zip(got, langs) if lang == "sw"]
        self.assertEqual(len({r.body for r in fr}), 1, fr)
        self.assertNotEqual(sw[0].body, fr[0].body, got)
        # One fetch per language, whichever request led: after the vary miss, the requests that
        # want the other variant share one fetch of it.
        self.assertOriginCount(o, "/counter/lang", 2, f"{[r.cs for r in got]}")

    def test_leader_error_sends_waiters_to_the_origin(self):
        g, o = self.proxy()
        # Without explicit freshness a 503 is not storable (RFC 9111 §3): nothing to share.
        target = url("/counter/err", delay_ms="800", status="503")
        got = run_concurrently(4, lambda i: self.fetch(target))
        for r in got:
            self.assertEqual(r.status, 503, r)
        self.assertOriginCount(o, "/counter/err", 4, "(each waiter asked the origin itself)")

    def test_leader_client_gone_before_the_head_lets_a_waiter_fetch(self):
        g, o = self.proxy()
        target = url("/counter/gone", cc(f"max-age={LONG}"), delay_ms="1500")
        leader = RawConn(g.port)
        leader.send(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        wait_until(lambda: fetches_at_origin(o) == 1, 10, "the leader's fetch started")
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", self.fetch(target)))
        t.start()
        wait_until(lambda: g.metrics().value(WAITING) == 1, 10, "the second request waits")
        leader.close()
        t.join(30)
        r = result["r"]
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body.startswith(b"/counter/gone #"), r)

    def test_leader_client_gone_mid_body_the_waiter_still_gets_all_of_it(self):
        g, o = self.proxy(**two_workers())
        n, chunk = 300_000, 15_000
        target = url(f"/slow-body/{n}", cc(f"max-age={LONG}"), chunk=str(chunk), delay_ms="100")
        req = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        leader = RawConn(g.port)
        leader.send(req)
        wait_until(lambda: fetches_at_origin(o) == 1, 10, "the leader's fetch started")
        with RawConn(g.port) as waiter:
            waiter.send(req)
            while b"\r\n\r\n" not in bytes(waiter.buf):
                self.assertTrue(waiter._fill(), "waiter connection closed")
            leader.close()  # mid-body: the fetch goes on without its client
            r = waiter.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, pattern_bytes(n), "the waiter got the whole, correct body")
        self.assertEqual(o.path_count(f"/slow-body/{n}"), 1)
        # And the object was stored.
        h = self.fetch(target)
        self.assertHit(h)
        self.assertBody(h, pattern_bytes(n))

    def test_concurrent_stale_requests_make_one_revalidation(self):
        g, o = self.proxy(**two_workers())
        target = url("/counter/reval", cc("max-age=1"), ("ETag", '"T"'), delay_ms="1000")
        self.assertEqual(self.fetch(target).status, 200)
        time.sleep(EXPIRE_WAIT)  # max-age=1 runs out: the same wait as test_cache.py's
        before = o.path_count("/counter/reval")
        got = run_concurrently(20, lambda i: self.fetch(target))
        for r in got:
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.body.startswith(b"/counter/reval #1"), r)
        self.assertEqual(o.path_count("/counter/reval") - before, 1,
                         f"one conditional request for 20 stale lookups: {[r.cs for r in got]}")


if __name__ == "__main__":
    import unittest
    unittest.main()
