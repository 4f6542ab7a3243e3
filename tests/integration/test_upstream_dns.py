"""Upstream servers named by host name: resolved by the system resolver at startup and reload,
expanded into one server per address, re-resolved every resolve_interval; an unresolvable name
is a located config error (ghala check, startup, a reload that introduces it).

Tests that need a name whose addresses change run ghala in a user and mount namespace
(unshare -rm) with /etc/hosts bind-mounted from a file of the test's own: the system resolver,
unchanged, reads it, and rewriting that file in place changes what the name resolves to. They
are skipped where unprivileged user namespaces are not available.
"""
import functools
import os
import re
import subprocess

import harness
from harness import (GhalaTestCase, RELOADS, UPSTREAM_ERRORS, base_config, ghala_bin, header,
                     http_upstream, wait_until)

DNS = "ghala_upstream_dns_resolutions_total"
UNRESOLVABLE = "no-such-host.invalid"  # RFC 6761 §6.4: never resolves
# Execs its arguments with $0 bind-mounted on /etc/hosts, in a new user and mount namespace.
HOSTS_WRAPPER = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                 'mount --bind "$0" /etc/hosts && exec "$@"']


@functools.lru_cache(maxsize=1)
def private_hosts_file_works() -> bool:
    try:
        r = subprocess.run(HOSTS_WRAPPER + ["/dev/null", "true"], capture_output=True,
                           timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def write_hosts(path: str, text: str):
    """In place (same inode): the bind mount follows the file, not its name."""
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def located(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the JSON string (its opening quote) that contains needle."""
    for n, line in enumerate(text.splitlines(), 1):
        at = line.find(needle)
        if at >= 0:
            return n, line.rfind('"', 0, at) + 1
    raise AssertionError(f"{needle!r} not in config")


class UpstreamDnsTest(GhalaTestCase):
    def origin_names(self, n: int) -> list[str]:
        names = []
        for _ in range(n):
            status, hs, _ = self.get("/status/200")
            self.assertEqual(status, 200, self.ctx())
            names.append(header(hs, "X-Origin-Name"))
        return names

    def hosts_ghala(self, hosts_text: str, cfg: dict):
        if not private_hosts_file_works():
            self.skipTest("unshare -rm with a bind-mounted /etc/hosts is not available here")
        hosts = os.path.join(self.tmp, "hosts")
        write_hosts(hosts, hosts_text)
        return self.start_ghala(cfg, wrapper=HOSTS_WRAPPER + [hosts]), hosts

    # --- the system resolver, as configured on this machine ---

    def test_localhost_is_resolved_by_the_system_and_logged_by_address(self):
        o = self.start_origin()
        g = self.start_ghala(base_config(self.tmp, {"app": http_upstream(f"localhost:{o.port}")}))
        self.assertEqual(self.origin_names(3), ["origin"] * 3)
        # The system decides what localhost is; the origin listens on 127.0.0.1 only, so any ::1
        # answer must have failed over (passive health) rather than failed the request.
        def logged():
            lines = [line for line in g.access_log_lines() if line["upstream_addr"]]
            return lines if len(lines) >= 3 else None
        lines = wait_until(logged, 10, "three access-log lines")
        self.assertEqual({line["upstream_addr"] for line in lines}, {f"127.0.0.1:{o.port}"})

    def test_check_reports_an_unresolvable_name_at_its_line_and_column(self):
        cfg = base_config(self.tmp, {"app": http_upstream(f"{UNRESOLVABLE}:8080")})
        path = os.path.join(self.tmp, "bad.yaml")
        text = harness.config_text(cfg)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        line, col = located(text, UNRESOLVABLE)
        r = subprocess.run([ghala_bin(), "check", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        want = re.compile(rf"^{re.escape(path)}:{line}:{col}: upstream 'app': cannot resolve "
                          rf"'{re.escape(UNRESOLVABLE)}': \S.*$", re.M)
        self.assertRegex(r.stderr, want)
        # --no-resolve checks the syntax only (a CI machine without the production DNS).
        r = subprocess.run([ghala_bin(), "check", "--no-resolve", path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 host name not resolved", r.stdout)
        # And the server refuses to start, with the same message.
        r = subprocess.run([ghala_bin(), "--config", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, re.compile(
            rf"{re.escape(path)}:{line}:{col}: upstream 'app': cannot resolve", re.M))

    def test_reload_introducing_an_unresolvable_name_is_refused(self):
        o = self.start_origin()
        cfg = base_config(self.tmp, {"app": http_upstream(o.addr)})
        g = self.start_ghala(cfg)
        failures = g.metrics().value(RELOADS, result="failure")
        bad = base_config(self.tmp, {"app": http_upstream(o.addr, f"{UNRESOLVABLE}:{o.port}")})
        g.write_config(bad)
        line, col = located(harness.config_text(bad), UNRESOLVABLE)
        status, _, body = g.admin("POST", "/admin/reload")
        self.assertEqual(status, 400, body)
        self.assertIn(f"{g.config_path}:{line}:{col}: upstream 'app': cannot resolve "
                      f"'{UNRESOLVABLE}'", body.decode())
        self.assertEqual(g.metrics().value(RELOADS, result="failure"), failures + 1)
        self.assertEqual(g.metrics().value(DNS, upstream="app", result="error"), 1)
        self.assertEqual(self.origin_names(2), ["origin"] * 2)  # the old config keeps serving

    # --- a private /etc/hosts ---

    def test_name_with_an_ipv6_and_an_ipv4_address_fails_over_to_the_one_that_listens(self):
        o = self.start_origin()  # 127.0.0.1 only
        cfg = base_config(self.tmp, {"app": http_upstream(f"origin.test:{o.port}")})
        g, _ = self.hosts_ghala("::1 origin.test\n127.0.0.1 origin.test\n", cfg)
        self.assertEqual(self.origin_names(6), ["origin"] * 6)
        # Both addresses were servers: ::1 was tried, refused, and the request went to the other.
        self.assertGreaterEqual(g.metrics().value(UPSTREAM_ERRORS, kind="connect_refused"), 1)

    def test_re_resolution_follows_a_changed_address_and_keeps_the_last_good_one(self):
        a = self.start_origin("a")
        b = self.start_origin("b", host="127.0.0.2", port=a.port)  # same port, other address
        cfg = base_config(self.tmp, {"app": http_upstream(f"origin.test:{a.port}",
                                                          resolve_interval="1s")})
        g, hosts = self.hosts_ghala("127.0.0.1 origin.test\n", cfg)
        self.assertEqual(self.origin_names(2), ["a", "a"])

        write_hosts(hosts, "127.0.0.2 origin.test\n")
        wait_until(lambda: self.origin_names(1) == ["b"], 20, "requests to follow origin.test")
        self.assertGreaterEqual(g.metrics().value(DNS, upstream="app", result="changed"), 1)
        self.assertEqual(self.origin_names(3), ["b"] * 3)

        # The name stops resolving: the last good address keeps serving, the failure is
        # counted each time and logged once per streak.
        write_hosts(hosts, "# origin.test is gone\n")
        wait_until(lambda: g.metrics().value(DNS, upstream="app", result="error") >= 3, 20,
                   "three failed re-resolutions")
        self.assertEqual(self.origin_names(3), ["b"] * 3)
        with open(g.stderr_path, encoding="utf-8", errors="replace") as f:
            self.assertEqual(f.read().count("cannot resolve 'origin.test'"), 1, g.stderr_tail())
        # A reload while the name does not resolve keeps its addresses too (flaky DNS must not
        # block an unrelated change).
        status, _, body = g.admin("POST", "/admin/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.origin_names(2), ["b"] * 2)

        write_hosts(hosts, "127.0.0.1 origin.test\n")
        wait_until(lambda: self.origin_names(1) == ["a"], 20, "origin.test to resolve again")


if __name__ == "__main__":
    harness.main()
