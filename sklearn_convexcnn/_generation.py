"""Pattern generation by the dual oracle (column generation over activation patterns).

A program over sampled patterns is globally optimal only over its patterns
(``doc/notes/solver-measurements.md``: 8-24 % worse than Adam on the same network). The
semi-infinite dual of the non-convex problem (doc/formulations.md §2.3) says which patterns are
missing: with ``v`` the dual vector of the restricted optimum, the fit is the global optimum iff

    max_{||u|| <= 1}  | v^T g(u) |  <=  beta,          g(u) = the neuron's output on the data,

(``g(u) = sum_k alpha_k (X_k u)_+`` for the two-layer CNN with average pooling). ``g`` is
piecewise linear: on the cell of pattern ``i`` it is ``A_i u``, so the left side is the largest
dual norm ``||Proj_{C_i}(+-A_i^T v)||`` over *all* patterns, and its (sub)gradient at ``u`` is
``A_{i(u)}^T v``. :func:`generate_patterns` alternates

1. solve the program over the current patterns (warm);
2. search ``u`` maximizing ``s v^T g(u)``, ``s = +-1``, by multi-start projected ascent on the
   unit sphere of ``R^h`` (starts: current filters and gates, random directions, data patches);
3. add the patterns of the best filters whose value exceeds ``beta``; stop when none does.

Each added pattern has a violated dual constraint, so the next restricted optimum is lower
(Bach 2017, conditional gradient / column generation). The search is a local one, so its stop
is a strong heuristic, not a proof, *unless* the patterns can be enumerated: then the check
prices every pattern exactly (:func:`~._optimality.pattern_prices`) and a passing check certifies
that the fitted network is a global optimum of the non-convex training problem, with the
certified lower bound ``-L*(-v)``.

Warm-start augmentation seeds the first program with the patterns of a short gradient run of
the same network (numpy, through the same piecewise-linear pieces; no torch) and of data
patches. Nothing here imports scikit-learn.
"""

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from ._formulations._operator import fit_values
from ._losses import dual_vector
from ._optimality import dual_point, pattern_prices, scaled_dual_objective
from ._patterns import TooManyPatterns, key_bytes
from ._solvers._solution import ITERATIONS_SPENT, units


@dataclass
class GenerationReport:
    """What :func:`generate_patterns` did.

    Attributes
    ----------
    n_generated : int
        Patterns added by the oracle (not counting the initial and seed patterns).
    n_seeds : int
        Patterns added by warm-start augmentation before the first solve.
    n_rounds : int
        Oracle rounds (searches) performed.
    dual_check : float
        Final value of ``max_u |v^T g(u)|`` over ``||u|| <= 1``, maximized over outputs. When
        ``exhaustive``, an upper bound on it, exact where it exceeds ``beta`` (every pattern
        priced, those at most ``beta`` perhaps only by a cheap bound); otherwise the best the
        search found (a lower bound on it).
    beta : float
    passed : bool
        ``dual_check <= beta * (1 + _CHECK_TOL)``.
    exhaustive : bool
        Whether the check priced every pattern (an enumeration), so that ``passed`` certifies
        global optimality.
    lower_bound : float or None
        When ``exhaustive``: a certified lower bound on the non-convex problem's optimum (summed
        over outputs), from the dual vector scaled into the dual feasible set.
    objectives : list of float
        The program's objective (summed over outputs) after each solve.
    stop_reason : str
    short_solves : list of (str, int)
        The status and iterations of each solve (of every output, in every round) that
        stopped short of its tolerance; the checks after them were taken at points that are
        not their programs' optima.
    n_solves : int
    last_converged : bool
        Whether every solve of the last round converged: the last check was then taken at
        the programs' optima, to the solver's accuracy.
    """

    n_generated: int
    n_seeds: int
    n_rounds: int
    dual_check: float
    beta: float
    passed: bool
    exhaustive: bool
    lower_bound: float | None
    objectives: list = field(default_factory=list)
    stop_reason: str = ""
    short_solves: list = field(default_factory=list)
    n_solves: int = 0
    last_converged: bool = True


def _signed_gradients(formulation, patches, U, signs, v):
    """``s_j A_{i(u_j)}^T v`` for every start ``u_j``: the gradient of ``s_j v^T g(u_j)``."""
    operator = formulation.operator(patches, U.T, with_candidates=False)
    return signs[:, None] * operator.correlations(v)


def _normalize(U):
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    return U / np.maximum(norms, 1e-300)


def oracle_search(formulation, patches, v, starts, *, n_steps=40, chunk=128):
    """Multi-start projected ascent of ``s v^T g(u)`` on the unit sphere, for ``s = +-1``.

    ``g`` is positively homogeneous, so the maximum over the ball is attained on the sphere. Each
    start ascends along ``A_{i(u)}^T v`` with its own step, accepted only when the value grows
    (monotone per start), doubled after a success and cut after a failure.

    Parameters
    ----------
    formulation : PooledSumFormulation
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    v : ndarray of shape (n_samples,)
    starts : ndarray of shape (n_starts, patch_size)
        Every start is run with both signs.
    n_steps : int, default=40
    chunk : int, default=128
        Starts ascended together (bounds memory at ``n * K * chunk`` entries).

    Returns
    -------
    U : ndarray of shape (2 * n_starts, patch_size)
        The final unit filters.
    signs : ndarray of shape (2 * n_starts,)
    values : ndarray of shape (2 * n_starts,)
        ``s v^T g(u)`` at the final filters.
    """
    starts = _normalize(np.asarray(starts, dtype=float))
    U_all = np.vstack([starts, starts])
    signs_all = np.concatenate([np.ones(len(starts)), -np.ones(len(starts))])
    values_all = np.empty(len(U_all))
    for first in range(0, len(U_all), chunk):
        part = slice(first, first + chunk)
        U, signs = U_all[part].copy(), signs_all[part]
        G = _signed_gradients(formulation, patches, U, signs, v)
        values = np.sum(G * U, axis=1)
        step = np.full(len(U), 2.0)
        for _ in range(n_steps):
            moving = step > 1e-4
            if not moving.any():
                break
            index = np.flatnonzero(moving)
            direction = _normalize(G[index])
            trial = _normalize(U[index] + step[index, None] * direction)
            G_trial = _signed_gradients(formulation, patches, trial, signs[index], v)
            trial_values = np.sum(G_trial * trial, axis=1)
            better = trial_values > values[index] + 1e-13 * np.abs(values[index])
            accept = index[better]
            U[accept], G[accept], values[accept] = (
                trial[better],
                G_trial[better],
                trial_values[better],
            )
            step[accept] = np.minimum(step[accept] * 2.0, 4.0)
            step[index[~better]] *= 0.25
        U_all[part], values_all[part] = U, values
    return U_all, signs_all, values_all


def _interior(U, rng, scale=1e-7):
    """Nudge filters off the cell boundaries they sit on (maximizers of a piecewise-linear
    function lie on faces), so that ``1[X_k g >= 0]`` is the same however it is rounded. The
    nudged filter's cell usually has the original filter in its closure, and its dual norm is
    then at least the value found; where a hyperplane lay within the nudge of the filter
    without passing through it, the pattern may be another, which costs a pattern added for
    nothing, never a wrong check (every check prices the patterns themselves)."""
    return U + scale * _normalize(rng.standard_normal(U.shape)) * np.linalg.norm(
        U, axis=1, keepdims=True
    )


def _pattern_keys(formulation, patches, gates):
    """One hashable key per gate, equal iff the gates have the same pattern (the
    formulation's ``pattern_keys``: with max pooling, the pools' winners, not signs)."""
    return key_bytes(formulation.pattern_keys, patches, gates)


def gradient_seeds(
    formulation, patches, y, *, beta, loss, fit_intercept, width, n_steps, rng, lr=0.02
):
    """Filters of a short full-batch Adam run of the non-convex network, for one output.

    The gradient uses the same pieces as the oracle: for neuron ``j`` with filter ``u_j`` and
    output weight ``w_j``, ``d loss / d u_j = -w_j A_{i(u_j)}^T r`` and
    ``d loss / d w_j = -r^T A_{i(u_j)} u_j`` with ``r = -d loss / d f``, so any formulation whose
    patterns are defined by gates is covered, and no torch is needed.

    Returns
    -------
    filters : ndarray of shape (width, patch_size)
    """
    n, _, h = patches.shape
    # in the native solver's units: the steps and the first weights are of unit
    # size, and on inputs times 2**-20 the seeds, and the patterns generated, were others
    row_scale = float(np.sqrt(np.max(np.sum(patches**2, axis=2), initial=0.0)))
    x_unit, y_unit = units(row_scale, y, loss=loss, fit_intercept=fit_intercept)
    patches, y, beta = x_unit * patches, y_unit * y, x_unit * y_unit * beta
    # (beta=1e200 overflowed the second moments g * g, 400 warnings; the run only seeds the
    # search, and any weight decay far above the data's 1 holds the filters at Adam's steps)
    beta = min(beta, 1e100)
    U = rng.standard_normal((width, h)) / np.sqrt(h)
    w = rng.standard_normal(width) * 0.1
    b = 0.0
    params = [U, w]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    b_m = b_s = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, n_steps + 1):
        operator = formulation.operator(patches, U.T, with_candidates=False)
        pieces = operator.pieces(np.arange(width))  # (m, n, h)
        outputs = np.einsum("mnh,mh->nm", pieces, U)  # g(u_j) on the data
        f = outputs @ w + b
        r = dual_vector(loss, f, y)
        correlations = np.einsum("mnh,n->mh", pieces, r)
        grads = [-w[:, None] * correlations + beta * U, -(r @ outputs) + beta * w]
        for p, g, (m1, m2) in zip(params, grads, moments, strict=True):
            m1 *= beta1
            m1 += (1 - beta1) * g
            m2 *= beta2
            m2 += (1 - beta2) * g * g
            p -= lr * (m1 / (1 - beta1**t)) / (np.sqrt(m2 / (1 - beta2**t)) + eps)
        if fit_intercept:
            g_b = -float(r.sum())
            b_m = beta1 * b_m + (1 - beta1) * g_b
            b_s = beta2 * b_s + (1 - beta2) * g_b * g_b
            b -= 10 * lr * (b_m / (1 - beta1**t)) / (np.sqrt(b_s / (1 - beta2**t)) + eps)
    return U


# Largest Cover bound for which the check enumerates the patterns by itself: pricing them all
# each round must stay cheap next to the solves.
EXACT_CHECK_LIMIT = 20_000
# The check passes when its value is at most beta * (1 + _CHECK_TOL).
_CHECK_TOL = 1e-6
#: The loosest ``tol`` the restricted programs are solved to: the check prices the program's
#: own patterns too, and at ``tol=1e-3`` they priced up to 1.0016 beta, so that 18 of 40 small
#: exact generations stopped unpassed ("only patterns the program already had").
GENERATION_TOL = 1e-7
# Starts of each oracle search: random directions, and data patches.
_RANDOM_STARTS = 32
_PATCH_STARTS = 32


def _enumerate(formulation, patches):
    """All patterns' gates when the formulation can enumerate them here, else None."""
    try:
        return formulation.enumerate_gates(patches, max_patterns=EXACT_CHECK_LIMIT)
    except (TooManyPatterns, MemoryError, NotImplementedError):
        return None


def generate_patterns(
    patches,
    formulation,
    Y,
    *,
    beta,
    loss,
    fit_intercept,
    solve,
    gates,
    budget,
    rng,
    program_of,
    candidate_gates="auto",
    max_rounds=30,
    per_round=8,
    seed_steps=0,
    seed_width=16,
    n_seed_patches=0,
    drop_inactive=False,
    log=None,
):
    """Column generation over activation patterns, with an optional exact stopping check.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    formulation : PooledSumFormulation
        Provides ``program`` (or ``operator``) over gates; ``enumerate_gates`` when it can.
    Y : ndarray of shape (n_samples, n_outputs)
        One target column per output (±1 for classification); the outputs share the patterns.
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    solve : callable
        ``solve(program, y, *, output, coef_init=None, intercept_init=None) -> Solution`` for
        output number ``output``; it may ignore the warm start.
    gates : ndarray of shape (patch_size, n_initial)
        Initial patterns (e.g. the sampled ones: the result is then never worse than them).
    budget : int or inf
        At most this many patterns are generated (a pattern dropped and generated again
        counts each time).
    rng : numpy.random.Generator or RandomState
    program_of : callable
        ``program_of(patches, gates)``: ``formulation.program``, or its ``operator``.
    candidate_gates : ndarray of shape (patch_size, n_all), None or "auto", default="auto"
        Gates of *every* pattern. When given, the check prices all of them exactly and its pass
        certifies global optimality. ``"auto"`` asks ``formulation.enumerate_gates``; None never
        enumerates.
    max_rounds : int, default=30
        Rounds of the dual oracle (each a search, then a re-solve with the patterns found);
        one more search checks the last re-solve, so ``report.n_rounds`` can be one more.
    per_round : int, default=8
        Patterns added per output and round (the best distinct violators).
    seed_steps : int, default=0
        Adam steps of the warm-start gradient run (0: none).
    seed_width : int, default=16
        Filters per output of that gradient run.
    n_seed_patches : int, default=0
        Data patches added as gates before the first solve.
    drop_inactive : bool, default=False
        Drop the patterns whose groups are zero in every output before each re-solve (the
        optimum stays feasible, so the objective still never increases); keeps the programs
        small. Dropped patterns may be generated again.
    log : callable, default=None
        Receives one progress line per round.

    Returns
    -------
    gates : ndarray of shape (patch_size, n_final)
    solutions : list of Solution
        The solutions of the final program, one per output.
    report : GenerationReport
    """
    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    n_outputs = Y.shape[1]
    start_time = time.perf_counter()
    known = set(_pattern_keys(formulation, patches, gates))
    gates, n_seeds = _seeded(
        formulation,
        patches,
        Y,
        gates,
        known,
        beta=beta,
        loss=loss,
        fit_intercept=fit_intercept,
        rng=rng,
        seed_steps=seed_steps,
        seed_width=seed_width,
        n_seed_patches=n_seed_patches,
    )
    if isinstance(candidate_gates, str):
        candidate_gates = _enumerate(formulation, patches)
    exhaustive = candidate_gates is not None
    if exhaustive:
        all_operator = formulation.operator(patches, candidate_gates)

    program = program_of(patches, gates)
    solutions = [solve(program, Y[:, output], output=output) for output in range(n_outputs)]
    objectives = [sum(s.objective for s in solutions)]
    short = [(s.status, s.n_iter) for s in solutions if not s.converged]
    n_solves = len(solutions)

    n_generated, n_rounds = 0, 0
    while True:
        # the check at the restricted optimum, and the best violators of each output
        vs = [
            dual_point(loss, fit_values(program, s.coef, s.intercept), Y[:, o], fit_intercept)
            for o, s in enumerate(solutions)
        ]
        if exhaustive:
            values, new_gates = _priced_violators(
                all_operator, candidate_gates, vs, beta, limit=4 * per_round,
                outside=functools.partial(_outside, formulation, patches, known=known),
            )  # fmt: skip
        else:
            starts = _current_filters(solutions, gates, rng)
            values, new_gates = _searched_violators(
                formulation, patches, vs, starts, beta, rng, limit=4 * per_round
            )
        check = max(values)
        n_rounds += 1
        if log is not None:
            log(
                f"round {n_rounds}: objective {objectives[-1]:.10g}, dual check "
                f"{check / beta:.6f} * beta, {gates.shape[1]} patterns, "
                f"{time.perf_counter() - start_time:.2f} s"
            )
        if check <= beta * (1 + _CHECK_TOL):
            stop_reason = "dual check passed"
            break
        if n_generated >= budget:
            stop_reason = "budget"
            break
        if n_rounds > max_rounds:
            stop_reason = "max_rounds"
            break
        before = gates.shape[1]
        gates = _with_violators(
            formulation, patches, gates, new_gates, known, per_round, budget - n_generated
        )
        added = gates.shape[1] - before
        if added == 0:
            stop_reason = "no new pattern"
            break
        n_generated += added
        kept = _used_groups(solutions, before) if drop_inactive else np.arange(before)
        if drop_inactive:  # (zero groups leave the optimum feasible: the objective is kept)
            gates = np.hstack([gates[:, kept], gates[:, before:]])
            known = set(_pattern_keys(formulation, patches, gates))
        program = program_of(patches, gates)
        solutions = [
            _resolved(solve, program, gates.shape[1], Y[:, output], output, solution, kept)
            for output, solution in enumerate(solutions)
        ]
        objectives.append(sum(s.objective for s in solutions))
        short += [(s.status, s.n_iter) for s in solutions if not s.converged]
        n_solves += len(solutions)

    lower_bound = None
    if exhaustive:
        # each output's dual vector scaled by its own check (one scale for all was looser)
        lower_bound = sum(
            scaled_dual_objective(loss, v, Y[:, o], fit_intercept, beta=beta, top=value)
            for o, (v, value) in enumerate(zip(vs, values, strict=True))
        )
    report = GenerationReport(
        n_generated=n_generated,
        n_seeds=n_seeds,
        n_rounds=n_rounds,
        dual_check=check,
        beta=beta,
        passed=bool(check <= beta * (1 + _CHECK_TOL)),
        exhaustive=exhaustive,
        lower_bound=lower_bound,
        objectives=objectives,
        stop_reason=stop_reason,
        short_solves=short,
        n_solves=n_solves,
        last_converged=all(solution.converged for solution in solutions),
    )
    return gates, solutions, report


def _seeded(
    formulation,
    patches,
    Y,
    gates,
    known,
    *,
    beta,
    loss,
    fit_intercept,
    rng,
    seed_steps,
    seed_width,
    n_seed_patches,
):
    """Warm-start augmentation: ``gates`` with the new patterns of ``n_seed_patches`` data
    patches and of a ``seed_steps``-step gradient run per output (their keys added to
    ``known``), and how many were added."""
    rows = patches.reshape(-1, patches.shape[2])
    seeds = []
    if n_seed_patches:
        # (a blank patch is no direction: its gate would have the all-ones pattern on any data)
        nonzero = np.flatnonzero(np.any(rows, axis=1))
        picked = rng.choice(nonzero, size=min(n_seed_patches, len(nonzero)), replace=False)
        seeds.append(_interior(rows[picked], rng, 1e-3))
    if seed_steps:
        seeds.extend(
            gradient_seeds(
                formulation,
                patches,
                y,
                beta=beta,
                loss=loss,
                fit_intercept=fit_intercept,
                width=seed_width,
                n_steps=seed_steps,
                rng=rng,
            )
            for y in Y.T
        )
    if not seeds:
        return gates, 0
    return _add_new(formulation, patches, gates, np.vstack(seeds).T, known)


def _with_violators(formulation, patches, gates, violators, known, per_round, room):
    """``gates`` with the new patterns among each output's ``violators`` (at most
    ``per_round`` an output, ``room`` in all), in the outputs' order."""
    before = gates.shape[1]
    for candidates in violators:
        left = room - (gates.shape[1] - before)
        if left <= 0:
            break
        gates, _ = _add_new(
            formulation, patches, gates, candidates.T, known, limit=min(per_round, left)
        )
    return gates


def _used_groups(solutions, n_patterns):
    """The patterns among the first ``n_patterns`` whose groups are nonzero in a solution."""
    used = np.zeros(n_patterns, dtype=bool)
    for solution in solutions:
        used |= np.linalg.norm(solution.coef, axis=2).max(axis=0) > 0
    return np.flatnonzero(used)


def _resolved(solve, program, n_patterns, y, output, solution, kept):
    """``solve`` of ``program``, over ``n_patterns`` patterns, warm started from
    ``solution``: its patterns ``kept`` are the program's first ones, the rest start at 0."""
    coef = np.zeros((2, n_patterns, solution.coef.shape[2]))
    coef[:, : len(kept)] = solution.coef[:, kept]
    return solve(program, y, output=output, coef_init=coef, intercept_init=solution.intercept)


def _priced_violators(operator, candidate_gates, vs, beta, limit, outside=None):
    """The exact check over every pattern (``operator`` of ``candidate_gates``): per dual
    vector of ``vs``, the largest price, and the gates of the (at most ``limit``) patterns
    priced most above ``beta``, shape (n_violators, patch_size), the most violating first;
    with ``outside`` (``outside(gates)``: which of ``gates`` have patterns outside the
    program), of those outside the program only.

    The program's own patterns are left out before the limit: a point short of its program's
    optimum prices many of them above ``beta``, and the first ``limit`` can all be the
    program's own, so that the generation stops ("no new pattern") with, say, 298 patterns
    outside the program above ``beta`` further down (SCS stopped by max_iter).
    Asked of the violators a block at a time, most violating first, not of every candidate
    once: the keys of 100,000 candidates of 1000 samples x 36 patches would take about
    454 MB (4,542 bytes a key, average pooling)."""
    values, violators = [], []
    for v in vs:
        prices = pattern_prices(operator, v, beta=beta).max(axis=0)
        values.append(float(prices.max(initial=0.0)))
        order = np.argsort(prices)[::-1]
        order = order[prices[order] > beta * (1 + _CHECK_TOL)]
        if outside is not None:
            kept = []
            for start in range(0, len(order), max(4 * limit, 1)):
                block = order[start : start + 4 * limit]
                kept.extend(block[outside(candidate_gates[:, block])])
                if len(kept) >= limit:
                    break
            order = np.array(kept, dtype=int)
        violators.append(candidate_gates[:, order[:limit]].T)
    return values, violators


def _outside(formulation, patches, gates, known):
    """Which columns of ``gates`` have patterns whose keys are not in ``known``."""
    return np.array([key not in known for key in _pattern_keys(formulation, patches, gates)], bool)


def _searched_violators(formulation, patches, vs, starts, beta, rng, limit):
    """The check by search (:func:`oracle_search`) from ``starts``, random directions and
    data patches: per dual vector of ``vs``, the largest price found (a lower bound on the
    largest), and interior gates of the (at most ``limit``) filters found most above
    ``beta``, the most violating first."""
    rows = patches.reshape(-1, patches.shape[2])
    values, violators = [], []
    for v in vs:
        searched = np.vstack(
            [
                starts,
                rng.standard_normal((_RANDOM_STARTS, rows.shape[1])),
                rows[rng.choice(len(rows), size=min(_PATCH_STARTS, len(rows)))],
            ]
        )
        U, _, found = oracle_search(formulation, patches, v, searched)
        values.append(float(found.max(initial=0.0)))
        order = np.argsort(found)[::-1]
        order = order[found[order] > beta * (1 + _CHECK_TOL)]
        violators.append(_interior(U[order[:limit]], rng))
    return values, violators


def _current_filters(solutions, gates, rng, n_gates=32):
    """Directions of the active groups of every output, and up to ``n_gates`` of the gates."""
    picked = rng.choice(gates.shape[1], size=min(n_gates, gates.shape[1]), replace=False)
    directions = [gates[:, picked].T]
    for solution in solutions:
        norms = np.linalg.norm(solution.coef, axis=2)
        active = norms > 1e-6 * norms.max(initial=0.0)
        directions.append(solution.coef[active])
    return np.vstack(directions)


def _add_new(formulation, patches, gates, candidates, known, limit=None):
    """Append the candidates whose patterns are new (in order), at most ``limit`` of them."""
    if candidates.shape[1] == 0:
        return gates, 0
    keep = []
    for j, key in enumerate(_pattern_keys(formulation, patches, candidates)):
        if limit is not None and len(keep) >= limit:
            break
        if key not in known:
            known.add(key)
            keep.append(j)
    if not keep:
        return gates, 0
    return np.hstack([gates, candidates[:, keep]]), len(keep)


# Warm-start augmentation used by the estimators (chosen in benchmarks/bench_patterns.py).
SEED_STEPS = 200
SEED_WIDTH = 16
SEED_PATCHES = 16
# Oracle patterns per output and round: 16 needed 5 rounds where 8 needed 7 on planted-1d, at
# the same objective and time; dropping inactive patterns kept 41 patterns instead of 153.
PER_ROUND = 16
# Sampled patterns that start the generation over an enumeration (n_patterns="exact").
EXACT_START = 16


def supports_generation(formulation):
    """Whether ``formulation`` is one :func:`generation_fit` takes: a two-layer ReLU CNN with
    one output weight per neuron (its patterns are gates, priced by an oracle search)."""
    from ._formulations.two_layer import PooledSumFormulation

    return isinstance(formulation, PooledSumFormulation)


def generation_fit(
    patches, formulation, Y, gates, rng, *, n_patterns, beta, loss, fit_intercept, solve,
    program_of, log,
):  # fmt: skip
    """The estimators' ``patterns="generated"`` fit, from the sampled ``gates``, with their
    settings of :func:`generate_patterns` (``n_patterns``: the estimator's, an int or
    ``"exact"``; ``solve(program, y, *, output, **warm_start)``).

    Returns
    -------
    gates : ndarray of shape (patch_size, n_final)
    solutions : list of Solution
    report : GenerationReport
    """
    if n_patterns == "exact":
        # column generation over the enumeration: small programs, and the same certified
        # optimum where the check passes within max_rounds (else a warning that says so).
        # No budget: the program never holds more than the enumeration, and patterns dropped
        # and generated again would spend one of its size without a reason to give the user
        candidates, budget = gates, np.inf
        gates = formulation.sample_gates(patches, min(EXACT_START, gates.shape[1]), rng)
    else:
        candidates, budget = "auto", n_patterns
    gates, solutions, report = generate_patterns(
        patches,
        formulation,
        Y,
        beta=beta,
        loss=loss,
        fit_intercept=fit_intercept,
        solve=solve,
        gates=gates,
        budget=budget,
        rng=rng,
        candidate_gates=candidates,
        program_of=program_of,
        seed_steps=SEED_STEPS,
        seed_width=SEED_WIDTH,
        n_seed_patches=SEED_PATCHES,
        per_round=PER_ROUND,
        drop_inactive=True,
        log=log,
    )
    return gates, solutions, report


_STOPPED_BY = {
    "budget": "its budget of n_patterns oracle patterns was spent; increase n_patterns",
    "no new pattern": "the search found only patterns the program already had",
    "max_rounds": "it reached its limit of rounds",
}
# what is added where the check ran over every pattern (an enumeration: n_patterns="exact", or
# an int n_patterns on filters small enough to enumerate)
_STOPPED_BY_EXHAUSTIVE = {
    "no new pattern": "the check found only patterns the program already had",
    "max_rounds": (
        "it reached its limit of rounds; patterns='sampled' with n_patterns='exact' solves the "
        "whole enumeration at once"
    ),
}


def unpassed_check_message(report, max_iter, solver="native"):
    """What to warn about a generation that stopped with its dual check above ``beta``
    (a pattern outside the program would lower the objective), or ``None`` if it passed;
    ``max_iter`` and ``solver`` the solves' own.

    Where the check ran over every pattern, found none outside the program above ``beta``
    (:func:`_priced_violators`), and the last round's solves converged, the program's own
    patterns are above it because its solver's points are not the programs' exact optima
    (Clarabel's, 1e-6 to 5e-4 above ``beta``, in fits that :meth:`certify` finds optimal,
    which the warning must not deny). After solves that stopped short (their
    sentence says so) a pattern may still be missing: 298 can lie outside the program above
    ``beta`` where the message would say none does. Short solves of earlier rounds do not
    matter to the last check (counted, they would hide the sentence from fits that
    :meth:`certify` finds optimal).
    """
    if report.passed:
        return None
    # enough digits to show it above 1: 1.0000312 is not "1 * beta"
    ratio = report.dual_check / report.beta
    digits = max(4, 2 - int(np.floor(np.log10(ratio - 1)))) if 1 < ratio < np.inf else 4
    stopped = (
        f"Pattern generation stopped with the dual check at {ratio:.{digits}g} "
        f"* beta (beta={report.beta:.4g}): {_stopped_by(report)}."
        f"{_short_solves(report, max_iter)}"
    )
    if report.exhaustive and report.stop_reason == "no new pattern" and report.last_converged:
        native = (
            ""
            if solver in ("native", "auto")
            else " solver='native' solves them to the check's accuracy;"
        )
        return (
            f"{stopped} No pattern outside the program is priced above beta; its own are, at "
            "the solver's points, which are not their programs' exact optima. The fit is the "
            "optimum over every pattern to those points' accuracy, but not certified as the "
            f"global optimum of the network (is_certified_ is False).{native} certify(X, y) "
            "checks the fit as it is."
        )
    return (
        f"{stopped} The fit is the optimum over its patterns, not the global optimum of the "
        "network (is_certified_ is False)."
    )


def _short_solves(report, max_iter):
    """What the solves that stopped short of their tolerance say about the check, by why they
    stopped, and what to do ("" if none did): at max_iter=1 the check ends at 2.8 * beta,
    at 1.1 * beta with the default, which n_patterns alone does not explain. As
    :func:`~._convergence.remedy` tells them: by status, or by the iterations (SCS says
    'optimal_inaccurate' at max_iter)."""
    spent = sum(
        status in ITERATIONS_SPENT or n_iter >= max_iter for status, n_iter in report.short_solves
    )
    stalled = len(report.short_solves) - spent
    said = []
    if spent:
        said.append(f"{spent} stopped at max_iter (increase max_iter)")
    if stalled:  # (stalled, or a conic solver's inaccurate point)
        said.append(
            f"{stalled} stopped short of their tolerance (tol, at most {GENERATION_TOL:g} "
            "here) before max_iter (standardize the inputs or use a larger beta)"
        )
    if not said:
        return ""
    last = " (the last round's converged)" if report.last_converged else ""
    return (
        f" Of its {report.n_solves} solves, {' and '.join(said)}: the checks after them priced "
        f"points that were not their programs' optima{last}."
    )


def _stopped_by(report):
    if report.exhaustive and report.stop_reason in _STOPPED_BY_EXHAUSTIVE:
        return _STOPPED_BY_EXHAUSTIVE[report.stop_reason]
    return _STOPPED_BY[report.stop_reason]


def generation_attributes(report):
    """``n_generated_``, ``dual_check_`` and ``is_certified_`` of a fit (``report`` None for
    sampled patterns, which run no check)."""
    if report is None:
        return {"n_generated_": 0, "dual_check_": np.nan, "is_certified_": False}
    return {
        "n_generated_": report.n_generated + report.n_seeds,
        "dual_check_": float(report.dual_check),
        # (the last solves converged too: a check passed at the dual point of a Clarabel
        # point stopped at max_iter=2, 30 % above the optimum, is no certificate)
        "is_certified_": bool(report.exhaustive and report.passed and report.last_converged),
    }


__all__ = [
    "GenerationReport",
    "generate_patterns",
    "generation_attributes",
    "generation_fit",
    "supports_generation",
    "gradient_seeds",
    "oracle_search",
    "unpassed_check_message",
]
