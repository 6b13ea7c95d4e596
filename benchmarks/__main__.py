"""Run the benchmark workloads: ``python -m benchmarks [W1 W4 ...] [--json F] [--plot F.svg]``.

Every selected workload runs on derivax (LLVM back end) and on each installed peer (JAX,
PyTorch) plus a hand-written NumPy version, in this process, and the table shows the
median time per call, a derived rate, and the ratio derivax/peer (below 1 means derivax is
faster). ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` force a slower BLAS kernel on this kind
of CPU; if they are set the runner re-executes itself without them (``--keep-env`` to
opt out) and reports which BLAS kernel ran.

Each workload also computes a ``check`` (losses of the first training steps, norms of the
outputs); the checks of all frameworks must agree to float32 tolerance (``CHECK_RTOL``),
which shows that every framework ran the same computation. A disagreement is printed as a
warning and marked in the table and the JSON. ``--plot F.svg`` draws the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

_FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Relative tolerance between check values of two frameworks: float32 results of the same
# computation in a different order (three training steps included) differ by ~1e-5.
CHECK_RTOL = 1e-4


def _reexec_without_blas_overrides(argv):
    env = {k: v for k, v in os.environ.items() if k not in _FORCING}
    env["DERIVAX_BENCH_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *argv], env)


def _fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("workloads", nargs="*", help="W1 ... W12 (default: all)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--plot", help="write an SVG bar chart of the ratios to this file")
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    parser.add_argument("--peers", default="jax,torch,numpy", help="comma-separated peers")
    parser.add_argument("--keep-env", action="store_true", help="do not unset OpenBLAS overrides")
    args = parser.parse_args(argv)

    if any(os.environ.get(k) for k in _FORCING) and not args.keep_env:
        if not os.environ.get("DERIVAX_BENCH_REEXEC"):
            _reexec_without_blas_overrides(argv)

    import derivax

    derivax.config.update("jit_backend", "llvm")
    from ._timing import blas_description, loadavg, machine_description
    from ._workloads import WORKLOADS, Skip

    chosen = args.workloads or list(WORKLOADS)
    by_upper = {k.upper(): k for k in WORKLOADS}
    expanded = []
    for w in chosen:
        w = w.upper()
        if w == "W6":
            expanded += ["W6a", "W6b"]
        elif w in by_upper:
            expanded.append(by_upper[w])
        else:
            parser.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    peers = [p for p in args.peers.split(",") if p]
    fws = ["derivax"] + [p for p in peers if p == "numpy" or importlib.util.find_spec(p)]
    missing = [p for p in peers if p not in fws]

    machine = machine_description()
    try:
        from derivax._compiler import parallel

        machine["derivax_threads"] = parallel.thread_count()
    except Exception as err:  # pragma: no cover - reporting only
        machine["derivax_threads"] = f"unknown ({err})"
    machine["derivax_blas_threads"] = derivax.config.blas_threads
    print(
        f"machine: {machine['cpu']} ({machine['cores']} cores), Python {machine['python']}, "
        f"load average {machine['loadavg_at_start']}"
    )
    for k in _FORCING:
        if machine.get(k):
            print(f"WARNING: {k}={machine[k]} is set; BLAS may run a slower kernel")
    if missing:
        print(f"not installed (skipped): {', '.join(missing)}")

    results = {}
    for w in expanded:
        name, run = WORKLOADS[w]
        results[w] = {"name": name}
        for fw in fws:
            t0 = time.perf_counter()
            try:
                r = run(fw, args.quick)
            except Skip as why:
                results[w][fw] = {"skipped": str(why)}
                print(f"{w} {name} [{fw}]: skipped: {why}", flush=True)
                continue
            except Exception as err:  # a failing peer must not stop the run
                results[w][fw] = {"error": f"{type(err).__name__}: {err}"}
                print(
                    f"{w} {name} [{fw}]: error: {type(err).__name__}: {str(err)[:300]}", flush=True
                )
                continue
            results[w][fw] = r.as_dict()
            extra = " ".join(f"{k}={v:.3g}" for k, v in r.extra.items() if isinstance(v, float))
            check = f" check={_fmt_check(r.check)}" if r.check is not None else ""
            print(
                f"{w} {name} [{fw}]: {_fmt_time(r.median)} "
                f"[{_fmt_time(r.low)}-{_fmt_time(r.high)}] first={_fmt_time(r.first)} {extra}{check}"
                f" ({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        _compare_checks(results[w], fws)

    blas = blas_description()
    try:
        from derivax._compiler import engine

        info = engine.blas_info()
        blas.insert(
            0, f"derivax BLAS: {info['library']} core={info['core']} threads={info['threads']}"
        )
    except Exception as err:  # pragma: no cover - reporting only
        blas.insert(0, f"derivax BLAS: unknown ({err})")
    ratios = ratio_list(results, fws)
    machine["loadavg_at_end"] = loadavg()
    _print_table(results, fws)
    print("BLAS:")
    for line in blas:
        print("  " + line)
    if args.json:
        payload = {
            "machine": machine,
            "blas": blas,
            "frameworks": fws,
            "check_rtol": CHECK_RTOL,
            "results": results,
            "ratios": [{"workload": w, "name": n, "peer": p, "ratio": r} for w, n, p, r in ratios],
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2, default=str)
        print(f"wrote {args.json}")
    if args.plot:
        from ._plot import write_svg

        if ratios:
            write_svg(args.plot, ratios)
            print(f"wrote {args.plot}")
        else:
            print(f"no ratios to plot (every run was skipped or failed): {args.plot} not written")


def checks_agree(a, b, rtol=CHECK_RTOL):
    """True when two check lists have the same length and agree to ``rtol`` (relative)."""
    if len(a) != len(b):
        return False
    return all(abs(x - y) <= rtol * max(abs(x), abs(y), 1e-6) for x, y in zip(a, b))


def _compare_checks(res, fws):
    """Compares every framework's check with the reference (derivax, else the first one)
    and records ``checks_agree`` and ``check_mismatch`` in ``res``; warns on a mismatch."""
    have = [f for f in fws if "check" in res.get(f, {})]
    if len(have) < 2:
        return
    ref = have[0]
    bad = [f for f in have[1:] if not checks_agree(res[ref]["check"], res[f]["check"])]
    res["check_reference"] = ref
    res["checks_agree"] = not bad
    if bad:
        res["check_mismatch"] = bad
        for f in bad:
            print(
                f"WARNING: {res['name']}: check values disagree beyond rtol={CHECK_RTOL:g}: "
                f"{ref} {_fmt_check(res[ref]['check'])} vs {f} {_fmt_check(res[f]['check'])}",
                flush=True,
            )


def _fmt_check(values):
    return "[" + ", ".join(f"{v:.7g}" for v in values) + "]"


def ratio_list(results, fws):
    """``(workload, name, peer, derivax median / peer median)`` for every pair timed."""
    out = []
    for w, res in results.items():
        dx_med = res.get("derivax", {}).get("median_s")
        for p in fws:
            med = res.get(p, {}).get("median_s")
            if p != "derivax" and dx_med and med and med > 0 and dx_med > 0:
                out.append((w, res["name"], p, dx_med / med))
    return out


def _print_table(results, fws):
    peers = [f for f in fws if f != "derivax"]
    head = ["workload"] + [f"{f}" for f in fws] + [f"dx/{p}" for p in peers] + ["check"]
    rows = [head]
    for w, res in results.items():
        row = [f"{w} {res['name']}"]
        meds = {}
        for f in fws:
            d = res.get(f, {})
            if "median_s" in d:
                meds[f] = d["median_s"]
                row.append(_fmt_time(d["median_s"]))
            else:
                row.append("skip" if "skipped" in d else ("error" if "error" in d else "-"))
        for p in peers:
            if "derivax" in meds and p in meds and meds[p] > 0:
                row.append(f"{meds['derivax'] / meds[p]:.2f}")
            else:
                row.append("-")
        if "checks_agree" not in res:
            row.append("-")
        elif res["checks_agree"]:
            row.append("agree")
        else:
            row.append("WARNING: differs (" + ",".join(res["check_mismatch"]) + ")")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print()
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(wd) for c, wd in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * wd for wd in widths))
    w12 = results.get("W12", {}).get("derivax", {})
    if "warm_cache_compile_s" in w12:
        print(
            f"\nW12 derivax: compile {_fmt_time(w12['median_s'])} cold, "
            f"{_fmt_time(w12['warm_cache_compile_s'])} with a warm disk cache (fresh process)"
        )
    print(
        "ratio < 1: derivax faster than the peer; check: the frameworks' check values "
        f"(losses, output norms) agree to rtol={CHECK_RTOL:g}"
    )


if __name__ == "__main__":
    main()
