"""Turns the scenario results into result.json, report.md and cdf.svg.

The physical bound of a page on a profile is what the access link imposes on a browser: the
round trips it cannot avoid plus the page's bytes on the wire (response bytes x 1500/1448 for
TCP/IP headers) divided by the downlink rate. Round trips: 2 for a page without subresources
(handshake, HTML); 3 when every subresource finds an open connection when the HTML arrives
(handshake, HTML, subresources): a repeat visit, or a first visit with at most 2 subresources;
4 for a first visit with more, whose extra connections (HTTP/1.1: one request at a time) are
opened when the HTML names the subresources (see netem/README.md, "The report"). Each load is
measured against its own bound; the per-page table also keeps the 3-round-trip bound.
"""
import json
import os
import statistics

WIRE = 1500 / 1448  # IP + TCP (with timestamps) header bytes per full segment


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[k]


# Connections open when the HTML of a first visit arrives: the HTML's own and the one Chrome
# preconnects with it (kMinSockets = 2 in chrome/browser/predictors/loading_predictor.cc).
FIRST_VISIT_SOCKETS = 2


def bound_rtts(subresources, first_visit):
    if subresources <= 0:
        return 2
    return 4 if first_visit and subresources > FIRST_VISIT_SOCKETS else 3


def bound_ms(acc, rtts, nbytes):
    return rtts * acc.rtt_ms + nbytes * 8 * WIRE / acc.down.rate_kbit  # kbit/s = bit/ms


def cache_share(cache):
    """{'hit': n, 'stale': n, ...} -> the same with shares of the requests that completed."""
    total = sum(cache.values())
    return {k: {"requests": v, "share": round(v / total, 4) if total else None}
            for k, v in sorted(cache.items())}


def scenario_summary(r, prof, backhaul, lag_bound_ms, n_pages=1, loadgen_lag_bound_ms=20.0):
    load, emu, tun = r["load"], r["emulator"], r["tun"]
    pages = load["pages"]
    ok = [p for p in pages if p["ok"]]
    by_page = {}
    for p in pages:
        by_page.setdefault(p["page"], []).append(p)
    acc = prof.access
    per_page = {}
    for path, ps in by_page.items():
        good = [p for p in ps if p["ok"]]
        plts = [p["plt_ms"] for p in good]
        nbytes = statistics.median([p["bytes"] for p in good]) if good else 0
        reqs = max((p["requests"] for p in good), default=1)
        rtts = bound_rtts(reqs - 1, first_visit=False)
        bound = bound_ms(acc, rtts, nbytes)
        first_rtts = bound_rtts(reqs - 1, first_visit=True)
        p50, p95 = pct(plts, 0.5), pct(plts, 0.95)
        # Each load against its own bound: a first visit (the user's first load of the page,
        # before the load generator learned how many connections it needs) may need a 4th round
        # trip; a repeat visit must not.
        ratios = [p["plt_ms"] / bound_ms(acc, bound_rtts(p["requests"] - 1, p["seq"] < n_pages),
                                          p["bytes"]) for p in good]
        repeat = [p["plt_ms"] for p in good if p["seq"] >= n_pages]
        r95 = pct(repeat, 0.95)
        per_page[path] = {
            "loads": len(ps), "ok": len(good), "requests": reqs, "bytes_median": nbytes,
            "bound_ms": round(bound, 1), "bound_rtts": rtts,
            "first_visit_bound_ms": round(bound_ms(acc, first_rtts, nbytes), 1),
            "first_visit_bound_rtts": first_rtts, "first_visits": len(good) - len(repeat),
            "plt_p50_ms": p50, "plt_p95_ms": p95,
            "ttfb_p50_ms": pct([p["ttfb_ms"] for p in good], 0.5),
            "p50_x_bound": round(p50 / bound, 2) if p50 else None,
            "p95_x_bound": round(p95 / bound, 2) if p95 else None,
            "p95_x_own_bound": round(pct(ratios, 0.95), 2) if ratios else None,
            "repeat_loads": len(repeat), "repeat_plt_p95_ms": r95,
            "repeat_p95_x_bound": round(r95 / bound, 2) if r95 else None}
    expected_rtt = acc.rtt_ms + (backhaul.backhaul.rtt_ms if r["scenario"] == "direct" else 0)
    connects = [p["connect_ms"] for p in pages if p["connect_ms"] >= 0]
    observed_rtt = statistics.median(connects) if connects else None
    checks, reasons = {}, []
    rates = {}
    if emu:
        for cls in ("access_down", "access_up", "backhaul_down", "backhaul_up"):
            l = emu["links"].get(cls)
            if l:
                conf = l["configured"]["rate_bps"]
                obs = l["observed_rate_bps"] if l["observed_rate_bytes"] > 0 else None
                rates[cls] = {"configured_bps": conf, "observed_bps": obs,
                              "error": round(obs / conf - 1, 4) if obs else None,
                              "drop_queue": l["drop_queue"], "drop_loss": l["drop_loss"]}
        for key, what in (("lag_us", "event lag"), ("write_lag_us", "write lag")):
            lag = emu.get(key)
            if lag and lag["p99"] > lag_bound_ms * 1000:
                reasons.append(f"emulator {what} p99 {lag['p99']:.0f} us > {lag_bound_ms} ms")
        if emu["drops"]["tun_write"]:
            reasons.append(f"{emu['drops']['tun_write']} TUN write failures")
    else:
        reasons.append("no emulator stats")
    for zone, t in (tun or {}).items():
        if t is None:
            reasons.append(f"no TUN counters for {zone}")
        elif t["tx_dropped"]:
            reasons.append(f"TUN overrun: {t['tx_dropped']} packets dropped by the kernel on {zone}")
    # A saturated load generator delays every connect, read and request: the run then measures
    # the host, not the link.
    glag = load.get("loop_lag_ms")
    if glag and glag["p99"] > loadgen_lag_bound_ms:
        reasons.append(f"load generator loop lag p99 {glag['p99']:.0f} ms > "
                       f"{loadgen_lag_bound_ms:g} ms (host CPU)")
    checks["rtt_error"] = round(observed_rtt / expected_rtt - 1, 4) if observed_rtt else None
    checks["rate_error_down"] = rates.get("access_down", {}).get("error")
    checks["rate_error_up"] = rates.get("access_up", {}).get("error")
    s = load["summary"]
    return {
        "scenario": r["scenario"], "edge": r.get("edge"), "valid": not reasons, "invalid_reasons": reasons,
        "wall_s": round(r["wall_s"], 1), "pages": s["pages"], "pages_ok": s["ok"],
        "pages_failed": s["failed"], "pages_aborted": s["aborted"],
        "errors_by_cause": s["errors_by_cause"], "requests": s["requests"],
        "cache": cache_share(s.get("cache", {})),
        "bytes_total": sum(p["bytes"] for p in pages),
        "rtt": {"configured_ms": expected_rtt, "observed_ms": observed_rtt,
                "samples": len(connects), "method": "median TCP handshake at page start (idle link)"},
        "rates": rates, "checks": checks, "per_page": per_page,
        "emulator": {k: emu.get(k) for k in ("cpu_user_s", "cpu_sys_s", "uptime_s", "lag_us",
                                             "write_lag_us", "drops", "packets_in", "delivered",
                                             "users_seen", "realtime_priority", "threads",
                                             "handoffs")} if emu else None,
        "tun": tun, "loadgen_cpu_s": load.get("cpu_s"), "loadgen_loop_lag_ms": glag,
        "plt_ok_ms": sorted(p["plt_ms"] for p in ok),
    }


def build(args, prof, backhaul, results, stamp, elapsed, emulator, tc_available):
    scen = [scenario_summary(r, prof, backhaul, args.lag_bound_ms, len(args.page),
                             getattr(args, "loadgen_lag_bound_ms", 20.0)) for r in results]
    return {"stamp": stamp, "profile": prof.name, "profile_source": prof.source,
            "backhaul": backhaul.name, "users": args.users, "duration_s": args.duration,
            "ramp_s": args.ramp, "think_s": args.think, "pages": args.page,
            "emulator": emulator, "sch_netem_available": tc_available,
            "elapsed_s": round(elapsed, 1), "valid": all(s["valid"] for s in scen),
            "scenarios": scen}


def _fmt(x, unit="", nd=0):
    return "–" if x is None else f"{x:.{nd}f}{unit}"


def markdown(doc):
    L = [f"# netem run {doc['stamp']}: {doc['profile']}, {doc['users']} users",
         "",
         f"**{'VALID' if doc['valid'] else 'INVALID'}**. Profile `{doc['profile']}` "
         f"(backhaul `{doc['backhaul']}`), {doc['users']} users, page starts for {doc['duration_s']:.0f} s "
         f"(ramp {doc['ramp_s']:.0f} s, think {doc['think_s']:.1f} s), pages {', '.join(doc['pages'])}, "
         f"emulator: {doc['emulator']} (sch_netem available: {doc['sch_netem_available']}). "
         f"Whole run {doc['elapsed_s']:.0f} s.", "",
         "Profile source: " + doc["profile_source"].replace("\n", " "), "",
         "## Page-load time against the physical bound", "",
         "| scenario (edge) | page | loads ok/all | bytes (median) | bound (first visit) | p50 | p95 | p50 ÷ bound | p95 ÷ bound | p95 of load ÷ own bound | p95 ÷ bound, repeat visits | TTFB p50 |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in doc["scenarios"]:
        for path, p in s["per_page"].items():
            L.append(f"| {s['scenario']}{' (' + s['edge'] + ')' if s.get('edge') else ''} | `{path}` | {p['ok']}/{p['loads']} | {p['bytes_median']:.0f} | "
                     f"{p['bound_ms']:.0f} ms ({p['bound_rtts']} RTT; {p['first_visit_bound_ms']:.0f} ms, "
                     f"{p['first_visit_bound_rtts']} RTT, {p['first_visits']} loads) | {_fmt(p['plt_p50_ms'], ' ms')} | "
                     f"{_fmt(p['plt_p95_ms'], ' ms')} | {_fmt(p['p50_x_bound'], 'x', 2)} | "
                     f"{_fmt(p['p95_x_bound'], 'x', 2)} | {_fmt(p['p95_x_own_bound'], 'x', 2)} | "
                     f"{_fmt(p['repeat_p95_x_bound'], 'x', 2)} "
                     f"({p['repeat_loads']}) | {_fmt(p['ttfb_p50_ms'], ' ms')} |")
    L += ["", "Bound = round trips a browser cannot avoid on the access link × its RTT + page bytes "
          "× 1500/1448 ÷ downlink rate: 3 round trips (handshake, HTML, subresources) when every "
          "subresource finds an open connection as the HTML arrives, 4 on a first visit with "
          "more subresources than the 2 connections Chrome opens at navigation start (HTTP/1.1: "
          "the others are opened when the HTML names them). p95 ÷ bound uses the 3-round-trip "
          "bound for every load; \"p95 of load ÷ own bound\" divides each load by its own bound "
          "(first or repeat visit). Repeat visits: loads of a page the user loaded before.", "",
          "![page-load CDF](cdf.svg)", "",
          "## Emulator fidelity and health", "",
          "| scenario | valid | RTT conf → obs | downlink conf → obs | uplink conf → obs | event lag p50/p99/max | write lag p50/p99/max | emu CPU | TUN kernel drops | drops queue/loss/outage |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for s in doc["scenarios"]:
        e = s["emulator"] or {}
        lag = e.get("lag_us") or {}
        wlag = e.get("write_lag_us") or {}
        cpu = (e.get("cpu_user_s", 0) + e.get("cpu_sys_s", 0))
        up = e.get("uptime_s") or 1
        rd, ru = s["rates"].get("access_down", {}), s["rates"].get("access_up", {})
        tund = sum((t or {}).get("tx_dropped", 0) for t in (s["tun"] or {}).values())
        dq = sum(r["drop_queue"] for r in s["rates"].values())
        dl = sum(r["drop_loss"] for r in s["rates"].values())
        L.append(f"| {s['scenario']} | {'yes' if s['valid'] else 'NO: ' + '; '.join(s['invalid_reasons'])} | "
                 f"{s['rtt']['configured_ms']:.0f} → {_fmt(s['rtt']['observed_ms'], ' ms', 1)} ({_fmt(pct_err(s['checks']['rtt_error']), '%', 1)}) | "
                 f"{_fmt(kb(rd.get('configured_bps')), ' kbit/s')} → {_fmt(kb(rd.get('observed_bps')), ' kbit/s', 1)} ({_fmt(pct_err(rd.get('error')), '%', 2)}) | "
                 f"{_fmt(kb(ru.get('configured_bps')), ' kbit/s')} → {_fmt(kb(ru.get('observed_bps')), ' kbit/s', 1)} ({_fmt(pct_err(ru.get('error')), '%', 2)}) | "
                 f"{_fmt(lag.get('p50'), '')}/{_fmt(lag.get('p99'), '')}/{_fmt(lag.get('max'), ' µs')} | "
                 f"{_fmt(wlag.get('p50'), '')}/{_fmt(wlag.get('p99'), '')}/{_fmt(wlag.get('max'), ' µs')} | "
                 f"{cpu:.1f} s ({100 * cpu / up:.0f} %) | {tund} | {dq}/{dl}/{e.get('drops', {}).get('outage', 0)} |")
    L += ["", "## Pages, bytes and errors", "",
          "| scenario | pages ok | failed | aborted at stop | requests | edge: hit / stale / forwarded / none | bytes | errors by cause | wall | load generator CPU | generator loop lag p50/p99/max |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in doc["scenarios"]:
        errs = ", ".join(f"{k}: {v}" for k, v in s["errors_by_cause"].items()) or "none"
        c = s.get("cache", {})
        cache = " / ".join(
            f"{c[k]['requests']} ({100 * c[k]['share']:.1f} %)" if k in c else "0"
            for k in ("hit", "stale", "forwarded", "none"))
        L.append(f"| {s['scenario']} | {s['pages_ok']} | {s['pages_failed']} | {s['pages_aborted']} | "
                 f"{s['requests']} | {cache} | {s['bytes_total']} | {errs} | {s['wall_s']:.0f} s | {_fmt(s['loadgen_cpu_s'], ' s', 1)} | "
                 f"{_lag(s.get('loadgen_loop_lag_ms'))} |")
    L += ["", "Observed RTT: median TCP handshake time at page start, when the user's link is idle "
          "(direct adds the backhaul). Observed rate: bytes of back-to-back packets over the real "
          "time between the ends of their serialisations (each shifted by the packet's real "
          "lateness, so delay and jitter do not enter it). Edge: completed requests by the "
          "edge's Cache-Status (nginx: X-Cache-Status); stale = served from a stale stored "
          "response (grace, stale-if-error, stale-while-revalidate). A run is INVALID if the kernel dropped "
          "packets on a TUN device (the emulator did not keep up), a TUN write failed, or the "
          "emulator's p99 event lag (each hop: processing time - due) or write lag (start of the TUN "
          "write of each delivered packet - due) exceeded the bound, or the load generator's own "
          "event loop lagged (p99 of a 10 ms timer's lateness over the bound): then the run "
          "measured the host's CPU, not the link.", ""]
    return "\n".join(L)


def _lag(g):
    return "–" if not g else f"{g['p50']:.1f}/{g['p99']:.1f}/{g['max']:.0f} ms"


def kb(bps):
    return None if bps is None else bps / 1000


def pct_err(e):
    return None if e is None else 100 * e


def cdf_svg(doc, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for s in doc["scenarios"]:
        xs = [x / 1000 for x in s["plt_ok_ms"]]
        if xs:
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post",
                    label=f"{s['scenario']} (n={len(xs)})")
    for s in doc["scenarios"][:1]:
        for page, p in s["per_page"].items():
            ax.axvline(p["bound_ms"] / 1000, color="grey", linestyle=":", linewidth=1)
            ax.text(p["bound_ms"] / 1000, 0.02, f" bound {page}", rotation=90, fontsize=7, color="grey")
    ax.set_xlabel("page-load time (s)")
    ax.set_ylabel("fraction of pages")
    ax.set_title(f"{doc['profile']}, {doc['users']} users ({doc['stamp']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write(run_dir, doc):
    with open(os.path.join(run_dir, "result.json"), "w") as f:
        json.dump(doc, f, indent=1)
    cdf_svg(doc, os.path.join(run_dir, "cdf.svg"))
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write(markdown(doc))
