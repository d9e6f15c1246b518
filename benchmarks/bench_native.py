"""Native solver versus CVXPY (Clarabel, ECOS) on the same programs, scaling in n, and digits.

Every measurement runs in a fresh child process (fork), so the peak resident memory it reports
(``ru_maxrss`` of that child, minus the child's resident size before solving) belongs to that
solve alone, and a baseline that runs too long can be stopped. Times are wall-clock seconds of
the solve, including building the program (CVXPY: the dense program, compilation and solve;
native: the matrix-free operator and the working-set solve). Objectives of the CVXPY points are
certified afterwards with the same duality gap as the native ones (``_optimality.duality_gap``).

Usage::

    python benchmarks/bench_native.py            # everything (about 10 minutes on 2 cores)
    python benchmarks/bench_native.py --quick    # small sizes, no n=60,000; Adam (torch) still runs
    python benchmarks/bench_native.py --part adam   # convex fits against Adam (needs torch)

Results are printed as Markdown tables (copied into ``benchmarks/README.md``).
"""

import argparse
import multiprocessing as mp
import resource
import sys
import time

import numpy as np

from sklearn_convexcnn._formulations.two_layer import make_formulation
from sklearn_convexcnn._optimality import dual_point, duality_gap, max_pattern_price
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import solve_cvxpy
from sklearn_convexcnn._solvers._native import solve_native

K, H = 16, 5  # patches per signal and patch size: signals of length K + H - 1


def signals(n, rng):
    """1-D Gaussian signals, their patches and a planted 3-neuron average-pooling CNN's targets."""
    length = K + H - 1
    X = rng.standard_normal((n, length))
    patches = extract_patches(X, resolve_geometry(None, H, 1, length))
    filters = rng.standard_normal((3, H))
    y = np.maximum(patches @ filters.T, 0).mean(axis=1) @ [1.0, -1.0, 0.5]
    return X, patches, y + 0.1 * rng.standard_normal(n)


def synthetic(n, n_patterns, seed=0, phases=None):
    """The problem of :func:`signals` with sampled gates and ``beta = 0.1 beta_max``.

    ``phases`` (a dict), when given, receives the seconds of each step: data and patches,
    pattern sampling with de-duplication, ``beta_max`` (operator and one max-pricing pass).
    """
    phases = {} if phases is None else phases
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    _, patches, y = signals(n, rng)
    phases["data"] = time.perf_counter() - start
    start = time.perf_counter()
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    gates = formulation.sample_gates(patches, n_patterns, rng)
    phases["patterns"] = time.perf_counter() - start
    start = time.perf_counter()
    operator = formulation.operator(patches, gates)
    beta_max = max_pattern_price(operator, dual_point("squared", np.full(n, y.mean()), y, True))
    phases["beta_max"] = time.perf_counter() - start
    return patches, gates, y, 0.1 * beta_max


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _solve_child(queue, method, n, n_patterns):
    at_start = _rss_mib()
    phases = {}
    patches, gates, y, beta = synthetic(n, n_patterns, phases=phases)
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    before = _rss_mib()
    start = time.perf_counter()
    if method == "native":
        operator = formulation.operator(patches, gates)
        solution = solve_native(
            operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500
        )
    else:
        program = formulation.program(patches, gates)
        solution = solve_cvxpy(
            program,
            y,
            beta=beta,
            loss="squared",
            fit_intercept=True,
            solver=method,
            tol=1e-8,
            max_iter=500,
        )
    elapsed = time.perf_counter() - start
    memory = _rss_mib() - before
    gap = solution.duality_gap
    if gap is None:  # certify the CVXPY point the same way
        program = formulation.program(patches, gates)
        f = program.fit_values(solution.coef) + solution.intercept
        gap, _ = duality_gap(
            program, "squared", f, y, beta=beta, primal=solution.objective, fit_intercept=True
        )
    queue.put(
        {
            "time": elapsed,
            "memory": memory,
            "objective": solution.objective,
            "gap": gap,
            "status": solution.status,
            "groups": int(np.count_nonzero(np.linalg.norm(solution.coef, axis=2))),
            "peak_rss": _rss_mib(),
            "start_rss": at_start,
            "phases": phases,
            "n_iter": solution.n_iter,
        }
    )


def run(method, n, n_patterns, timeout):
    """Run one solve in a child process; ``None`` fields when it failed or timed out."""
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_solve_child, args=(queue, method, n, n_patterns))
    start = time.perf_counter()
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return {"status": f"timeout > {timeout:.0f} s", "time": time.perf_counter() - start}
    if queue.empty():
        return {"status": f"failed (exit {child.exitcode})"}
    return queue.get()


def _fmt(value, spec):
    return "—" if value is None else format(value, spec)


def solver_table(configs, methods, timeouts):
    print("\n## Native versus CVXPY, same program (squared loss, beta = 0.1 beta_max)\n")
    print(
        "| n | P | solver | time (s) | peak memory (MiB) | objective | rel. diff. to Clarabel "
        "| certified gap / objective | speed-up of native | memory ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, n_patterns in configs:
        results = {}
        for method in methods:
            if timeouts.get((method, n, n_patterns), 1) == 0:
                continue
            results[method] = run(method, n, n_patterns, timeouts.get((method, n, n_patterns), 600))
            sys.stdout.flush()
        native = results["native"]
        reference = results.get("clarabel", {})
        for method, result in results.items():
            objective = result.get("objective")
            rel = (
                None
                if objective is None or reference.get("objective") is None
                else (objective - reference["objective"]) / abs(reference["objective"])
            )
            speed = (
                None
                if method == "native" or result.get("time") is None
                else result["time"] / native["time"]
            )
            memory = (
                None
                if method == "native" or result.get("memory") is None
                else result["memory"] / max(native["memory"], 1.0)
            )
            gap = result.get("gap")
            print(
                f"| {n} | {n_patterns} | {method} ({result.get('status')}) "
                f"| {_fmt(result.get('time'), '.2f')} | {_fmt(result.get('memory'), '.0f')} "
                f"| {_fmt(objective, '.9f')} | {_fmt(rel, '.1e')} "
                f"| {_fmt(None if gap is None else gap / objective, '.1e')} "
                f"| {_fmt(speed, '.1f')} | {_fmt(memory, '.1f')} |",
                flush=True,
            )


def scaling_table(sizes, n_patterns, timeout=900):
    print(f"\n## Native solver, scaling in n (P = {n_patterns})\n")
    print(
        "| n | solve time (s) | time / n (ms) | setup: patterns + beta_max (s) "
        "| peak RSS (MiB; at start) "
        "| objective | gap / objective | groups | iterations |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        result = run("native", n, n_patterns, timeout)
        if result.get("objective") is None:
            print(f"| {n} | {result['status']} | | | | | | | |", flush=True)
            continue
        phases = result["phases"]
        print(
            f"| {n} | {result['time']:.2f} | {1e3 * result['time'] / n:.3f} "
            f"| {phases['patterns']:.2f} + {phases['beta_max']:.2f} "
            f"| {result['peak_rss']:.0f} ({result['start_rss']:.0f}) | {result['objective']:.6f} "
            f"| {result['gap'] / result['objective']:.1e} | {result['groups']} "
            f"| {result['n_iter']} |",
            flush=True,
        )


def _digits_child(queue, name):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from sklearn_convexcnn import ConvexCNNClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    if name == "mlp-adam":
        model = MLPClassifier((100,), max_iter=500, random_state=0)
    elif name == "mlp-lbfgs":
        model = MLPClassifier((100,), solver="lbfgs", max_iter=500, random_state=0)
    else:
        model = ConvexCNNClassifier(
            beta=1.0,
            input_shape=(8, 8),
            kernel_size=3,
            pool_size=None,  # global pooling, as measured below (pinned, whatever the defaults)
            readout="sum",
            n_patterns=64,
            solver="native",
            tol=1e-7,
            random_state=0,
        )
    before = _rss_mib()
    start = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    result = {
        "time": elapsed,
        "memory": _rss_mib() - before,
        "accuracy": model.score(X_test, y_test),
    }
    if name == "convex":
        result["gap"] = model.duality_gap_ / model.objective_
        result["exact"] = abs(model.regularized_objective(X_train, y_train) - model.objective_) / (
            model.objective_
        )
    queue.put(result)


def digits_table():
    print("\n## Digits (1797 images, 10 classes, stratified 80/20 split)\n")
    print("| model | fit time (s) | peak memory (MiB) | test accuracy | notes |")
    print("|---|---|---|---|---|")
    results = {}
    for name in ("mlp-adam", "mlp-lbfgs", "convex"):
        queue = mp.get_context("fork").Queue()
        child = mp.get_context("fork").Process(target=_digits_child, args=(queue, name))
        child.start()
        child.join(900)
        results[name] = queue.get() if not queue.empty() else None
        r = results[name]
        if r is None:
            print(f"| {name} | failed | | | |", flush=True)
            continue
        notes = ""
        if name == "convex":
            notes = (
                f"beta=1, 3x3 kernels, 64 patterns, native; gap/objective {r['gap']:.1e}, "
                f"|network - convex| / convex {r['exact']:.1e}; "
                f"{r['time'] / results['mlp-adam']['time']:.1f}x the adam MLP's time"
            )
        print(
            f"| {name} | {r['time']:.2f} | {r['memory']:.0f} | {r['accuracy']:.3f} | {notes} |",
            flush=True,
        )


def adam_table(sizes, budgets=(64, 128)):
    """The estimators (sampled and generated patterns) against the best of 10 Adam restarts.

    The same network and objective, ``0.5 ||f(X) - y||^2 + beta/2 sum_j (||u_j||^2 + w_j^2)``
    with global average pooling, on the problem of :func:`synthetic` (same data, same ``beta``
    as the solver table's P = 64 rows); the fits with ``n_patterns`` each of ``budgets``; Adam as
    in ``bench_patterns.py`` (float64, 2000 full-batch steps, learning rate 1e-2, width
    ``max(32, widest fit)``, one torch thread), once per ``n``. In-process, one after the other:
    read the time ratios within a row.
    """
    from bench_patterns import N_RESTARTS, adam_restarts

    from sklearn_convexcnn import ConvexCNNRegressor

    print(f"\n## Convex fits versus the best of {N_RESTARTS} Adam restarts\n")
    print(
        "| n | beta | P | sampled: objective / s | generated: objective / s / patterns / check "
        "| best Adam: objective / s (width) | sampled vs Adam | generated vs Adam |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        _, _, _, beta = synthetic(n, 64)
        X, patches, y = signals(n, np.random.default_rng(0))
        fits = {}
        for budget in budgets:
            for patterns in ("sampled", "generated"):
                start = time.perf_counter()
                model = ConvexCNNRegressor(
                    beta=beta, kernel_size=H, n_patterns=budget, patterns=patterns,
                    solver="native", random_state=0,
                ).fit(X, y)  # fmt: skip
                fits[budget, patterns] = (model, time.perf_counter() - start)
        width = max(32, *(model.filters_.shape[0] for model, _ in fits.values()))
        adam, t_adam = adam_restarts(patches, y, beta, width, seed=0)
        for budget in budgets:
            (sampled, t_sampled) = fits[budget, "sampled"]
            (generated, t_generated) = fits[budget, "generated"]
            print(
                f"| {n} | {beta:.4g} | {budget} | {sampled.objective_:.6f} / {t_sampled:.1f} "
                f"| {generated.objective_:.6f} / {t_generated:.1f} / {generated.n_patterns_} / "
                f"{generated.dual_check_ / beta:.4f} | {adam:.6f} / {t_adam:.1f} ({width}) "
                f"| {(sampled.objective_ - adam) / adam:+.2%} "
                f"| {(generated.objective_ - adam) / adam:+.2%} |",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument(
        "--part",
        choices=["solvers", "scaling", "digits", "adam"],
        action="append",
        help="run only these parts (repeatable); default: all",
    )
    parser.add_argument("--configs", default="200x64,200x256,1000x64", help="n x P list")
    parser.add_argument(
        "--sizes", default="1000,3000,10000,30000,60000", help="n for the scaling curve"
    )
    parser.add_argument("--adam-sizes", default="200,1000", help="n for the Adam comparison")
    args = parser.parse_args()
    parts = args.part or ["solvers", "scaling", "digits", "adam"]
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    sizes = [int(v) for v in args.sizes.split(",")]
    if args.quick:
        configs, sizes = [(200, 64)], [1000, 10000]
    timeouts = {
        ("ecos", 200, 64): 400,
        ("ecos", 200, 256): 0,  # not run: ECOS already takes minutes at P = 64
        ("ecos", 1000, 64): 0,
        ("clarabel", 1000, 64): 1200,
    }
    if "solvers" in parts:
        methods = ["native", "clarabel"] if args.quick else ["native", "clarabel", "ecos"]
        solver_table(configs, methods, timeouts)
    if "scaling" in parts:
        scaling_table(sizes, 256)
    if "digits" in parts:
        digits_table()
    if "adam" in parts:
        adam_table([int(v) for v in args.adam_sizes.split(",")])


if __name__ == "__main__":
    main()
