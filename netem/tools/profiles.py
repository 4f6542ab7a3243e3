"""Reads netem/profiles/*.ini: one profile per file, sections [access], [cell], [backhaul].

Both emulation paths (tc netem + htb, and the userspace emulator) are built from the same
Profile objects, so the files are the single source of numbers.
"""
import configparser
import os
from dataclasses import dataclass, field

PROFILE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "profiles")


@dataclass
class Direction:
    rate_kbit: float
    delay_ms: float  # one-way
    jitter_ms: float = 0.0
    loss: float = 0.0
    ge_p: float = 0.0
    ge_r: float = 1.0
    ge_loss_bad: float = 1.0
    queue_ms: float = 1000.0

    @property
    def queue_bytes(self) -> int:
        return max(3000, int(self.rate_kbit * 1000 / 8 * self.queue_ms / 1000))

    def emulator_args(self) -> str:
        a = [f"delay_us={int(self.delay_ms * 1000)}", f"rate_bps={int(self.rate_kbit * 1000)}",
             f"queue_bytes={self.queue_bytes}"]
        if self.jitter_ms:
            a.append(f"jitter_us={int(self.jitter_ms * 1000)}")
        if self.loss:
            a.append(f"loss={self.loss}")
        if self.ge_p:
            a += [f"ge_p={self.ge_p}", f"ge_r={self.ge_r}", f"ge_loss_bad={self.ge_loss_bad}"]
        return " ".join(a)


@dataclass
class Link:
    down: Direction
    up: Direction
    rtt_ms: float
    outages: list = field(default_factory=list)  # [(start_s, end_s)]


@dataclass
class Profile:
    name: str
    path: str
    source: str  # the comment block at the top (where the numbers come from)
    access: Link | None = None
    cell: Link | None = None
    backhaul: Link | None = None


def _link(sec, shared_delay: bool) -> Link:
    rtt = sec.getfloat("rtt_ms", 0.0)
    one_way = 0.0 if shared_delay else rtt / 2

    def direction(rate_key):
        return Direction(rate_kbit=sec.getfloat(rate_key), delay_ms=one_way,
                         jitter_ms=sec.getfloat("jitter_ms", 0.0), loss=sec.getfloat("loss", 0.0),
                         ge_p=sec.getfloat("ge_p", 0.0), ge_r=sec.getfloat("ge_r", 1.0),
                         ge_loss_bad=sec.getfloat("ge_loss_bad", 1.0),
                         queue_ms=sec.getfloat("queue_ms", 1000.0))

    outages = []
    for item in filter(None, (s.strip() for s in sec.get("outages", "").split(","))):
        a, b = item.split("-")
        outages.append((float(a), float(b)))
    return Link(down=direction("down_kbit"), up=direction("up_kbit"), rtt_ms=rtt, outages=outages)


def find(name: str) -> str:
    if os.path.exists(name):
        return name
    p = os.path.join(PROFILE_DIR, name if name.endswith(".ini") else name + ".ini")
    if not os.path.exists(p):
        known = sorted(f[:-4] for f in os.listdir(PROFILE_DIR) if f.endswith(".ini"))
        raise SystemExit(f"netem: no profile {name!r}; known: {', '.join(known)}")
    return p


def load(name: str) -> Profile:
    path = find(name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    source = "\n".join(l[1:].strip() for l in text.splitlines() if l.startswith("#"))
    cp = configparser.ConfigParser()
    cp.read_string(text)
    p = Profile(name=os.path.basename(path)[:-4], path=path, source=source)
    if cp.has_section("access"):
        p.access = _link(cp["access"], False)
    if cp.has_section("cell"):
        p.cell = _link(cp["cell"], True)
    if cp.has_section("backhaul"):
        p.backhaul = _link(cp["backhaul"], False)
    return p
