"""The RocksDB disk tier in the request path (issue 3, items 5 and 8): objects survive a restart,
kill -9 during a streaming write never leaves a truncated object, large objects (bigger than the
memory tier's per-object bound) are streamed to and from disk, corrupt data never produces a
wrong body, and a full filesystem degrades to pass-through with the error metric rising.

The memory tier is 16 MiB (16 shards of 1 MiB), so its per-object bound is 256 KiB: bodies of
100 KB are memory objects written through to disk, bodies of 2 MiB go to disk only.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import urllib.parse

import harness
from harness import HOST as LOOPBACK
from harness import (IO_TIMEOUT, base_config, header, http_upstream, pattern_bytes, request,
                     wait_until)
from test_cache import CacheTestCase, Got, cc, url

HOST = "main.test"
LONG = 600
SMALL = 100_000       # fits in the memory tier
LARGE = 2 * 1024 * 1024  # larger than the memory tier's per-object bound (256 KiB)
DISK_OBJECTS = "ghala_cache_objects"
STORAGE_ERRORS = "ghala_cache_storage_errors_total"
DISK_HITS = "ghala_cache_disk_hits_total"


def disk_config(disk_path: str, **cache) -> dict:
    c = {"memory": {"max_size": "16MiB"}, "disk": {"path": disk_path, "max_size": "64MiB"},
         "max_object_size": "32MiB"}
    c.update(cache)
    return c


class DiskTestCase(CacheTestCase):
    def setUp(self):
        super().setUp()
        self.disk_path = os.path.join(self.tmp, "cache-disk")
        self.origin = None

    def start(self, disk_path=None, name="ghala"):
        """ghala with a disk tier in front of the (single) origin; a second call restarts on
        the same disk directory with the same origin."""
        if self.origin is None:
            self.origin = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(self.origin.addr)},
                          cache=disk_config(disk_path or self.disk_path))
        return self.start_ghala(cfg, name=name)

    def disk_objects(self) -> float:
        return self.ghala.metrics().value(DISK_OBJECTS, tier="disk")

    def wait_disk_objects(self, n: int):
        """Write-through and streaming run on the thread pool after the response: poll."""
        wait_until(lambda: self.disk_objects() >= n, 20, f"{n} objects in the disk tier")

    def restart(self, sig=signal.SIGTERM):
        self.ghala.stop(sig=sig, expect=None)
        return self.start(name="ghala2")

    def assertBody(self, r: Got, want: bytes):
        if r.status != 200 or r.body != want:
            self.fail_with(r, f"want 200 with {len(want)} correct bytes, got {len(r.body)} bytes"
                              f" (equal: {r.body == want})")

    # -----------------------------------------------------------------------------------------

    def test_startup_fails_cleanly_when_the_disk_tier_cannot_be_opened(self):
        # The store is locked by the running ghala: a second one cannot open it.
        self.start()
        cfg = base_config(self.tmp, {"o": http_upstream(self.origin.addr)},
                          cache=disk_config(self.disk_path))
        path = os.path.join(self.tmp, "second.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(harness.config_text(cfg))
        proc = subprocess.run([harness.ghala_bin(), "--config", path], capture_output=True,
                              timeout=60)
        err = proc.stderr.decode(errors="replace")
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn("cache.disk: cannot open the disk tier at " + self.disk_path, err)
        self.assertTrue(self.ghala.alive(), self.ctx())

    def test_disk_tier_metrics_are_exported(self):
        self.start()
        m = self.ghala.metrics()
        for family in (DISK_OBJECTS, "ghala_cache_bytes", "ghala_cache_tier_healthy",
                       "ghala_cache_evictions_total", "ghala_cache_corrupt_objects_total",
                       DISK_HITS, STORAGE_ERRORS, "ghala_cache_disk_writes_dropped_total"):
            self.assertTrue(m.has(family), f"{family} missing")
        self.assertEqual(m.value("ghala_cache_tier_healthy", tier="disk"), 1)
        self.assertEqual(m.value("ghala_cache_tier_healthy", tier="memory"), 1)

    def test_objects_survive_a_restart_and_are_served_with_age_from_disk(self):
        self.start()
        target = url("/counter/survive", cc(f"max-age={LONG}"))
        first = self.fetch(target)
        self.assertEqual(first.status, 200)
        self.assertTrue(first.cs and first.cs.get("stored"), repr(first))
        big = url(f"/bytes/{SMALL}", cc(f"max-age={LONG}"))
        self.assertBody(self.fetch(big), pattern_bytes(SMALL))
        self.wait_disk_objects(2)
        self.restart()
        again = self.fetch(target)
        self.assertHit(again)
        self.assertEqual(again.body, first.body, "the stored response, not a new origin one")
        self.assertEqual(again.cs.get("detail"), "disk", repr(again))
        self.assertGreaterEqual(self.age_of(again), 0)
        self.assertBody(self.fetch(big), pattern_bytes(SMALL))
        self.assertEqual(self.origin.path_count("/counter/survive"), 1)
        self.assertEqual(self.origin.path_count(f"/bytes/{SMALL}"), 1)
        # Promoted to memory: the next hit does not say disk.
        third = self.fetch(target)
        self.assertHit(third)
        self.assertNotEqual(third.cs.get("detail"), "disk", repr(third))
        m = self.ghala.metrics()
        self.assertGreaterEqual(m.value(DISK_HITS), 2)

    def test_large_object_is_streamed_to_disk_and_served_from_it_after_restart(self):
        self.start()
        target = url(f"/bytes/{LARGE}", cc(f"max-age={LONG}"))
        self.assertBody(self.fetch(target), pattern_bytes(LARGE))
        self.wait_disk_objects(1)
        # Too large for memory: even before the restart the next hit comes from disk.
        hit = self.fetch(target)
        self.assertHit(hit)
        self.assertBody(hit, pattern_bytes(LARGE))
        self.restart()
        again = self.fetch(target)
        self.assertHit(again)
        self.assertBody(again, pattern_bytes(LARGE))
        self.assertEqual(header(again.headers, "Content-Length"), str(LARGE))
        # A range in the middle of the object, across a chunk boundary (256 KiB chunks).
        start, end = 256 * 1024 - 10, 3 * 256 * 1024 + 10
        part = self.fetch(target, headers={"Range": f"bytes={start}-{end}"})
        self.assertEqual(part.status, 206, repr(part))
        self.assertEqual(part.body, pattern_bytes(LARGE)[start:end + 1])
        self.assertEqual(self.origin.path_count(f"/bytes/{LARGE}"), 1)

    def test_a_download_from_disk_completes_when_its_object_is_purged_meanwhile(self):
        # The reader holds a view of the store (a RocksDB snapshot): a hard purge, replacement
        # or eviction after the download started cannot cut it short.
        self.origin = self.start_origin()
        token = "purge-token-0123456789"
        cfg = base_config(self.tmp, {"o": http_upstream(self.origin.addr)},
                          cache=disk_config(self.disk_path, purge={"token": token}))
        g = self.start_ghala(cfg)
        n = 7 * 1024 * 1024  # under a disk stream's 8 MiB queue bound: never dropped as backlog
        target = url(f"/bytes/{n}", cc(f"max-age={LONG}"))
        self.assertBody(self.fetch(target), pattern_bytes(n))
        self.wait_disk_objects(1)

        # A slow client: a small receive buffer, so most of the body is still on disk when the
        # purge lands.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(IO_TIMEOUT)
        sock.connect((LOOPBACK, g.port))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"detail=disk", head, head)
        self.assertLess(len(body), n // 2, "the body was nearly sent before the purge: void")

        status, _, answer = request(g.admin_port, "POST", "/admin/purge",
                                    headers={"Authorization": f"Bearer {token}",
                                             "Content-Type": "application/x-www-form-urlencoded"},
                                    body=urllib.parse.urlencode({"url": f"http://{HOST}{target}"}).encode())
        self.assertEqual(status, 200, answer)
        self.assertIn(b'"purged":1', answer.replace(b" ", b""), answer)
        while len(body) < n:
            b = sock.recv(1 << 20)
            if not b:
                break
            body += b
        sock.close()
        self.assertEqual(len(body), n, f"the download was cut short\n{self.ctx()}")
        self.assertTrue(body == pattern_bytes(n), "the body changed under the download")
        # The purge itself took effect: the next request goes to the origin.
        again = self.fetch(target)
        self.assertBody(again, pattern_bytes(n))
        self.assertFalse(again.cs and again.cs.get("hit"), repr(again))
        self.assertEqual(self.origin.path_count(f"/bytes/{n}"), 2)

    def test_large_chunked_response_crossing_the_memory_bound_is_stored_on_disk(self):
        self.start()
        n = 700_000  # no Content-Length: buffered for memory, then moved to a disk stream
        target = url(f"/chunked/{n}", cc(f"max-age={LONG}"), chunk="65536")
        self.assertBody(self.fetch(target), pattern_bytes(n))
        self.wait_disk_objects(1)
        hit = self.fetch(target)
        self.assertHit(hit)
        self.assertBody(hit, pattern_bytes(n))
        self.assertEqual(self.origin.path_count(f"/chunked/{n}"), 1)

    def test_kill_9_during_a_streaming_write_never_serves_a_truncated_object(self):
        g = self.start()
        n = 6 * 1024 * 1024
        target = url(f"/slow-body/{n}", cc(f"max-age={LONG}"), chunk="65536", delay_ms="30")
        got = {"bytes": 0}
        started = threading.Event()

        def reader():
            c = http.client.HTTPConnection(LOOPBACK, g.port, timeout=IO_TIMEOUT)
            try:
                c.putrequest("GET", target, skip_host=True)
                c.putheader("Host", HOST)
                c.endheaders()
                r = c.getresponse()
                while True:
                    b = r.read(65536)
                    if not b:
                        break
                    got["bytes"] += len(b)
                    if got["bytes"] >= 2 * 1024 * 1024:
                        started.set()
            except Exception:  # noqa: BLE001  (the proxy is killed under us)
                pass
            finally:
                started.set()
                c.close()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        self.assertTrue(started.wait(60), "the slow body never started")
        self.assertLess(got["bytes"], n, "the body finished before the kill: test is void")
        g.stop(sig=signal.SIGKILL, expect=None)
        t.join(30)
        self.start(name="ghala2")
        again = self.fetch(target)
        self.assertBody(again, pattern_bytes(n))
        self.assertFalse(again.cs and again.cs.get("hit"), f"served a partial write: {again!r}")
        self.assertEqual(self.origin.path_count(f"/slow-body/{n}"), 2, "refetched after the kill")

    def test_corrupt_data_on_disk_never_produces_a_wrong_body(self):
        self.start()
        small = url(f"/bytes/{SMALL}", cc(f"max-age={LONG}"))
        large = url(f"/bytes/{LARGE}", cc(f"max-age={LONG}"))
        self.assertBody(self.fetch(small), pattern_bytes(SMALL))
        self.assertBody(self.fetch(large), pattern_bytes(LARGE))
        self.wait_disk_objects(2)
        # A restart moves the bodies from the write-ahead log into blob and table files (RocksDB
        # flushes what it recovers), so the damage below hits them there, past RocksDB's own
        # recovery: the reads have to catch it.
        self.restart()
        self.assertHit(self.fetch(large))
        self.ghala.stop()
        flipped = self.flip_body_bytes(self.disk_path)
        self.assertGreater(flipped, 0, "found no stored body bytes to damage")
        self.start(name="ghala3")
        for target, n in ((small, SMALL), (large, LARGE), (small, SMALL), (large, LARGE)):
            self.assertNeverWrong(target, pattern_bytes(n))
        # Whatever was damaged was noticed, dropped and fetched again: both are served whole.
        self.assertBody(self.fetch(small), pattern_bytes(SMALL))
        self.assertBody(self.fetch(large), pattern_bytes(LARGE))
        refetched = (self.origin.path_count(f"/bytes/{SMALL}") +
                     self.origin.path_count(f"/bytes/{LARGE}"))
        self.assertGreater(refetched, 2, f"the damage went unnoticed\n{self.ctx()}")
        self.assertGreater(
            self.ghala.metrics().value("ghala_cache_corrupt_objects_total", tier="disk"), 0)

    def flip_body_bytes(self, root: str) -> int:
        """Flips one byte in the first and in the last copy of a 4 KiB stretch of the body
        pattern in every file of the store (WAL, SST or blob file, wherever RocksDB put the
        bodies): usually one in each object."""
        needle = pattern_bytes(4096, offset=8192)
        flipped = 0
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    data = bytearray(f.read())
                first, last = data.find(needle), data.rfind(needle)
                if first < 0:
                    continue
                data[first + 100] ^= 0x5A
                if last != first:
                    data[last + 100] ^= 0x5A
                with open(path, "wb") as f:
                    f.write(data)
                flipped += 1
        return flipped

    def assertNeverWrong(self, target: str, want: bytes):
        """Either the complete correct body, or a connection closed before the announced
        length (a visible truncation), never a complete-looking wrong body."""
        c = http.client.HTTPConnection(LOOPBACK, self.ghala.port, timeout=IO_TIMEOUT)
        try:
            c.putrequest("GET", target, skip_host=True)
            c.putheader("Host", HOST)
            c.endheaders()
            r = c.getresponse()
            try:
                body = r.read()
            except http.client.IncompleteRead as e:
                self.assertLess(len(e.partial), len(want))
                return
            self.assertEqual(r.status, 200)
            self.assertEqual(len(body), len(want), f"{target}: wrong length\n{self.ctx()}")
            self.assertTrue(body == want, f"{target}: WRONG BODY served\n{self.ctx()}")
        finally:
            c.close()

    def test_full_filesystem_degrades_to_pass_through_with_correct_responses(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        mnt = os.path.join(self.tmp, "small-fs")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {r.stderr.decode(errors='replace').strip()}")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True))
        self.start(disk_path=os.path.join(mnt, "db"))
        before = self.fetch(url(f"/bytes/{SMALL}", cc(f"max-age={LONG}"), v="before"))
        self.assertBody(before, pattern_bytes(SMALL))
        self.wait_disk_objects(1)
        self.fill(mnt)
        for i in range(12):
            for n in (SMALL, LARGE):
                target = url(f"/bytes/{n}", cc(f"max-age={LONG}"), v=str(i))
                self.assertBody(self.fetch(target), pattern_bytes(n))
        wait_until(lambda: self.storage_errors() > 0, 20, "a disk storage error to be counted")
        # Still serving correctly (pass-through or memory), also for large objects.
        for i in range(3):
            target = url(f"/bytes/{LARGE}", cc(f"max-age={LONG}"), v=f"after{i}")
            self.assertBody(self.fetch(target), pattern_bytes(LARGE))
        self.assertTrue(self.ghala.alive(), self.ctx())
        shutil.rmtree(os.path.join(mnt, "filler"), ignore_errors=True)

    def storage_errors(self) -> float:
        return self.ghala.metrics().value(STORAGE_ERRORS, tier="disk")

    @staticmethod
    def fill(mnt: str):
        os.mkdir(os.path.join(mnt, "filler"))
        block = b"\0" * (256 * 1024)
        i = 0
        while True:
            try:
                with open(os.path.join(mnt, "filler", str(i)), "wb") as f:
                    while True:
                        f.write(block)
                        f.flush()
            except OSError:
                pass
            i += 1
            st = os.statvfs(mnt)
            if st.f_bavail * st.f_frsize < 4096 or i > 1000:
                return


if __name__ == "__main__":
    harness.main()
