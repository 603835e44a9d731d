"""What the benchmark reads about a process from /proc, and small number helpers."""

from __future__ import annotations

import math
import os
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = float(1 << 30)
MIB = 1 << 20


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid`, reaped children excluded (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/PID/status (VmHWM, VmRSS, RssAnon, RssFile, RssShmem); 0 if absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def memory_kib(pid: int) -> Dict[str, int]:
    return {k: status_kib(pid, k) for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")}


def parse_size(text: str) -> int:
    """'2G', '512M', '64M/s', '1.5G', '4096' (bytes) -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("/S").removesuffix("IB").removesuffix("B")
    num = t.rstrip("KMGT")
    unit = t[len(num):]
    try:
        value = float(num) * units[unit]
    except (ValueError, KeyError):
        value = -1.0
    if not 0 <= value < 1 << 60:  # also NaN and infinity
        raise ValueError(f"bad size '{text}' (e.g. 2G, 512M, 64M/s)")
    return int(value)


def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"


def summary(values: Sequence[Optional[float]]) -> Optional[Dict[str, float]]:
    """Median, min and max of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def linear_fit(points: List[Tuple[float, float]]) -> Dict[str, float]:
    """Least-squares y = slope * x + intercept, with R^2."""
    n = len(points)
    if n < 2:
        raise ValueError("a fit needs two points")
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    syy = sum((p[1] - my) ** 2 for p in points)
    slope = sxy / sxx if sxx else math.nan
    intercept = my - slope * mx
    r2 = (sxy * sxy) / (sxx * syy) if sxx and syy else 1.0
    return {"slope": slope, "intercept": intercept, "r2": r2, "points": n}
