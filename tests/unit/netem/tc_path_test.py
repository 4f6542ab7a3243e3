#!/usr/bin/python3
"""The tc netem + htb path without a kernel: the command lines generated for profiles, and the
choice between tc and the userspace emulator (detection and fallback)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "netem", "tools"))
import profiles  # noqa: E402
import tc_path  # noqa: E402


def joined(cmds):
    return [" ".join(c) for c in cmds]


class CommandLines(unittest.TestCase):
    def setUp(self):
        self.p3g = profiles.load("3g")
        self.bh = profiles.load("backhaul-eu")

    def test_per_user_htb_class_and_netem_leaf_for_3g(self):
        plan = tc_path.plan(self.p3g, self.bh, users=2, run_id="abc123")
        up = joined(plan["commands"]["users"])
        self.assertEqual(up[0], "qdisc add dev ghnabc123u root handle 1: htb default 2 r2q 1")
        self.assertIn("class add dev ghnabc123u parent 1: classid 1:10 htb rate 768kbit "
                      "ceil 768kbit quantum 1500", up)
        # 150 ms one way; limit = 1 s of 768 kbit/s (64 packets) + 150 ms of it (10) + 1
        self.assertIn("qdisc add dev ghnabc123u parent 1:10 handle 10: netem delay 150ms "
                      "limit 75", up)
        self.assertIn("filter add dev ghnabc123u parent 1: protocol ip prio 1 u32 match ip src "
                      "198.18.1.1/32 flowid 1:10", up)
        self.assertIn("filter add dev ghnabc123u parent 1: protocol ip prio 1 u32 match ip src "
                      "198.18.1.2/32 flowid 1:11", up)
        down = joined(plan["commands"]["router"])
        self.assertIn("class add dev ghnabc123ru parent 1: classid 1:11 htb rate 1600kbit "
                      "ceil 1600kbit quantum 1500", down)
        self.assertIn("filter add dev ghnabc123ru parent 1: protocol ip prio 1 u32 match ip dst "
                      "198.18.1.2/32 flowid 1:11", down)
        # the backhaul: one class each way, 75 ms one way, 20 Mbit/s
        self.assertIn("class add dev ghnabc123ro parent 1: classid 1:10 htb rate 20000kbit "
                      "ceil 20000kbit", down)
        origin = joined(plan["commands"]["origin"])
        self.assertTrue(origin[2].startswith("qdisc add dev ghnabc123o parent 1:10 handle 10: "
                                             "netem delay 75ms limit "))
        self.assertEqual(plan["schedule"], [])

    def test_lossy_profile_folds_bernoulli_loss_into_gilbert_elliott(self):
        d = profiles.load("3g-lossy").access.down
        a = " ".join(tc_path.netem_args(d))
        # bad-state loss: 1 - (1 - 0.02) * (1 - 0.5) = 51 %; good-state loss: the 2 %
        self.assertIn("delay 150ms 30ms distribution normal loss gemodel 0.5% 30% 51% 2% limit", a)

    def test_bernoulli_only(self):
        d = profiles.Direction(rate_kbit=1000, delay_ms=10, loss=0.01)
        self.assertIn("loss random 1% limit", " ".join(tc_path.netem_args(d)))

    def test_shared_cell_is_the_parent_of_the_user_classes(self):
        cmds = joined(tc_path.plan(profiles.load("3g-cell"), self.bh, 1, "x")["commands"]["router"])
        self.assertIn("class add dev ghnxru parent 1: classid 1:1 htb rate 14400kbit ceil 14400kbit",
                      cmds)
        self.assertIn("class add dev ghnxru parent 1:1 classid 1:10 htb rate 1600kbit ceil "
                      "1600kbit quantum 1500", cmds)

    def test_outage_schedule_cuts_and_restores_both_backhaul_directions(self):
        plan = tc_path.plan(self.p3g, profiles.load("backhaul-eu-outage"), 1, "x")
        s = [(at, zone, " ".join(c)) for at, zone, c in plan["schedule"]]
        self.assertEqual([x[0] for x in s], [10, 10, 25, 25, 40, 40, 45, 45])
        self.assertEqual(s[0][1], "router")
        self.assertTrue(s[0][2].startswith("qdisc change dev ghnxro parent 1:10 handle 10: netem "
                                           "delay 75ms limit "))
        self.assertTrue(s[0][2].endswith("loss random 100%"))
        self.assertNotIn("100%", s[2][2])
        self.assertEqual({x[1] for x in s}, {"router", "origin"})

    def test_cut_is_a_full_loss_on_both_backhaul_directions(self):
        plan = tc_path.plan(self.p3g, profiles.load("backhaul-eu"), 1, "x")
        cut = [(zone, " ".join(c)) for zone, c in plan["cut"]]
        self.assertEqual([z for z, _ in cut], ["router", "origin"])
        for _, c in cut:
            self.assertIn("qdisc change", c)
            self.assertTrue(c.endswith("loss random 100%"), c)

    def test_veths_routes_and_one_segment_per_skb(self):
        ns = {z: f"ns-{z}" for z in ("users", "edge", "origin", "router")}
        c = joined(tc_path.link_commands("x", ns))
        self.assertIn("ip -n ns-router link add ghnxru type veth peer name ghnxu netns ns-users", c)
        self.assertIn("ip -n ns-users link set ghnxu mtu 1500 gso_max_segs 1 up", c)
        self.assertIn("ip -n ns-users route add 198.19.0.0/16 via 198.18.0.1 dev ghnxu onlink", c)
        self.assertIn("ip -n ns-router route add 198.19.1.1/32 dev ghnxro", c)


class Choice(unittest.TestCase):
    def probe(self, result):
        calls = []

        def has_netem():
            calls.append(1)
            return result
        return calls, has_netem

    def test_auto_falls_back_to_userspace_without_sch_netem(self):
        calls, probe = self.probe(False)
        path, note = tc_path.choose("auto", probe)
        self.assertEqual(path, "userspace")
        self.assertIn("no sch_netem", note)
        self.assertEqual(len(calls), 1)

    def test_auto_uses_tc_with_sch_netem(self):
        self.assertEqual(tc_path.choose("auto", self.probe(True)[1]), ("tc", None))

    def test_forced_tc_without_sch_netem_is_an_error(self):
        path, note = tc_path.choose("tc", self.probe(False)[1])
        self.assertIsNone(path)
        self.assertIn("no sch_netem", note)

    def test_userspace_never_probes(self):
        calls, probe = self.probe(True)
        self.assertEqual(tc_path.choose("userspace", probe), ("userspace", None))
        self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
