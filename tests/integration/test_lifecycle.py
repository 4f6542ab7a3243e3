"""Reload and shutdown under load: SIGHUP reloads while clients hammer ghala lose no request;
SIGTERM/SIGINT let every in-flight request finish (up to shutdown_grace) and exit 0.
Suite 'slow'."""
import hashlib
import json
import os
import signal
import threading
import time

import harness
from harness import (RELOADS, GhalaTestCase, LoadClients, RawConn, base_config, http_upstream,
                     request, route, wait_until)


class ReloadUnderLoadTest(GhalaTestCase):
    def test_sighup_reloads_under_load_fail_no_request(self):
        o = self.start_origin()
        ups = {"o": http_upstream(o.addr)}
        cfg1 = base_config(self.tmp, ups, workers=2)
        # Same behaviour for /status/, different config text (a second route): a real swap.
        cfg2 = base_config(self.tmp, ups, workers=2, sites=[
            {"name": "main", "hosts": ["main.test"], "default": True,
             "routes": [route("/never/", "o"), route("/", "o")]}])
        g = self.start_ghala(cfg1)
        load = LoadClients(g.port, "/status/200", threads=4, expect_body=b"status 200\n").start()
        self.addCleanup(load.stop)
        load.wait_ok(50)
        for i in range(6):
            g.reload_via_sighup(cfg2 if i % 2 == 0 else cfg1, "success")
            before = load.ok
            load.wait_ok(before + 20)  # traffic keeps flowing after each swap
        load.stop()
        self.assertEqual(load.failures, [], f"{len(load.failures)} failed requests, "
                                            f"{load.ok} ok\n{self.ctx()}")
        self.assertGreater(load.ok, 100)
        self.assertEqual(g.metrics().value(RELOADS, result="failure"), 0)

    def test_broken_reload_under_load_fails_no_request(self):
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr)})
        g = self.start_ghala(cfg)
        load = LoadClients(g.port, "/status/200", threads=3, expect_body=b"status 200\n").start()
        self.addCleanup(load.stop)
        load.wait_ok(30)
        g.reload_via_sighup("workers: [not, a, number]\n", "failure")
        load.wait_ok(load.ok + 30)
        load.stop()
        self.assertEqual(load.failures, [], self.ctx())


class ShutdownTest(GhalaTestCase):
    def start_in_flight(self, g, o, n_slow=4):
        """Starts requests of several kinds that take a few seconds each; returns (threads,
        results, expected) once every one of them has reached the origin."""
        results, threads = {}, []
        upload = os.urandom(1 << 20)

        def run(key, method, path, body=None):
            try:
                results[key] = request(g.port, method, path, body=body, timeout=60)
            except Exception as e:  # noqa: BLE001
                results[key] = e

        # Distinct URLs: concurrent GETs of one URL would be coalesced into one origin request.
        jobs = [(f"slow{i}", "GET", f"/delay/3?n={i}") for i in range(n_slow)]
        jobs.append(("stream", "GET", "/chunked/60000?chunk=20000&delay_ms=1500"))
        for key, method, path in jobs:
            t = threading.Thread(target=run, args=(key, method, path), daemon=True)
            t.start()
            threads.append(t)
        # Count arrivals by path, not the origin's in_flight: under LoadClients that total also
        # counts the load's requests, and SIGTERM could then come before these requests were
        # even accepted (refused or reset by the closing listener: not in flight, so not a bug).
        want = {"/delay/3": n_slow, "/chunked/60000": 1}

        def arrived():
            paths = o.stats()["paths"]
            return all(paths.get(p, 0) >= n for p, n in want.items())
        wait_until(arrived, 30, "every slow request to reach the origin")
        expected = {f"slow{i}": (200, b"status 200\n") for i in range(n_slow)}
        expected["stream"] = (200, harness.pattern_bytes(60000))
        self.upload = upload
        return threads, results, expected

    def check_results(self, threads, results, expected):
        for t in threads:
            t.join(60)
        for key, want in expected.items():
            got = results.get(key)
            self.assertNotIsInstance(got, Exception, f"{key}: {got!r}\n{self.ctx()}")
            self.assertEqual((got[0], got[2]), want, f"{key}\n{self.ctx()}")

    def test_sigterm_lets_in_flight_requests_finish_and_exits_0(self):
        g, o = self.proxy_with_origin(workers=2)
        threads, results, expected = self.start_in_flight(g, o)
        g.send_signal(signal.SIGTERM)
        self.check_results(threads, results, expected)
        rc = g.proc.wait(30)
        self.assertEqual(rc, 0, self.ctx())

    def test_sigint_behaves_like_sigterm(self):
        g, o = self.proxy_with_origin()
        threads, results, expected = self.start_in_flight(g, o, n_slow=2)
        g.send_signal(signal.SIGINT)
        self.check_results(threads, results, expected)
        self.assertEqual(g.proc.wait(30), 0, self.ctx())

    def test_sigterm_under_load_fails_no_in_flight_request(self):
        g, o = self.proxy_with_origin(workers=2)
        load = LoadClients(g.port, "/delay/0.2", threads=6, expect_body=b"status 200\n",
                           stop_on_refused=True).start()
        self.addCleanup(load.stop)
        load.wait_ok(20)
        threads, results, expected = self.start_in_flight(g, o, n_slow=2)
        g.send_signal(signal.SIGTERM)
        self.check_results(threads, results, expected)
        self.assertEqual(g.proc.wait(30), 0, self.ctx())
        load.stop()
        # A load client whose request was already sent must get its answer; what may fail is a
        # new connection or a request written after ghala closed an idle keep-alive connection
        # (connection refused / closed before any byte, which a client retries).
        real = [f for f in load.failures
                if not any(s in f for s in ("RemoteDisconnected", "ConnectionRefused",
                                            "ConnectionReset", "BrokenPipe"))]
        self.assertEqual(real, [], self.ctx())

    def test_readyz_turns_503_while_draining(self):
        g, o = self.proxy_with_origin()
        threads, results, expected = self.start_in_flight(g, o, n_slow=1)
        self.assertEqual(g.admin("GET", "/readyz")[0], 200)
        g.send_signal(signal.SIGTERM)
        wait_until(lambda: g.admin("GET", "/readyz")[0] == 503, 10, "/readyz to answer 503")
        self.check_results(threads, results, expected)
        self.assertEqual(g.proc.wait(30), 0)

    def test_new_connections_are_refused_after_sigterm(self):
        g, o = self.proxy_with_origin()
        threads, results, expected = self.start_in_flight(g, o, n_slow=1)
        g.send_signal(signal.SIGTERM)

        def refused():
            try:
                with RawConn(g.port, timeout=5) as c:
                    c.send(b"GET /status/200 HTTP/1.1\r\nHost: main.test\r\n\r\n")
                    data, closed = c.read_until_closed(5)
                    return closed and not data.startswith(b"HTTP/1.1 200")
            except OSError:
                return True
        wait_until(refused, 10, "new connections to be refused while draining")
        self.check_results(threads, results, expected)
        self.assertEqual(g.proc.wait(30), 0)

    def test_sigterm_does_not_reset_a_response_while_unread_requests_wait(self):
        # close() on a socket with unread input makes the kernel send RST and drop the response
        # bytes still in its send buffer. A pipelining client has a request waiting (read) and
        # another one unread in ghala's socket when the drain ends its connection after the
        # in-flight response: that response must still arrive whole, then a clean close.
        g, o = self.proxy_with_origin()
        n = 2_000_000
        slow = f"/slow-body/{n}?chunk=500000&delay_ms=300"

        def req(path):
            return f"GET {path} HTTP/1.1\r\nHost: main.test\r\n\r\n".encode()
        with RawConn(g.port, timeout=30) as c:
            # Read together: ghala parses the first, keeps the second and stops reading.
            c.send(req(slow) + req("/status/200"))
            wait_until(lambda: o.path_count(f"/slow-body/{n}") >= 1, 20,
                       "the slow request to reach the origin")
            c.send(req("/status/201"))  # stays in ghala's receive buffer
            g.send_signal(signal.SIGTERM)
            # Read nothing until ghala has exited: what it left in the send buffer must arrive.
            self.assertEqual(g.proc.wait(30), 0, self.ctx())
            r = c.read_response()
            self.assertEqual(r.status, 200, self.ctx())
            self.assertEqual(len(r.body), n, self.ctx())
            self.assertEqual(r.body, harness.pattern_bytes(n))
            self.assertEqual(c.sock.recv(65536), b"", "no clean close after the response")

    def test_shutdown_grace_bounds_the_wait_for_stuck_requests(self):
        g, o = self.proxy_with_origin(timeouts={"shutdown_grace": "1s"})
        t = threading.Thread(target=lambda: self.swallow(g.port, "/hang"), daemon=True)
        t.start()
        wait_until(lambda: o.stats()["in_flight"] >= 2, 20, "the /hang request to reach the origin")
        g.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = g.proc.wait(30)
        self.assertEqual(rc, 0, self.ctx())
        self.assertLess(time.monotonic() - t0, 20, "shutdown_grace 1s not honoured")

    @staticmethod
    def swallow(port, path):
        try:
            request(port, "GET", path, timeout=60)
        except Exception:  # noqa: BLE001  (the request is cut by the shutdown)
            pass


if __name__ == "__main__":
    harness.main()
