"""Timing and machine description for the benchmarks."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time


class Result:
    """Median seconds per call over trials (each trial's median), with the spread."""

    def __init__(self, median, low, high, samples, first=None, extra=None, check=None):
        self.median = median
        self.low = low
        self.high = high
        self.samples = samples
        self.first = first
        self.extra = extra or {}
        self.check = check

    def as_dict(self):
        return {
            "median_s": self.median,
            "trial_min_s": self.low,
            "trial_max_s": self.high,
            "samples": self.samples,
            "first_call_s": self.first,
            **self.extra,
            **({"check": self.check} if self.check is not None else {}),
        }


def measure(fn, *, sync=None, trials=3, min_time=0.5, min_samples=10, inner=1, warmup=2):
    """Time ``fn()`` (synchronised by ``sync(result)``): ``inner`` calls per sample, at least
    ``min_samples`` samples and ``min_time`` seconds per trial, GC off during trials."""
    sync = sync or (lambda r: r)
    for _ in range(warmup):
        sync(fn())
    medians, total = [], 0
    for _ in range(trials):
        gc.collect()
        gc.disable()
        try:
            times = []
            end = time.perf_counter() + min_time
            while len(times) < min_samples or time.perf_counter() < end:
                t0 = time.perf_counter()
                for _ in range(inner):
                    r = fn()
                sync(r)
                times.append((time.perf_counter() - t0) / inner)
        finally:
            gc.enable()
        medians.append(statistics.median(times))
        total += len(times)
    return Result(statistics.median(medians), min(medians), max(medians), total)


def first_call(fn, sync=None):
    sync = sync or (lambda r: r)
    t0 = time.perf_counter()
    sync(fn())
    return time.perf_counter() - t0


def blas_description():
    """Which BLAS kernels are loaded (threadpoolctl when available)."""
    lines = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS kernel unknown")
    else:
        for info in threadpool_info():
            if info.get("user_api") != "blas":
                continue
            lines.append(
                f"{os.path.basename(info.get('filepath', '?'))}: {info.get('internal_api')} "
                f"{info.get('version')} kernel={info.get('architecture', 'unknown')} "
                f"threads={info.get('num_threads')}"
            )
    return lines or ["no BLAS library reported"]


def loadavg():
    """The 1-, 5- and 15-minute load averages (None where the OS does not report them)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


def machine_description():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "loadavg_at_start": loadavg(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
