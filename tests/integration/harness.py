"""Integration-test harness: real ghala and origin processes on OS-chosen ports, real clients.

Rules this module enforces for every test (docs/testing.md):
- every process is started here and registered for cleanup (addCleanup), SIGTERM then SIGKILL;
- ports come from the OS (ghala and the origin bind port 0 and report the port back);
- readiness is polled with a deadline, never slept for;
- all files live in a per-test temporary directory;
- traffic goes to 127.0.0.1 only.

The ghala binary comes from $GHALA_BIN (meson sets it); standalone runs fall back to
build/src/ghala in the source tree.

The YAML schema used by GhalaConfig follows include/ghala/config/config.hpp and docs/config.md.
Config is written as JSON text, which is valid YAML. Keys whose spelling is not fixed by
config.hpp yet are produced in exactly one place here (http_upstream, route) so they are easy to
keep true.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from origin import pattern_bytes, pattern_sha256  # noqa: E402  (re-exported for tests)

__all__ = ["pattern_bytes", "pattern_sha256"]

HOST = "127.0.0.1"
# Deadlines are generous: 2 shared cores, ASan builds, and five other engineers building.
START_DEADLINE = float(os.environ.get("GHALA_TEST_START_DEADLINE", "30"))
IO_TIMEOUT = float(os.environ.get("GHALA_TEST_IO_TIMEOUT", "20"))
UNDER_ASAN = "asan" in os.environ.get("GHALA_BIN", "")


def ghala_bin() -> str:
    path = os.environ.get("GHALA_BIN") or os.path.join(REPO, "build", "src", "ghala")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"ghala binary not found at {path} (set GHALA_BIN)")
    return path


class Fatal(AssertionError):
    """Raised by a wait_until predicate to stop waiting at once (e.g. the process died)."""


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    """Polls predicate() until it returns a truthy value (returned) or timeout (AssertionError).
    Exceptions from predicate count as "not yet", except Fatal, which ends the wait."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Fatal:
            raise
        except Exception as e:  # noqa: BLE001  (predicate may fail while the system settles)
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def tail(path: str, n: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return f"<cannot read {path}: {e}>"


def stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, grace: float = 10.0) -> int | None:
    """Sends sig, waits up to grace seconds, then SIGKILLs. Returns the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return proc.wait(timeout=10)


def rss_kib(pid: int) -> int:
    """Resident set size of pid in KiB, from /proc/PID/status (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def free_port() -> int:
    """Only for programs that cannot report an OS-chosen port (nginx in bench/). Racy by nature."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Origin

class Origin:
    """tests/integration/origin.py as a separate process on an OS-chosen port."""

    def __init__(self, workdir: str, name: str = "origin", host: str = HOST, port: int = 0):
        """host/port: where to listen (another loopback address, or a port taken by another
        origin on another address, for tests of upstream host names)."""
        self.name = name
        self.workdir = workdir
        port_file = os.path.join(workdir, f"origin-{name}.port")
        self.log_path = os.path.join(workdir, f"origin-{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "origin.py"), "--name", name,
             "--host", host, "--port", str(port), "--port-file", port_file],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._log.close()

        def port_ready():
            if self.proc.poll() is not None:
                raise Fatal(f"origin {name} exited {self.proc.returncode}:\n"
                                     f"{tail(self.log_path)}")
            if os.path.exists(port_file):
                with open(port_file, encoding="ascii") as f:
                    return int(f.read().strip())
            return None

        try:
            self.port = wait_until(port_ready, START_DEADLINE, f"origin {name} to listen")
        except BaseException:
            self.stop()
            raise
        self.host = host
        self.addr = f"{host}:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        c = http.client.HTTPConnection(self.host, self.port, timeout=IO_TIMEOUT)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stats(self) -> dict:
        status, body = self.get("/__stats")
        assert status == 200, status
        return json.loads(body)

    def path_count(self, path: str) -> int:
        return self.stats()["paths"].get(path, 0)

    def reset(self):
        self.get("/__reset")

    def stop(self):
        stop_process(self.proc, grace=5)
        self._log.close()


# ---------------------------------------------------------------------------------------------
# Config

def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def http_upstream(*addrs: str, **opts) -> dict:
    """An HTTP upstream pool: addrs are "127.0.0.1:PORT"; opts are Upstream keys
    (balance: round_robin|least_conn, connect_timeout, first_byte_timeout, read_timeout,
    keepalive_connections, keepalive_idle)."""
    up = {"servers": [f"http://{a}" for a in addrs]}
    up.update(opts)
    return up


def dir_upstream(path: str) -> dict:
    return {"origin": f"dir:{path}"}


def route(match: str, upstream: str, **opts) -> dict:
    """A route: match is a path prefix ("/api/") or a glob ("/img/*.jpg"); opts such as
    host_header="other.example"."""
    r = {"match": match, "upstream": upstream}
    r.update(opts)
    return r


def _bind_addr() -> str:
    """127.0.0.1:0, the contract. GHALA_TEST_PICK_PORTS=1 (a debugging aid for a ghala that
    cannot bind port 0 yet) picks a free port here instead, which is racy."""
    if os.environ.get("GHALA_TEST_PICK_PORTS") == "1":
        return f"{HOST}:{free_port()}"
    return f"{HOST}:0"


def base_config(workdir: str, upstreams: dict, sites: list | None = None, **over) -> dict:
    """A complete ghala config: one listener and the admin listener on port 0, 1 worker (so that
    per-worker behaviour such as round-robin order and keep-alive reuse is deterministic), access
    log to a file in workdir. sites defaults to one default site routing / to the first
    upstream."""
    if sites is None:
        first = next(iter(upstreams))
        sites = [{"name": "main", "hosts": ["main.test"], "default": True,
                  "routes": [route("/", first)]}]
    cfg = {
        "workers": 1,
        "listen": [{"address": _bind_addr()}],
        "admin": {"listen": _bind_addr()},
        "limits": {"max_connections": 1000, "max_request_line": "8KiB",
                   "max_header_bytes": "32KiB", "max_headers": 100,
                   "max_request_body": "64MiB"},
        "timeouts": {"header_read": "10s", "keepalive_idle": "60s", "body_read": "30s",
                     "client_write_stall": "30s", "shutdown_grace": "10s"},
        "access_log": {"target": "file", "path": os.path.join(workdir, "access.log")},
        "upstreams": upstreams,
        "sites": sites,
    }
    return deep_merge(cfg, over)


def config_text(cfg: dict | str) -> str:
    return cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# ghala

class Ghala:
    """One ghala process. start() writes the config, runs ghala with --ready-file and waits for
    it. Logs: workdir/ghala.stdout, workdir/ghala.stderr."""

    def __init__(self, workdir: str, cfg: dict | str, *, log_level: str = "info",
                 extra_args=(), name: str = "ghala", wrapper=()):
        """wrapper: a command that execs ghala (argv prefix), keeping its pid: e.g. unshare to
        give ghala an /etc/hosts of its own (test_upstream_dns.py)."""
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        self.ready_path = os.path.join(workdir, f"{name}.ready.json")
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.write_config(cfg)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.proc = subprocess.Popen(
            [*wrapper, ghala_bin(), "--config", self.config_path, "--ready-file", self.ready_path,
             "--log-level", log_level, *extra_args],
            stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL, env=env)
        # The child holds its own copies of the log descriptors; the parent needs none.
        self._out.close()
        self._err.close()
        self.pid = self.proc.pid
        try:
            self.ready = wait_until(self._read_ready, START_DEADLINE, "ghala's ready file")
        except BaseException:
            self.stop(expect=None)
            raise
        self.listen = self.ready["listen"]
        self.port = int(self.listen[0].rsplit(":", 1)[1])
        admin = self.ready.get("admin")
        self.admin_port = int(admin.rsplit(":", 1)[1]) if admin else None

    def _read_ready(self):
        if self.proc.poll() is not None:
            raise Fatal(f"ghala exited with {self.proc.returncode} before it was "
                                 f"ready:\n{self.stderr_tail()}")
        try:
            with open(self.ready_path, encoding="utf-8") as f:
                data = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if data.get("pid") != self.proc.pid:
            raise Fatal(f"ready file pid {data.get('pid')} != {self.proc.pid}")
        return data

    def write_config(self, cfg: dict | str):
        self.config = cfg
        tmp = self.config_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(config_text(cfg))
        os.replace(tmp, self.config_path)

    def stderr_tail(self, n: int = 40) -> str:
        return f"--- ghala stderr (tail) ---\n{tail(self.stderr_path, n)}\n---"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def stop(self, sig=signal.SIGTERM, expect: int | None = 0, grace: float = 20.0):
        rc = stop_process(self.proc, sig, grace)
        self._out.close()
        self._err.close()
        if expect is not None and rc != expect:
            raise AssertionError(f"ghala exited with {rc}, expected {expect}\n"
                                 f"{self.stderr_tail()}")
        return rc

    # --- admin ---
    def admin(self, method: str, path: str, headers=None, body=None):
        return request(self.admin_port, method, path, headers=headers, body=body)

    def metrics_text(self) -> str:
        status, _, body = self.admin("GET", "/metrics")
        assert status == 200, f"/metrics answered {status}\n{self.stderr_tail()}"
        return body.decode()

    def metrics(self) -> "Metrics":
        return Metrics(self.metrics_text())

    def reload_via_sighup(self, cfg, result: str = "success", timeout: float = 20.0):
        """Writes cfg, sends SIGHUP, waits until ghala_config_reloads_total{result} moves."""
        before = self.metrics().value(RELOADS, result=result)
        self.write_config(cfg)
        self.send_signal(signal.SIGHUP)
        wait_until(lambda: self.metrics().value(RELOADS, result=result) > before, timeout,
                   f"ghala_config_reloads_total{{result=\"{result}\"}} to move after SIGHUP")

    def access_log_lines(self, path: str | None = None) -> list[dict]:
        path = path or os.path.join(self.workdir, "access.log")
        out = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
        return out


# Metric names, as listed in docs/metrics.md.
REQUESTS = "ghala_requests_total"
RELOADS = "ghala_config_reloads_total"
CONNECTIONS_OPEN = "ghala_connections_open"
CONNECTIONS_TOTAL = "ghala_connections_total"
TIMEOUTS = "ghala_timeouts_total"
UPSTREAM_ERRORS = "ghala_upstream_errors_total"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """Parsed Prometheus text exposition: samples as (name, labels dict, value)."""

    def __init__(self, text: str):
        self.text = text
        self.samples = []
        self.types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError(f"unparseable metrics line: {line!r}")
            labels = dict(_LABEL.findall(m.group(3) or ""))
            self.samples.append((m.group(1), labels, float(m.group(4))))

    def value(self, name: str, **labels) -> float:
        """Sum of the samples of name whose labels include the given ones (0 when none)."""
        return sum(v for n, ls, v in self.samples
                   if n == name and all(ls.get(k) == str(x) for k, x in labels.items()))

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.samples)

    def labels_of(self, name: str) -> list[dict]:
        return [ls for n, ls, _ in self.samples if n == name]


# ---------------------------------------------------------------------------------------------
# Clients

def request(port: int, method: str, path: str, headers=None, body=None,
            timeout: float = IO_TIMEOUT, host: str | None = None):
    """One request on a fresh http.client connection: (status, headers as list of pairs, body).
    Header order and duplicates are kept."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        skip_host = False
        if host is not None:
            hdrs["Host"] = host
            skip_host = True
        c.putrequest(method, path, skip_host=skip_host or "Host" in hdrs,
                     skip_accept_encoding=True)
        for k, v in hdrs.items():
            c.putheader(k, v)
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                        for k in hdrs):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheaders(), data
    finally:
        c.close()


def header(headers, name: str):
    """The value of the first header called name (case-insensitive), or None."""
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def header_all(headers, name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


class Response:
    def __init__(self, version, status, reason, headers, body, trailers=()):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body, self.trailers = headers, body, list(trailers)

    def header(self, name):
        return header(self.headers, name)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} body={self.body[:80]!r}>"


class RawConn:
    """A raw TCP client for byte-exact requests (smuggling, pipelining, limits) with a small,
    strict HTTP/1.1 response reader."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed; pending {self.buf[:200]!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buf)} of {n} body bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, method: str = "GET", skip_interim: bool = True) -> Response:
        while True:
            status_line = self._read_line().decode("latin-1")
            version, status, reason = (status_line.split(" ", 2) + [""])[:3]
            headers = []
            while True:
                line = self._read_line()
                if not line:
                    break
                k, _, v = line.decode("latin-1").partition(":")
                headers.append((k, v.strip()))
            status = int(status)
            if 100 <= status < 200 and skip_interim:
                continue
            break
        body, trailers = b"", []
        te = header(headers, "transfer-encoding")
        cl = header(headers, "content-length")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif te is not None:
            assert te.lower() == "chunked", f"unexpected Transfer-Encoding {te!r}"
            parts = []
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while True:
                        t = self._read_line()
                        if not t:
                            break
                        k, _, v = t.decode("latin-1").partition(":")
                        trailers.append((k, v.strip()))
                    break
                parts.append(self._read_exact(size))
                assert self._read_line() == b"", "chunk not followed by CRLF"
            body = b"".join(parts)
        elif cl is not None:
            body = self._read_exact(int(cl))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return Response(version, status, reason, headers, body, trailers)

    def read_until_closed(self, timeout: float = IO_TIMEOUT) -> tuple[bytes, bool]:
        """Reads until EOF or timeout; returns (all pending bytes, closed?). A reset counts as
        closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                if not self._fill():
                    data, self.buf = self.buf, b""
                    return data, True
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                data, self.buf = self.buf, b""
                return data, True
        data, self.buf = self.buf, b""
        self.sock.settimeout(self.timeout)
        return data, False

    def is_closed_by_peer(self, timeout: float = IO_TIMEOUT) -> bool:
        _, closed = self.read_until_closed(timeout)
        return closed


def raw_exchange(port: int, data: bytes, timeout: float = IO_TIMEOUT) -> tuple[bytes, bool]:
    """Sends data on a new connection and returns (everything received, closed by peer?)."""
    with RawConn(port, timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_until_closed(timeout)


def parse_status(raw: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    assert m, f"no HTTP status line in {raw[:200]!r}"
    return int(m.group(1))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Load

class LoadClients:
    """N threads sending requests back to back on keep-alive connections (new connection after
    a close) until stop(); every failure (exception, wrong status or body) is recorded with the
    time it happened. Used by the reload and shutdown tests."""

    def __init__(self, port: int, path: str, threads: int = 4, expect_status: int = 200,
                 expect_body: bytes | None = None, stop_on_refused: bool = False):
        self.port, self.path = port, path
        self.expect_status, self.expect_body = expect_status, expect_body
        self.stop_on_refused = stop_on_refused
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.refused = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _run(self):
        conn = None
        while not self.stopping.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=IO_TIMEOUT)
                try:
                    conn.connect()
                except ConnectionRefusedError:
                    conn = None
                    with self.lock:
                        self.refused += 1
                    if self.stop_on_refused:
                        return
                    time.sleep(0.05)
                    continue
            try:
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                bad = r.status != self.expect_status or (
                    self.expect_body is not None and body != self.expect_body)
                with self.lock:
                    if bad:
                        self.failures.append(f"status {r.status} body {body[:100]!r}")
                    else:
                        self.ok += 1
                if r.will_close:
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001  (every failure counts)
                with self.lock:
                    self.failures.append(repr(e))
                conn.close()
                conn = None
                if self.stop_on_refused:
                    return
        if conn is not None:
            conn.close()

    def stop(self, timeout: float = 60):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)

    def wait_ok(self, n: int, timeout: float = 60):
        wait_until(lambda: self.ok >= n or self.failures, timeout, f"{n} successful requests")


# ---------------------------------------------------------------------------------------------
# Test base class

class GhalaTestCase(unittest.TestCase):
    """Gives each test a temp dir and start_origin()/start_ghala() whose processes are stopped
    in cleanup, also when the test fails. Failure messages carry ghala's stderr tail."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="ghala-it-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.ghala = None

    def start_origin(self, name: str = "origin", **kw) -> Origin:
        o = Origin(self.tmp, name, **kw)
        self.addCleanup(o.stop)
        return o

    def start_ghala(self, cfg: dict | str, **kw) -> Ghala:
        g = Ghala(self.tmp, cfg, **kw)
        # Registered after the origins, so it runs before them (cleanups are LIFO).
        self.addCleanup(lambda: g.stop(expect=None) if g.alive() else None)
        self.ghala = g
        return g

    def proxy_with_origin(self, **over) -> tuple[Ghala, Origin]:
        """The common case: one origin behind one default site routing everything to it."""
        o = self.start_origin()
        cfg = base_config(self.tmp, {"origin": http_upstream(o.addr)}, **over)
        return self.start_ghala(cfg), o

    def get(self, path: str, **kw):
        return request(self.ghala.port, "GET", path, **kw)

    def ctx(self) -> str:
        """Context for failure messages."""
        return self.ghala.stderr_tail() if self.ghala else ""

    def assertStatus(self, got: int, want: int, what: str = ""):
        self.assertEqual(got, want, f"{what}: status {got}, want {want}\n{self.ctx()}")

    def assertRejectedAndClosed(self, port: int, raw: bytes, status: int = 400):
        """Sends raw bytes; expects exactly one response with status, then a close."""
        data, closed = raw_exchange(port, raw)
        self.assertTrue(data, f"no response to {raw[:120]!r}\n{self.ctx()}")
        self.assertEqual(parse_status(data), status,
                         f"request {raw[:160]!r}\ngot {data[:300]!r}\n{self.ctx()}")
        self.assertEqual(data.count(b"HTTP/1.1 "), 1,
                         f"more than one response to {raw[:160]!r}: {data[:600]!r}")
        self.assertTrue(closed, f"connection not closed after {status} for {raw[:160]!r}")


def main():
    unittest.main(verbosity=2)
