"""The origin and the edge, each inside its namespace.

The origin is nginx-light serving config/demo-site at / and netem/pages at /news/, with
`Cache-Control: max-age=3600` (the pages are cacheable, as a real site's static pages are). The
edge is pluggable: ghala by default (`BUILD/src/ghala --config {config} --ready-file {ready}` with
netem/edge/ghala.yaml), nginx-light as a caching reverse proxy (`--edge nginx`), or any command
(`--edge-cmd`), with {config} rendered from `--edge-config` (placeholders {listen_addr},
{listen_port}, {origin_addr}, {origin_port}, {cache_dir}, {valid}, {grace}) and readiness taken
from the ready file.
"""
import os
import shlex
import signal
import subprocess
import time

import topology

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_SITE = os.path.join(ROOT, "config", "demo-site")
GHALA_EDGE_CONFIG = os.path.join(ROOT, "netem", "edge", "ghala.yaml")
GHALA_EDGE_CMD = "{build}/src/ghala --config {config} --ready-file {ready}"
PAGES = os.path.join(ROOT, "netem", "pages")

_COMMON = """user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_processes {workers};
worker_rlimit_nofile 65535;
events {{ worker_connections 30000; multi_accept on; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 100000;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
{body}
}}
"""

_ORIGIN = """  gzip on;
  gzip_vary on;
  gzip_min_length 256;
  gzip_types text/css application/javascript text/javascript text/plain application/json image/svg+xml;
  server {{
    listen 80 backlog=65535;
    add_header Cache-Control "max-age=3600";
    root {demo};
    location /news/ {{ root {pages}; }}
  }}"""

_EDGE = """  proxy_cache_path {d}/cache levels=1:2 keys_zone=edge:64m max_size=2g inactive=1h use_temp_path=off;
  upstream origin {{ server {origin}:80 max_fails=1 fail_timeout=5s; keepalive 64; }}
  server {{
    listen 80 backlog=65535;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
      proxy_cache edge;
      # The freshness is {valid}, whatever the origin says (origin-down needs hits to go stale).
      proxy_ignore_headers Cache-Control Expires;
      proxy_cache_valid 200 301 302 {valid};
      proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      add_header X-Cache-Status $upstream_cache_status;
    }}
  }}"""


class Server:
    def __init__(self, topo, zone, name, run_dir):
        self.topo, self.zone, self.name = topo, zone, name
        self.dir = os.path.join(run_dir, name)
        self.proc = None
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        topo.cleanups.append(self.stop)

    def start_nginx(self, body, workers):
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_COMMON.format(d=self.dir, workers=workers, body=body))
        self._spawn(["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"])

    def _spawn(self, cmd):
        log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.topo.exec_cmd(self.zone, cmd), stdout=log, stderr=log,
                                     start_new_session=True)

    def wait_port(self, addr, port, timeout=15.0):
        """Polls a TCP connect from inside the server's namespace (never a fixed sleep)."""
        probe = ("import socket,sys,time\n"
                 f"end=time.time()+{timeout}\n"
                 "while time.time()<end:\n"
                 f"  try: socket.create_connection(('{addr}',{port}),0.5).close(); sys.exit(0)\n"
                 "  except OSError: time.sleep(0.05)\n"
                 "sys.exit(1)\n")
        rc = subprocess.run(self.topo.exec_cmd(self.zone, ["/usr/bin/python3", "-c", probe])).returncode
        if rc != 0 or (self.proc and self.proc.poll() is not None):
            raise RuntimeError(f"{self.name} did not start listening on {addr}:{port}; "
                               f"see {self.dir}/error.log and stdout.log")

    def wait_file(self, path, timeout=30.0):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(path):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} wrote no ready file {path}; see {self.dir}/stdout.log")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def start_origin(topo, run_dir):
    s = Server(topo, "origin", "origin", run_dir)
    s.start_nginx(_ORIGIN.format(demo=DEMO_SITE, pages=PAGES), workers=1)
    s.wait_port(topology.ORIGIN_ADDR, 80)
    return s


def start_edge(topo, run_dir, name, valid="10m", kind="ghala", build_dir=None, edge_cmd=None,
               edge_config=None):
    """kind: ghala, nginx or cmd (edge_cmd with edge_config)."""
    s = Server(topo, "edge", name, run_dir)
    os.makedirs(os.path.join(s.dir, "cache"), exist_ok=True)
    if kind == "ghala":
        edge_cmd = GHALA_EDGE_CMD.replace("{build}", build_dir)
        edge_config = edge_config or GHALA_EDGE_CONFIG
    if kind == "nginx":
        s.start_nginx(_EDGE.format(d=s.dir, origin=topology.ORIGIN_ADDR, valid=valid), workers=2)
        s.wait_port(topology.EDGE_ADDR, 80)
        return s
    values = dict(listen_addr="0.0.0.0", listen_port=80, origin_addr=topology.ORIGIN_ADDR,
                  origin_port=80, cache_dir=os.path.join(s.dir, "cache"), valid=valid,
                  grace="1h")
    config = os.path.join(s.dir, "edge.conf")
    if edge_config:
        with open(edge_config, encoding="utf-8") as f:
            text = f.read()
        with open(config, "w", encoding="utf-8") as f:
            f.write(text.format(**values))
    ready = os.path.join(s.dir, "ready")
    cmd = edge_cmd.format(config=config, ready=ready, root=ROOT, **values)
    s._spawn(shlex.split(cmd))
    s.wait_file(ready)
    s.wait_port(topology.EDGE_ADDR, 80)
    return s
