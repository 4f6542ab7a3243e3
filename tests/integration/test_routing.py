"""Sites by Host (exact, wildcard, default), routes by prefix and glob (first match wins, 404
when none matches), pools of several servers with round_robin and least_conn."""
import threading

import harness
from harness import GhalaTestCase, base_config, header, http_upstream, request, route, wait_until


def name_of(port, path, host="main.test"):
    status, hs, _ = request(port, "GET", path, host=host)
    return status, header(hs, "X-Origin-Name")


class RoutingTest(GhalaTestCase):
    def two_origins(self):
        return self.start_origin("a"), self.start_origin("b")

    def test_site_is_chosen_by_host_with_a_default(self):
        a, b = self.two_origins()
        sites = [
            {"name": "site-a", "hosts": ["a.test"], "routes": [route("/", "a")]},
            {"name": "site-w", "hosts": ["*.wild.test"], "routes": [route("/", "a")]},
            {"name": "site-b", "hosts": ["b.test"], "default": True, "routes": [route("/", "b")]},
        ]
        g = self.start_ghala(base_config(self.tmp, {"a": http_upstream(a.addr),
                                                    "b": http_upstream(b.addr)}, sites=sites))
        cases = [("a.test", "a"), ("A.Test", "a"), ("a.test:8080", "a"), ("b.test", "b"),
                 ("x.wild.test", "a"), ("wild.test", "b"), ("unknown.test", "b")]
        for host, want in cases:
            self.assertEqual(name_of(g.port, "/status/200", host), (200, want), f"Host: {host}")

    def test_routes_match_prefix_and_glob_first_match_wins_else_404(self):
        a, b = self.two_origins()
        sites = [{"name": "main", "hosts": ["main.test"], "default": True, "routes": [
            route("/status/2", "b"),          # more specific first: wins over the next one
            route("/status/", "a"),
            route("/img/*.jpg", "b"),
            route("/deep/**", "a"),
        ]}]
        g = self.start_ghala(base_config(self.tmp, {"a": http_upstream(a.addr),
                                                    "b": http_upstream(b.addr)}, sites=sites))
        self.assertEqual(name_of(g.port, "/status/200"), (200, "b"))
        self.assertEqual(name_of(g.port, "/status/404"), (404, "a"))
        self.assertEqual(name_of(g.port, "/img/cat.jpg"), (404, "b"))  # origin's own 404
        self.assertEqual(name_of(g.port, "/deep/x/y/echo")[1], "a")
        # No route: ghala's 404, the origin never sees it.
        for path in ("/img/sub/cat.jpg", "/img/cat.png", "/other", "/"):
            status, origin_name = name_of(g.port, path)
            self.assertEqual((status, origin_name), (404, None), f"path {path}\n{self.ctx()}")
        self.assertEqual(a.stats()["paths"].get("/other", 0) + b.stats()["paths"].get("/other", 0),
                         0)

    def test_round_robin_alternates_between_servers(self):
        a, b = self.two_origins()
        g = self.start_ghala(base_config(
            self.tmp, {"pool": http_upstream(a.addr, b.addr, balance="round_robin")}))
        names = [name_of(g.port, "/status/200")[1] for _ in range(6)]
        self.assertEqual(sorted(names), ["a", "a", "a", "b", "b", "b"], names)
        self.assertTrue(all(names[i] != names[i + 1] for i in range(5)), f"not alternating: {names}")

    def test_least_conn_avoids_the_busy_server(self):
        a, b = self.two_origins()
        g = self.start_ghala(base_config(
            self.tmp, {"pool": http_upstream(a.addr, b.addr, balance="least_conn")}))
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=name_of(g.port, "/delay/4")))
        t.start()
        self.addCleanup(t.join, 30)
        wait_until(lambda: a.stats()["in_flight"] + b.stats()["in_flight"] >= 3, 20,
                   "the slow request to reach an origin")  # 2 of those are the /__stats calls
        busy = "a" if a.stats()["in_flight"] == 2 else "b"
        idle = "b" if busy == "a" else "a"
        names = [name_of(g.port, "/status/200")[1] for _ in range(4)]
        self.assertEqual(names, [idle] * 4, f"{busy} is busy with /delay/4")
        t.join(30)
        self.assertEqual(slow.get("r"), (200, busy))


if __name__ == "__main__":
    harness.main()
