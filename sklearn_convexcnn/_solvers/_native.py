"""The native solver: a two-level working set over groups and cone rows, certified by the dual.

The program (doc/formulations.md §1) has ``2P`` groups of ``h`` variables and ``2 n K P`` cone rows,
but its optimum uses few groups (at most ``n + 1``) and, inside a group, only a handful of tight
rows (``doc/notes/solver-measurements.md``). So:

1. **Restricted problem.** Only the groups of the working set, and only the cone rows added so
   far, are kept. It is solved from the previous solution by Newton's method over faces
   (:mod:`._faces`): an active-set method that corrects which groups are nonzero and which of
   their rows are tight, each Newton step a Cholesky factorization of the face's dimension.
   Between two iterations the face changes little, so this is 2-10x faster than solving each
   restricted problem from scratch. Where the faces do not settle, proximal Newton takes over
   (:mod:`._restricted`): each step minimizes the loss's quadratic model plus
   ``beta * sum ||c_j||`` under the kept rows, a small second-order cone QP in ``|S| h``
   variables (the data enter through the Gram matrix; where ``n < |S| h`` the fit is a
   variable of its own instead), solved by Clarabel's interior-point method called directly
   (no CVXPY compilation), then polished on its face.
2. **Rows.** The active groups are checked against *all* rows of their cones, and the most
   violated rows are added, until the point is feasible for the full program. This waits while
   pricing still adds groups: those working sets are steps on the way, and their points, on the
   kept rows alone and after the face method's first change of face, serve pricing as well
   (any dual vector does). Only feasible points are certified or returned; the groups of the
   last one stay in the set until the next, so that feasible objectives only go down, and a
   feasible point that does not go down ends the waiting for the rest of the solve.
3. **Pricing.** Every pattern ``i`` is priced by the KKT test ``||Proj_{C_i}(+-A_i^T v)|| <= beta``
   with ``v`` the dual vector: screened by ``||A_i^T v|| <= beta`` and by the bound carried from
   the last iteration (a projection is 1-Lipschitz) first, the projection otherwise by
   cutting-plane NNLS (:mod:`.._optimality`), lazily, best bound first. The most violating
   groups enter the working set: 8, or up to half the set's size where passes over the data
   cost more than the groups (:func:`_groups_per_round`).
4. **Certificate.** The same prices scale ``v`` into the dual feasible set; the duality gap
   ``primal - dual``, with the best dual value so far, bounds the distance to the optimum of the
   *full* program. The solver stops when it is at most ``tol`` times the objective. Where
   pricing adds nothing and the gap is larger, block norms' fits are priced at the restricted
   problem's own dual vector as well (:func:`_restricted_dual_bound`).

Why this and not a first-order method: plain augmented-Lagrangian / ADMM prototypes needed minutes
to reach ``1e-6`` (doc/notes/solver-measurements.md), while the working set reaches the full
program's optimum to ``1e-9`` after a few dozen small restricted solves; its cost is shared
between those and the passes over the data for pricing, which are matrix products computed from
the gates in chunks.

Group norms other than the Euclidean one (the spectral l1 norm of circular CNNs, a sum of
2-row block norms: :class:`~.._formulations._program.GroupNorm`) take the same steps with the
norm's own prices (:func:`~.._optimality.cone_prices`, a small second-order cone program per
group) and restricted problems by the interior point only (the faces are Newton's method for
Euclidean groups). That is exact and certified, but on circular programs slower than CVXPY:
3-11x at ``n = 50-200`` (``benchmarks/circular_native.py``), because 11-69 % of their
``d``-dimensional groups are active, each restricted problem is an interior-point solve of its
own, and each price a small cone program. So ``solver="auto"`` hands circular programs to CVXPY.

Three-layer programs, whose groups are coupled by the second ReLU layer, have a solver of their
own built from the same pieces (:mod:`._three_layer`).
"""

import dataclasses
import functools
import math
import time

import numpy as np

from .._formulations._operator import ScaledOperator, as_operator
from .._losses import best_intercept, loss_value
from .._optimality import (
    cone_prices,
    cone_products_by_block,
    cone_projections,
    dual_point,
    most_violated,
    scaled_dual_objective,
)
from .._resources import check_memory
from ._faces import FacesFailed, NullSpaces, onto_kept_rows, solve_on_faces
from ._restricted import clean, coefficient_unit, objective, polish, proximal_newton
from ._solution import (
    Solution,
    SolverFailed,
    cleaned_if_no_worse,
    lower_of,
    relative_to,
    target_gap,
    units,
)

# Working sets whose arrays (designs and Hessians) need more than this (bytes) are checked
# against the free memory.
_CHECKED_WORKING_SET_BYTES = 3 * 2**26
# Groups added per pricing round (at least; see _groups_per_round) and rows per group per
# feasibility round.
_GROUPS_PER_ROUND = 8
_ROWS_PER_ROUND = 40
# Relative violation of a cone row that counts as infeasible (interior-point accuracy).
_FEASIBILITY_TOL = 1e-9
# Cutting-plane rounds per projection when pricing for candidates, and when certifying
# (projections then run to convergence, which takes far fewer rounds than this).
_PRICING_ROUNDS = 3
_CERTIFYING_ROUNDS = 1000
# Groups given a relaxed price (on their start rows) at a time while candidates are sought.
_RELAXED_PER_ROUND = 64
# A stall whose gap is above this fraction of the objective is not rounding (which stalls at
# 1e-7 to 1e-5 of it) but a lost start: one at 97 % (a tiny beta, nearly separable labels)
# was certified from the optimum at 100 beta (solve_native's second try)
_LOST = 1e-3
_CONTINUATION = (100.0, 10.0, 1.0)
# Iterations without a decrease of the objective after which the solve has stalled: the
# restricted problems are then solved no more accurately than the prices move (an objective
# far below the data's scale, 1e-9 against y^T y = 3, cycled 500 times without it).
_STALL_ITERATIONS = 10


class _WorkingSet:
    """Groups ``(pattern, sign)`` in the working set, their coefficients and kept cone rows."""

    def __init__(self, operator):
        self.operator = operator
        self.patch_size = operator.patch_size
        self.groups = []  # (pattern, sign_index)
        self.coef = np.zeros((0, self.patch_size))
        self.rows = []  # kept rows of each group's cone (indices)
        self._pieces = {}
        # the design and its Gram matrix change only when groups are added, not when rows are:
        # kept across the feasibility rounds (each a pass of n |S|^2 h^2 flops otherwise)
        self._design = None
        self._gram = None
        self._version = 0  # changes with the groups: the key of the cached design
        self.null_spaces = NullSpaces()  # of tight rows, by their bytes, bounded

    def __len__(self):
        return len(self.groups)

    def add(self, pattern, sign_index, rows):
        self.groups.append((pattern, sign_index))
        self.coef = np.vstack([self.coef, np.zeros(self.patch_size)])
        self.rows.append(np.asarray(rows, dtype=int))
        if pattern not in self._pieces:
            self._pieces[pattern] = self.operator.pieces([pattern])[0]
        self._version += 1

    def drop_zero_groups(self, protected=()):
        """Leave out the groups the restricted solution sets to zero, but the ``protected``.

        Each is optimal at zero where the restricted problem was solved to its optimum (its
        price is at most ``beta``), and pricing adds it back where its price exceeds ``beta``
        (after a guide, :func:`_restricted_then_feasible`, or once the dual vector moves);
        meanwhile the restricted QPs, whose cost grows with the cube of the working set, do
        not carry it (on regional programs a third of the set), nor does memory its
        pattern's piece, unless the pattern's other sign stays.
        """
        kept = [
            j for j, (group, c) in enumerate(zip(self.groups, self.coef, strict=True))
            if c.any() or group in protected
        ]  # fmt: skip
        if len(kept) == len(self.groups):
            return
        self.groups = [self.groups[j] for j in kept]
        self.coef = self.coef[kept]
        self.rows = [self.rows[j] for j in kept]
        patterns = {pattern for pattern, _ in self.groups}
        self._pieces = {p: piece for p, piece in self._pieces.items() if p in patterns}
        self._version += 1

    def nonzero_groups(self):
        """The groups ``(pattern, sign)`` whose coefficients are not all zero."""
        return {group for group, c in zip(self.groups, self.coef, strict=True) if c.any()}

    def fit(self, intercept):
        """The network's output on the samples, ``sum_j +-A_{p_j} c_j + intercept``."""
        f = np.full(self.operator.n_samples, float(intercept))
        for (pattern, sign_index), c in zip(self.groups, self.coef, strict=True):
            if c.any():
                f += (self._pieces[pattern] @ c) * (1.0 if sign_index == 0 else -1.0)
        return f

    def design(self, intercept=False):
        """``[+-A_{p_j}]`` side by side (and a column of ones), shape (n_samples, |S| h [+ 1]).

        It grows with the working set, ``8 n h`` bytes a group (7.2 MB at n=100,000 and
        ``h=9``, and its pattern's cached piece as much again), and the restricted problems'
        Hessians with its square (a circular program's groups are whole rows: 335 GB a Hessian
        at ``h=d=4096`` and 50 groups). No estimate before the solve can count them: a
        MemoryError names the remedy where they would not fit (numpy's own, deep in a solve,
        said nothing of beta).
        """
        key = (self._version, intercept)
        if self._design is None or self._design[0] != key:
            self._design = self._gram = None  # (their memory back before the next design's)
            n, h = self.operator.n_samples, self.patch_size
            width = len(self.groups) * h + intercept
            # (with the face method's two designs, each at most its size; its Hessian, its
            # projection onto a face and its factor, each at most width^2; where n >= width
            # the squared loss's Gram (_restricted_solve), its block of the face's groups, a
            # contiguous copy and the projection's temporaries come on top: 8.2 width^2 beyond
            # the design measured at n = width = 1201, with an intercept)
            hessians = 9 if n >= width else 3
            required = 8 * width * (3 * n + hessians * width)
            if required > _CHECKED_WORKING_SET_BYTES:
                check_memory(
                    required,
                    f"The native solver's working set ({len(self.groups)} groups of {h} "
                    f"coefficients on {n} samples)",
                    "Use a larger beta (fewer neurons), fewer samples or fewer n_patterns.",
                )
            M = np.empty((n, width))
            for j, (pattern, sign_index) in enumerate(self.groups):
                sign = 1.0 if sign_index == 0 else -1.0
                np.multiply(self._pieces[pattern], sign, out=M[:, j * h : (j + 1) * h])
            if intercept:
                M[:, -1] = 1.0
            self._design = (key, M)
        return self._design[1]

    def gram(self, intercept=False):
        """``M^T M`` of :meth:`design` (the squared loss's Hessian), cached with it."""
        M = self.design(intercept)
        if self._gram is None or self._gram[0] != self._design[0]:
            self._gram = (self._design[0], M.T @ M)
        return self._gram[1]

    def kept_rows(self):
        # (gathered at once: a call per group was 1 % of the README demo's CPU)
        return self.operator.cone_rows_of([p for p, _ in self.groups], self.rows)


def _restricted_solve(
    work, y, b, *, beta, loss, fit_intercept, qp_tol, faces=True, guide=False, in_units=False,
    verbose=0,
):  # fmt: skip
    """The restricted problem of the working set with its kept rows; returns ``(coef, b)``.

    With ``faces``, first by Newton's method over faces, from the current point
    (:mod:`._faces`, Euclidean group norms only; with ``guide``, its first change of face
    only: :func:`~._faces.solve_on_faces`); where that fails (said with ``verbose``: a
    fit that falls back often is slow, as a digits class was before fa33eb8, 13 s where it
    now takes 1.6 s), and without ``faces``, by proximal Newton whose steps are
    interior-point QPs; with ``in_units``, QPs in units of their coefficients' size
    (:func:`_coefficient_unit`).
    """
    M = work.design(intercept=fit_intercept)
    n_groups, h = len(work), work.patch_size
    kept_rows = work.kept_rows()
    norm = work.operator.norm

    def gram():  # (the squared loss's Hessian M^T (1 M) = M^T M, formed only where used)
        return work.gram(intercept=fit_intercept) if loss == "squared" else None

    if faces and norm.is_euclidean and n_groups:
        try:
            return solve_on_faces(
                # with fewer samples than coordinates, from the design, as the logistic loss:
                # a step's products then cost n times the face's dimension, not the square of
                # the working set's (benchmarks/README.md, "Larger filters on digits")
                M, gram() if len(y) >= M.shape[1] else None, y, work.coef, b, kept_rows,
                beta=beta, loss=loss, fit_intercept=fit_intercept, kkt_tol=100 * qp_tol,
                guide=guide, null_spaces=work.null_spaces,
            )  # fmt: skip
        except (FacesFailed, np.linalg.LinAlgError) as exc:  # (a failed factorization too)
            if verbose:
                print(
                    f"[native] the face method stopped ({exc}): the restricted problem by "
                    "the interior point",
                    flush=True,
                )
    x = np.concatenate([work.coef.ravel(), [b] if fit_intercept else []])
    unit = _coefficient_unit(M[:, : n_groups * h], y, work.coef) if in_units else 1.0
    x, current, _ = proximal_newton(
        M, y, x, beta=beta, loss=loss, gram=gram(), kept_rows=kept_rows, patch_size=h, norm=norm,
        qp_tol=qp_tol, unit=unit, centred=True,
    )  # fmt: skip

    def split(z):
        return z[: n_groups * h].reshape(n_groups, h), (z[-1] if fit_intercept else 0.0)

    coef, b = split(x)
    coef = _without_residue(
        M, y, coef, b, beta=beta, loss=loss, fit_intercept=fit_intercept, norm=norm,
        scale=max(abs(current), 1e-300), slack=qp_tol,
    )  # fmt: skip
    # an interior point satisfies the kept rows only to its tolerance (an 'AlmostSolved' QP
    # to 1e-4): back onto them, as the feasibility rounds check only the rows not kept yet
    try:
        coef = onto_kept_rows(kept_rows, coef)
    except FacesFailed as exc:
        raise SolverFailed(f"the restricted problem's point: {exc}") from exc
    x = np.concatenate([coef.ravel(), [b] if fit_intercept else []])
    if not norm.is_euclidean:  # (the polish is Newton's method for Euclidean group norms)
        return split(x)
    polished = polish(
        M,
        y,
        x,
        beta=beta,
        loss=loss,
        fit_intercept=fit_intercept,
        n_groups=n_groups,
        h=h,
        kept_rows=kept_rows,
    )
    if polished is not None:
        x = polished
    return split(x)


def _coefficient_unit(M, y, coef):
    """The unit of the restricted QPs' coefficients (:func:`~._restricted.coefficient_unit`)
    for the size expected of them: the largest of the current point ``coef`` or, where
    larger, the spread of ``y`` over the largest entry of the groups' columns ``M``.

    At a tiny ``beta`` against the data (inputs of size 1e4, ``beta=1``) the cone can make
    the coefficients far larger than the targets over the inputs: two groups of one narrow
    cone whose difference fits what neither can alone, of size 4e4 in the solver's units.
    Their QPs, as given, ended with the fit 4e-4 to 8e-4 off at every tolerance, and the
    solve stalled at 0.32 of its objective; in units where they were of size 3 and less, the
    fit was 1e-7 off and the solve certified to 5e-11 (of size 8 and more, 4e-4 off again).
    """
    largest = float(np.abs(M).max(initial=0.0))
    spread = float(np.ptp(y)) / largest if largest > 0 else 0.0
    return coefficient_unit(max(float(np.abs(coef).max(initial=0.0)), spread))


def _without_residue(M, y, coef, b, *, beta, loss, fit_intercept, norm, scale, slack):
    """``coef`` with its residue (:func:`~._restricted.clean`) set to zero where that raises
    the objective at ``M``'s fit by at most ``slack`` of it
    (:func:`~._solution.cleaned_if_no_worse`: at ``beta=1e-13`` on 20 samples every group of
    a restricted optimum of 0.997, of norms up to 1.3, was residue)."""

    def value(c):
        x = np.concatenate([c.ravel(), [b] if fit_intercept else []])
        return objective(loss, M @ x, y, beta, c, norm)

    return cleaned_if_no_worse(coef, clean(coef, beta, scale, norm), value, slack)


def _start_rows(operator, patterns, signs, v):
    """Rows to keep for the groups ``(pattern, sign)`` of a warm start, whose dual vector is
    ``v``: the rows with a positive multiplier in the projection of each group's correlation
    onto its cone, and the operator's candidate rows.

    At the optimum of the start's own ``beta`` those are the group's KKT multipliers: the rows
    that hold it on its face (at most ``h`` for the Euclidean norm). Without rows, the first
    restricted solution left the cones far behind and the feasibility rounds brought the rows
    back 40 per group at a time (a refit of a digits class from its optimum: 55 s against 3 s
    cold). With every row nearly tight at the start, too many where a filter is zero on some
    pixels, as every patch blank there is tight (one group kept 6,579 rows), warm fits took
    2-3 times as long as cold ones (``benchmarks/README.md``, "Warm starts against cold
    fits").
    """
    correlations = operator.correlations(v)
    G = np.where((signs == 0)[:, None], correlations[patterns], -correlations[patterns])
    _, _, rows = _prices_polar(operator, patterns, G, max_rounds=_CERTIFYING_ROUNDS)
    return [
        np.union1d(r, operator.candidate_rows(int(pattern))).astype(int)
        for r, pattern in zip(rows, patterns, strict=True)
    ]


def _violated_rows(work):
    """The most violated cone rows of each nonzero group, as ``(group's index, rows)``
    pairs: none where the point is feasible."""
    operator = work.operator
    active = np.flatnonzero(work.coef.any(axis=1))
    patterns = np.array([pattern for pattern, _ in work.groups], dtype=int)
    violations = []
    for part, products in cone_products_by_block(operator, work.coef, patterns, active):
        for j, values in zip(part, products, strict=True):
            threshold = -_FEASIBILITY_TOL * np.linalg.norm(work.coef[j]) * operator.row_scale
            values[work.rows[j]] = np.inf  # (kept already)
            violated = most_violated(values, threshold, _ROWS_PER_ROUND)
            if len(violated):
                violations.append((j, violated))
    return violations


class _PriceMemory:
    """What pricing carries from one working-set iteration to the next, per group
    ``(pattern, sign)``: the rows where its next projection starts (the tight rows of its last
    projection, which the next dual vector usually shares, or the rows it kept in the working
    set: :meth:`remember`), its last upper bound with the vector it bounded, and the polar
    part of its last projection (:meth:`learn`), which bounds the next prices more closely.
    """

    def __init__(self):
        self.rows = {}
        self.bounds = {}
        self.polar = {}

    def remember(self, work):
        """Start the next prices of the working set's groups from their kept rows.

        At a restricted optimum a group's price on its kept rows is at most about ``beta``, so
        pricing from them bounds it closely at once: a group in the set is priced only on its
        start rows while candidates are sought, and a group kept at zero (and dropped) is priced
        by a few cutting-plane rounds. From the rows of its last projection instead, those
        bounds stayed above ``beta``: the certificate of an optimal point stalled at 5e-6 of
        the objective, and a group the restricted problems kept at zero entered the set again
        at every iteration (a re-solve of pattern generation on 200 noisy bar images).
        """
        for group, rows in zip(work.groups, work.rows, strict=True):
            self.rows[group] = rows

    def learn(self, keys, polar):
        """Keep ``polar[k]``, ``-H^T lam`` of the last projection of ``keys[k]`` (a vector of
        the polar cone of its pattern's cone), to bound its next prices (:meth:`carried`)."""
        for key, q in zip(keys, polar, strict=True):
            self.polar[key] = q

    def carried(self, keys, G, norm):
        """Upper bounds on the prices of ``G[k]`` from the last ones, ``inf`` where none.

        A price ``p(g) = max {g.u : u in C, R(u) <= 1}`` is 1-Lipschitz in the dual norm, so
        ``p(g') <= p(g) + R*(g' - g) <= bound(g) + R*(g' - g)`` (for the Euclidean norm:
        a projection onto a closed convex cone is 1-Lipschitz). Often far tighter: the last
        projection's multipliers, ``g + H^T lam`` (``H`` rows of the cone, ``lam >= 0``),
        leave ``q = -H^T lam`` (:meth:`learn`), and ``p(g') <= R*(g' - alpha q)`` for every
        ``alpha >= 0`` (the multipliers ``alpha lam``); ``alpha`` is the Euclidean best (none
        where it overflows: ``q`` of denormal size). The README demo's pricing projected 9,996
        times, against 12,535 with the Lipschitz bound alone (the same groups entered).
        """
        bounds = np.full(len(keys), np.inf)
        known = [k for k, key in enumerate(keys) if key in self.bounds]
        if known:
            last = [self.bounds[keys[k]] for k in known]
            moved = norm.dual(G[known] - np.array([g for _, g in last]))
            bounds[known] = np.array([bound for bound, _ in last]) + moved
        learnt = [k for k, key in enumerate(keys) if key in self.polar]
        if learnt:
            polar = np.array([self.polar[keys[k]] for k in learnt])
            size = np.einsum("kh,kh->k", polar, polar)
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                alpha = np.einsum("kh,kh->k", G[learnt], polar) / size
                witnesses = G[learnt] - np.maximum(alpha, 0.0)[:, None] * polar
                found = norm.dual(witnesses)
            # (np.fmin: a nan of an overflow leaves the other bound)
            bounds[learnt] = np.fmin(bounds[learnt], found)
        return bounds


def _best(values, count):
    """Indices of the ``count`` largest ``values``, largest first (ties by index)."""
    if count < len(values):
        top = np.argpartition(-values, count - 1)[:count]
        return top[np.lexsort((top, -values[top]))]
    return np.argsort(-values, kind="stable")


def _price(operator, correlations, beta, memory, max_rounds, wanted=None, skip=()):
    """Upper bounds on the prices ``p_i(+-A_i^T v)`` (:func:`~.._optimality.cone_prices`;
    ``||Proj_{C_i}(+-A_i^T v)||`` for Euclidean group norms), exact for the groups projected
    to convergence (without ``wanted``: every group whose bound exceeds beta).

    Only groups with ``R*(A_i^T v) > beta`` are priced (screening), and of those only the
    ones whose bound carried from the last iteration (``memory``, updated) exceeds beta.

    With ``wanted``, groups are priced lazily, best bound first (:func:`_best_first`), and
    the groups ``skip`` (the working set's) last (:func:`_working_set_last`). Without
    ``wanted`` every group with a bound above beta is projected (a certificate).
    """
    n_patterns = operator.n_patterns
    signed = np.stack([correlations, -correlations])  # (2, P, h)
    prices = operator.norm.dual(signed)
    flat = np.flatnonzero(prices.ravel() > beta)
    if len(flat) == 0:
        return prices
    signs, patterns = np.divmod(flat, n_patterns)
    keys = list(zip(patterns.tolist(), signs.tolist(), strict=True))
    G = signed[signs, patterns]
    bounds = _PriceBounds(
        operator, memory, keys, patterns, G, prices[signs, patterns], beta=beta,
        max_rounds=max_rounds,
    )  # fmt: skip
    open_ = bounds.values > beta
    if wanted is None:
        bounds.cut_planes(np.flatnonzero(open_))
    else:
        skipped = np.array([k for k, key in enumerate(keys) if key in skip], dtype=int)
        skipped = skipped[open_[skipped]]
        open_[skipped] = False
        _best_first(bounds, open_, wanted)
        _working_set_last(bounds, skipped)
    prices[signs, patterns] = bounds.values
    for k, key in enumerate(keys):
        memory.bounds[key] = (bounds.values[k], G[k])
    return prices


class _PriceBounds:
    """Upper bounds on the prices of the screened groups ``keys`` (their ``patterns`` and
    vectors ``G``), from their screening and the bounds that ``memory`` carried, lowered by
    projections: on the cones of their start rows (:meth:`relax`) or by cutting planes
    (:meth:`cut_planes`). ``relaxed`` and ``cut`` say which groups had which."""

    def __init__(self, operator, memory, keys, patterns, G, screened, *, beta, max_rounds):
        self.operator, self.memory = operator, memory
        self.keys, self.patterns, self.G = keys, patterns, G
        self.beta, self.max_rounds = beta, max_rounds
        self.values = np.minimum(screened, memory.carried(keys, G, operator.norm))
        self.start_rows = [memory.rows.get(key, []) for key in keys]
        self.relaxed = np.zeros(len(keys), dtype=bool)  # priced on the cone of their start rows
        self.cut = np.zeros(len(keys), dtype=bool)  # priced by cutting planes

    def _lower(self, index, found, polar):
        """Lower the bounds of ``index`` to ``found`` where it is lower; the ``polar`` parts of
        their projections bound the next prices (:meth:`_PriceMemory.learn`)."""
        self.values[index] = np.minimum(self.values[index], found)
        if polar is not None:
            self.memory.learn([self.keys[k] for k in index], polar)

    def relax(self, index):
        """Bounds of ``index`` from prices on the cones of their start rows."""
        self._lower(index, *_prices_polar(
            self.operator, self.patterns[index], self.G[index],
            rows=[self.start_rows[k] for k in index], max_rounds=0,
        )[:2])  # fmt: skip
        self.relaxed[index] = True

    def cut_planes(self, index):
        """Bounds of ``index`` from ``max_rounds`` cutting-plane rounds (exact prices where
        they converge); the rows of their projections start the next ones."""
        cut_prices, polar, rows = _prices_polar(
            self.operator, self.patterns[index], self.G[index], beta=self.beta,
            rows=[self.start_rows[k] for k in index], max_rounds=self.max_rounds,
        )  # fmt: skip
        self._lower(index, cut_prices, polar)
        for k, r in zip(index, rows, strict=True):
            self.memory.rows[self.keys[k]] = r
        self.cut[index] = True


def _best_first(bounds, open_, wanted):
    """Lower the bounds of the groups ``open_`` (updated: those still above beta and not
    projected), best bound first, until the ``wanted`` best all come from cutting planes:
    enough to pick the groups that enter the working set.

    Each group is priced first on the cone of its start rows (a relaxation, so an upper
    bound, without a pass over the data), then by cutting-plane rounds. Every other group
    keeps an upper bound, so a bound above beta is exact only for the projected groups.
    """
    beta = bounds.beta
    while True:
        ranked = _best(np.where(open_, bounds.values, -np.inf), wanted)
        todo = ranked[open_[ranked] & ~bounds.cut[ranked]]
        if len(todo) == 0:
            return
        if bounds.relaxed[todo].all():
            bounds.cut_planes(todo)
            open_[todo] &= bounds.values[todo] > beta
            continue
        # a cheaper bound first, for a batch of the best-bounded groups without one (they
        # may drop out of the ranking): batches of `wanted` alone took hundreds of rounds,
        # each ranking every group, on 10,000 groups
        unrelaxed = np.flatnonzero(open_ & ~bounds.relaxed)
        batch = unrelaxed[_best(bounds.values[unrelaxed], _RELAXED_PER_ROUND)]
        bounds.relax(batch)
        open_[batch] &= bounds.values[batch] > beta


def _working_set_last(bounds, skipped):
    """Lower the bounds of the working set's groups ``skipped`` on their start rows, where
    they exceed every other group's.

    They do not enter again, but their prices scale the dual point, by the largest price: they
    need a bound close to beta (about beta at a restricted optimum) for the gap, unless
    another group's bound is larger (on the README demo, 432 of pricing's 9,996 projections
    fewer than pricing them with the others).
    """
    outside = np.ones(len(bounds.values), dtype=bool)
    outside[skipped] = False
    skipped = skipped[bounds.values[skipped] > bounds.values[outside].max(initial=bounds.beta)]
    if len(skipped):
        bounds.relax(skipped)


def _prices_polar(operator, index, G, **kwargs):
    """:func:`~.._optimality.cone_prices` with the polar parts of their projections
    (``polar`` of :func:`~.._optimality.cone_projections`), which bound the prices of nearby
    vectors (:meth:`_PriceMemory.carried`); ``None`` for group norms other than the Euclidean
    one.

    Returns
    -------
    prices : ndarray of shape (len(index),)
    polar : ndarray of shape (len(index), patch_size) or None
    rows : list of ndarray of int
        The rows with a positive multiplier in each price.
    """
    if not operator.norm.is_euclidean:
        prices, _, rows = cone_prices(operator, index, G, **kwargs)
        return prices, None, rows
    projections, _, rows, polar = cone_projections(operator, index, G, with_polar=True, **kwargs)
    return np.linalg.norm(projections, axis=1), polar, rows


def solve_native(
    program,
    y,
    *,
    beta,
    loss,
    fit_intercept,
    tol,
    max_iter,
    verbose=0,
    coef_init=None,
    intercept_init=None,
):
    """Solve the group program for one output by the working-set method (module docstring).

    Parameters
    ----------
    program : GroupProgram or operator
        Dense program, or a matrix-free operator (:mod:`.._formulations._operator`).
    y : ndarray of shape (n_samples,)
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    tol : float
        Stop when the duality gap is at most ``tol`` times the objective.
    max_iter : int
        Maximum number of working-set iterations (pricing rounds; one may take several
        restricted solves, as feasibility rounds add cone rows).
    verbose : int
    coef_init : ndarray of shape (2, n_patterns, patch_size), default=None
        Warm start: its nonzero groups form the initial working set.
    intercept_init : float, default=None

    Returns
    -------
    solution : Solution
        With ``duality_gap`` the certified gap of the returned point.

    Notes
    -----
    A cold start that stalls far from its certificate (``_LOST``) is solved again along a
    short path, ``100 beta``, ``10 beta``, ``beta``, each solve warm started from the last
    (as :func:`~sklearn_convexcnn.convex_cnn_path` does), within the same ``max_iter``; the
    lower of the two points is returned.

    The program is solved in units where its largest cone row and the spread of ``y`` are
    between ``2**-5`` and ``2**15`` (:func:`~._solution.units`), in steps of ``2**20``: so
    that the programs of ``2**(20 k) * X`` and ``2**(20 m) * y`` are solved as one, bit for
    bit. The program of ``(a X, b y)`` at ``a b beta`` is that of ``(X, y)`` at ``beta``, its
    groups times ``b / a`` and its objective times ``b**2``. Solved in these units, the
    solver's absolute floors (Clarabel's gaps, tolerances on the scale of the restricted
    problems) meet the numbers they were tuned on: otherwise circular programs on inputs and
    targets of size 1e-6 stall above the optimum (from 1.8 % above it to 12.5 times it),
    targets of size 1e-6 alone warn at 5.7e-8 of the objective, and two-layer programs on
    Gaussian inputs times ``2**20`` stall.
    The range is wide and the steps coarse, as hard programs of inputs in it are solved best
    as given: brought to unit size, logistic fits of random walks (patches of norm up to
    about 50, and 100 times that) at small betas stalled at the same points in 2 to 4.6
    times the time (the interior point's restricted solves were slower, and tried twice).
    The point is returned in the caller's units.
    """
    y = np.asarray(y, dtype=float)
    operator = as_operator(program)
    x_unit, y_unit = units(operator.row_scale, y, loss=loss, fit_intercept=fit_intercept)
    if not math.isfinite(x_unit * y_unit * beta):  # (a beta near float64's largest)
        x_unit = y_unit = 1.0
    if x_unit != 1.0:
        operator = ScaledOperator(operator, x_unit)
    coef_unit = y_unit / x_unit  # (the groups of x_unit * X fitting y_unit * y)
    solution = _solve_with_restarts(
        operator, y_unit * y, beta=x_unit * y_unit * beta, loss=loss,
        fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, verbose=verbose,
        coef_init=None if coef_init is None else coef_unit * np.asarray(coef_init, dtype=float),
        intercept_init=None if intercept_init is None else y_unit * intercept_init,
        objective_unit=y_unit**2,
    )  # fmt: skip
    return dataclasses.replace(
        solution,
        coef=solution.coef / coef_unit,
        intercept=solution.intercept / y_unit,
        objective=solution.objective / y_unit**2,
        duality_gap=solution.duality_gap / y_unit**2,
    )


def _solve_with_restarts(
    operator, y, *, beta, loss, fit_intercept, tol, max_iter, verbose, coef_init, intercept_init,
    objective_unit,
):  # fmt: skip
    """:func:`solve_native` in its units (``objective_unit``: the objective's
    there, for progress lines in the caller's), with the second try of its Notes."""
    solve = functools.partial(
        _solve, operator, y, loss=loss, fit_intercept=fit_intercept, tol=tol, verbose=verbose,
        objective_unit=objective_unit,
    )  # fmt: skip
    solution = solve(
        beta=beta, max_iter=max_iter, coef_init=coef_init, intercept_init=intercept_init
    )
    # (a warm start of no nonzero group is a cold start)
    if (coef_init is not None and np.any(coef_init)) or not _lost(solution):
        return solution
    if verbose:
        relative = relative_to(solution.duality_gap, solution.objective)
        print(
            f"[native] stalled at {relative:.1e} of the objective from a cold start: solving "
            "again from larger betas "
            f"({', '.join(f'{factor:g} beta' for factor in _CONTINUATION)})",
            flush=True,
        )
    point, n_iter = None, solution.n_iter
    for factor in _CONTINUATION:
        if n_iter >= max_iter:  # (more iterations would have gone on: not a stall)
            return dataclasses.replace(solution, n_iter=n_iter, status="max_iter reached")
        warm = {} if point is None else {"coef_init": point.coef, "intercept_init": point.intercept}
        point = solve(beta=factor * beta, max_iter=max_iter - n_iter, **warm)
        n_iter += point.n_iter
    lower = lower_of(point, solution, lambda value: target_gap(y, value, tol))
    return dataclasses.replace(lower, n_iter=n_iter)


def _lost(solution):
    """Whether a stalled solve ended further from its certificate than rounding explains."""
    return solution.status == "stalled" and solution.duality_gap > _LOST * abs(solution.objective)


def _solve(
    operator,
    y,
    *,
    beta,
    loss,
    fit_intercept,
    tol,
    max_iter,
    verbose,
    coef_init=None,
    intercept_init=None,
    objective_unit=1.0,
):
    """One working-set solve (:func:`solve_native`), without its second try; progress lines
    give objectives and gaps divided by ``objective_unit``."""
    start_time = time.perf_counter()
    # the restricted problems: by Newton over faces first (:mod:`._faces`, Euclidean group
    # norms), then ever more exactly (:func:`_finer`) when pricing finds nothing to add
    qp_tol, faces = min(1e-9, max(1e-12, 1e-2 * tol)), operator.norm.is_euclidean
    in_units = False
    work, memory, b = _started(
        operator, y, coef_init, intercept_init, beta=beta, loss=loss,
        fit_intercept=fit_intercept, qp_tol=qp_tol, faces=faces, verbose=verbose,
    )  # fmt: skip

    n_iter, status = 0, None
    # every scaled dual point bounds the optimum of the same full program: the gap is to the
    # best of them (near the end the restricted solves are accurate only to rounding, and
    # the latest dual point can be the worse one: 3e-5 against 5e-7 on pixels of 0-255)
    best_dual = -np.inf
    lowest = _Lowest()
    # whether the point satisfies every row of its groups' cones, not only the kept ones: the
    # feasibility rounds wait until pricing finds no group to add (see _restricted_then_feasible),
    # for as long as every feasible point is lower than the last; meanwhile the groups of the
    # last feasible point stay in the set (anchored), so that the next one cannot be higher
    feasible, defer_rows, anchored = True, True, set()
    while True:
        f = work.fit(b)
        primal = objective(loss, f, y, beta, work.coef, operator.norm)
        target = target_gap(y, primal, tol)
        wanted = _groups_per_round(work)
        violation, best_dual = _price_groups(
            work, memory, dual_point(loss, f, y, fit_intercept), y,
            beta=beta, loss=loss, fit_intercept=fit_intercept, primal=primal, target=target,
            certify=feasible, best_dual=best_dual, wanted=wanted,
        )  # fmt: skip
        gap = primal - best_dual
        if verbose:
            _print_iteration(
                n_iter, primal / objective_unit, gap / objective_unit if feasible else None,
                target / objective_unit, work, start_time,
            )  # fmt: skip
        if feasible:  # (an infeasible point's objective bounds nothing)
            if gap <= target:
                status = "optimal"
                break
            if not lowest.offer(primal, n_iter, work, b):
                defer_rows = False  # the groups added meanwhile did not help: one at a time
                if n_iter - lowest.iteration >= _STALL_ITERATIONS:
                    status = "stalled"
                    break
            if n_iter >= max_iter:
                status = "max_iter reached"
                break
        # at an infeasible point whose groups are settled to tol, none enters (prices above
        # beta by rounding would enter, stay at zero and leave, iteration after iteration):
        # now the rows
        candidates = [] if not feasible and gap <= target else _most_violating(violation, wanted)
        if feasible and not candidates:  # (infeasible: the next solve adds the rows)
            # nothing left to add: the restricted solutions must be more exact; after the
            # finest, more iterations cannot help
            finer = _finer(qp_tol, faces, in_units, operator.norm.is_euclidean)
            # (block norms: their interior points, which no polish takes to their face, leave
            # the dual vector too inexact where it is small; the restricted problem's own dual
            # may certify them: _restricted_dual_bound. The logistic loss's, whose exponential
            # cones cost more, only where the solve would otherwise stall: at every such point
            # it took 16 s of 123 s of CPU on 40 planted draws (27 reached one, 23 of them
            # certified by the finer solves without it); only before a stall, 4.5 s)
            if not operator.norm.is_euclidean and (loss == "squared" or finer is None):
                bound = _restricted_dual_bound(
                    work, memory, y, beta=beta, loss=loss, fit_intercept=fit_intercept
                )
                best_dual = max(best_dual, bound)
                if verbose:
                    _print_restricted_dual(primal, best_dual, target, objective_unit)
                if primal - best_dual <= target:
                    status = "optimal"
                    break
            if finer is None:
                status = "stalled"
                break
            qp_tol, faces, in_units = finer
        _add_candidates(work, memory, candidates)
        n_iter += 1
        add_rows = _rows_due(candidates, defer_rows, n_iter, max_iter, lowest)
        try:
            b, feasible = _restricted_then_feasible(
                work, y, b, beta, loss, fit_intercept, qp_tol, faces, feasibility=add_rows,
                in_units=in_units, verbose=verbose,
            )  # fmt: skip
        except SolverFailed:
            # the interior point, the last resort, failed (logistic loss on inputs of size
            # 1e3, beta=0.01: InsufficientProgress): an error would lose the points certified
            # so far (to 5e-7 of the objective there)
            status = "stalled"
            break
        # (feasible: a point on the kept rows alone may satisfy all the rows, and is then
        # certified at once, without a solve for them. The rows it violates are not kept: on
        # four digits classes, keeping them made the next deferred solves 842 factorizations
        # against 680, and the solves before the rows waited 1359)
        memory.remember(work)
        if feasible:
            anchored = work.nonzero_groups()
        # (without the anchors, max-pooling programs, whose rows decide most, went up and down
        # from one feasible point to the next until they stalled)
        work.drop_zero_groups(protected=anchored)
    if status != "optimal":
        # the lowest feasible point, not the last: the last restricted problems may have been
        # solved worse (the interior point, after the faces had settled, once ended at 31.2
        # where they had reached 30.1)
        return _solution(status, n_iter, lowest.coef, lowest.intercept, lowest.objective, best_dual)
    return _solution(status, n_iter, _full_coef(work), b, primal, best_dual)


def _started(
    operator, y, coef_init, intercept_init, *, beta, loss, fit_intercept, qp_tol, faces, verbose
):
    """The working set, price memory and intercept to start from: a warm start's groups at
    their restricted optimum (:func:`_restricted_then_feasible`) where ``coef_init`` has a
    nonzero group, else the empty set; a cold start (the empty set at the best intercept)
    where the warm start's solve fails (the empty network is a start too, and certifiable)."""
    cold_b = best_intercept(loss, y) if fit_intercept else 0.0
    b = float(intercept_init) if fit_intercept and intercept_init is not None else cold_b
    work, memory = _WorkingSet(operator), _PriceMemory()
    if coef_init is None or not _start_from(
        work, coef_init, y, b, loss=loss, fit_intercept=fit_intercept
    ):
        return work, memory, b
    try:
        b, _ = _restricted_then_feasible(
            work, y, b, beta, loss, fit_intercept, qp_tol, faces, verbose=verbose
        )
    except SolverFailed as exc:
        if verbose:
            print(f"[native] the warm start failed ({exc}): starting cold", flush=True)
        return _WorkingSet(operator), _PriceMemory(), cold_b
    memory.remember(work)
    return work, memory, b


def _rows_due(candidates, defer_rows, n_iter, max_iter, lowest):
    """Whether the next restricted solve adds the cone rows its point violates.

    Rows wait while groups are added (``candidates``, where ``defer_rows``), but not past the
    last solve that ``max_iter`` allows, nor for longer than a stall takes to tell: every
    ``_STALL_ITERATIONS`` iterations a feasible point must have decreased the objective
    (:class:`_Lowest`; on the kept rows alone, a cycle of groups that price above beta by
    rounding would run to ``max_iter``).
    """
    return (
        not (defer_rows and candidates)
        or n_iter >= max_iter
        or n_iter - lowest.iteration >= _STALL_ITERATIONS
    )


def _print_iteration(n_iter, primal, gap, target, work, start_time):
    """The progress line of an iteration; ``gap`` is ``None`` at a point that satisfies only
    the kept cone rows (whose objective bounds nothing)."""
    print(
        f"[native] iteration {n_iter}: objective {primal:.10g}"
        + (
            " (on the kept cone rows), "
            if gap is None
            else f", gap {gap:.2e} (relative {relative_to(gap, primal):.1e}, "
            f"target {relative_to(target, primal):.1e}), "
        )
        + f"{len(work)} group{'' if len(work) == 1 else 's'}, "
        + f"{sum(len(r) for r in work.rows)} rows, "
        f"{time.perf_counter() - start_time:.2f} s",
        flush=True,
    )


def _print_restricted_dual(primal, dual, target, objective_unit):
    """The progress line of a bound from the restricted problem's dual
    (:func:`_restricted_dual_bound`)."""
    gap = primal - dual
    print(
        f"[native] the restricted problem's dual: gap {gap / objective_unit:.2e} (relative "
        f"{relative_to(gap, primal):.1e}, target {relative_to(target, primal):.1e})",
        flush=True,
    )


def _restricted_dual_bound(work, memory, y, *, beta, loss, fit_intercept):
    """The dual objective at the dual optimum of the working set's restricted problem
    (:func:`_restricted_dual`), scaled by its largest price over every group and row of the
    full program (:func:`_price`, exact prices): a lower bound on its optimum, as any dual
    vector's (``-inf`` where the solve fails or the working set is empty).

    Circular programs need it: no polish takes their interior points to their face (the
    polish is Newton's method for Euclidean group norms), and where the fit nearly
    interpolates noise-free targets, ``v = y - f`` is small and carries the points' error:
    the nonzero groups' prices at it came to ``beta (1 +- 1.7e-5)``, and the least change
    of ``v`` that met their KKT equations was 1.4e-9 in norm, of 8.5e-4. 8 of 40 planted
    draws stalled at 1.1e-7 to 2.2e-6 of the objective against ``tol=1e-7``, below
    Clarabel's objective; this vector, which no point enters, certified all 8 (from 2e-10
    to 6e-8, one at its rounding floor). Logistic fits of such targets' labels (split at
    their median), nearly separable at small betas, stall the same way: 4 of 40 draws at
    2.2e-7 to 1.2e-6, and 7 of 24 smaller ones at 2e-7 to 2.5e-5; the entropy's dual
    certified all 11 (to 3e-12 to 5.5e-8; its exponential cones leave about 5e-8 of an
    objective of 3e-6 at 40 samples, Clarabel 'AlmostSolved' at any tolerance).
    """
    if not len(work):
        return -np.inf
    solved = _restricted_dual(work, y, beta=beta, loss=loss, fit_intercept=fit_intercept)
    if solved is None:
        return -np.inf
    v, multipliers = solved
    operator = work.operator
    correlations = operator.correlations(v)
    prices = _price(operator, correlations, beta, memory, _CERTIFYING_ROUNDS)
    # the working set's groups are priced by the cone program's multipliers too, any of which
    # bound a price (:func:`~.._optimality._block_price`); the cutting planes' own prices
    # came out up to 8e-7 of beta higher
    for (pattern, sign_index), rows, lam in zip(
        work.groups, work.kept_rows(), multipliers, strict=True
    ):
        g = correlations[pattern] * (1.0 if sign_index == 0 else -1.0)
        witness = float(operator.norm.dual(g + rows.T @ lam))
        prices[sign_index, pattern] = min(prices[sign_index, pattern], witness)
    top = float(prices.max(initial=0.0))
    return scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top)


def _restricted_dual(work, y, *, beta, loss, fit_intercept):
    """The dual vector ``v`` that maximizes the loss's dual objective ``-L*(-v)`` (with an
    intercept, within ``sum(v) = 0``) where every group of the working set prices at most
    ``beta`` on its kept rows ``H`` (``R*(+-A_i^T v + H^T lam) <= beta`` for some
    ``lam >= 0``): the dual of the restricted problem, a conic program solved by Clarabel;
    ``None`` where it returns no finite vector.

    The squared loss's dual objective, ``y . v - ||v||^2 / 2``, makes it a second-order cone
    program; the logistic loss's, the entropy ``sum H(p_i)`` of ``p = y * v`` in ``[0, 1]``
    (``H(p) = -p log p - (1 - p) log(1 - p)``; :func:`~.._optimality.dual_objective`), an
    exponential cone program: ``beta t_i <= -p_i log p_i`` and
    ``beta s_i <= -(1 - p_i) log(1 - p_i)``, two cones a sample, maximizing
    ``sum(t + s)``. Solved in ``v = beta u`` and ``lam = beta mu``, where the prices are at
    most 1 (Clarabel's tolerances are absolute), and the objective over ``beta``. The dual
    norm is ``max_b ||w_b||`` at the one ``w`` with ``T^T w = z``
    (:meth:`~.._formulations._program.GroupNorm.dual`): a cone ``(1, w_b)`` a block of each
    group.

    The vector returned is in the dual domain, whatever the solve's accuracy: the logistic
    loss's ``p`` clipped to ``[0, 1]``, and with an intercept ``sum(v) = 0`` by centring
    (squared) or by shrinking the larger of the two classes' sums (logistic, which keeps
    ``p`` in ``[0, 1]``; :func:`~.._optimality.dual_point`).

    Returns
    -------
    v : ndarray of shape (n_samples,)
    multipliers : list of ndarray
        The multipliers ``lam`` of each group's kept rows (clipped at zero).
    """
    import clarabel
    import scipy.sparse as sp

    n, h = len(y), work.patch_size
    blocks = work.operator.norm.blocks
    n_blocks, size, _ = blocks.shape
    dual_map = np.linalg.pinv(blocks.reshape(-1, h).T)  # (w of z, block by block)
    # (the restricted solves' design, cached: its intercept's column, last, is not read)
    design, kept = work.design(intercept=fit_intercept), work.kept_rows()

    def cones_of(w):  # (rows of each cone (1, w_b): a zero row first, for the constant)
        return np.insert(w.reshape(n_blocks, size, -1), 0, 0.0, axis=1).reshape(
            n_blocks * (size + 1), -1
        )

    on_u = [cones_of(dual_map @ design[:, j * h : (j + 1) * h].T) for j in range(len(kept))]
    on_mu = [cones_of(dual_map @ rows.T) for rows in kept]
    n_mu = sum(len(rows) for rows in kept)
    # the logistic loss's entropy: t and s after u and mu, and two exponential cones a sample
    n_entropy = 2 * n if loss == "logistic" else 0
    n_x = n + n_mu + n_entropy
    # (Clarabel's constraints are b - A x in the cones: sum(u) = 0, mu >= 0, then the blocks')
    A = [
        sp.csc_matrix(np.r_[np.ones(n), np.zeros(n_x - n)][None] if fit_intercept else (0, n_x)),
        sp.hstack([sp.csc_matrix((n_mu, n)), -sp.identity(n_mu), sp.csc_matrix((n_mu, n_entropy))]),
        sp.hstack([
            sp.csc_matrix(np.vstack(on_u)), sp.block_diag(on_mu),
            sp.csc_matrix((n_blocks * (size + 1) * len(kept), n_entropy)),
        ]),
    ]  # fmt: skip
    b = np.zeros(sum(part.shape[0] for part in A))
    b[int(fit_intercept) + n_mu :: size + 1] = 1.0
    cones = [clarabel.ZeroConeT(1)] * int(fit_intercept) + [clarabel.NonnegativeConeT(n_mu)]
    cones += [clarabel.SecondOrderConeT(size + 1)] * (n_blocks * len(kept))
    if loss == "squared":
        P = sp.diags(np.r_[np.full(n, beta), np.zeros(n_mu)], format="csc")
        q = np.r_[-(y - y.mean() if fit_intercept else y), np.zeros(n_mu)]
    else:
        # per sample the slacks (t_i, y_i u_i, 1 / beta) and (s_i, 1 / beta - y_i u_i, 1 / beta)
        # in exponential cones (y e^(x / y) <= z), those of (beta t_i, p_i, 1) and
        # (beta s_i, 1 - p_i, 1) scaled by 1 / beta
        samples = np.arange(n)
        rows = 6 * samples[:, None] + np.array([0, 1, 3, 4])
        columns = np.c_[n + n_mu + samples, samples, n + n_mu + n + samples, samples]
        values = np.c_[-np.ones(n), -y, -np.ones(n), y]
        A.append(sp.csc_matrix((values.ravel(), (rows.ravel(), columns.ravel())), (6 * n, n_x)))
        b = np.r_[b, np.tile([0.0, 0.0, 1.0, 0.0, 1.0, 1.0], n) / beta]
        cones += [clarabel.ExponentialConeT()] * n_entropy
        P = sp.csc_matrix((n_x, n_x))
        q = np.r_[np.zeros(n + n_mu), -np.ones(n_entropy)]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    solver = clarabel.DefaultSolver(P, q, sp.vstack(A).tocsc(), b, cones, settings)
    x = beta * np.asarray(solver.solve().x)
    if not np.all(np.isfinite(x)):
        return None
    v, ends = x[:n], np.cumsum([n] + [len(rows) for rows in kept])
    multipliers = [np.maximum(x[i:j], 0.0) for i, j in zip(ends[:-1], ends[1:], strict=True)]
    if loss == "squared":
        return v - v.mean() if fit_intercept else v, multipliers
    v = y * np.clip(y * v, 0.0, 1.0)
    if fit_intercept:  # (as dual_point does to dual_vector's v)
        positive, negative = v[v > 0].sum(), -v[v < 0].sum()
        common = min(positive, negative)
        v *= np.where(v > 0, common / max(positive, 1e-300), common / max(negative, 1e-300))
    return v, multipliers


def _add_candidates(work, memory, candidates):
    """Put the groups ``candidates`` into the working set, each with the rows likely tight
    at the next point: its last projection's (:class:`_PriceMemory`) and the operator's
    candidate rows. Fewer feasibility rounds then."""
    for pattern, sign_index in candidates:
        rows = np.union1d(
            memory.rows.get((pattern, sign_index), []), work.operator.candidate_rows(pattern)
        )
        work.add(pattern, sign_index, rows)


def _solution(status, n_iter, coef, intercept, objective, best_dual):
    """The answer at ``coef``, certified by the best dual objective so far."""
    return Solution(
        coef=coef,
        intercept=float(intercept),
        objective=float(objective),
        converged=status == "optimal",
        status=status,
        n_iter=n_iter,
        solver="native",
        duality_gap=float(objective - best_dual),
    )


def _start_from(work, coef_init, y, intercept, *, loss, fit_intercept):
    """Put the nonzero groups of a warm start into ``work``, with their point and the rows
    that hold them there (:func:`_start_rows`); returns whether there were any."""
    signs, patterns = np.nonzero(np.linalg.norm(coef_init, axis=2) > 0)
    if not len(patterns):
        return False
    for pattern, sign_index in zip(patterns.tolist(), signs.tolist(), strict=True):
        work.add(pattern, sign_index, [])
    work.coef = coef_init[signs, patterns]
    v = dual_point(loss, work.fit(intercept), y, fit_intercept)
    work.rows = _start_rows(work.operator, patterns, signs, v)
    return True


def _price_groups(
    work, memory, v, y, *, beta, loss, fit_intercept, primal, target, certify, best_dual, wanted
):
    """Prices of the groups outside the working set where they exceed ``beta`` (zero
    elsewhere), shape (2, n_patterns), and the best dual objective so far; the ``wanted``
    largest by cutting planes, the groups that may enter (:func:`_groups_per_round`).

    A few cutting-plane rounds rank the candidates well; exact prices of every group are
    needed only when those find none (near the optimum, to certify it), and only at a
    feasible point (``certify``: an infeasible one is not worth certifying).
    """
    operator = work.operator
    correlations = operator.correlations(v)
    in_set = set(work.groups)
    for rounds, wanted_now in ((_PRICING_ROUNDS, wanted), (_CERTIFYING_ROUNDS, None)):
        if wanted_now is None and not certify:
            break
        prices = _price(operator, correlations, beta, memory, rounds, wanted_now, in_set)
        top = float(prices.max(initial=0.0))
        dual = scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top)
        best_dual = max(best_dual, dual)
        violation = np.where(prices > beta, prices, 0.0)
        for pattern, sign_index in in_set:
            violation[sign_index, pattern] = 0.0
        if primal - best_dual <= target or violation.any():
            break
    return violation, best_dual


def _groups_per_round(work):
    """How many groups a pricing round adds to the working set ``work`` at most: half the
    set's size, so that a set of many groups grows geometrically, but at least 8, and at most
    a 16th of the pass's entries a sample over the patch size (``K P / (16 h)``).

    Every round is a pass over all the signs (correlations, feasibility checks), ``n K P``
    entries, and every group the restricted problems carry costs ``n h`` a product. Eight a
    round took 19 rounds at 60,000 signals (83 neurons) and 44 at 30,000 signals with 4
    regions (236 neurons); now 15 and 23, and the estimators' fits 14.4-14.8 s against 16.6 s
    and 17.6-17.8 s against 28.3 s (the logistic loss at 30,000 signals 6.8-7.0 s against 9.0
    s; 4 regions at 10,000 and 3,000 signals 8.0-8.8 s and 1.4-1.5 s against 9.3 s and 1.6 s;
    the same objectives). Half the set without the cap was about as fast there, but where a pass is
    cheap the groups that enter and leave again cost more than the rounds saved: the README
    demo's squared loss (classes of about 87 groups of 256, ``K P / h = 128``) took 13.2-13.7 s
    of CPU against 12.7-13.0 s; the cap keeps the digits fits at 8 a round, as before.
    """
    operator = work.operator
    per_sample = operator.n_rows * operator.n_patterns // operator.n_samples  # K P
    cap = per_sample // (16 * operator.patch_size)
    return max(_GROUPS_PER_ROUND, min(len(work) // 2, cap))


def _most_violating(violation, count):
    """The groups ``(pattern, sign_index)`` of the (at most ``count``) largest positive
    ``violation``, largest first."""
    n_patterns = violation.shape[1]
    best = _best(violation.ravel(), count)
    signs, patterns = np.divmod(best[violation.ravel()[best] > 0], n_patterns)
    return list(zip(patterns.tolist(), signs.tolist(), strict=True))


def _finer(qp_tol, faces, in_units, euclidean):
    """The next, more exact way to solve the restricted problems, as ``(qp_tol, faces,
    in_units)``: the interior point's tolerance down to 1e-12, then the interior point
    instead of the faces, then, for group norms other than the Euclidean one (whose interior
    points no polish takes to their face's exact point), its QPs in units of their
    coefficients' size (:func:`_coefficient_unit`); ``None`` after the finest."""
    if qp_tol > 1e-12:
        return max(1e-12, qp_tol * 1e-2), faces, in_units
    if faces:
        return qp_tol, False, in_units
    if not (in_units or euclidean):
        return qp_tol, faces, True
    return None


@dataclasses.dataclass
class _Lowest:
    """The lowest objective of a feasible point so far, the iteration that reached it and
    the point: the answer of a solve that does not converge."""

    objective: float = np.inf
    iteration: int = 0
    coef: np.ndarray | None = None
    intercept: float = 0.0

    def offer(self, objective, iteration, work, intercept):
        """Keep the point of ``work`` if it is lower; returns whether it was."""
        if not objective < self.objective - 1e-12 * abs(objective):  # (inf at first)
            return False
        self.objective, self.iteration = objective, iteration
        self.coef, self.intercept = _full_coef(work), intercept
        return True


def _full_coef(work):
    """The working set's coefficients as the program's, shape (2, n_patterns, h)."""
    coef = np.zeros((2, work.operator.n_patterns, work.patch_size))
    for (pattern, sign_index), c in zip(work.groups, work.coef, strict=True):
        coef[sign_index, pattern] = c
    return coef


def _restricted_then_feasible(
    work, y, b, beta, loss, fit_intercept, qp_tol, faces, feasibility=True, in_units=False,
    verbose=0,
):  # fmt: skip
    """Solve the restricted problem, adding violated cone rows until the point is feasible;
    the point goes to ``work.coef``. Returns its intercept and whether it satisfies every
    row of its groups' cones (with ``feasibility``, always).

    Without ``feasibility``, a guide on the kept rows only. The working-set loop asks for that
    while pricing still adds groups: the point only guides pricing to the next groups, and the
    rows that the final groups need are found once, at the end, rather than for every working
    set on the way. Half the restricted solves of a digits class were such re-solves; without
    them four classes (the README demo's, logistic loss) took 4.8-5.3 s against 6.2-6.6 s,
    CPU time in alternating runs. Nor does a guide need the restricted optimum: the face
    method stops after its first change of face (``guide``, :func:`~._faces.solve_on_faces`),
    which cut the README demo's Newton systems from 1,476 to 1,132 and its Newton steps from
    3,163 to 2,418. A guide that happens to satisfy every row is solved to the optimum, as
    the working-set loop then certifies it at once.
    """
    scale = max(loss_value(loss, np.full(len(y), b), y), 1e-300)
    guide = not feasibility
    for _ in range(1000):
        coef, b = _restricted_solve(
            work, y, b, beta=beta, loss=loss, fit_intercept=fit_intercept, qp_tol=qp_tol,
            faces=faces, guide=guide, in_units=in_units, verbose=verbose,
        )  # fmt: skip
        work.coef = _without_residue(
            work.design(intercept=fit_intercept), y, coef, b, beta=beta, loss=loss,
            fit_intercept=fit_intercept, norm=work.operator.norm, scale=scale, slack=qp_tol,
        )  # fmt: skip
        violations = _violated_rows(work)
        if not violations and guide:
            guide = False  # (a point that may be certified: to the restricted optimum)
            continue
        if not violations or not feasibility:
            return b, not violations
        for j, rows in violations:
            work.rows[j] = np.union1d(work.rows[j], rows)
    raise SolverFailed("cone rows of the working set still violated after 1000 rounds")
