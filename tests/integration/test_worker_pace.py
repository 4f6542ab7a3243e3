"""Worker pacing (docs/architecture.md, "Threads"): a worker that keeps finding events waiting
yields the CPU after a pass once it has run 100 us without waiting in its poll (worker_yield,
on by default, hot-reloadable), and every worker reports the time its loop spent running.
Observed through ghala_worker_yields_total{worker} and ghala_worker_busy_seconds_total{worker}."""
import threading
import time

from harness import (GhalaTestCase, RawConn, base_config, http_upstream, main, route,
                     wait_until)

YIELDS = "ghala_worker_yields_total"
BUSY = "ghala_worker_busy_seconds_total"
CONNS = 40
PIPELINED = 150  # requests per connection, sent in one write


class WorkerPaceTest(GhalaTestCase):
    def start(self, **over):
        o = self.start_origin()
        # Only /api/ has a route: everything else is a 404 ghala writes itself, so the load
        # below keeps the worker busy without waiting for an origin.
        sites = [{"name": "main", "hosts": ["main.test"], "default": True,
                  "routes": [route("/api/", "origin")]}]
        cfg = base_config(self.tmp, {"origin": http_upstream(o.addr)}, sites, **over)
        return self.start_ghala(cfg), cfg

    def burst(self, g):
        """CONNS connections each send PIPELINED requests at once; each must get its own
        answers, in order. Many connections readable at the same time make passes that find
        events waiting."""
        conns = [RawConn(g.port) for _ in range(CONNS)]
        self.addCleanup(lambda: [c.close() for c in conns])
        payloads = [b"".join(f"GET /none/{i}/{k} HTTP/1.1\r\nHost: main.test\r\n\r\n".encode()
                             for k in range(PIPELINED)) for i in range(CONNS)]
        start = threading.Event()

        def send(c, data):
            start.wait()
            c.send(data)
        senders = [threading.Thread(target=send, args=(c, p)) for c, p in zip(conns, payloads)]
        for t in senders:
            t.start()
        start.set()
        for t in senders:
            t.join()
        for i, c in enumerate(conns):
            for k in range(PIPELINED):
                r = c.read_response()
                self.assertEqual(r.status, 404, f"connection {i} request {k}: {r}\n{self.ctx()}")
        for c in conns:
            c.close()

    def counts(self, g):
        m = g.metrics()
        return m.value(YIELDS, worker="0"), m.value(BUSY, worker="0")

    def test_an_idle_worker_is_not_busy(self):
        g, _ = self.start()
        _, busy_before = self.counts(g)
        time.sleep(1.0)
        yields, busy = self.counts(g)
        self.assertEqual(yields, 0, self.ctx())
        # Waiting in the poll is not busy time; scrapes are served by the admin loop.
        self.assertLess(busy - busy_before, 0.25, self.ctx())

    def test_a_saturated_worker_yields_only_when_worker_yield_is_on(self):
        g, cfg = self.start(worker_yield=False)
        for _ in range(3):
            self.burst(g)
        yields, busy = self.counts(g)
        self.assertEqual(yields, 0, f"worker_yield: false, yet it yielded\n{self.ctx()}")
        self.assertGreater(busy, 0, self.ctx())

        cfg["worker_yield"] = True  # a reload turns it on, no restart
        g.reload_via_sighup(cfg)

        def yielded():
            self.burst(g)
            return self.counts(g)[0] > 0
        wait_until(yielded, 60, "the saturated worker to yield", interval=0)
        _, busy_after = self.counts(g)
        self.assertGreater(busy_after, busy, self.ctx())


if __name__ == "__main__":
    main()
