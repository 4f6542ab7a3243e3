"""Connection balancing across workers (docs/architecture.md, "Threads"): a worker that accepts a
connection while it is ahead of the least loaded worker hands the socket over, so the workers'
shares stay even whatever the kernel's SO_REUSEPORT hash does. Observed through
ghala_worker_connections{worker} and ghala_connections_handed_off_total on the admin listener."""
import json
import socket

from harness import (HOST, IO_TIMEOUT, GhalaTestCase, RawConn, main, wait_until)

WORKER_CONNS = "ghala_worker_connections"
HANDED_OFF = "ghala_connections_handed_off_total"
OPEN_FDS = "ghala_process_open_fds"


class BalanceTest(GhalaTestCase):
    def start_two_workers(self):
        g, _ = self.proxy_with_origin(workers=2)
        return g

    def shares(self, g) -> tuple[dict[str, float], float]:
        m = g.metrics()
        per_worker = {ls["worker"]: v for (n, ls, v) in m.samples if n == WORKER_CONNS}
        return per_worker, m.value(HANDED_OFF)

    def wait_total(self, g, total: int) -> dict[str, float]:
        """Waits until the workers together hold `total` connections; returns their shares."""
        def settled():
            per_worker, _ = self.shares(g)
            return per_worker if sum(per_worker.values()) == total else None
        return wait_until(settled, 20, f"{total} client connections on the workers")

    def test_connections_spread_evenly_and_each_gets_its_own_responses(self):
        g = self.start_two_workers()
        conns = []
        self.addCleanup(lambda: [c.close() for c in conns])
        for _ in range(200):
            conns.append(RawConn(g.port))
        per_worker = self.wait_total(g, 200)
        _, handed = self.shares(g)
        self.assertEqual(sorted(per_worker), ["0", "1"], per_worker)
        self.assertLessEqual(abs(per_worker["0"] - per_worker["1"]), 4,
                             f"uneven shares {per_worker}\n{self.ctx()}")
        self.assertGreater(handed, 0, f"no connection was handed over\n{self.ctx()}")

        # Every connection, handed over or not, answers its own requests, twice (keep-alive).
        for round_ in range(2):
            for i, c in enumerate(conns):
                c.send(f"GET /echo?conn={i}&round={round_} HTTP/1.1\r\n"
                       f"Host: main.test\r\n\r\n".encode())
            for i, c in enumerate(conns):
                r = c.read_response()
                self.assertEqual(r.status, 200, f"connection {i}: {r}\n{self.ctx()}")
                self.assertEqual(json.loads(r.body)["target"], f"/echo?conn={i}&round={round_}")

        # Closing them returns every share to zero: a handed-over connection is counted once.
        for c in conns:
            c.close()
        self.wait_total(g, 0)

    def test_handed_over_connections_leave_no_descriptor_behind(self):
        g = self.start_two_workers()

        def open_and_close_100():
            conns = [socket.create_connection((HOST, g.port), timeout=IO_TIMEOUT)
                     for _ in range(100)]
            self.wait_total(g, 100)
            for s in conns:
                s.close()
            self.wait_total(g, 0)

        open_and_close_100()  # the first connections make libuv open a few descriptors for good
        fds_before = g.metrics().value(OPEN_FDS)
        _, handed_before = self.shares(g)
        for _ in range(3):
            open_and_close_100()
        _, handed = self.shares(g)
        self.assertGreater(handed, handed_before, self.ctx())
        # Polled: the admin connections of earlier scrapes may still be closing.
        wait_until(lambda: g.metrics().value(OPEN_FDS) == fds_before, 10,
                   f"ghala_process_open_fds back at {fds_before}")

    def test_a_client_cannot_pile_connections_onto_one_worker(self):
        """The client keeps only the connections that land on worker 0 and closes the others.
        Without balancing worker 0 would collect about half of the attempts; with it, worker 0
        stays within one connection of worker 1, so everything kept is handed over."""
        g = self.start_two_workers()
        kept = []
        self.addCleanup(lambda: [s.close() for s in kept])
        before = self.wait_total(g, 0)
        for _ in range(40):
            s = socket.create_connection((HOST, g.port), timeout=IO_TIMEOUT)
            now = self.wait_total(g, len(kept) + 1)
            if now.get("0", 0) > before.get("0", 0):
                kept.append(s)
                before = now
            else:
                s.close()
                before = self.wait_total(g, len(kept))
        self.assertLessEqual(before.get("0", 0), 1,
                             f"worker 0 holds {before} after 40 attempts\n{self.ctx()}")


if __name__ == "__main__":
    main()
