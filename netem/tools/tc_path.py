"""The kernel emulation path: tc netem + htb in a router namespace, for kernels with sch_netem.

    users ns --veth-- router ns --veth-- edge ns
                          \\----veth-- origin ns

Same profiles as the userspace emulator (tools/profiles.py), same places on the path:

    users veth egress (in users ns)   htb class per user address (access_up rate) + netem leaf
                                      (one-way delay, jitter, loss, limit); with [cell], the user
                                      classes are children of one cell class (cell_up rate)
    router -> users veth egress       the same per user for access_down / cell_down
    router -> origin veth egress      one htb class (backhaul_up rate) + netem leaf
    origin veth egress (origin ns)    one htb class (backhaul_down rate) + netem leaf

Differences from the userspace model, documented in netem/README.md: netem delays before htb
serialises (delay then rate, the userspace model serialises first; the sum is the same on an idle
link), netem's `limit` counts the packets in delay too (so it is the queue limit plus the
bandwidth-delay product), and jitter may reorder on kernels whose netem reorders jittered
packets. Outages are `tc qdisc change ... loss 100%` on both backhaul qdiscs at the scheduled
times. Each generated command is a plain argv list, unit-tested in tests/unit/netem/tc_path_test.py
without a kernel; `Tc.apply` runs them.
"""
import json
import math
import subprocess
import threading
import time

import topology

MTU = 1500
ROUTER_ADDR = {"users": "198.18.0.1", "edge": "198.19.0.254", "origin": "198.19.1.254"}
DEFAULT_CLASS = "1:2"  # unmatched traffic (never shaped: nothing but the measured users is)


def pct(x: float) -> str:
    return f"{100 * x:.4g}%"


def netem_args(d, with_loss=True) -> list:
    """netem parameters of one profiles.Direction: delay, jitter, loss model, limit."""
    a = ["delay", f"{d.delay_ms:g}ms"]
    if d.jitter_ms:
        a += [f"{d.jitter_ms:g}ms", "distribution", "normal"]
    if with_loss and d.ge_p:
        # Our model: Gilbert-Elliott plus Bernoulli `loss` in both states. netem's gemodel takes
        # (p, r, 1-h, 1-k) = (enter bad, leave bad, loss in bad, loss in good): fold `loss` in.
        bad = 1 - (1 - d.loss) * (1 - d.ge_loss_bad)
        a += ["loss", "gemodel", pct(d.ge_p), pct(d.ge_r), pct(bad), pct(d.loss)]
    elif with_loss and d.loss:
        a += ["loss", "random", pct(d.loss)]
    # netem's limit counts every packet it holds, also those in delay: queue + bandwidth-delay.
    bdp = d.rate_kbit * 1000 / 8 * (d.delay_ms + 3 * d.jitter_ms) / 1000
    a += ["limit", str(max(1, math.ceil(d.queue_bytes / MTU)) + math.ceil(bdp / MTU) + 1)]
    return a


def rate(kbit: float) -> str:
    return f"{kbit:g}kbit"


def class_id(i: int) -> str:
    return f"1:{i + 16:x}"


def per_user_commands(dev, direction, cell_direction, users, match) -> list:
    """htb + netem on `dev`, one class per user; `match` is 'src' or 'dst'."""
    cmds = [["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "2",
             "r2q", "1"],
            ["class", "add", "dev", dev, "parent", "1:", "classid", DEFAULT_CLASS, "htb", "rate",
             "10gbit"]]
    parent = "1:"
    if cell_direction:
        cmds.append(["class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate",
                     rate(cell_direction.rate_kbit), "ceil", rate(cell_direction.rate_kbit)])
        parent = "1:1"
    for i in range(users):
        cid = class_id(i)
        cmds.append(["class", "add", "dev", dev, "parent", parent, "classid", cid, "htb", "rate",
                     rate(direction.rate_kbit), "ceil", rate(direction.rate_kbit), "quantum",
                     str(MTU)])
        cmds.append(["qdisc", "add", "dev", dev, "parent", cid, "handle", f"{i + 16:x}:",
                     "netem"] + netem_args(direction))
        cmds.append(["filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1",
                     "u32", "match", "ip", match, f"{topology.user_addr(i)}/32", "flowid", cid])
    return cmds


def shared_commands(dev, direction, lossy=True) -> list:
    """One htb class with a netem leaf: every packet leaving `dev` crosses this link."""
    return [["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10",
             "r2q", "1"],
            ["class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate",
             rate(direction.rate_kbit), "ceil", rate(direction.rate_kbit)],
            ["qdisc", "add", "dev", dev, "parent", "1:10", "handle", "10:", "netem"] +
            netem_args(direction, lossy)]


def devices(run_id: str) -> dict:
    """veth names: (namespace side, router side) per zone."""
    p = topology.PREFIX + run_id
    return {z: (f"{p}{z[0]}", f"{p}r{z[0]}") for z in ("users", "edge", "origin")}


def plan(prof, backhaul, users: int, run_id: str) -> dict:
    """Every tc command of a run, by namespace zone ('users', 'router', 'origin'), plus the
    outage schedule as [(at_s, zone, argv)]."""
    dev = devices(run_id)
    acc, cell, bh = prof.access, prof.cell, backhaul.backhaul
    cmds = {
        "users": per_user_commands(dev["users"][0], acc.up, cell.up if cell else None, users,
                                   "src"),
        "router": per_user_commands(dev["users"][1], acc.down, cell.down if cell else None, users,
                                    "dst") + shared_commands(dev["origin"][1], bh.up),
        "origin": shared_commands(dev["origin"][0], bh.down),
    }
    schedule = []
    for start, end in bh.outages:
        schedule += [(start, zone, argv) for zone, argv in backhaul_state_commands(dev, bh, False)]
        schedule += [(end, zone, argv) for zone, argv in backhaul_state_commands(dev, bh, True)]
    schedule.sort(key=lambda x: x[0])
    return {"commands": cmds, "schedule": schedule,
            "cut": backhaul_state_commands(dev, bh, False)}


def backhaul_state_commands(dev, bh, up: bool) -> list:
    """[(zone, argv)] turning both backhaul qdiscs into a 100 % loss (cut) or back (up)."""
    out = []
    for zone, d, direction in (("router", dev["origin"][1], bh.up),
                               ("origin", dev["origin"][0], bh.down)):
        base = ["qdisc", "change", "dev", d, "parent", "1:10", "handle", "10:", "netem"]
        out.append((zone, base + (netem_args(direction) if up else
                                  netem_args(direction, False) + ["loss", "random", "100%"])))
    return out


def link_commands(run_id: str, ns: dict) -> list:
    """`ip` commands (argv) creating the router namespace's veths, addresses and routes. `ns`
    maps zone -> namespace name, including 'router'."""
    dev = devices(run_id)
    c = []
    for zone in ("users", "edge", "origin"):
        inner, outer = dev[zone]
        c.append(["ip", "-n", ns["router"], "link", "add", outer, "type", "veth", "peer", "name",
                  inner, "netns", ns[zone]])
        for n, d in ((ns["router"], outer), (ns[zone], inner)):
            # One segment per skb: htb and netem must see the packets the link would carry.
            c.append(["ip", "-n", n, "link", "set", d, "mtu", str(MTU), "gso_max_segs", "1",
                      "up"])
        c.append(["ip", "-n", ns["router"], "addr", "add", f"{ROUTER_ADDR[zone]}/32", "dev",
                  outer])
    u, e, o = (dev[z] for z in ("users", "edge", "origin"))
    c += [["ip", "-n", ns["router"], "route", "add", topology.USERS_NET, "dev", u[1]],
          ["ip", "-n", ns["router"], "route", "add", f"{topology.EDGE_ADDR}/32", "dev", e[1]],
          ["ip", "-n", ns["router"], "route", "add", f"{topology.ORIGIN_ADDR}/32", "dev", o[1]],
          ["ip", "-n", ns["users"], "route", "add", "198.19.0.0/16", "via", ROUTER_ADDR["users"],
           "dev", u[0], "onlink"],
          ["ip", "-n", ns["edge"], "addr", "add", f"{topology.EDGE_ADDR}/32", "dev", e[0]],
          ["ip", "-n", ns["edge"], "route", "add", topology.USERS_NET, "via", ROUTER_ADDR["edge"],
           "dev", e[0], "onlink"],
          ["ip", "-n", ns["edge"], "route", "add", topology.ORIGIN_NET, "via",
           ROUTER_ADDR["edge"], "dev", e[0], "onlink"],
          ["ip", "-n", ns["origin"], "addr", "add", f"{topology.ORIGIN_ADDR}/32", "dev", o[0]],
          ["ip", "-n", ns["origin"], "route", "add", topology.USERS_NET, "via",
           ROUTER_ADDR["origin"], "dev", o[0], "onlink"],
          ["ip", "-n", ns["origin"], "route", "add", topology.EDGE_NET, "via",
           ROUTER_ADDR["origin"], "dev", o[0], "onlink"]]
    return c


def choose(requested: str, has_netem) -> tuple:
    """(path, note): which emulator to use for --emulator `requested` ('auto', 'userspace', 'tc');
    `has_netem` is called at most once (it creates a throwaway namespace)."""
    if requested == "userspace":
        return "userspace", None
    available = has_netem()
    if requested == "tc" and not available:
        return None, "--emulator tc: this kernel has no sch_netem"
    if available:
        return "tc", None
    return "userspace", "no sch_netem in this kernel: using the userspace emulator"


class Tc:
    """Applies a plan to a Topology (with a 'router' namespace), runs the outage schedule, and
    reports the qdisc counters in the userspace emulator's JSON shape (no lag: the kernel)."""

    def __init__(self, topo, prof, backhaul, stats_path):
        self.topo, self.stats_path = topo, stats_path
        self.plan = plan(prof, backhaul, topo.users, topo.id)
        self.prof, self.backhaul = prof, backhaul
        self.stop_event = threading.Event()
        self.thread = None
        self.started = None

    def _tc(self, zone, argv, check=True):
        return topology.sh(["tc", "-n", self.topo.ns[zone]] + argv, check=check)

    def start(self):
        for zone, cmds in self.plan["commands"].items():
            batch = "\n".join(" ".join(c) for c in cmds) + "\n"
            topology.sh(["tc", "-n", self.topo.ns[zone], "-batch", "-"], input_text=batch)
        self.started = time.time()
        if self.plan["schedule"]:
            self.thread = threading.Thread(target=self._outages, daemon=True)
            self.thread.start()

    def _outages(self):
        for at, zone, argv in self.plan["schedule"]:
            if self.stop_event.wait(max(0.0, self.started + at - time.time())):
                return
            self._tc(zone, argv, check=False)

    def cut_backhaul(self):
        """Both backhaul directions lose every packet from now on (origin-down)."""
        for zone, argv in self.plan["cut"]:
            self._tc(zone, argv)

    def stop(self) -> dict:
        self.stop_event.set()
        stats = self.stats()
        dev = devices(self.topo.id)
        for zone, d in (("users", dev["users"][0]), ("router", dev["users"][1]),
                        ("router", dev["origin"][1]), ("origin", dev["origin"][0])):
            self._tc(zone, ["qdisc", "del", "dev", d, "root"], check=False)
        with open(self.stats_path, "w") as f:
            json.dump(stats, f, indent=1)
        return stats

    def _qdiscs(self, zone, dev):
        out = topology.sh(["tc", "-n", self.topo.ns[zone], "-s", "-j", "qdisc", "show", "dev",
                           dev], check=False, capture=True)
        try:
            return [q for q in json.loads(out) if q.get("kind") == "netem"]
        except (ValueError, TypeError):
            return []

    def stats(self) -> dict:
        dev = devices(self.topo.id)
        places = {"access_up": ("users", dev["users"][0], self.prof.access.up),
                  "access_down": ("router", dev["users"][1], self.prof.access.down),
                  "backhaul_up": ("router", dev["origin"][1], self.backhaul.backhaul.up),
                  "backhaul_down": ("origin", dev["origin"][0], self.backhaul.backhaul.down)}
        links, drops = {}, 0
        for cls, (zone, d, direction) in places.items():
            qs = self._qdiscs(zone, d)
            sent = sum(q.get("packets", 0) for q in qs)
            dropped = sum(q.get("drops", 0) for q in qs)
            drops += dropped
            links[cls] = {"configured": {"delay_ms": direction.delay_ms,
                                         "rate_bps": int(direction.rate_kbit * 1000)},
                          "packets_out": sent, "bytes_out": sum(q.get("bytes", 0) for q in qs),
                          # netem counts its loss and its limit drops together
                          "drop_queue": 0, "drop_loss": dropped,
                          "observed_rate_bps": 0, "observed_rate_bytes": 0}
        return {"emulator": "tc", "uptime_s": time.time() - (self.started or time.time()),
                "cpu_user_s": 0, "cpu_sys_s": 0, "links": links,
                "drops": {"queue": 0, "loss": drops, "outage": 0, "tun_write": 0},
                "lag_us": None, "write_lag_us": None, "packets_in": None, "delivered": None,
                "users_seen": self.topo.users, "realtime_priority": None}
