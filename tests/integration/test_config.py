"""Config validation (`ghala check`), hot reload by SIGHUP and POST /admin/reload (broken config
refused, old one keeps serving, counted), admin token, /healthz and /readyz."""
import json
import re
import subprocess

import harness
from harness import (RELOADS, GhalaTestCase, base_config, config_text, header, http_upstream,
                     request, route)

BROKEN = """\
workers: 1
listen:
  - address: 127.0.0.1:0
bogus_key: 1
limits:
  max_connections: lots
  max_request_body: 12 parsecs
timeouts:
  header_read: 10 fortnights
upstreams:
  o:
    servers:
      - address: 127.0.0.1:1
sites:
  - name: main
    default: true
    hosts: [main.test]
    routes:
      - match: /
        upstream: nowhere
  - name: main
    hosts: [other.test]
    routes:
      - match: /
        upstream: o
"""
# (marker text on the line, what is wrong there)
BROKEN_LINES = [("bogus_key", "unknown key"), ("max_connections: lots", "wrong type"),
                ("12 parsecs", "bad size"), ("10 fortnights", "bad duration"),
                ("upstream: nowhere", "unknown upstream"),
                # the second "- name: main" (the first is followed by "default:")
                ("- name: main\n    hosts", "duplicate site")]


def check(path, timeout=60):
    return subprocess.run([harness.ghala_bin(), "check", path], capture_output=True, text=True,
                          timeout=timeout)


class CheckTest(GhalaTestCase):
    def write(self, name, text):
        path = f"{self.tmp}/{name}"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_check_accepts_a_valid_config_with_one_summary_line(self):
        o_addr = "127.0.0.1:1"  # never contacted by check
        path = self.write("ok.yaml", config_text(base_config(self.tmp, {"o": http_upstream(o_addr)})))
        r = check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.strip().splitlines()), 1, f"summary: {r.stdout!r}")

    def test_check_accepts_the_shipped_default_config(self):
        r = check(f"{harness.REPO}/config/ghala.yaml")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_reports_every_error_with_line_and_column(self):
        path = self.write("broken.yaml", BROKEN)
        r = check(path)
        self.assertEqual(r.returncode, 1, f"stdout {r.stdout!r} stderr {r.stderr!r}")
        located = {}
        for line in r.stderr.splitlines():
            m = re.match(re.escape(path) + r":(\d+):(\d+): (.+)$", line)
            if m:
                self.assertGreaterEqual(int(m.group(2)), 1, line)
                located.setdefault(int(m.group(1)), []).append(m.group(3))
        for marker, what in BROKEN_LINES:
            lineno = BROKEN[:BROKEN.index(marker)].count("\n") + 1
            self.assertIn(lineno, located, f"no error at line {lineno} ({what}); got:\n{r.stderr}")

    def test_check_reports_yaml_syntax_error_with_location(self):
        path = self.write("syntax.yaml", "workers: 1\nlisten: [\n  - address: x\n")
        r = check(path)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, re.escape(path) + r":\d+:\d+: ")

    def test_check_of_missing_file_fails(self):
        r = check(f"{self.tmp}/does-not-exist.yaml")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip())


class ReloadTest(GhalaTestCase):
    def setUp(self):
        super().setUp()
        self.a, self.b = self.start_origin("a"), self.start_origin("b")
        self.cfg_a = base_config(self.tmp, {"a": http_upstream(self.a.addr),
                                            "b": http_upstream(self.b.addr)})
        self.cfg_b = base_config(self.tmp, {"b": http_upstream(self.b.addr),
                                            "a": http_upstream(self.a.addr)})
        self.g = self.start_ghala(self.cfg_a)

    def served_by(self):
        status, hs, _ = self.get("/status/200")
        self.assertEqual(status, 200, self.ctx())
        return header(hs, "X-Origin-Name")

    def current_hash(self):
        """The hash label of ghala_config_info samples whose value is 1 (the running config)."""
        return {ls.get("hash") for n, ls, v in self.g.metrics().samples
                if n == "ghala_config_info" and v == 1}

    def test_sighup_applies_a_valid_config(self):
        self.assertEqual(self.served_by(), "a")
        hashes_before = self.current_hash()
        self.g.reload_via_sighup(self.cfg_b, "success")
        self.assertEqual(self.served_by(), "b")
        hashes_after = self.current_hash()
        self.assertNotEqual(hashes_before, hashes_after, "ghala_config_info{hash} did not change")

    def test_sighup_with_broken_config_is_refused_and_old_config_keeps_serving(self):
        self.g.reload_via_sighup(BROKEN, "failure")
        self.assertEqual(self.served_by(), "a")
        self.assertTrue(self.g.alive())
        self.assertRegex(harness.tail(self.g.stderr_path, 200),
                         re.escape(self.g.config_path) + r":\d+:\d+: ",
                         "the reload errors are logged with file:line:col")
        # A later valid config is still accepted.
        self.g.reload_via_sighup(self.cfg_b, "success")
        self.assertEqual(self.served_by(), "b")

    def test_admin_reload_applies_valid_config(self):
        before = self.g.metrics().value(RELOADS, result="success")  # the startup load counts
        self.g.write_config(self.cfg_b)
        status, _, body = self.g.admin("POST", "/admin/reload")
        self.assertEqual(status, 200, body)
        json.loads(body)
        self.assertEqual(self.served_by(), "b")
        self.assertEqual(self.g.metrics().value(RELOADS, result="success"), before + 1)

    def test_admin_reload_refuses_broken_config_with_errors(self):
        before = self.g.metrics().value(RELOADS, result="failure")
        self.g.write_config(BROKEN)
        status, _, body = self.g.admin("POST", "/admin/reload")
        self.assertIn(status, (400, 409), body)
        self.assertIn(b"bogus_key", body, "the errors are in the answer")
        self.assertEqual(self.served_by(), "a")
        self.assertEqual(self.g.metrics().value(RELOADS, result="failure"), before + 1)

    def test_healthz_and_readyz(self):
        status, _, body = self.g.admin("GET", "/healthz")
        self.assertEqual((status, body.strip()), (200, b"ok"))
        self.assertEqual(self.g.admin("GET", "/readyz")[0], 200)


class AdminTokenTest(GhalaTestCase):
    def test_admin_reload_needs_the_bearer_token_when_one_is_set(self):
        o = self.start_origin()
        cfg = base_config(self.tmp, {"o": http_upstream(o.addr)},
                          admin={"listen": harness._bind_addr(), "token": "s3cret-token-0123456789abcdef"})
        g = self.start_ghala(cfg)
        self.assertIn(g.admin("POST", "/admin/reload")[0], (401, 403))
        self.assertIn(g.admin("POST", "/admin/reload",
                              headers={"Authorization": "Bearer wrong"})[0], (401, 403))
        status, _, body = g.admin("POST", "/admin/reload",
                                  headers={"Authorization": "Bearer s3cret-token-0123456789abcdef"})
        self.assertEqual(status, 200, body)
        # Reading metrics needs no token.
        self.assertEqual(g.admin("GET", "/metrics")[0], 200)


if __name__ == "__main__":
    harness.main()
