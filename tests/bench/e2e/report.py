"""Turns the benchmark's results into a Markdown report and PNG plots (matplotlib, Agg)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

METRICS = ("gib_per_s", "wire_gib_per_s", "total_time_ms", "downtime_ms", "wall_s",
           "cpu_src_s_per_gib", "cpu_dst_s_per_gib", "cpu_both_s_per_gib", "extra_src_mib",
           "extra_dst_mib", "passes", "missed_zero_copy", "transferred")


def fmt(s: Optional[Dict[str, float]], digits: int = 2, rng: bool = True) -> str:
    if not s:
        return "–"
    med = f"{s['median']:.{digits}f}"
    if rng and s["n"] > 1:
        return f"{med} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
    return med


def size_label(mib: int) -> str:
    return f"{mib >> 10}G" if mib >= 1024 and mib % 1024 == 0 else f"{mib}M"


def case_label(c: Dict[str, Any]) -> str:
    return (f"{c['product']} {size_label(c['size_mib'])} ch{c['channels']} "
            f"zc {'on' if c['zero_copy'] else 'off'} {c['compression']}"
            + (" tls" if c["tls"] else "")
            + (f" wl {c['workload_mib_s']}M/s" if c["workload_mib_s"] else "") +
            f" {c['dest']}{' anon' if c['ram'] == 'anon' else ''}")


def cases_table(cases: List[Dict[str, Any]]) -> List[str]:
    head = ("| product | RAM | ch | zc | comp | TLS | workload | dest | GiB/s | total ms | "
            "downtime ms | CPU src s/GiB | CPU dst s/GiB | RSS beyond RAM src/dst MiB | passes | "
            "zc fallbacks | verified | vs QEMU | vs TCP limit |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for case in cases:
        c = case["config"]
        row = [c["product"], size_label(c["size_mib"]), str(c["channels"]),
               "on" if c["zero_copy"] else "off", c["compression"], "on" if c["tls"] else "off",
               f"{c['workload_mib_s']} MiB/s" if c["workload_mib_s"] else "off",
               c["dest"] + (" (anon)" if c["ram"] == "anon" else "")]
        if case.get("skipped"):
            row += [f"skipped: {case['skipped']}"] + [""] * 10
        else:
            s = case["summary"]
            runs = case["runs"]
            ok = sum(1 for r in runs if r.get("verified"))
            failed = [r for r in runs if r.get("status") != "completed"]
            row += [fmt(s.get("gib_per_s")), fmt(s.get("total_time_ms"), 0),
                    fmt(s.get("downtime_ms"), 0), fmt(s.get("cpu_src_s_per_gib")),
                    fmt(s.get("cpu_dst_s_per_gib")),
                    f"{fmt(s.get('extra_src_mib'), 0, False)} / "
                    f"{fmt(s.get('extra_dst_mib'), 0, False)}",
                    fmt(s.get("passes"), 0, False), fmt(s.get("missed_zero_copy"), 0, False),
                    f"{ok}/{len(runs)}" + (f" ({len(failed)} failed)" if failed else ""),
                    f"{case['vs_qemu']:.2f}x" if case.get("vs_qemu") else "",
                    f"{case['vs_limit'] * 100:.0f}%" if case.get("vs_limit") else ""]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def limits_lines(limits: Dict[str, Any]) -> List[str]:
    out = ["| limit | GiB/s | CPU s/GiB (both ends) |", "|---|---|---|"]
    for r in limits.get("loopback_tcp", []):
        out.append(f"| loopback TCP, {r['streams']} stream(s), Python socket pair | "
                   f"{r['gib_per_s']:.2f} | {r['cpu_s_per_gib']:.2f} |")
    for r in limits.get("iperf3", []):
        if "gib_per_s" in r:
            out.append(f"| loopback TCP, {r['streams']} stream(s), iperf3 | "
                       f"{r['gib_per_s']:.2f} | |")
    if "memcpy" in limits:
        out.append(f"| memcpy, one thread, 256 MiB buffers | "
                   f"{limits['memcpy']['gib_per_s']:.2f} | |")
    return out


def markdown(results: Dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    lines = [f"# migemu benchmark ({meta['preset']}, {meta['started']})", "",
             f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total_gib']:.0f} GiB RAM, "
             f"kernel {m['kernel']}; load average {m['loadavg_start']} at the start, "
             f"{m.get('loadavg_end', '?')} at the end (the machine is shared). "
             f"migemu {meta['migemu_commit']}; {meta.get('qemu_version') or 'QEMU not installed'}.",
             "", "Medians over the runs, (min–max) when there were several. GiB/s = guest RAM / "
             "total-time; CPU = utime+stime from /proc/PID/stat over the migration, per GiB of "
             "guest RAM; RSS beyond RAM = VmHWM - guest RAM size.", ""]
    if results.get("limits"):
        lines += ["## Machine limits (same run)", ""] + limits_lines(results["limits"]) + [""]
    if results.get("tls"):
        for product, state in results["tls"].items():
            if state != "ok":
                lines.append(f"TLS axis, {product}: skipped: {state}")
        lines.append("")
    if results.get("targets"):
        lines += ["## Issue 9 targets", "", "| target | measured | verdict |", "|---|---|---|"]
        for t in results["targets"]:
            lines.append(f"| {t['target']} | {t['measured']} | {t['verdict']} |")
        lines.append("")
    if results.get("scaling"):
        sc = results["scaling"]
        lines += ["## Scaling", ""]
        for name, fit in sc.get("fits", {}).items():
            lines.append(f"- {name}: slope {fit['slope']:.4g} {fit['unit']}, intercept "
                         f"{fit['intercept']:.4g}, R² {fit['r2']:.4f} ({fit['points']} points)")
        lines.append("")
        if sc.get("bitmap_sync"):
            lines += ["| RAM | bitmap sync (all pages dirty) ms | bitmap sync (1% dirty) ms |",
                      "|---|---|---|"]
            for row in sc["bitmap_sync"]:
                lines.append(f"| {row['gib']} GiB | {row['all_ms']:.3f} | {row['sparse_ms']:.3f} |")
            lines.append("")
    if results.get("cases"):
        lines += ["## Cases", ""] + cases_table(results["cases"]) + [""]
    if results.get("plots"):
        lines += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})"
                                     for p in results["plots"]] + [""]
    return "\n".join(lines)


# ---- plots ------------------------------------------------------------------------------------

def _find(cases: List[Dict[str, Any]], **want: Any) -> List[Dict[str, Any]]:
    out = []
    for case in cases:
        if case.get("skipped") or not (case.get("summary") or {}).get("gib_per_s"):
            continue  # skipped, or no run completed
        if all(case["config"].get(k) == v for k, v in want.items()):
            out.append(case)
    return out


Series = Dict[Tuple[str, bool], List[Dict[str, Any]]]


def _channel_series(cases: List[Dict[str, Any]]) -> Tuple[Optional[int], Series]:
    """The idle, uncompressed, plain, preallocated cases of the most common size, by (product,
    zero copy), sorted by channels."""
    base = [c for c in _find(cases, compression="none", tls=False, workload_mib_s=0,
                             dest="prealloc", ram="file") if c["config"]["channels"] > 0]
    if not base:
        return None, {}
    sizes: Dict[int, int] = {}
    for c in base:
        sizes[c["config"]["size_mib"]] = sizes.get(c["config"]["size_mib"], 0) + 1
    size = max(sizes, key=lambda s: (sizes[s], s))
    series: Series = {}
    for c in base:
        if c["config"]["size_mib"] == size:
            series.setdefault((c["config"]["product"], c["config"]["zero_copy"]), []).append(c)
    for v in series.values():
        v.sort(key=lambda c: c["config"]["channels"])
    return size, series


def plots(results: Dict[str, Any], outdir: str) -> Tuple[List[str], Optional[str]]:
    """Writes the PNGs; returns their paths, and why there are none when matplotlib is absent."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "python3-matplotlib is not installed: no plots"
    written: List[str] = []
    cases = results.get("cases", [])
    limit = (results.get("limits") or {}).get("loopback_tcp_best_gib_per_s")
    size, series = _channel_series(cases)
    style = {("migemu", False): ("tab:blue", "-o"), ("migemu", True): ("tab:blue", "--s"),
             ("qemu", False): ("tab:red", "-o"), ("qemu", True): ("tab:red", "--s")}

    def errbars(vals: List[Dict[str, float]]) -> List[List[float]]:
        return [[v["median"] - v["min"] for v in vals], [v["max"] - v["median"] for v in vals]]

    if series:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (product, zc), cs in sorted(series.items()):
            xs = [c["config"]["channels"] for c in cs]
            vals = [c["summary"]["gib_per_s"] for c in cs]
            color, fmt_ = style[(product, zc)]
            ax.errorbar(xs, [v["median"] for v in vals], yerr=errbars(vals), fmt=fmt_, color=color,
                        capsize=3, label=f"{product}, zero copy {'on' if zc else 'off'}")
        if limit:
            ax.axhline(limit, color="gray", linestyle=":", label="loopback TCP limit")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
        ax.set_xlabel("multifd channels")
        ax.set_ylabel("GiB of guest RAM per second")
        ax.set_title(f"Throughput vs channels ({size_label(size or 0)} random RAM, "
                     "preallocated destination)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, plt, outdir, "throughput_vs_channels.png"))

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (product, zc), cs in sorted(series.items()):
            xs = [c["config"]["channels"] for c in cs]
            color, _ = style[(product, zc)]
            ls = "--" if zc else "-"
            for side, marker in (("src", "o"), ("dst", "^")):
                vals = [c["summary"][f"cpu_{side}_s_per_gib"] for c in cs]
                ax.errorbar(xs, [v["median"] for v in vals], yerr=errbars(vals), color=color,
                            linestyle=ls, marker=marker, capsize=3,
                            label=f"{product} {side}, zc {'on' if zc else 'off'}")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
        ax.set_xlabel("multifd channels")
        ax.set_ylabel("CPU seconds per GiB")
        ax.set_title("CPU per GiB vs channels (o source, ^ destination)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        written.append(_save(fig, plt, outdir, "cpu_vs_channels.png"))

        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        for ax, metric, title in ((axes[0], "gib_per_s", "GiB/s"),
                                  (axes[1], "cpu_both_s_per_gib", "CPU s/GiB, both sides")):
            width = 0.2
            chans = sorted({c["config"]["channels"] for v in series.values() for c in v})
            n = len(series)
            for i, (product, zc) in enumerate(sorted(series)):
                cs = {c["config"]["channels"]: c for c in series[(product, zc)]}
                ys = [cs[ch]["summary"][metric]["median"] if ch in cs else 0 for ch in chans]
                ax.bar([j + (i - (n - 1) / 2) * width for j in range(len(chans))], ys, width,
                       color=style[(product, zc)][0], alpha=1.0 if zc else 0.45,
                       label=f"{product} zc {'on' if zc else 'off'}")
            ax.set_xticks(range(len(chans)), [f"{ch} ch" for ch in chans])
            ax.set_title(title)
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle("Zero copy off (light) vs on (dark)")
        written.append(_save(fig, plt, outdir, "zero_copy.png"))

    run = _progress_run(cases)
    if run is not None:
        case, r = run
        fig, ax = plt.subplots(figsize=(7, 4))
        t = [s[0] for s in r["progress"]]
        rem = [s[1] / (1 << 30) for s in r["progress"]]
        sent = [s[2] / (1 << 30) for s in r["progress"]]
        ax.plot(t, rem, "-", color="tab:blue", label="remaining (GiB)")
        ax.plot(t, sent, "-", color="tab:green", label="transferred (GiB)")
        last = 0
        for s in r["progress"]:
            if s[3] != last:
                ax.axvline(s[0], color="gray", alpha=0.3, linewidth=0.8)
                last = s[3]
        if r.get("stop_s") is not None:
            ax.axvspan(r["stop_s"], max(t[-1], r["stop_s"] + r["downtime_ms"] / 1000),
                       color="tab:red", alpha=0.12,
                       label=f"guest stopped (downtime {r['downtime_ms']} ms)")
        ax.set_xlabel("seconds since migrate (grey lines: a new dirty-bitmap pass)")
        ax.set_ylabel("GiB")
        ax.set_title(f"Progress of one run: {case_label(case['config'])}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, plt, outdir, "progress.png"))

    sc = results.get("scaling")
    if sc and sc.get("points"):
        fig, ax = plt.subplots(figsize=(7, 4))
        xs = [p["gib"] for p in sc["points"]]
        ys = [p["total_time_ms"]["median"] for p in sc["points"]]
        ax.plot(xs, ys, "o", color="tab:blue", label="migration total-time (ms)")
        fit = sc["fits"].get("migration time")
        if fit:
            ax.plot(xs, [fit["slope"] * x + fit["intercept"] for x in xs], "-", color="tab:blue",
                    alpha=0.5, label=f"fit: {fit['slope']:.0f} ms/GiB")
        if sc.get("bitmap_sync"):
            ax2 = ax.twinx()
            bx = [b["gib"] for b in sc["bitmap_sync"]]
            ax2.plot(bx, [b["all_ms"] for b in sc["bitmap_sync"]], "s", color="tab:orange",
                     label="bitmap sync, all dirty (ms)")
            ax2.set_ylabel("bitmap sync ms", color="tab:orange")
            ax2.set_ylim(bottom=0)
        ax.set_xlabel("guest RAM (GiB)")
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.set_title("Scaling with RAM size (migemu)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        written.append(_save(fig, plt, outdir, "scaling.png"))
    return written, None


def _progress_run(cases: List[Dict[str, Any]]) -> Optional[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """The run to draw: a migemu run with a workload if any (several passes), else the longest."""
    best: Optional[Tuple[float, Dict[str, Any], Dict[str, Any]]] = None
    for case in cases:
        if case.get("skipped") or case["config"]["product"] != "migemu":
            continue
        for r in case.get("runs", []):
            if r.get("status") != "completed" or not r.get("progress"):
                continue
            score = (1e6 if case["config"]["workload_mib_s"] else 0) + case["config"]["size_mib"]
            score += r["wall_s"]
            if best is None or score > best[0]:
                best = (score, case, r)
    return None if best is None else (best[1], best[2])


def _save(fig: Any, plt: Any, outdir: str, name: str) -> str:
    path = os.path.join(outdir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
