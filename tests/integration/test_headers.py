"""Header handling: hop-by-hop removal both ways, Via / X-Forwarded-*, X-Request-Id, traceparent,
Host pass-through and rewrite, request target passed unchanged."""
import json
import re

import harness
from harness import (GhalaTestCase, base_config, header, header_all, http_upstream, request,
                     route)


def echo(port, path="/echo", headers=None, host="main.test"):
    status, hs, body = request(port, "GET", path, headers=headers, host=host)
    assert status == 200, (status, body)
    e = json.loads(body)
    return e, hs


def origin_header(e, name):
    return header([tuple(p) for p in e["headers"]], name)


def origin_header_all(e, name):
    return header_all([tuple(p) for p in e["headers"]], name)


class HeadersTest(GhalaTestCase):
    def test_hop_by_hop_request_headers_are_removed(self):
        g, _ = self.proxy_with_origin()
        e, _ = echo(g.port, headers={
            "Connection": "keep-alive, X-Hop-Named", "X-Hop-Named": "secret",
            "Keep-Alive": "timeout=5", "Proxy-Connection": "keep-alive",
            "X-End-To-End": "kept"})
        for name in ("X-Hop-Named", "Keep-Alive", "Proxy-Connection"):
            self.assertIsNone(origin_header(e, name), f"{name} reached the origin: {e['headers']}")
        conn = origin_header(e, "Connection") or ""
        self.assertNotIn("x-hop-named", conn.lower())
        self.assertEqual(origin_header(e, "X-End-To-End"), "kept")

    def test_hop_by_hop_response_headers_are_removed(self):
        g, _ = self.proxy_with_origin()
        status, hs, body = self.get(
            "/headers?set=Connection:X-Resp-Hop&set=X-Resp-Hop:1&set=Keep-Alive:timeout%3D9"
            "&set=Proxy-Connection:keep-alive&set=X-Resp-End:kept")
        self.assertEqual((status, body), (200, b"headers\n"))
        for name in ("X-Resp-Hop", "Keep-Alive", "Proxy-Connection"):
            self.assertIsNone(header(hs, name), f"{name} reached the client: {hs}")
        self.assertNotIn("x-resp-hop", (header(hs, "Connection") or "").lower())
        self.assertEqual(header(hs, "X-Resp-End"), "kept")

    def test_empty_field_values_pass_both_ways(self):
        # RFC 9110 §5.5: a field value may be empty. llhttp reports one as a zero-length span
        # after the line break, which once looked like an obs-fold line and got a 400.
        g, _ = self.proxy_with_origin()
        e, _ = echo(g.port, headers={"X-Empty": "", "X-After": "1"})
        self.assertEqual(origin_header(e, "X-Empty"), "")
        self.assertEqual(origin_header(e, "X-After"), "1")
        status, hs, body = self.get("/headers?set=X-Empty-Resp:&set=X-After:2")
        self.assertEqual((status, body), (200, b"headers\n"))
        self.assertEqual(header(hs, "X-Empty-Resp"), "")
        self.assertEqual(header(hs, "X-After"), "2")

    def test_via_and_forwarded_headers_are_added(self):
        g, _ = self.proxy_with_origin()
        e, _ = echo(g.port, host="main.test")
        self.assertEqual(origin_header(e, "Via"), "1.1 ghala")
        self.assertEqual(origin_header(e, "X-Forwarded-For"), "127.0.0.1")
        self.assertEqual(origin_header(e, "X-Forwarded-Proto"), "http")
        self.assertEqual(origin_header(e, "X-Forwarded-Host"), "main.test")

    def test_existing_via_and_x_forwarded_for_are_appended_to(self):
        g, _ = self.proxy_with_origin()
        e, _ = echo(g.port, headers={"Via": "1.0 fred", "X-Forwarded-For": "203.0.113.9"})
        via = ", ".join(origin_header_all(e, "Via"))
        xff = ", ".join(origin_header_all(e, "X-Forwarded-For"))
        self.assertEqual(via, "1.0 fred, 1.1 ghala")
        self.assertEqual(xff, "203.0.113.9, 127.0.0.1")

    def test_request_id_is_generated_when_absent_and_sent_both_ways(self):
        g, _ = self.proxy_with_origin()
        e1, hs1 = echo(g.port)
        e2, hs2 = echo(g.port)
        id1, id2 = origin_header(e1, "X-Request-Id"), origin_header(e2, "X-Request-Id")
        self.assertRegex(id1 or "", r"^[0-9a-f]{32}$", "generated id: 32 lowercase hex")
        self.assertEqual(header(hs1, "X-Request-Id"), id1, "client gets the id the origin got")
        self.assertEqual(header(hs2, "X-Request-Id"), id2)
        self.assertNotEqual(id1, id2)

    def test_request_id_from_client_is_kept(self):
        g, _ = self.proxy_with_origin()
        e, hs = echo(g.port, headers={"X-Request-Id": "client-chosen-42"})
        self.assertEqual(origin_header_all(e, "X-Request-Id"), ["client-chosen-42"])
        self.assertEqual(header_all(hs, "X-Request-Id"), ["client-chosen-42"])

    def test_traceparent_is_passed_through_unchanged(self):
        g, _ = self.proxy_with_origin()
        tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        e, _ = echo(g.port, headers={"traceparent": tp, "tracestate": "congo=t61rcWkgMzE"})
        self.assertEqual(origin_header(e, "traceparent"), tp)
        self.assertEqual(origin_header(e, "tracestate"), "congo=t61rcWkgMzE")

    def test_host_is_passed_through_by_default(self):
        g, _ = self.proxy_with_origin()
        e, _ = echo(g.port, host="main.test")
        self.assertEqual(origin_header_all(e, "Host"), ["main.test"])

    def test_host_is_rewritten_when_the_route_says_so(self):
        o = self.start_origin()
        sites = [{"name": "main", "hosts": ["main.test"], "default": True,
                  "routes": [route("/rw/", "o", host_header="other.example"),
                             route("/", "o")]}]
        g = self.start_ghala(base_config(self.tmp, {"o": http_upstream(o.addr)}, sites=sites))
        e, _ = echo(g.port, "/rw/echo", host="main.test")
        self.assertEqual(origin_header_all(e, "Host"), ["other.example"])
        self.assertEqual(origin_header(e, "X-Forwarded-Host"), "main.test")
        self.assertEqual(e["target"], "/rw/echo")
        e, _ = echo(g.port, "/echo", host="main.test")
        self.assertEqual(origin_header_all(e, "Host"), ["main.test"], "other route: no rewrite")

    def test_request_target_and_query_reach_origin_unchanged(self):
        g, _ = self.proxy_with_origin()
        target = "/echo?b=2&a=%2F%20x&a=3&empty="
        e, _ = echo(g.port, target)
        self.assertEqual(e["target"], target)
        self.assertEqual(e["method"], "GET")


if __name__ == "__main__":
    harness.main()
