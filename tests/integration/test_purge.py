"""Purge API and `ghala purge` (issue 3, items 6 and 7): POST /admin/purge on the admin listener
with the cache.purge bearer token; purge by URL (every Vary variant), by prefix and by tag
(Surrogate-Key, Cache-Tag); hard purge (the next request is a miss) and soft purge (the next
request revalidates, a 304 keeps the object, and the object still serves stale under
stale-if-error and grace when the origin is down); authentication; the subcommand; the purge and
memory-tier metrics.

The origin's /counter endpoint answers "PATH #N" (N = origin requests for that path so far), so a
body says which origin response was served; ?set=Name:Value makes it send response headers.
"""
import json
import os
import socket
import subprocess
import urllib.parse

import harness
from harness import request, route
from test_cache import HOST, LONG, CacheTestCase, cc, url

TOKEN = "purge-token-0123456789"  # cache.purge.token: 16 printable characters at least
PURGES = "ghala_cache_purges_total"
PURGED = "ghala_cache_purged_objects_total"


def purge_config(token=TOKEN) -> dict:
    return {"cache": {"purge": {"token": token}}} if token else {}


class PurgeTestCase(CacheTestCase):
    def proxy(self, sites=None, token=TOKEN, **over):
        return super().proxy(sites=sites, **harness.deep_merge(purge_config(token), over))

    def purge(self, token=TOKEN, query: str = "", expect: int = 200, **params):
        """POST /admin/purge with a form body built from params (lists repeat); returns the
        parsed JSON answer for a 200, else (status, body text)."""
        pairs = []
        for k, v in params.items():
            pairs += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
        body = urllib.parse.urlencode(pairs).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        status, hs, data = request(self.ghala.admin_port, "POST", "/admin/purge" + query,
                                   headers=headers, body=body)
        self.assertEqual(status, expect, f"purge answered {status}: {data!r}\n{self.ctx()}")
        if status == 200:
            self.assertEqual(harness.header(hs, "Content-Type"), "application/json")
            return json.loads(data)
        return status, hs, data.decode()

    def stored(self, target, headers=None, fwd="uri-miss"):
        """Fetches target twice: a miss that stores it, then a hit."""
        self.assertForwarded(self.fetch(target, headers=headers), fwd, stored=True)
        self.assertHit(self.fetch(target, headers=headers))

    def assertMiss(self, r, body: bytes, fwd="uri-miss"):
        self.assertForwarded(r, fwd, stored=True)
        self.assertBody(r, body)


# ---------------------------------------------------------------------------------------------

class PurgeByUrlTest(PurgeTestCase):
    def test_hard_purge_by_url_drops_every_vary_variant_and_the_next_request_misses(self):
        g, o = self.proxy()
        path = "/counter/vary"
        target = url(path, cc(f"max-age={LONG}"), ("Vary", "Accept-Language"))
        langs = ["fr", "sw", "en"]
        for i, lang in enumerate(langs):  # one key, three variants
            self.stored(target, {"Accept-Language": lang}, "vary-miss" if i else "uri-miss")
        other = url("/counter/other", cc(f"max-age={LONG}"))
        self.stored(other)
        self.assertOriginCount(o, path, 3)

        got = self.purge(url=f"http://{HOST}{target}")
        self.assertEqual(got["purged"], 3, got)
        self.assertEqual((got["kind"], got["mode"]), ("url", "hard"), got)
        self.assertEqual(got["targets"][0]["key"], f"{HOST}{target}", got)
        # No variant is left: each goes to the origin again (the first finds no key at all).
        for i, lang in enumerate(langs):
            self.assertMiss(self.fetch(target, headers={"Accept-Language": lang}),
                            f"{path} #{4 + i}\n".encode(), "vary-miss" if i else "uri-miss")
        self.assertHit(self.fetch(other))  # another URL is untouched
        # Nothing left to purge for a URL the cache does not hold.
        self.assertEqual(self.purge(url=f"http://{HOST}/counter/never")["purged"], 0)

    def test_purge_by_url_builds_the_key_like_a_lookup(self):
        """Scheme and default port do not matter; the route's key options apply (here the query
        is ignored, so any query names the object); a host that differs is another key."""
        rules = [{"key": {"ignore_query": True}}]
        g, o = self.proxy(sites=[self.site([route("/iq/", "o", cache=rules), route("/", "o")])])
        iq = url("/iq/counter/a", cc(f"max-age={LONG}"))
        self.stored(iq)
        plain = url("/counter/b", cc(f"max-age={LONG}"))
        self.stored(plain)
        got = self.purge(url=[f"http://other.test{plain}", f"https://{HOST}:443/iq/counter/a?x=1"])
        self.assertEqual([t["memory"] for t in got["targets"]], [0, 1], got)
        self.assertEqual(got["targets"][1]["key"], f"{HOST}/iq/counter/a", got)
        self.assertMiss(self.fetch(iq), b"/iq/counter/a #2\n")
        self.assertHit(self.fetch(plain))
        got = self.purge(url=f"HTTP://MAIN.test:80{plain}")
        self.assertEqual(got["purged"], 1, got)
        self.assertMiss(self.fetch(plain), b"/counter/b #2\n")


class PurgeByPrefixAndTagTest(PurgeTestCase):
    def test_purge_by_prefix_drops_every_url_under_it_and_nothing_else(self):
        g, o = self.proxy()
        inside = [url(f"/p/{n}/counter", cc(f"max-age={LONG}")) for n in ("a", "b", "c")]
        outside = [url("/q/counter", cc(f"max-age={LONG}")), url("/pp/counter", cc(f"max-age={LONG}"))]
        for t in inside + outside:
            self.stored(t)
        got = self.purge(prefix=f"http://{HOST}/p/")
        self.assertEqual(got["purged"], 3, got)
        self.assertEqual(got["targets"][0]["key"], f"{HOST}/p/", got)
        for t, n in zip(inside, ("a", "b", "c")):
            self.assertMiss(self.fetch(t), f"/p/{n}/counter #2\n".encode())
        for t in outside:
            self.assertHit(self.fetch(t))
        # A prefix of the whole host.
        self.assertEqual(self.purge(prefix=f"http://{HOST}")["purged"], 5)

    def test_purge_by_tag_from_surrogate_key_and_from_cache_tag(self):
        g, o = self.proxy()
        life = cc(f"max-age={LONG}")
        a = url("/counter/ta", life, ("Surrogate-Key", "red  blue"))
        b = url("/counter/tb", life, ("Cache-Tag", "blue, green"))
        c = url("/counter/tc", life, ("Surrogate-Key", "red"))
        d = url("/counter/td", life)
        for t in (a, b, c, d):
            self.stored(t)
        got = self.purge(tag="green")  # Cache-Tag only
        self.assertEqual(got["purged"], 1, got)
        self.assertMiss(self.fetch(b), b"/counter/tb #2\n")
        got = self.purge(tag="red")  # Surrogate-Key only
        self.assertEqual(got["purged"], 2, got)
        self.assertMiss(self.fetch(a), b"/counter/ta #2\n")
        self.assertMiss(self.fetch(c), b"/counter/tc #2\n")
        self.assertHit(self.fetch(d))
        got = self.purge(tag=["blue", "nope"])  # a and b again (stored anew), nothing for nope
        self.assertEqual([t["memory"] for t in got["targets"]], [2, 0], got)


class SoftPurgeTest(PurgeTestCase):
    def test_soft_purge_makes_the_next_request_revalidate_and_a_304_keeps_the_object(self):
        g, o = self.proxy()
        path = "/counter/soft"
        target = url(path, cc(f"max-age={LONG}"), ("ETag", '"s1"'))
        self.stored(target)
        got = self.purge(url=f"http://{HOST}{target}", mode="soft")
        self.assertEqual((got["mode"], got["purged"]), ("soft", 1), got)
        # The origin answers 304 only to If-None-Match: "s1", i.e. a conditional request.
        r = self.fetch(target)
        self.assertForwarded(r, "stale", stored=True)
        self.assertEqual(r.cs.get("fwd-status"), 304, r)
        self.assertBody(r, f"{path} #1\n".encode())
        self.assertOriginCount(o, path, 2)
        self.assertHit(self.fetch(target), lifetime=LONG)  # validated: fresh again
        self.assertOriginCount(o, path, 2)

    def test_soft_purged_object_is_refetched_when_the_origin_has_changed(self):
        g, o = self.proxy()
        path = "/counter/soft-new"
        target = url(path, cc(f"max-age={LONG}"))  # no validator: a full fetch
        self.stored(target)
        self.purge(url=f"http://{HOST}{target}", mode="soft")
        r = self.fetch(target)
        self.assertForwarded(r, "stale", stored=True)
        self.assertBody(r, f"{path} #2\n".encode())

    def test_soft_purged_object_under_stale_while_revalidate_is_served_and_refreshed(self):
        g, o = self.proxy()
        path = "/counter/soft-swr"
        target = url(path, cc(f"max-age={LONG}, stale-while-revalidate={LONG}"))
        self.stored(target)
        self.purge(url=f"http://{HOST}{target}", mode="soft")
        r = self.fetch(target)
        if not r.cs or r.cs.get("hit") is not True \
                or r.cs.get("detail") != "stale-while-revalidate":
            self.fail_with(r, "want a stale hit (detail=stale-while-revalidate)")
        self.assertBody(r, f"{path} #1\n".encode())
        harness.wait_until(lambda: self.fetch(target).body == f"{path} #2\n".encode(), 15,
                           "the background revalidation to store the new response")
        self.assertHit(self.fetch(target), lifetime=LONG, tolerance=3)

    def test_soft_purged_object_serves_stale_if_error_and_grace_when_the_origin_is_down(self):
        rules = [{"grace": "1h"}]
        g, o = self.proxy(sites=[self.site([route("/g/", "o", cache=rules), route("/", "o")])])
        sie = url("/counter/sie", cc(f"max-age={LONG}, stale-if-error={LONG}"))
        grace = url("/g/counter", cc(f"max-age={LONG}"))
        hard = url("/counter/hard", cc(f"max-age={LONG}, stale-if-error={LONG}"))
        for t in (sie, grace, hard):
            self.stored(t)
        got = self.purge(prefix=f"http://{HOST}/", mode="soft")
        self.assertEqual(got["purged"], 3, got)
        self.assertEqual(self.purge(url=f"http://{HOST}{hard}")["purged"], 1)
        o.stop()
        r = self.fetch(sie)
        self.assertEqual((r.status, r.cs.get("fwd"), r.cs.get("detail")),
                         (200, "stale", "stale-if-error"), r)
        self.assertBody(r, b"/counter/sie #1\n")
        r = self.fetch(grace)
        self.assertEqual((r.status, r.cs.get("fwd"), r.cs.get("detail")),
                         (200, "stale", "grace"), r)
        self.assertBody(r, b"/g/counter #1\n")
        # The hard-purged object is gone: the failing origin's error reaches the client.
        self.assertNotHit(self.fetch(hard), status=502)


class PurgeAuthTest(PurgeTestCase):
    def test_no_credentials_401_wrong_token_403_right_token_200(self):
        g, o = self.proxy()
        target = url("/counter/auth", cc(f"max-age={LONG}"))
        self.stored(target)
        status, hs, body = self.purge(token=None, expect=401, url=f"http://{HOST}{target}")
        self.assertIn("Bearer", harness.header(hs, "WWW-Authenticate") or "", hs)
        for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "x" * len(TOKEN)):
            self.purge(token=wrong, expect=403, url=f"http://{HOST}{target}")
        self.assertHit(self.fetch(target))  # nothing was purged
        self.assertEqual(self.purge(url=f"http://{HOST}{target}")["purged"], 1)
        m = g.metrics()
        self.assertEqual(m.value(PURGES, kind="url", mode="hard"), 1, "refused purges count")

    def test_a_reload_changes_the_token_and_can_turn_the_api_off(self):
        g, o = self.proxy()
        self.purge(tag="t")
        new = TOKEN + "-new"
        g.reload_via_sighup(harness.deep_merge(g.config, purge_config(new)))
        self.purge(expect=403, tag="t")
        self.purge(token=new, tag="t")
        off = harness.deep_merge(g.config, {})
        del off["cache"]
        g.reload_via_sighup(off)
        self.purge(token=new, expect=404, tag="t")

    def test_clients_that_leave_before_the_answer_do_not_disturb_the_purge(self):
        """The purge answers from the thread pool; a client gone by then is skipped (under ASan
        a use of the finished exchange would abort ghala, which must exit 0 at teardown)."""
        g, o = self.proxy()
        targets = [url(f"/counter/gone{i}", cc(f"max-age={LONG}")) for i in range(20)]
        for t in targets:
            self.stored(t)
        for t in targets:
            body = urllib.parse.urlencode([("url", f"http://{HOST}{t}")]).encode()
            raw = (f"POST /admin/purge HTTP/1.1\r\nHost: admin\r\n"
                   f"Authorization: Bearer {TOKEN}\r\n"
                   f"Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            with socket.create_connection((harness.HOST, g.admin_port)) as s:
                s.sendall(raw)  # and close at once
        # Every purge ran all the same.
        harness.wait_until(
            lambda: g.metrics().value(PURGES, kind="url", mode="hard") == len(targets), 15,
            "the abandoned purges to run")
        for i, t in enumerate(targets):
            self.assertMiss(self.fetch(t), f"/counter/gone{i} #2\n".encode())

    def test_purge_api_is_off_without_a_token_even_with_the_admin_token(self):
        g, o = self.proxy(token=None, admin={"token": TOKEN})
        target = url("/counter/off", cc(f"max-age={LONG}"))
        self.stored(target)
        status, _, body = self.purge(expect=404, url=f"http://{HOST}{target}")
        self.assertIn("cache.purge.token", body)
        self.assertHit(self.fetch(target))

    def test_token_from_the_environment_and_bad_requests(self):
        os.environ["GHALA_TEST_PURGE_TOKEN"] = TOKEN + "-env"
        self.addCleanup(os.environ.pop, "GHALA_TEST_PURGE_TOKEN", None)
        g, o = self.proxy(cache={"purge": {"token_env": "GHALA_TEST_PURGE_TOKEN"}}, token=None)
        self.purge(token=TOKEN + "-env", tag="t")
        self.purge(token=TOKEN, expect=403, tag="t")
        env = TOKEN + "-env"
        for params, why in (({}, "nothing to purge"), ({"url": "example.com/a"}, "http"),
                            ({"tag": "a", "url": f"http://{HOST}/"}, "one kind"),
                            ({"tag": "a", "mode": "later"}, "mode")):
            _, _, body = self.purge(token=env, expect=400, **params)
            self.assertIn(why, body)
        status, _, _ = request(g.admin_port, "GET", "/admin/purge?tag=a",
                               headers={"Authorization": f"Bearer {env}"})
        self.assertEqual(status, 405)
        # Parameters may also come in the query string.
        self.assertEqual(self.purge(token=env, query="?tag=x&mode=soft")["mode"], "soft")


class PurgeCommandTest(PurgeTestCase):
    def run_purge(self, *args, env_token=None, expect=0):
        env = {k: v for k, v in os.environ.items() if k != "GHALA_PURGE_TOKEN"}
        if env_token:
            env["GHALA_PURGE_TOKEN"] = env_token
        p = subprocess.run([harness.ghala_bin(), "purge", *args], env=env, capture_output=True,
                           timeout=harness.IO_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, expect,
                         f"ghala purge {args}: exit {p.returncode}\nstdout: {p.stdout!r}\n"
                         f"stderr: {p.stderr!r}\n{self.ctx()}")
        return p

    def test_ghala_purge_by_url_tag_and_prefix_end_to_end(self):
        g, o = self.proxy()
        admin = f"127.0.0.1:{g.admin_port}"
        life = cc(f"max-age={LONG}")
        a = url("/counter/cli-a", life, ("Surrogate-Key", "cli"))
        b = url("/counter/cli-b", life, ("ETag", '"b1"'))
        c = url("/c/counter", life)
        for t in (a, b, c):
            self.stored(t)
        # URL, token on the command line; the target has characters the form must encode.
        out = json.loads(self.run_purge("--admin", admin, "--token", TOKEN,
                                        f"http://{HOST}{a}").stdout)
        self.assertEqual(out["purged"], 1, out)
        self.assertMiss(self.fetch(a), b"/counter/cli-a #2\n")
        # Tag, soft, token from GHALA_PURGE_TOKEN.
        out = json.loads(self.run_purge("--admin", admin, "--soft", "--tag", "cli",
                                        env_token=TOKEN).stdout)
        self.assertEqual((out["kind"], out["mode"], out["purged"]), ("tag", "soft", 1), out)
        # Prefix, token from the config file (its admin port is 0, so --admin gives the port).
        out = json.loads(self.run_purge("--config", g.config_path, "--admin", admin,
                                        "--prefix", f"http://{HOST}/c/").stdout)
        self.assertEqual(out["purged"], 1, out)
        self.assertMiss(self.fetch(c), b"/c/counter #2\n")
        self.assertHit(self.fetch(b))

    def test_ghala_purge_failures_exit_non_zero_with_a_message(self):
        g, o = self.proxy()
        admin = f"127.0.0.1:{g.admin_port}"
        target = f"http://{HOST}/counter/x"
        p = self.run_purge("--admin", admin, "--token", "wrong-token-0123456789", target,
                           expect=1)
        self.assertIn(b"403", p.stderr)
        p = self.run_purge("--admin", admin, target, expect=2)  # no token anywhere
        self.assertIn(b"token", p.stderr)
        p = self.run_purge("--admin", admin, "--token", TOKEN, "not-a-url", expect=1)
        self.assertIn(b"400", p.stderr)
        self.run_purge("--admin", admin, "--token", TOKEN, target, "--tag", "x", expect=2)
        g.stop()
        p = self.run_purge("--admin", admin, "--token", TOKEN, target, expect=1)
        self.assertIn(b"connect", p.stderr)


class PurgeMetricsTest(PurgeTestCase):
    def test_purge_counters_and_memory_tier_gauges(self):
        g, o = self.proxy(cache={"memory": {"max_size": "1MiB"}})
        m = g.metrics()
        self.assertEqual(m.value("ghala_cache_capacity_bytes", tier="memory"), 1 << 20)
        self.assertEqual(m.value("ghala_cache_objects", tier="memory"), 0)
        self.assertEqual(m.value("ghala_cache_evictions_total", tier="memory"), 0)
        targets = [url(f"/counter/m{i}", cc(f"max-age={LONG}"), ("Surrogate-Key", "m"))
                   for i in range(3)]
        for t in targets:
            self.stored(t)
        m = g.metrics()
        self.assertEqual(m.value("ghala_cache_objects", tier="memory"), 3)
        self.assertGreater(m.value("ghala_cache_bytes", tier="memory"), 0)
        self.purge(tag="m", mode="soft")
        self.purge(url=f"http://{HOST}{targets[0]}")
        m = g.metrics()
        self.assertEqual(m.value(PURGES, kind="tag", mode="soft"), 1)
        self.assertEqual(m.value(PURGES, kind="url", mode="hard"), 1)
        self.assertEqual(m.value(PURGED, kind="tag", mode="soft", tier="memory"), 3)
        self.assertEqual(m.value(PURGED, kind="url", mode="hard", tier="memory"), 1)
        self.assertEqual(m.value("ghala_cache_objects", tier="memory"), 2)
        # 3 MB through a 1 MiB tier: the policy evicts, and the counter says so.
        for n in range(60):
            self.fetch(url(f"/bytes/{50_000 + n}", cc(f"max-age={LONG}")))
        m = g.metrics()
        self.assertGreater(m.value("ghala_cache_evictions_total", tier="memory"), 0)
        self.assertLessEqual(m.value("ghala_cache_bytes", tier="memory"), 1 << 20)


if __name__ == "__main__":
    harness.main()
