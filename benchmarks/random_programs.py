"""The native solver against Clarabel on random programs of every architecture.

Usage::

    python benchmarks/random_programs.py [--seeds FIRST STOP] [--out FILE]

Each seed draws one small problem and fits it twice, with ``solver="native"`` and with
``solver="clarabel"`` (through CVXPY), the same patterns for both: two-layer CNNs on signals
or images (average, max or no pooling, summed or dense read-outs, global pooling or 2x2
pools), circular CNNs of 3 or 4 layers and three-layer CNNs; regressors (a planted ReLU
target) or classifiers (2 or 3 classes, squared or logistic loss); inputs of scale 1e-2, 1 or
1e2 with ``beta`` in proportion; an intercept or none; and, for two-layer CNNs with summed
read-outs, sometimes ``patterns="generated"``. Every fit's record (a JSON line: the draw, the
objectives, the certified gaps, the recovered network's objective, the warnings, the times)
goes to ``--out``; then the summary, in which every line but the counts is a finding:

* a native fit that raised anything but a documented refusal;
* a native network that does not attain its ``objective_`` (relative 1e-6);
* a native gap above ``tol`` without a ConvergenceWarning;
* an exact program (not generated patterns, nor circular CNNs of 4 layers, whose program is a
  relaxation and whose network is not its optimum) where the native objective is above
  Clarabel's by more than 1e-6 relative, although Clarabel's own gap is within its tolerance.

Slow on purpose (about 1 s a seed; three-layer programs take longest): run it after a change
to a solver, on a range of seeds no earlier run has used, in the background.
"""

import argparse
import collections
import json
import time
import traceback
import warnings

import numpy as np

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor

TOL = 1e-7
# A native objective above Clarabel's by more than this (relative) is a finding.
ABOVE = 1e-6


def draw(seed):
    """The estimator class, its parameters (but ``solver``), ``X`` and ``y`` of ``seed``."""
    rng = np.random.default_rng(seed)
    architecture = str(rng.choice(["two_layer"] * 6 + ["circular"] * 2 + ["three_layer"]))
    n = int(rng.integers(6, 15)) if architecture == "three_layer" else int(rng.integers(8, 81))
    images = architecture == "two_layer" and rng.random() < 0.5
    shape = (int(rng.integers(4, 7)),) * 2 if images else (int(rng.integers(5, 13)),)
    scale = float(rng.choice([1e-2, 1.0, 1e2]))
    X = scale * rng.standard_normal((n, int(np.prod(shape))))
    params = dict(
        input_shape=shape,
        architecture=architecture,
        beta=float(rng.choice([1e-2, 0.1, 1.0])) * scale,
        fit_intercept=bool(rng.integers(2)),
        n_patterns=int(rng.integers(2, 6 if architecture == "three_layer" else 13)),
        tol=TOL,
        random_state=seed,
    )
    if architecture == "two_layer":
        params["kernel_size"] = int(rng.integers(1, min(shape) + 1))
        params["pooling"] = str(rng.choice(["average", "max", "none"]))
        if params["pooling"] != "none":
            params["readout"] = str(rng.choice(["sum", "dense"]))
            if rng.random() < 0.5:
                params["pool_size"] = 2
            if params["readout"] == "sum" and rng.random() < 0.25:
                params["patterns"] = "generated"
    elif architecture == "circular":
        params["n_layers"] = int(rng.choice([3, 4]))
    else:
        params["kernel_size"] = int(rng.integers(2, 4))
    if rng.random() < 0.5:
        n_classes = int(rng.choice([2, 3]))
        y = rng.integers(n_classes, size=n)
        y[:n_classes] = np.arange(n_classes)  # (every class present)
        params["loss"] = str(rng.choice(["squared", "logistic"]))
        return ConvexCNNClassifier, params, X, y
    w = rng.standard_normal(X.shape[1])
    y = np.maximum(X @ w, 0.0) + 0.1 * scale * rng.standard_normal(n)
    return ConvexCNNRegressor, params, X, y


def _fit(estimator, params, X, y, solver):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model = estimator(solver=solver, **params).fit(X, y)
        seconds = time.perf_counter() - start
    return model, seconds, [f"{w.category.__name__}: {w.message}" for w in caught]


def record(seed):
    """One seed's fits, as a dict for a JSON line."""
    estimator, params, X, y = draw(seed)
    found = dict(seed=seed, estimator=estimator.__name__, params=params)
    try:
        native, seconds, caught = _fit(estimator, params, X, y, "native")
    except Exception as exc:  # (what it raised is the record)
        found["native_error"] = f"{type(exc).__name__}: {exc}"
        found["traceback"] = traceback.format_exc()
        return found
    found.update(
        native=native.objective_,
        native_gap=native.duality_gap_,
        network=float(native.regularized_objective(X, y)),
        native_seconds=seconds,
        native_warnings=caught,
    )
    try:
        clarabel, seconds, caught = _fit(estimator, params, X, y, "clarabel")
    except Exception as exc:
        found["clarabel_error"] = f"{type(exc).__name__}: {exc}"
        return found
    found.update(
        clarabel=clarabel.objective_,
        clarabel_gap=clarabel.duality_gap_,
        clarabel_seconds=seconds,
        clarabel_warnings=caught,
    )
    return found


def _exact(params):
    """Whether the program is exact: its optimum is the network's (not generated patterns, nor
    a circular CNN of 4 layers, whose program is a relaxation)."""
    relaxed = params["architecture"] == "circular" and params.get("n_layers") == 4
    return params.get("patterns") != "generated" and not relaxed


def findings(found):
    """What is wrong with one record, as lines (none where nothing is)."""
    seed, params = found["seed"], found["params"]
    if "native_error" in found:
        error = found["native_error"]
        if error.startswith("ValueError") and "Use patterns='sampled'" in error:
            return []  # (a documented refusal)
        return [f"seed {seed}: the native fit raised {error.splitlines()[0]}"]
    lines = []
    native = found["native"]
    if abs(found["network"] - native) > 1e-6 * abs(native):
        lines.append(f"seed {seed}: network {found['network']!r} against objective_ {native!r}")
    warned = any(w.startswith("ConvergenceWarning") for w in found["native_warnings"])
    gap = found["native_gap"]
    if gap is not None and gap > TOL * abs(native) and not warned:
        lines.append(f"seed {seed}: native gap {gap:.3e} without a warning")
    if _exact(params) and "clarabel" in found:
        above = (native - found["clarabel"]) / abs(found["clarabel"])
        clarabel_gap = found["clarabel_gap"]
        certified = clarabel_gap is not None and clarabel_gap <= TOL * abs(found["clarabel"])
        if above > ABOVE and certified:
            lines.append(f"seed {seed}: native {above:.2e} above Clarabel's certified point")
    return lines


def summary(records):
    kinds = collections.Counter()
    above, gaps, problems = [], [], []
    for found in records:
        params = found["params"]
        kinds[params["architecture"] + ("/generated" if "patterns" in params else "")] += 1
        problems += findings(found)
        if "native" in found and _exact(params):
            gaps.append(found["native_gap"] / abs(found["native"]))
            if "clarabel" in found:
                above.append((found["native"] - found["clarabel"]) / abs(found["clarabel"]))
    print(f"{len(records)} programs: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    if above:
        print(
            f"exact programs: the native objective at most {max(above):.1e} above Clarabel's "
            f"(at least {min(above):.1e}: below it) in {len(above)}; native gaps at most "
            f"{max(gaps):.1e} of the objective"
        )
    native = sum(found.get("native_seconds", 0.0) for found in records)
    clarabel = sum(found.get("clarabel_seconds", 0.0) for found in records)
    print(f"time: native {native:.1f} s, Clarabel {clarabel:.1f} s")
    print(f"findings: {len(problems)}")
    for line in problems:
        print("  " + line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(0, 50), metavar=("FIRST", "STOP"))
    parser.add_argument("--out", default="random_programs.jsonl")
    args = parser.parse_args(argv)
    records = []
    with open(args.out, "a") as out:
        for seed in range(*args.seeds):
            records.append(record(seed))
            out.write(json.dumps(records[-1], default=float) + "\n")
            out.flush()
    summary(records)


if __name__ == "__main__":
    main()
