"""Smoke test of the benchmark runner (``python -m benchmarks``).

One quick run of three workloads against the hand-written NumPy peer checks the JSON
layout, that derivax and NumPy compute the same thing (the workloads' ``check`` values:
losses of the first training steps, output sums), and that the SVG chart parses and has one
bar per ratio. No time is asserted: the run's timings are only checked to be recorded.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.__main__ import CHECK_RTOL, _compare_checks, _print_table, ratio_list  # noqa: E402
from benchmarks._plot import svg  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"
WORKLOADS = ("W2", "W5", "W7")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    json_path, svg_path = tmp / "bench.json", tmp / "bench.svg"
    env = dict(os.environ, DERIVAX_CACHE_DIR=str(tmp / "cache"))
    cmd = [sys.executable, "-m", "benchmarks", *WORKLOADS, "--quick", "--peers", "numpy"]
    cmd += ["--json", str(json_path), "--plot", str(svg_path)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(json_path.read_text()), svg_path, out.stdout


def test_json_structure(run):
    data, _, _ = run
    assert data["frameworks"] == ["derivax", "numpy"]
    assert {"cpu", "cores", "python", "derivax_threads"} <= set(data["machine"])
    assert data["blas"] and all(isinstance(line, str) for line in data["blas"])
    assert list(data["results"]) == list(WORKLOADS)
    names = {"W2": "tiny_mlp_step", "W5": "logsumexp_rows", "W7": "dispatch"}
    for w in WORKLOADS:
        res = data["results"][w]
        assert res["name"] == names[w]
        for fw in ("derivax", "numpy"):
            entry = res[fw]
            assert "error" not in entry, entry
            for key in ("median_s", "trial_min_s", "trial_max_s", "first_call_s"):
                assert isinstance(entry[key], float) and math.isfinite(entry[key]), (w, fw, key)
            assert entry["trial_min_s"] <= entry["median_s"] <= entry["trial_max_s"]
            assert isinstance(entry["samples"], int) and entry["samples"] >= 3
    assert data["results"]["W5"]["derivax"]["GB/s"] > 0
    assert data["results"]["W7"]["derivax"]["us/call"] > 0
    pairs = {(r["workload"], r["peer"]) for r in data["ratios"]}
    assert pairs == {(w, "numpy") for w in WORKLOADS}


def test_derivax_and_numpy_compute_the_same(run):
    data, _, stdout = run
    res = data["results"]
    # W2: the losses of training steps 1..3 from the same initial parameters
    dx_losses, np_losses = res["W2"]["derivax"]["check"], res["W2"]["numpy"]["check"]
    assert len(dx_losses) == 3
    assert dx_losses[2] < dx_losses[1] < dx_losses[0]  # Adam steps reduce the loss
    np.testing.assert_allclose(dx_losses, np_losses, rtol=CHECK_RTOL)
    # W5: sum over rows of logsumexp(X[i]); each row of 1024 N(0,1) values gives about
    # log(1024 * e^(1/2)) = 7.43, so the sum is near 4096 * 7.43
    np.testing.assert_allclose(res["W5"]["derivax"]["check"], res["W5"]["numpy"]["check"])
    assert abs(res["W5"]["derivax"]["check"][0] / 4096 - (np.log(1024) + 0.5)) < 0.05
    # W7: x + 1 on eight ones
    assert res["W7"]["derivax"]["check"] == [16.0] == res["W7"]["numpy"]["check"]
    for w in WORKLOADS:
        assert res[w]["checks_agree"] is True
    assert "WARNING" not in stdout


def test_svg_has_one_bar_per_ratio(run):
    data, svg_path, _ = run
    root = ET.parse(svg_path).getroot()
    assert root.tag == SVG_NS + "svg"
    bars = [r for r in root.iter(SVG_NS + "rect") if r.get("class") == "bar"]
    assert len(bars) == len(data["ratios"]) == len(WORKLOADS)
    for bar, ratio in zip(bars, data["ratios"]):
        assert bar.get("data-workload") == ratio["workload"]
        assert bar.get("data-peer") == "numpy"
        assert float(bar.get("data-ratio")) == pytest.approx(ratio["ratio"], rel=1e-5)
        assert float(bar.get("height")) > 0
        assert ratio["workload"] in bar.find(SVG_NS + "title").text


def _entry(median, check=None):
    d = {"median_s": median}
    if check is not None:
        d["check"] = check
    return d


def test_disagreeing_checks_are_flagged(capsys):
    results = {
        "W1": {
            "name": "mlp_train_step",
            "derivax": _entry(2.0, [2.5, 1.5]),
            "numpy": _entry(1.0, [2.5, 1.5 * (1 + CHECK_RTOL / 2)]),
            "torch": _entry(4.0, [2.5, 1.6]),
        },
        "W8": {"name": "import_time", "derivax": _entry(0.5), "numpy": {"error": "boom"}},
    }
    fws = ["derivax", "numpy", "torch"]
    for res in results.values():
        _compare_checks(res, fws)
    assert results["W1"]["checks_agree"] is False
    assert results["W1"]["check_mismatch"] == ["torch"]
    assert "checks_agree" not in results["W8"]  # nothing to compare
    _print_table(results, fws)
    out = capsys.readouterr().out
    assert "WARNING: mlp_train_step" in out and "torch" in out
    w1_row = next(line for line in out.splitlines() if line.startswith("W1 "))
    assert "differs (torch)" in w1_row
    # ratios only where both medians exist: errors and skips give no bar
    assert ratio_list(results, fws) == [
        ("W1", "mlp_train_step", "numpy", 2.0),
        ("W1", "mlp_train_step", "torch", 0.5),
    ]


def test_svg_rejects_bad_input():
    with pytest.raises(ValueError, match="no ratios"):
        svg([])
    with pytest.raises(ValueError, match="W3/torch"):
        svg([("W3", "cnn_train_step", "torch", 0.0)])
    text = svg([("W9", "eager_grad", "jax", 0.25), ("W9", "eager_grad", "numpy", 40.0)])
    root = ET.fromstring(text)
    heights = {
        r.get("data-peer"): float(r.get("height"))
        for r in root.iter(SVG_NS + "rect")
        if r.get("class") == "bar"
    }
    # log scale: bars start at 1, so their heights are in the ratio log(40) : log(1 / 0.25)
    assert heights["numpy"] / heights["jax"] == pytest.approx(math.log(40) / math.log(4), rel=0.01)
