"""Run the benchmark workloads: ``python -m benchmarks [W1 W4 ...] [--json FILE] [--quick]``.

Every selected workload runs on derivax (LLVM back end) and on each installed peer (JAX,
PyTorch) plus a hand-written NumPy version, in this process, and the table shows the
median time per call, a derived rate, and the ratio derivax/peer (below 1 means derivax is
faster). ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` force a slower BLAS kernel on this kind
of CPU; if they are set the runner re-executes itself without them (``--keep-env`` to
opt out) and reports which BLAS kernel ran.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

_FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


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
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    parser.add_argument("--peers", default="jax,torch,numpy", help="comma-separated peers")
    parser.add_argument("--keep-env", action="store_true", help="do not unset OpenBLAS overrides")
    args = parser.parse_args(argv)

    if any(os.environ.get(k) for k in _FORCING) and not args.keep_env:
        if not os.environ.get("DERIVAX_BENCH_REEXEC"):
            _reexec_without_blas_overrides(argv)

    import derivax

    derivax.config.update("jit_backend", "llvm")
    from ._timing import blas_description, machine_description
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
    print(f"machine: {machine['cpu']} ({machine['cores']} cores), Python {machine['python']}")
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
            check = f" check={r.check}" if r.check is not None else ""
            print(
                f"{w} {name} [{fw}]: {_fmt_time(r.median)} "
                f"[{_fmt_time(r.low)}-{_fmt_time(r.high)}] first={_fmt_time(r.first)} {extra}{check}"
                f" ({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )

    blas = blas_description()
    try:
        from derivax._compiler import engine

        info = engine.blas_info()
        blas.insert(
            0, f"derivax BLAS: {info['library']} core={info['core']} threads={info['threads']}"
        )
    except Exception as err:  # pragma: no cover - reporting only
        blas.insert(0, f"derivax BLAS: unknown ({err})")
    _print_table(results, fws)
    print("BLAS:")
    for line in blas:
        print("  " + line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "blas": blas, "results": results}, f, indent=2, default=str
            )
        print(f"wrote {args.json}")


def _print_table(results, fws):
    peers = [f for f in fws if f != "derivax"]
    head = ["workload"] + [f"{f}" for f in fws] + [f"dx/{p}" for p in peers]
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
    print("ratio < 1: derivax faster than the peer")


if __name__ == "__main__":
    main()
