"""Prometheus metrics (documented families exist, counts move), the JSON access log (one line
per request with its fields), SIGUSR1 log reopen."""
import os
import signal

import harness
from harness import (CONNECTIONS_TOTAL, REQUESTS, GhalaTestCase, base_config, header,
                     http_upstream, request, wait_until)

# Every family docs/metrics.md promises (issue 2, item 8). Histograms appear as _bucket/_sum/_count.
FAMILIES = [
    "ghala_requests_total",                 # {site, route, method, status_class}
    "ghala_request_duration_seconds_bucket",
    "ghala_upstream_duration_seconds_bucket",  # {upstream}
    "ghala_upstream_errors_total",          # {upstream, kind}
    "ghala_client_received_bytes_total",
    "ghala_client_sent_bytes_total",
    "ghala_upstream_received_bytes_total",
    "ghala_upstream_sent_bytes_total",
    "ghala_connections_open",
    "ghala_connections_total",
    "ghala_connections_rejected_total",
    "ghala_connections_handed_off_total",
    "ghala_worker_connections",             # {worker}
    "ghala_worker_busy_seconds_total",      # {worker}
    "ghala_worker_yields_total",            # {worker}
    "ghala_http_parse_errors_total",        # {kind}
    "ghala_timeouts_total",                 # {kind}
    "ghala_config_reloads_total",           # {result}
    "ghala_config_info",                    # {hash}
    "ghala_build_info",                     # {version}
]
LOG_FIELDS = ["time", "request_id", "client", "method", "host", "target", "status", "bytes_sent",
              "bytes_received", "duration_ms", "upstream_addr", "upstream_status",
              "cache_status", "site", "route", "error"]


class MetricsTest(GhalaTestCase):
    def test_metrics_expose_every_documented_family(self):
        g, _ = self.proxy_with_origin()
        self.get("/status/200")
        m = g.metrics()
        missing = [f for f in FAMILIES if not m.has(f)]
        self.assertEqual(missing, [], f"missing families; exposition:\n{m.text[:3000]}")
        self.assertEqual(m.value("ghala_build_info"), 1)

    def test_request_counters_move_by_status_class(self):
        g, _ = self.proxy_with_origin()
        before = g.metrics()
        for _ in range(3):
            self.assertEqual(self.get("/status/200")[0], 200)
        self.assertEqual(self.get("/status/404")[0], 404)
        self.assertEqual(request(g.port, "POST", "/echo", body=b"x")[0], 200)

        def moved():
            m = g.metrics()
            d = lambda **ls: m.value(REQUESTS, site="main", **ls) - before.value(  # noqa: E731
                REQUESTS, site="main", **ls)
            return (d(method="GET", status_class="2xx"), d(method="GET", status_class="4xx"),
                    d(method="POST", status_class="2xx")) == (3, 1, 1)
        wait_until(moved, 10, "ghala_requests_total to count 3 GET 2xx, 1 GET 4xx, 1 POST 2xx")

    def test_connection_and_byte_counters_move(self):
        g, _ = self.proxy_with_origin()
        before = g.metrics()
        self.get("/bytes/10000")
        m = g.metrics()
        self.assertGreaterEqual(m.value(CONNECTIONS_TOTAL) - before.value(CONNECTIONS_TOTAL), 1)
        self.assertGreaterEqual(m.value("ghala_client_sent_bytes_total")
                                - before.value("ghala_client_sent_bytes_total"), 10000)
        self.assertGreaterEqual(m.value("ghala_upstream_received_bytes_total")
                                - before.value("ghala_upstream_received_bytes_total"), 10000)

    def test_metrics_are_valid_prometheus_text(self):
        g, _ = self.proxy_with_origin()
        status, hs, body = g.admin("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(header(hs, "Content-Type").startswith("text/plain"), hs)
        harness.Metrics(body.decode())  # raises on a malformed line


class AccessLogTest(GhalaTestCase):
    def log_lines(self, g, n, path=None):
        return wait_until(lambda: (lambda ls: ls if len(ls) >= n else None)(
            g.access_log_lines(path) if os.path.exists(path or g.workdir + "/access.log") else []),
            15, f"{n} access-log lines")

    def test_one_json_line_per_request_with_all_fields(self):
        g, o = self.proxy_with_origin()
        status, hs, body = request(g.port, "GET", "/status/200?x=1", host="main.test",
                                   headers={"User-Agent": "it/1"})
        self.assertEqual(status, 200)
        lines = self.log_lines(g, 1)
        self.assertEqual(len(lines), 1, lines)
        rec = lines[0]
        missing = [f for f in LOG_FIELDS if f not in rec]
        self.assertEqual(missing, [], rec)
        self.assertEqual((rec["method"], rec["host"], rec["target"], rec["status"]),
                         ("GET", "main.test", "/status/200?x=1", 200))
        self.assertEqual(rec["request_id"], header(hs, "X-Request-Id"))
        self.assertTrue(rec["client"].startswith("127.0.0.1"), rec["client"])
        self.assertIn(rec["upstream_addr"], (o.addr, f"http://{o.addr}"))
        self.assertEqual(rec["upstream_status"], 200)
        self.assertEqual(rec["site"], "main")
        self.assertGreater(rec["bytes_sent"], len(body))
        self.assertGreater(rec["bytes_received"], 0)
        self.assertGreaterEqual(rec["duration_ms"], 0)

    def test_failed_upstream_request_is_logged_with_error(self):
        o = self.start_origin()
        dead = o.addr
        o.stop()
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(dead)}))
        self.assertEqual(self.get("/status/200")[0], 502)
        rec = self.log_lines(g, 1)[0]
        self.assertEqual(rec["status"], 502)
        self.assertTrue(rec["error"], f"empty error field: {rec}")

    def test_no_route_is_logged_as_404_without_upstream(self):
        o = self.start_origin()
        sites = [{"name": "main", "hosts": ["main.test"], "default": True,
                  "routes": [harness.route("/api/", "o")]}]
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(o.addr)}, sites=sites))
        self.assertEqual(self.get("/elsewhere")[0], 404)
        rec = self.log_lines(g, 1)[0]
        self.assertEqual(rec["status"], 404)
        self.assertFalse(rec["upstream_status"], "no upstream answered: null")
        self.assertFalse(rec["upstream_addr"])

    def test_sigusr1_reopens_the_access_log(self):
        g, _ = self.proxy_with_origin()
        log = os.path.join(g.workdir, "access.log")
        _, hs1, _ = self.get("/status/200")
        self.log_lines(g, 1)
        os.rename(log, log + ".1")
        g.send_signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(log), 15, "ghala to re-create access.log on SIGUSR1")
        _, hs2, _ = self.get("/status/201")
        new = self.log_lines(g, 1, log)
        self.assertEqual([r["request_id"] for r in new], [header(hs2, "X-Request-Id")])
        old = g.access_log_lines(log + ".1")
        self.assertEqual([r["request_id"] for r in old], [header(hs1, "X-Request-Id")])


if __name__ == "__main__":
    harness.main()
