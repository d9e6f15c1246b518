"""Optimality conditions of the group program: cone projections, the dual and the duality gap.

The program of Lemma B (doc/formulations.md §1, §2.3) for one output is::

    min_{c, c', b}  L(sum_i A_i (c_i - c'_i) + b) + beta * sum_i (||c_i|| + ||c'_i||)
    s.t.            c_i, c'_i in C_i = {u : G_i u >= 0}

and its dual, with ``v`` the dual vector (``-dL/df``, the residual ``y - f`` for the squared
loss)::

    max_v  -L*(-v)   s.t.  ||Proj_{C_i}(+-A_i^T v)|| <= beta for every i,
                           sum(v) = 0 when the intercept ``b`` is fitted,

because ``max_{u in C, ||u|| <= 1} g.u = ||Proj_C(g)||`` for a closed convex cone ``C``.
With a group norm ``R`` other than the Euclidean one (circular CNNs: the spectral l1 norm) the
constraint is on the price ``max_{u in C_i, R(u) <= 1} g.u`` instead (:func:`cone_prices`).
``-L*(-v)`` is ``y.v - ||v||^2 / 2`` for the squared loss and ``sum H(y_j v_j)`` (binary
entropy, ``y_j v_j`` in [0, 1]) for the logistic loss. Scaling the dual vector of any primal point
into the constraints gives a dual feasible point, hence a lower bound on the optimum and a
duality gap that certifies the primal point. Everything here accepts a dense
:class:`~._formulations.GroupProgram` or a matrix-free operator
(:mod:`~._formulations._operator`).

Nothing here imports scikit-learn.
"""

import re
import sys

import numpy as np
import scipy
from scipy.optimize import lsq_linear, nnls
from scipy.special import xlogy

from ._formulations._operator import as_operator
from ._losses import dual_vector, mean
from ._warnings import warn

# Projections whose upper bound falls below this times ``||g||`` are settled as zero.
_ZERO_PROJECTION = 1e-12

# The rounding of a projection ``g + rows^T lam``, relative to ``||g||``: the cutting planes
# count rows violated by less as satisfied. (SciPy's NNLS before 1.12 left a zero coordinate
# of a projection of norm 1 at -5.6e-9 for ||g|| = 1.4e7, 1.8 eps ||g||, and the projection,
# within rounding of exact, was reported inexact after every round.)
_PROJECTION_ROUNDING = 16 * np.finfo(float).eps


# the SciPy versions warn_unreliable_nnls has named in this process
_NAMED_SCIPYS = set()


def warn_unreliable_nnls(version=None, python=sys.version_info[:2]):
    """UserWarning where SciPy ``version``'s NNLS, through which every cone projection goes, is
    one that the package's requirements exclude (1.12 to 1.15): an install with ``--no-deps``
    or from another channel can still bring one, and its fits then stall with nothing to name
    the cause (Python 3.10 with SciPy 1.15.3: native gaps of 1.04 against a target of 2.7e-7).
    Once a process: the warnings filter's "default" would repeat it at every fit (scikit-learn's
    ``check_array`` enters ``warnings.catch_warnings``, which clears what it has shown), seven
    times in a three-fold grid search of two candidates. The install it names is one that
    ``python`` (major, minor) can run: SciPy 1.16 needs Python 3.11."""
    version = scipy.__version__ if version is None else version
    release = re.match(r"(\d+)\.(\d+)", version)
    excluded = release and (1, 12) <= (int(release[1]), int(release[2])) <= (1, 15)
    if excluded and version not in _NAMED_SCIPYS:
        _NAMED_SCIPYS.add(version)
        allowed = "scipy>=1.16" if python >= (3, 11) else "scipy>=1.10,<1.12"
        warn(
            f"SciPy {version} is installed, whose NNLS (every cone projection of the solvers "
            "is one) returns wrong points without an error (1.15, scipy/scipy#25389) or stops "
            "on systems it calls singular (1.12 to 1.14): fits can stall short of tol, with a "
            "ConvergenceWarning, and run slowly. Install a SciPy that sklearn_convexcnn "
            f"requires: pip install '{allowed}'.",
            UserWarning,
        )


def groups_per_pass(operator):
    """How many groups' products with all their cone rows a pass over the rows computes at
    once: as many as fit in 16 MiB of float64 (at least one)."""
    return max(1, int(2**24 // max(1, 8 * operator.n_rows)))


def cone_products_by_block(operator, U, patterns, which):
    """The products of the groups ``which`` (positions in ``U`` and ``patterns``) with all
    their cone rows, :func:`groups_per_pass` groups at a time: yields ``(part, products)``,
    ``products[k]`` those of group ``part[k]``. (All at once, the products of 248 groups of
    3000 signals of 196 patches took 1.2 GB, 9 times what their solve had used.)"""
    block = groups_per_pass(operator)
    for start in range(0, len(which), block):
        part = which[start : start + block]
        yield part, operator.cone_products(U[part], patterns[part])


def nnls_projection(rows, g):
    """Projection of ``g`` onto ``{u : rows @ u >= 0}`` through the polar cone.

    ``Proj_C(g) = g + rows^T lam`` with ``lam = argmin_{lam >= 0} ||g + rows^T lam||``: a
    non-negative least-squares problem with ``h`` equations. Any ``lam >= 0`` gives a norm
    that is an upper bound on ``||Proj_C(g)||``, so an inaccurate NNLS never certifies too much.
    """
    pushed, lam = _pushed(rows, g)
    return g + pushed, lam


def _pushed(rows, g):
    """``rows^T lam`` and ``lam`` of :func:`nnls_projection` (``g`` plus the former is the
    projection; minus it is a vector of the polar cone)."""
    if len(rows) == 0:
        return np.zeros_like(g), np.zeros(0)
    try:
        lam, _ = nnls(rows.T, -g, maxiter=50 * max(rows.shape))
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        # SciPy's NNLS at its iteration limit, or (1.12 to 1.14, which setup.py excludes) on a
        # system it calls singular or on an empty reduction of its own: bounded least squares
        # instead (LinAlgError is no ValueError in NumPy 1.24)
        return _bvls_pushed(rows, g)
    return rows.T @ lam, lam


def _bvls_pushed(rows, g):
    """:func:`_pushed` by bounded-variable least squares, slower than SciPy's NNLS."""
    lam = lsq_linear(rows.T, -g, bounds=(0.0, np.inf), method="bvls").x
    return rows.T @ lam, lam


def bvls_projection(rows, g):
    """:func:`nnls_projection` by bounded-variable least squares: for where SciPy's NNLS
    returned a point outside the cone, which it can do without a word (scipy/scipy#25389)."""
    if len(rows) == 0:
        return g.copy(), np.zeros(0)
    pushed, lam = _bvls_pushed(rows, g)
    return g + pushed, lam


def checked_projection(rows, g, rtol):
    """The projection of ``g`` onto ``{u : rows @ u >= 0}`` by :func:`nnls_projection`, or by
    :func:`bvls_projection` where NNLS's point violates a row by more than ``rtol`` times
    ``||g||`` and the row's norm (the tolerance of the start's norm: a projection far
    shorter than its start is exact only to the rounding of the start).

    SciPy's NNLS ends off its minimizer on some rows that repeat (scipy/scipy#25389; 82 rows
    of 0/1 images, 29 distinct: slacks of -0.08 times the rows and the point, and an
    interior-point solve for 4.5 s of a 9.2 s fit). Checked here, where a point must lie in
    its cone, not after every NNLS: the check costs about as much as the NNLS.
    """
    limit = -rtol * np.linalg.norm(g) * np.linalg.norm(rows, axis=1)
    projection = nnls_projection(rows, g)[0]
    if np.any(rows @ projection < limit):
        projection = bvls_projection(rows, g)[0]
    return projection


def price_at_zero(rows, g, beta):
    """The price of a group at zero, ``||Proj_C(g)||`` for ``C = {u : rows @ u >= 0}`` and
    its correlation ``g``, with the projection; the group is optimal at zero iff the price is
    at most ``beta``.

    Where ``||g|| <= beta`` already certifies that (``||Proj_C(g)|| <= ||g||``), returns
    ``(||g||, None)`` without projecting.
    """
    size = float(np.linalg.norm(g))
    if size <= beta:
        return size, None
    projection, _ = nnls_projection(rows, g)
    return float(np.linalg.norm(projection)), projection


def cone_projections(
    program, index, G, *, beta=None, tol=1e-10, max_rounds=100, rows=None, with_polar=False
):
    """Projections of the vectors ``G[j]`` onto the cones ``C_{index[j]}``, by cutting planes.

    Each projection starts from no constraint, adds the rows of ``G_i`` that the current point
    violates most, and re-projects by NNLS on the rows added so far (at most a few times ``h``
    rows are ever needed: the projection has at most ``h`` tight rows in general position).
    Every iterate is the projection onto a cone *containing* ``C_i``, so its norm is an upper
    bound on ``||Proj_{C_i}(g)||`` at every round.

    Parameters
    ----------
    program : GroupProgram or operator
    index : array of int, shape (n_vectors,)
        The cone of each vector.
    G : ndarray of shape (n_vectors, patch_size)
    beta : float, default=None
        When given, a vector is settled as soon as its bound is ``<= beta`` (screening: a
        vector with ``||g|| <= beta`` is projected onto its start rows only, never by cutting
        planes); the returned norms are then upper bounds that decide ``<= beta`` exactly, and
        exact projections for the others (those whose cutting planes converge within
        ``max_rounds``).
    tol : float, default=1e-10
        A row counts as violated below ``-(tol * ||u|| + 16 eps ||g||) * row_scale``: the
        second term is the projection's rounding (``_PROJECTION_ROUNDING``).
    max_rounds : int, default=100
    rows : list of ndarray, default=None
        Rows of each cone to start from.
    with_polar : bool, default=False
        Whether to return ``polar`` too.

    Returns
    -------
    U : ndarray of shape (n_vectors, patch_size)
        The (relaxed) projections.
    exact : ndarray of bool, shape (n_vectors,)
        Whether ``U[j]`` satisfies every row of its cone (it is then the projection).
    rows : list of ndarray of int
        The rows of each cone with a positive multiplier in the final projection (its tight
        rows): a good start for projecting a nearby vector.
    polar : ndarray of shape (n_vectors, patch_size)
        Only with ``with_polar``: ``-H^T lam``, the multipliers ``lam >= 0`` of the final
        projection ``U[j] = G[j] + H^T lam`` (``H`` its rows), a vector of the polar cone as
        computed (``G - U`` is one only up to the rounding of ``U``, relative to ``U``).
    """
    operator = as_operator(program)
    index = np.asarray(index, dtype=int)
    G = np.asarray(G, dtype=float)
    U, pushed = G.copy(), np.zeros_like(G)
    exact = np.zeros(len(index), dtype=bool)
    if rows is None:
        rows = [np.zeros(0, dtype=int) for _ in index]
    else:
        rows = [np.asarray(r, dtype=int) for r in rows]
    # rows likely tight (PatchOperator: the hyperplanes nearest the gate): the first
    # projection on them is usually exact or below beta without a pass over the data
    rows = [
        _with_candidates(r, operator.candidate_rows(i)) for r, i in zip(rows, index, strict=True)
    ]
    multipliers = [np.zeros(len(r)) for r in rows]
    for j, start in enumerate(operator.cone_rows_of(index, rows)):
        if len(start):
            pushed[j], multipliers[j] = _pushed(start, G[j])
            U[j] = G[j] + pushed[j]
    norms = np.linalg.norm(U, axis=1)
    settled = norms <= beta if beta is not None else np.zeros(len(index), dtype=bool)
    # A vector in the polar cone projects to 0, which cutting planes approach but never reach
    # (the relative test below is then at the mercy of rounding): a bound this small settles it.
    zero = _ZERO_PROJECTION * np.linalg.norm(G, axis=1)
    rounding = _PROJECTION_ROUNDING * np.linalg.norm(G, axis=1)
    exact |= norms == 0.0  # 0 is in every cone
    settled |= norms <= zero
    n_add = 2 * G.shape[1]
    for _ in range(max_rounds):
        todo = np.flatnonzero(~settled & ~exact)
        if len(todo) == 0:
            break
        for part, products in cone_products_by_block(operator, U, index, todo):
            for j, values in zip(part, products, strict=True):
                threshold = -(tol * np.linalg.norm(U[j]) + rounding[j]) * operator.row_scale
                violated = most_violated(values, threshold, n_add)
                if len(violated) == 0:
                    exact[j] = True
                    continue
                rows[j] = np.union1d(rows[j], violated)
                pushed[j], multipliers[j] = _pushed(operator.cone_rows(index[j], rows[j]), G[j])
                U[j] = G[j] + pushed[j]
                norm = np.linalg.norm(U[j])
                exact[j] = norm == 0.0
                if (beta is not None and norm <= beta) or norm <= zero[j]:
                    settled[j] = True
    tight = [r[m > 0] for r, m in zip(rows, multipliers, strict=True)]
    if with_polar:
        return U, exact, tight, -pushed
    return U, exact, tight


def _with_candidates(rows, candidates):
    """``np.union1d(rows, candidates)``, ``candidates`` (sorted, distinct) itself where no
    ``rows``: pricing projects most groups from their candidate rows alone."""
    if len(rows) == 0:
        return candidates
    return np.union1d(rows, candidates)


def cone_prices(program, index, G, *, beta=None, tol=1e-10, max_rounds=100, rows=None):
    """Prices ``p_i(g) = max {g.u : u in C_i, R(u) <= 1}`` of the vectors ``G[j]``, by cutting
    planes; ``R`` is the program's group norm.

    The price decides the KKT condition of a zero group (it is optimal iff its price is at
    most ``beta``) and the dual constraints. For the Euclidean norm it is
    ``||Proj_{C_i}(g)||`` (:func:`cone_projections`); for block norms (the spectral l1 norm of
    circular CNNs) it is a small second-order cone program (:func:`_block_price`) over the
    rows that cutting planes find necessary. Either way every returned price is an upper bound,
    whatever the number of rounds.

    Parameters
    ----------
    program : GroupProgram or operator
    index : array of int, shape (n_vectors,)
    G : ndarray of shape (n_vectors, patch_size)
    beta, tol, max_rounds, rows
        See :func:`cone_projections`.

    Returns
    -------
    prices : ndarray of shape (n_vectors,)
    exact : ndarray of bool, shape (n_vectors,)
        Whether the price is the exact one (its maximizer satisfies every row of its cone).
    rows : list of ndarray of int
        The rows with a positive multiplier in each final price.
    """
    operator = as_operator(program)
    if operator.norm.is_euclidean:
        U, exact, tight = cone_projections(
            operator, index, G, beta=beta, tol=tol, max_rounds=max_rounds, rows=rows
        )
        return np.linalg.norm(U, axis=1), exact, tight
    index = np.asarray(index, dtype=int)
    G = np.asarray(G, dtype=float)
    norm = operator.norm
    prices = norm.dual(G)  # lam = 0: the price without any cone row
    exact = np.zeros(len(index), dtype=bool)
    tight = [np.zeros(0, dtype=int) for _ in index]
    rows = [np.zeros(0, dtype=int) for _ in index] if rows is None else list(rows)
    n_add = 2 * G.shape[1]
    for j in range(len(index)):
        if prices[j] == 0.0 or (beta is not None and prices[j] <= beta):
            continue
        kept = np.asarray(rows[j], dtype=int)
        if max_rounds == 0 and not len(kept):
            continue  # (the price without rows is the dual norm already)
        for _ in range(max_rounds + 1):
            bound, u, multipliers = _block_price(operator.cone_rows(index[j], kept), G[j], norm)
            prices[j] = min(prices[j], bound)
            tight[j] = kept[multipliers > 1e-6 * multipliers.max(initial=0.0)]
            if u is None or (beta is not None and prices[j] <= beta):
                break
            values = operator.cone_products(u[None], index[j : j + 1])[0]
            violated = most_violated(values, -tol * np.linalg.norm(u) * operator.row_scale, n_add)
            if len(violated) == 0:
                exact[j] = True
                break
            grown = np.union1d(kept, violated)
            if len(grown) == len(kept):
                # Clarabel's maximizer violates only rows it has, by its tolerance: the same
                # program again would not move (1,000 rounds of it for each of five prices
                # of a circular CNN's polish take 47 s where the conic solve takes 0.6 s)
                break
            kept = grown
    return prices, exact, tight


def most_violated(values, threshold, limit):
    """Indices of the (at most ``limit``) smallest ``values`` below ``threshold``: the cone
    rows a cutting-plane round adds."""
    violated = np.flatnonzero(values < threshold)
    if len(violated) > limit:
        violated = violated[np.argpartition(values[violated], limit)[:limit]]
    return violated


def _block_price(rows, g, norm):
    """``max {g.u : rows @ u >= 0, R(u) <= 1}`` for a block norm, by Clarabel.

    The bound returned is ``R*(g + rows^T lam)`` with ``lam >= 0`` the solver's multipliers
    of the rows, or ``R*(g)`` (``lam = 0``) where that is lower: the price is
    ``min_{lam >= 0} R*(g + rows^T lam)`` (Lagrange duality), so the bound holds however
    inaccurate ``lam`` is, those of a solve that stopped short included.

    Returns
    -------
    bound : float
    u : ndarray of shape (patch_size,) or None
        The maximizer (``None`` if the solver stopped short).
    multipliers : ndarray of shape (n_rows,)
    """
    import clarabel
    import scipy.sparse as sp

    blocks = norm.blocks
    n_blocks, size, h = blocks.shape
    n_rows = len(rows)
    # solved for g of unit norm, the multipliers scaled back: the price and the multipliers
    # are positively homogeneous in g, and Clarabel's tolerances are absolute (on inputs
    # scaled by 1e-4, correlations of 1e-6 left certificates 1.6e-2 of the objective loose)
    scale = float(np.linalg.norm(g))
    if scale == 0.0:
        return 0.0, np.zeros(h), np.zeros(n_rows)
    # x = (u, t): max g.u with t_b >= ||T_b u|| and sum(t) <= 1; for orthogonal blocks in
    # the coordinates v = Q u, where they are sparse (GroupNorm.orthogonal_form)
    rows = np.reshape(rows, (n_rows, h))
    objective, solved_rows, solved_blocks = g, rows, blocks
    if norm.orthogonal_form is not None:
        Q, solved_blocks = norm.orthogonal_form
        objective, solved_rows = Q @ g, rows @ Q.T
    budget = np.concatenate([np.zeros(h), np.ones(n_blocks)])[None]
    cone = np.hstack([-solved_rows, np.zeros((n_rows, n_blocks))])
    soc = np.zeros((n_blocks, size + 1, h + n_blocks))
    soc[np.arange(n_blocks), 0, h + np.arange(n_blocks)] = -1.0
    soc[:, 1:, :h] = -solved_blocks
    A = sp.csc_matrix(np.vstack([budget, cone, soc.reshape(-1, h + n_blocks)]))
    b = np.zeros(A.shape[0])
    b[0] = 1.0
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    # (at 1e-10, native circular fits at beta=1e-3 stopped at 1-2x their tol in 15 of 30 runs
    # of one example, for the multipliers' inaccuracy; at 1e-12 in 4, 10 % slower)
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    solver = clarabel.DefaultSolver(
        sp.csc_matrix((h + n_blocks, h + n_blocks)),
        np.concatenate([-objective / scale, np.zeros(n_blocks)]),
        A,
        b,
        [clarabel.NonnegativeConeT(1 + n_rows)] + [clarabel.SecondOrderConeT(size + 1)] * n_blocks,
        settings,
    )
    result = solver.solve()
    multipliers = scale * np.maximum(np.asarray(result.z[1 : 1 + n_rows]), 0.0)
    if not np.all(np.isfinite(multipliers)):
        multipliers = np.zeros(n_rows)
    # any multipliers bound the price, those of a solve that stopped short too
    bound = min(float(norm.dual(g)), float(norm.dual(g + rows.T @ multipliers)))
    if "Solved" not in str(result.status):
        return bound, None, multipliers
    u = np.asarray(result.x[:h])
    return bound, u if norm.orthogonal_form is None else norm.orthogonal_form[0].T @ u, multipliers


def project_onto_cone(cone_rows, g, *, tol=1e-12, max_rounds=1000):
    """Euclidean projection of ``g`` onto the polyhedral cone ``{u : cone_rows @ u >= 0}``.

    Computed through the polar cone, ``Proj(g) = g + cone_rows^T lam`` with ``lam`` the
    non-negative least-squares solution of ``min ||g + cone_rows^T lam||``, over the rows that
    cutting planes find necessary.

    Parameters
    ----------
    cone_rows : ndarray of shape (n_rows, patch_size)
    g : ndarray of shape (patch_size,)
    tol : float, default=1e-12
        Relative violation of a row that is tolerated in the result (beside the rounding
        that :func:`cone_projections` allows).
    max_rounds : int, default=1000
        Rounds of cutting planes; where they leave a row violated, the projection is
        computed on every row at once.

    Returns
    -------
    u : ndarray of shape (patch_size,)
    """
    from ._formulations._program import GroupProgram

    cone_rows = np.asarray(cone_rows, dtype=float)
    g = np.asarray(g, float)
    program = GroupProgram(np.zeros((1, 0, cone_rows.shape[1])), cone_rows[None])
    U, exact, _ = cone_projections(program, [0], g[None], tol=tol, max_rounds=max_rounds)
    if exact[0]:
        return U[0]
    # (the relaxed projection is no point of the cone: the caller puts a group there)
    return checked_projection(cone_rows, g, tol)


def pattern_prices(program, v, *, beta=None, tol=1e-10, max_rounds=100):
    """The prices ``p_i(+-A_i^T v)`` of every pattern (:func:`cone_prices`), for the Euclidean
    norm ``||Proj_{C_i}(+-A_i^T v)||``.

    The dual constraints hold iff all are ``<= beta``; a zero group ``c_i`` (``c'_i``) is optimal
    iff its entry is ``<= beta`` (KKT).

    Parameters
    ----------
    program : GroupProgram or operator
    v : ndarray of shape (n_samples,)
        A dual vector, e.g. from :func:`dual_point`.
    beta : float, default=None
        When given, entries at most ``beta`` may be returned as upper bounds (cheap screening:
        ``p_i(g) <= R*(g)``, ``||g||`` for the Euclidean norm); entries above ``beta`` are
        exact where their cutting planes converge within ``max_rounds`` (upper bounds
        otherwise).
    tol, max_rounds
        See :func:`cone_projections`.

    Returns
    -------
    prices : ndarray of shape (2, n_patterns)
        ``prices[0]`` for ``+A_i^T v`` (groups ``c_i``), ``prices[1]`` for ``-A_i^T v``
        (``c'_i``). Always upper bounds on the true values, so ``max(prices)`` gives a valid
        dual scaling.
    """
    operator = as_operator(program)
    correlations = operator.correlations(np.asarray(v, dtype=float))
    prices = np.empty((2, operator.n_patterns))
    for sign_index, sign in enumerate((1.0, -1.0)):
        prices[sign_index], _, _ = cone_prices(
            operator,
            np.arange(operator.n_patterns),
            sign * correlations,
            beta=beta,
            tol=tol,
            max_rounds=max_rounds,
        )
    return prices


def max_pattern_price(program, v, *, tol=1e-10, max_rounds=100, batch=8):
    """``pattern_prices(program, v).max()``, projecting exactly only the patterns that can be it.

    Every pattern first gets a cheap upper bound (its projection onto the cone of its
    candidate rows, :meth:`~._formulations._operator.PatchOperator.candidate_rows`, or
    ``||A_i^T v||``); patterns are then projected exactly in decreasing order of their bound,
    ``batch`` at a time, until no bound exceeds the largest exact value found. E.g.
    ``beta_max``, the smallest ``beta`` whose optimum is the empty network.

    Parameters
    ----------
    program : GroupProgram or operator
    v : ndarray of shape (n_samples,)
    tol, max_rounds
        See :func:`cone_projections`.
    batch : int, default=8

    Returns
    -------
    value : float
        An upper bound, equal to the maximum wherever the projections converge in
        ``max_rounds``.
    """
    operator = as_operator(program)
    correlations = operator.correlations(np.asarray(v, dtype=float))
    G = np.concatenate([correlations, -correlations])
    index = np.tile(np.arange(operator.n_patterns), 2)
    bounds = cone_prices(operator, index, G, max_rounds=0)[0]
    order = np.argsort(-bounds, kind="stable")
    best = 0.0
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        part = part[bounds[part] > best]
        if len(part) == 0:
            break  # the bounds are sorted: none of the rest can exceed best
        prices, _, _ = cone_prices(
            operator, index[part], G[part], beta=best, tol=tol, max_rounds=max_rounds
        )
        best = max(best, float(prices.max()))
    return best


def dual_point(loss, f, y, fit_intercept):
    """The dual vector of the primal fit ``f``, made to satisfy ``sum(v) = 0`` with an intercept.

    The squared loss's residual is centred. For the logistic loss the larger of the two class
    sums is shrunk to the smaller, which keeps ``y_j v_j`` in [0, 1]. At the optimum the
    intercept already makes ``sum(v) = 0`` and both changes vanish.

    Parameters
    ----------
    loss : {"squared", "logistic"}
    f : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,)
    fit_intercept : bool

    Returns
    -------
    v : ndarray of shape (n_samples,)
    """
    v = dual_vector(loss, f, y)
    if not fit_intercept:
        return v
    if loss == "squared":
        return v - v.mean()
    positive, negative = v[v > 0].sum(), -v[v < 0].sum()
    if positive > negative:
        return np.where(v > 0, v * (negative / positive), v)
    if negative > positive:
        return np.where(v < 0, v * (positive / negative), v)
    return v


def dual_objective(loss, v, y, fit_intercept):
    """Dual objective ``-L*(-v)``; ``-inf`` where ``v`` is outside the dual domain.

    Parameters
    ----------
    loss : {"squared", "logistic"}
    v : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,)
    fit_intercept : bool
        Adds the constraint ``sum(v) = 0`` (to ``1e-9`` relative to ``sum(|v|)``).

    Returns
    -------
    value : float
    """
    v = np.asarray(v, dtype=float)
    if fit_intercept and abs(v.sum()) > 1e-9 * max(np.abs(v).sum(), 1e-300):
        return -np.inf
    if loss == "squared":
        # with an intercept sum(v) = 0, so y . v is (y - mean(y)) . v, without the offset's
        # cancellation: on targets of 1e9 that loses eps * sum|y v|, and certify would bound
        # an objective of 5e-8 from 5e-4 of it above
        if fit_intercept:
            y = y - mean(y)
        return float(y @ v - 0.5 * v @ v)
    p = y * v
    if np.any(p < -1e-12) or np.any(p > 1 + 1e-12):
        return -np.inf
    p = np.clip(p, 0.0, 1.0)
    return float(-np.sum(xlogy(p, p) + xlogy(1 - p, 1 - p)))


def scaled_dual_objective(loss, v, y, fit_intercept, *, beta, top):
    """:func:`dual_objective` at ``v`` scaled into the dual feasible set: by ``beta / top``
    where ``top``, the largest price of ``v`` over the groups, exceeds ``beta``. Every such
    value is a lower bound on the optimum (weak duality)."""
    return dual_objective(loss, v * min(1.0, beta / max(top, 1e-300)), y, fit_intercept)


def duality_gap(program, loss, f, y, *, beta, primal, fit_intercept, tol=1e-10):
    """Duality gap of a primal point: its objective minus a dual lower bound.

    The dual point is :func:`dual_point` of ``f`` scaled by ``min(1, beta / max(pattern_prices))``,
    which makes it feasible, so ``primal - gap`` is a lower bound on the optimum *whatever* the
    primal point. ``primal`` must be the objective of a feasible point (every group in its cone).

    Parameters
    ----------
    program : GroupProgram or operator
    loss : {"squared", "logistic"}
    f : ndarray of shape (n_samples,)
        The primal fit ``sum_i A_i (c_i - c'_i) + b``.
    y : ndarray of shape (n_samples,)
    beta : float
    primal : float
    fit_intercept : bool
    tol : float, default=1e-10
        Feasibility tolerance of the cone projections.

    Returns
    -------
    gap : float
    dual : float
        The dual lower bound.
    """
    dual, _ = dual_bound(program, loss, f, y, beta=beta, fit_intercept=fit_intercept, tol=tol)
    return primal - dual, dual


def dual_bound(program, loss, f, y, *, beta, fit_intercept, tol=1e-10):
    """The lower bound of :func:`duality_gap` (the dual vector of the fit ``f``, scaled into
    every constraint of ``program``) and that vector's largest price."""
    v = dual_point(loss, f, y, fit_intercept)
    top = float(pattern_prices(program, v, beta=beta, tol=tol).max(initial=0.0))
    return scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top), top
