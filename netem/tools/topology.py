"""Network namespaces for the users, the edge and the origin, joined by the link emulator.

    users ns (198.18.0.0/16, one /32 per virtual user) --TUN-- emulator --TUN-- edge ns (198.19.0.1)
                                                                   \\--TUN-- origin ns (198.19.1.1)

Names carry a per-run id (ghn-<id>-users ...), so runs never collide; each run records its pid in
/run/ghala-netem/<id>.pid and a new run first removes namespaces whose owner is dead. Everything
is removed on exit, Ctrl-C, SIGTERM and failure (atexit + signal handlers).
"""
import atexit
import ipaddress
import os
import secrets
import signal
import subprocess
import sys

PREFIX = "ghn"
STATE_DIR = "/run/ghala-netem"
USERS_NET = "198.18.0.0/16"
EDGE_NET = "198.19.0.0/24"
ORIGIN_NET = "198.19.1.0/24"
EDGE_ADDR = "198.19.0.1"
ORIGIN_ADDR = "198.19.1.1"
FIRST_USER = ipaddress.IPv4Address("198.18.1.0")
PROBE_ADDR = "198.18.0.10"  # the warm-up and readiness probes: not one of the measured users


def sh(cmd, check=True, capture=False, input_text=None):
    r = subprocess.run(cmd, check=False, text=True, input=input_text,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout if capture else r.returncode


def user_addr(i: int) -> str:
    return str(FIRST_USER + 1 + i)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_netns_processes(ns: str):
    pids = sh(["ip", "netns", "pids", ns], check=False, capture=True) or ""
    for p in pids.split():
        try:
            os.kill(int(p), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def cleanup_leftovers():
    """Removes namespaces of earlier runs whose harness process is gone (a crash, a kill -9)."""
    out = sh(["ip", "netns", "list"], check=False, capture=True) or ""
    for line in out.splitlines():
        ns = line.split()[0] if line.split() else ""
        if not ns.startswith(PREFIX + "-"):
            continue
        run_id = ns.split("-")[1]
        pidfile = os.path.join(STATE_DIR, run_id + ".pid")
        try:
            with open(pidfile) as f:
                if _pid_alive(int(f.read().strip())):
                    continue
        except (OSError, ValueError):
            pass
        print(f"netem: removing leftover namespace {ns}", file=sys.stderr)
        kill_netns_processes(ns)
        sh(["ip", "netns", "del", ns], check=False)
        try:
            os.unlink(pidfile)
        except OSError:
            pass


class Topology:
    def __init__(self, users: int, router: bool = False):
        self.id = secrets.token_hex(3)
        self.users = users
        zones = ("users", "edge", "origin") + (("router",) if router else ())
        self.ns = {z: f"{PREFIX}-{self.id}-{z}" for z in zones}
        self.tun = {z: f"{PREFIX}{self.id}{z[0]}" for z in ("users", "edge", "origin")}
        self.created = []
        self.cleanups = []  # callables run before the namespaces go (stop servers, emulator)
        self._closed = False

    def netns_path(self, zone):
        return f"/run/netns/{self.ns[zone]}"

    def create(self):
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(os.path.join(STATE_DIR, self.id + ".pid"), "w") as f:
            f.write(str(os.getpid()))
        atexit.register(self.destroy)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        for zone, ns in self.ns.items():
            sh(["ip", "netns", "add", ns])
            self.created.append(ns)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            # Host-side stalls at 1000 users come from here: a 4096-deep accept queue and SYN
            # backlog (default 4096/128-1024) overflow when 1000 users open 6 connections at once,
            # and every dropped SYN costs a 1 s, then 3 s, then 7 s retry. Deep queues remove that.
            for k, v in (("net.core.somaxconn", "65535"), ("net.ipv4.tcp_max_syn_backlog", "65535"),
                         ("net.ipv4.ip_local_port_range", "1024 65000"),
                         ("net.ipv4.tcp_tw_reuse", "1")):
                sh(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{k}={v}"], check=False)

    def configure_tuns(self):
        """Addresses and routes on the emulator's TUN devices (called after each emulator start)."""
        u, e, o = self.tun["users"], self.tun["edge"], self.tun["origin"]
        # A long TUN queue: the kernel drops (tx_dropped) when the emulator falls behind by more
        # than txqueuelen packets; 10000 packets is ~0.4 s of a saturated 300 Mbit/s.
        lines = [f"link set {u} mtu 1500 txqueuelen 10000 up",
                 f"addr add {PROBE_ADDR}/32 dev {u}"]
        lines += [f"addr add {user_addr(i)}/32 dev {u}" for i in range(self.users)]
        lines += [f"route add {EDGE_NET} dev {u}", f"route add {ORIGIN_NET} dev {u}"]
        sh(["ip", "-n", self.ns["users"], "-batch", "-"], input_text="\n".join(lines) + "\n")
        for zone, dev, addr, peers in (("edge", e, EDGE_ADDR, (USERS_NET, ORIGIN_NET)),
                                       ("origin", o, ORIGIN_ADDR, (USERS_NET, EDGE_NET))):
            lines = [f"link set {dev} mtu 1500 txqueuelen 10000 up", f"addr add {addr}/32 dev {dev}"]
            lines += [f"route add {p} dev {dev}" for p in peers]
            sh(["ip", "-n", self.ns[zone], "-batch", "-"], input_text="\n".join(lines) + "\n")

    def configure_veths(self, commands):
        """The tc path: veths to a router namespace (commands from tc_path.link_commands)."""
        sh(["ip", "netns", "exec", self.ns["router"], "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        for c in commands:
            sh(c)
        sh(["ip", "-n", self.ns["users"], "-batch", "-"],
           input_text="".join(f"addr add {user_addr(i)}/32 dev {PREFIX}{self.id}u\n"
                              for i in range(self.users)) +
           f"addr add {PROBE_ADDR}/32 dev {PREFIX}{self.id}u\n")

    def tun_drops(self) -> dict:
        """Kernel-side TUN counters: tx_dropped means the emulator did not read fast enough."""
        import json
        out = {}
        for zone in self.tun:
            txt = sh(["ip", "-n", self.ns[zone], "-s", "-j", "link", "show", "dev", self.tun[zone]],
                     check=False, capture=True)
            try:
                st = json.loads(txt)[0]["stats64"]
                out[zone] = {"tx_dropped": st["tx"]["dropped"], "rx_dropped": st["rx"]["dropped"],
                             "tx_packets": st["tx"]["packets"], "rx_packets": st["rx"]["packets"]}
            except (ValueError, KeyError, IndexError, TypeError):
                out[zone] = None
        return out

    def exec_cmd(self, zone, cmd):
        return ["ip", "netns", "exec", self.ns[zone]] + cmd

    def _on_signal(self, signum, _frame):
        print(f"netem: signal {signum}, tearing down", file=sys.stderr)
        self.destroy()
        sys.exit(128 + signum)

    def destroy(self):
        if self._closed:
            return
        self._closed = True
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # teardown must go on
                print(f"netem: cleanup: {e}", file=sys.stderr)
        for ns in self.created:
            kill_netns_processes(ns)
            sh(["ip", "netns", "del", ns], check=False)
        try:
            os.unlink(os.path.join(STATE_DIR, self.id + ".pid"))
        except OSError:
            pass


def has_sch_netem() -> bool:
    """Tries a netem qdisc once in a throwaway namespace (never touches the host's interfaces)."""
    ns = f"{PREFIX}-probe{os.getpid()}"
    if sh(["ip", "netns", "add", ns], check=False) != 0:
        return False
    try:
        return sh(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                   "delay", "1ms"], check=False) == 0
    finally:
        sh(["ip", "netns", "del", ns], check=False)


def preflight() -> str | None:
    """Why this machine cannot run the harness, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    ns = f"{PREFIX}-pre{os.getpid()}"
    if sh(["ip", "netns", "add", ns], check=False) != 0:
        return "cannot create a network namespace (ip netns add failed)"
    sh(["ip", "netns", "del", ns], check=False)
    return None
