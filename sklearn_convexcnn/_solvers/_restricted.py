"""The restricted problem on a few groups, for the working-set solvers (:mod:`._native`,
:mod:`._three_layer`)::

    min_{c, b}  L(sum_j M_j c_j + b) + beta * sum_j R(c_j)   s.t.  K_j c_j >= 0

* :func:`proximal_newton`: each step minimizes the loss's quadratic model plus the penalty
  under the kept rows, a small second-order cone QP (:func:`solve_qp`, Clarabel called
  directly, no CVXPY compilation);
* :func:`polish`: Newton's method on the face of the point's nonzero groups and tight rows
  (:func:`newton_on_face`, :func:`newton_on_blocks`), which takes an interior point to the
  exact KKT point of its face;
* :func:`clean`: the interior point's residue, zeroed.

The Newton method over faces of Euclidean groups, which is tried first, is :mod:`._faces`.
"""

import math

import numpy as np
import scipy.sparse as sp

from .._formulations._program import GroupNorm
from .._formulations._pruning import RESIDUE
from .._losses import dual_vector, loss_value
from .._optimality import price_at_zero
from ._linalg import hessian_weights, newton_step, null_space, weighted_gram
from ._solution import SolverFailed

# Smallest Hessian weight of a proximal Newton model, relative to the largest. 1e-12 left
# the separable circular fit of test_native_solver unbounded; 1e-8 moved the certificate of
# bad_scales.py's logistic row at scale 100 from 1e-7 of the objective to 3.4e-7.
_WEIGHT_FLOOR = 1e-10
# Largest move of a sample's fit that a logistic model's target asks, ``dual / weight``:
# ``1 + e^m`` on a sample misclassified by a margin ``m``. Bounded by _WEIGHT_FLOOR alone, it
# put an entry of 3.7e11 among targets of 1e2 into a centred QP, which Clarabel declared
# 'PrimalInfeasible' (all zero is feasible); capped at 1e3 to 1e6 it was 'Solved', at 1e7 not.
_LARGEST_MOVE = 1e4


def solve_qp(
    M, weights, gram, linear, beta, patch_size, kept_rows, tol, norm_blocks, coupling=None,
    unit=1.0, target=None,
):  # fmt: skip
    """``min 0.5 x^T M^T W M x + linear^T x + beta * sum_j R(c_j)`` s.t. ``G_j c_j >= 0``
    (and ``K x >= 0``).

    ``x = (c_1, ..., c_S[, b])``, ``W = diag(weights)`` (``gram``, if given, is ``M^T W M``);
    ``kept_rows[j]`` holds the kept rows of ``G_j``; ``R(c) = sum_b ||T_b c||`` with
    ``norm_blocks`` the ``T_b`` (:meth:`GroupNorm.conic_blocks`); ``coupling``, if given, is
    ``K``: rows over several groups (a three-layer branch's second ReLU layer). Solved by
    Clarabel with epigraph variables ``t_jb >= ||T_b c_j||``. Returns ``x`` and the
    multipliers ``mu >= 0`` of the rows of ``K``, for which ``grad + beta dR = K^T mu`` on the
    groups (plus the cone rows' terms).

    With fewer samples than variables, the fit ``r = M x`` becomes a variable of its own: the
    Hessian ``W`` on ``r`` is diagonal, and a factorization costs about ``n^2 |x|`` instead of
    the ``|x|^3`` of the dense ``M^T W M``. Circular programs (full-length filters, most groups
    active) have a thousand variables and more for a hundred samples.

    ``unit`` is the size expected of the groups' coefficients: the QP is solved with them in
    that unit (:func:`_in_units`), as Clarabel is accurate on solutions of about unit size or
    less, and can stop short on larger ones whatever its tolerance.

    ``target``, if given, is the fit ``t`` the model is centred on, ``linear = -M^T W t`` (a
    proximal Newton model's: :func:`proximal_newton`); the objective is then
    ``0.5 ||M x - t||_W^2`` plus the penalty, less a constant, and a lifted QP fits
    ``r = M x - t`` instead of ``r = M x``. Its objective is then the program's, without the
    constant ``-0.5 ||t||_W^2``, which Clarabel's relative gaps are otherwise measured
    against: where the fit nearly interpolates ``t`` they allow errors of the size of the
    program's objective. Four circular fits stalled at 1.2e-7 to 4.5e-3 of their objective
    (their QPs at 1e-12 left the dual vector's prices 4e-7 to 3e-3 above ``beta``, the
    vector ``y - M x`` of 0.04 against ``||y|| = 588`` in one); centred, the QPs were
    'Solved' at 1e-9 with those prices 1e-9 to 9e-8 above it, and the fits certified to
    2e-9 to 3e-8. With at least as many samples as variables the QP fits ``r = R x - Q^T
    W^(1/2) t`` (``W^(1/2) M = Q R``), as many rows as variables: its objective is the
    program's less the part of ``0.5 ||t||_W^2`` that no ``x`` fits, still at least zero.
    Uncentred, 6 of 24 such QPs of a circular fit (noise-free targets, 300 signals of size
    100, ``beta=1e-6``) ended other than 'Solved' and it stalled at 0.43 of its objective;
    centred, it certified to 1.8e-10. Three-layer fits of such targets stalled at 1.6 to 16
    times Clarabel's objective in 9 of 15 draws; centred, 5 of those 9 certified.
    """
    if unit != 1.0:
        return _in_units(
            M, weights, gram, linear, beta, patch_size, kept_rows, tol, norm_blocks, coupling,
            unit, target,
        )  # fmt: skip

    # In the data's units (the groups scaled so that the largest entry of M is one, the
    # objective divided by about its size) where the objective is below unit size, as
    # Clarabel's absolute gaps there misjudge it (a QP of size 1e-8 was 'Solved' 8e-3 off its
    # minimizer), then as given. Otherwise as given, and where that is not 'Solved' and the
    # entries are below one, scaled up (on inputs of size 1e-3 the QPs ended 'AlmostSolved'
    # or failed, 3x above the optimum); never scaled down (inputs of size 1e3 stalled, and on
    # logistic signals of size 100 a failed QP, which ends the steps, went on for 13 more).
    def as_given():
        return (M, weights, gram, linear, beta, coupling), 1.0, 1.0

    def in_data_units():  # (built only when tried)
        return _in_data_units(M, weights, gram, linear, beta, coupling, patch_size * len(kept_rows))

    if _objective_size(M, weights, gram, linear, beta) < 1.0:
        tries = [in_data_units, as_given]
    elif np.abs(M[:, : patch_size * len(kept_rows)]).max(initial=0.0) < 1.0:
        tries = [as_given, in_data_units]
    else:
        tries = [as_given]
    status, x, z = None, None, None
    for posed in tries:
        problem, x_units, z_units = posed()
        again = _clarabel_qp(
            *problem[:5], patch_size, kept_rows, tol, norm_blocks, problem[5], target
        )
        if status is None or again[0] == "Solved" or status != "AlmostSolved":
            status, x, z = again[0], again[1] * x_units, again[2] * z_units
        if status == "Solved":
            break
    # an almost solved QP (Clarabel's reduced tolerances, 1e-4) is still a step: the
    # certificate judges where the steps end, and the two-layer solver puts the point back
    # on the kept rows (_native._restricted_solve)
    if status not in ("Solved", "AlmostSolved"):
        n_coef = patch_size * len(kept_rows)
        raise SolverFailed(f"the restricted problem ({n_coef} variables) stopped with {status}")
    return x, z


def _in_units(
    M, weights, gram, linear, beta, patch_size, kept_rows, tol, norm_blocks, coupling, unit,
    target=None,
):  # fmt: skip
    """:func:`solve_qp` with the groups' coefficients ``x = unit * x~``: their columns (and
    coupling columns) and ``beta`` times ``unit``; the multipliers are the same. A circular
    restricted QP of coefficients of 4e4 (inputs of size 1e4 at ``beta=1``) was 'Solved' at
    ``tol=1e-9`` and 'AlmostSolved' at ``1e-12`` with its fit 8e-4 off, which moved the
    prices of the dual vector to 12 times ``beta``; in units where they were of size 3 down
    to 3e-4 it was 'Solved' with its fit 1e-7 off and those prices ``beta`` to 1e-4 (of size
    8 and more, 'AlmostSolved' again, 4e-4 to 6e-4 off)."""
    scale = np.ones(M.shape[1])
    scale[: patch_size * len(kept_rows)] = unit
    x, z = solve_qp(
        M * scale, weights, None if gram is None else gram * np.outer(scale, scale),
        linear * scale, beta * unit, patch_size, kept_rows, tol, norm_blocks,
        None if coupling is None else coupling * scale, target=target,
    )  # fmt: skip
    return x * scale, z


def coefficient_unit(size):
    """The unit for :func:`solve_qp` of coefficients expected of ``size``: the least power of
    two above ``size`` (twice it where it is one), 1 where ``size`` is at most one or not
    finite (large coefficients are what Clarabel solves
    inaccurately; a circular fit's of 0.02, in units of 0.03, stalled at 5.6e-7 of its
    objective where it was certified to 1.8e-8 as given)."""
    if not 1.0 < size < np.inf:
        return 1.0
    return math.ldexp(1.0, math.frexp(size)[1])


def _in_data_units(M, weights, gram, linear, beta, coupling, n_coef):
    """:func:`solve_qp`'s problem for its second try, ``(M, weights, gram, linear, beta,
    coupling)``, with the groups in units of one over the largest entry of their columns and
    the objective divided by its size there (``max(|linear|, beta)^2`` over the largest
    curvature, the value of a one-dimensional model); and the two units."""
    largest = float(np.abs(M[:, :n_coef]).max(initial=0.0))
    units = np.ones(M.shape[1])
    units[:n_coef] = 1.0 / largest if largest > 0 else 1.0
    M, linear, beta = M * units, linear * units, beta * units[0]
    gram = None if gram is None else gram * np.outer(units, units)
    size = _objective_size(M, weights, gram, linear, beta)
    scaled = (
        M,
        weights / size,
        None if gram is None else gram / size,
        linear / size,
        beta / size,
        None if coupling is None else coupling * units,
    )
    return scaled, units, size


def _objective_size(M, weights, gram, linear, beta):
    """The size of a QP's objective: ``max(|linear|, beta)^2`` over the largest curvature,
    the value of a one-dimensional model (1 where that is not a positive number)."""
    curvature = gram.diagonal() if gram is not None else (M**2).T @ weights
    largest = max(float(np.abs(linear).max(initial=0.0)), beta)
    # (a product, not ** 2: a Python float's power raises OverflowError past 1.3e154)
    size = largest * largest / max(float(curvature.max(initial=0.0)), 1e-300)
    return size if 0 < size < np.inf else 1.0


def _clarabel_qp(
    M, weights, gram, linear, beta, patch_size, kept_rows, tol, norm_blocks, coupling=None,
    target=None,
):  # fmt: skip
    """:func:`solve_qp` by one Clarabel solve; returns its status, ``x`` and ``mu``."""
    import clarabel

    n_groups = len(kept_rows)
    n_samples, n_x = M.shape
    h = patch_size
    n_blocks, size, _ = norm_blocks.shape
    n_t = n_groups * n_blocks
    if target is not None and n_samples >= n_x:
        # centred with at least as many samples as variables: the fit in the range of M,
        # W^(1/2) M = Q R, r = R x - Q^T W^(1/2) t, so that the lifted QP has as many rows as
        # variables (its objective is the program's less the part of 0.5 ||t||_W^2 that no x
        # fits); its factorizations then cost what the dense Hessian's do
        root = np.sqrt(weights)
        Q, M = np.linalg.qr(root[:, None] * M)
        weights, target = np.ones(n_x), Q.T @ (root * target)
        n_samples = n_x
    lifted = n_samples < n_x or target is not None
    n_r = n_samples if lifted else 0
    if lifted:
        quadratic = [sp.csc_matrix((n_x, n_x)), sp.diags(weights)]
    else:
        H = gram if gram is not None else weighted_gram(M, weights)
        quadratic = [sp.csc_matrix(np.triu(H))]
    P = sp.block_diag([*quadratic, sp.csc_matrix((n_t, n_t))])
    # (centred, the lifted fit is r = M x - target, which carries the linear term)
    centred = target is not None
    q = np.concatenate([np.zeros(n_x) if centred else linear, np.zeros(n_r), np.full(n_t, beta)])
    # A in one COO pass: the fit's rows (lifted: M x - r = 0), the kept rows of every cone
    # (-G_j on c_j), then for every group and block the second-order block (-t_jb, -T_b c_j);
    # loops over lil matrices cost ~15 ms per QP
    sizes = np.array([len(rows) for rows in kept_rows], dtype=int)
    n_cone_rows = int(sizes.sum())
    group_of_row = np.repeat(np.arange(n_groups), sizes)
    stacked = np.concatenate([np.reshape(rows, (-1, h)) for rows in kept_rows] or [[]])
    lin_rows = n_r + np.repeat(np.arange(n_cone_rows), h)
    lin_cols = (group_of_row[:, None] * h + np.arange(h)).ravel()
    # second-order block (j, b) starts at row soc_start[j, b]: its t, then T_b c_j
    soc_start = n_r + n_cone_rows + np.arange(n_t).reshape(n_groups, n_blocks) * (size + 1)
    block_b, block_r, block_k = np.nonzero(norm_blocks)  # (the identity: h entries, not h^2)
    soc_rows = np.concatenate([soc_start.ravel(), (soc_start[:, block_b] + 1 + block_r).ravel()])
    soc_cols = np.concatenate(
        [n_x + n_r + np.arange(n_t), (np.arange(n_groups)[:, None] * h + block_k).ravel()]
    )
    soc_values = np.concatenate(
        [-np.ones(n_t), np.tile(-norm_blocks[block_b, block_r, block_k], n_groups)]
    )
    fit_rows, fit_cols = np.nonzero(M) if lifted else (np.zeros(0, int), np.zeros(0, int))
    # the coupling rows go last, after the second-order blocks
    coupling = np.zeros((0, n_x)) if coupling is None else coupling
    n_c = len(coupling)
    coupling_rows, coupling_cols = np.nonzero(coupling)
    n_soc_rows = n_t * (size + 1)
    entries = [
        (M[fit_rows, fit_cols], fit_rows, fit_cols),
        (-np.ones(n_r), np.arange(n_r), n_x + np.arange(n_r)),
        (-np.ravel(stacked), lin_rows, lin_cols),
        (soc_values, soc_rows, soc_cols),
        (
            -coupling[coupling_rows, coupling_cols],
            n_r + n_cone_rows + n_soc_rows + coupling_rows,
            coupling_cols,
        ),
    ]
    values, rows, columns = (np.concatenate(part) for part in zip(*entries, strict=True))
    A = sp.csc_matrix(
        (values, (rows, columns)),
        shape=(n_r + n_cone_rows + n_soc_rows + n_c, n_x + n_r + n_t),
    )
    cones = [clarabel.ZeroConeT(n_r)] if lifted else []
    cones += [clarabel.NonnegativeConeT(n_cone_rows)] if n_cone_rows else []
    cones += [clarabel.SecondOrderConeT(size + 1)] * n_t
    cones += [clarabel.NonnegativeConeT(n_c)] if n_c else []
    b = np.zeros(A.shape[0])
    if centred:
        b[:n_r] = target
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = tol
    settings.tol_gap_rel = tol
    settings.tol_feas = tol
    settings.max_iter = 200
    # The QPs are small and their Hessian dense: QDLDL factors them 2-2.5x faster than the
    # supernodal faer that "auto" picks (digits, 2x2 regions: 6.5 s against 16 s per class).
    settings.direct_solve_method = "qdldl"
    solver = clarabel.DefaultSolver(sp.triu(P).tocsc(), q, A, b, cones, settings)
    result = solver.solve()
    status = str(result.status)
    return status, np.asarray(result.x[:n_x]), np.asarray(result.z[A.shape[0] - n_c :])


EUCLIDEAN = GroupNorm()


def objective(loss, f, y, beta, coef, norm=EUCLIDEAN):
    return loss_value(loss, f, y) + beta * float(norm(coef).sum())


def proximal_newton(
    M, y, x, *, beta, loss, gram, kept_rows, patch_size, norm, qp_tol, coupling=None, unit=1.0,
    centred=False,
):  # fmt: skip
    """Minimize ``loss(M x, y) + beta * sum_j R(c_j)`` on the kept cone rows ``kept_rows[j]``
    of each group (and ``coupling x >= 0``) by proximal Newton from ``x``: each step an
    interior-point QP of the loss's quadratic model (one step, exact, for the squared loss,
    whose ``gram`` is ``M^T M``).

    ``x`` holds the groups (``len(kept_rows)`` of ``patch_size``) and, after them, any intercept;
    ``unit`` is the size expected of the groups' coefficients (:func:`solve_qp`). With
    ``centred``, each QP is centred on its model's target fit (``target`` of :func:`solve_qp`;
    the native and three-layer solvers' QPs are).

    Returns
    -------
    x : ndarray
    objective : float
    multipliers : ndarray of shape (len(coupling),)
        Those of the coupling rows in the last QP (:func:`solve_qp`).
    """
    n_groups, h = len(kept_rows), patch_size

    def coef_of(z):
        return z[: n_groups * h].reshape(n_groups, h)

    def value_of(z):
        return objective(loss, M @ z, y, beta, coef_of(z), norm)

    current = value_of(x)
    multipliers = np.zeros(0 if coupling is None else len(coupling))
    for step in range(50):
        f = M @ x
        dual = dual_vector(loss, f, y)
        gradient = -(M.T @ dual)
        # floored: the logistic loss's weights underflow to zero on samples it classifies by
        # a wide margin, and a model without their curvature can be unbounded below (Clarabel:
        # DualInfeasible; a circular fit on nearly separable data ended at its empty start)
        weights = hessian_weights(loss, f, y)
        weights = np.maximum(weights, _WEIGHT_FLOOR * weights.max())
        if loss == "logistic":
            # and where the loss is nearly linear (a sample misclassified by a wide margin),
            # enough curvature that the model's target is within _LARGEST_MOVE of the fit; the
            # gradient stays exact and the step a descent. A full first step from a point that
            # violated new rows misclassified a sample by 43 (circular fits of nearly
            # separable labels at beta=1e-6), and every restricted solve after it failed: the
            # fits ended at the empty network
            weights = np.maximum(weights, np.abs(dual) / _LARGEST_MOVE)
        curvature_x = gram @ x if gram is not None else M.T @ (weights * f)
        # (the model's centre: gradient - curvature_x = -M^T W (f + dual / W))
        target = f + dual / weights if centred and weights.all() else None
        z, multipliers = solve_qp(
            M, weights, gram, gradient - curvature_x, beta, h, kept_rows, qp_tol,
            norm.conic_blocks(h), coupling, unit=unit, target=target,
        )  # fmt: skip
        if loss == "squared":
            return z, value_of(z), multipliers
        direction = z - x
        decrease = gradient @ direction + beta * (norm(coef_of(z)).sum() - norm(coef_of(x)).sum())
        if step == 0 and (decrease >= 0 or not _feasible(coef_of(x), kept_rows, coupling, x)):
            # x violates newly added rows, or the model finds no descent from it (a conic
            # solver's point, better than the QP's accuracy): the first step goes all the way
            # to z. Kept, x came back unchanged, a stall (a polish from Clarabel's points on
            # 120 digits ended at 3.0e-7 of the objective against 2.5e-9)
            x, current = z, value_of(z)
            continue
        if -decrease <= 1e-3 * qp_tol * max(abs(current), 1.0):
            break
        alpha = 1.0
        while alpha > 1e-10:
            candidate = x + alpha * direction
            value = value_of(candidate)
            if value <= current + 0.1 * alpha * decrease:
                break
            alpha *= 0.5
        else:
            break
        x, current = candidate, value
    return x, current, multipliers


def _feasible(coef, kept_rows, coupling, x):
    """Whether the groups ``coef`` keep their ``kept_rows`` and ``x`` the ``coupling`` rows
    (to rounding), so that a line search from ``x`` stays in the program: a full first step
    from a feasible start can overshoot where the logistic loss is nearly linear (two equal
    samples of opposite labels from 4: to -23, where the Hessian weights of 7.6e-11 left
    the next model unbounded, and the restricted solve failed)."""
    for group, rows in zip(coef, kept_rows, strict=True):
        limit = -1e-12 * np.linalg.norm(group) * np.linalg.norm(rows, axis=1)
        if np.any(rows @ group < limit):
            return False
    if coupling is None:
        return True
    limit = -1e-12 * np.linalg.norm(x) * np.linalg.norm(coupling, axis=1)
    return not np.any(coupling @ x < limit)


def polish(M, y, x, *, beta, loss, fit_intercept, n_groups, h, kept_rows):
    """Newton's method on the face the interior-point point identifies; ``None`` if no better.

    Interior-point solutions balance the optimality conditions only to about ``1e-8``. On the
    face where the nonzero groups keep their tight rows at equality the program is smooth, so a
    few Newton steps there reach machine accuracy.

    The face first leaves out the interior-point residue: groups whose norm is far below the
    others (below one of the widest gaps in the sorted norms, or below ``1e-6`` of the
    largest), which the interior point keeps near zero rather than at zero.
    On the face their ``beta / ||c||`` curvature makes the Newton system singular, and the
    active groups keep a KKT residual of about ``1e-6`` that stalls the certificate above
    ``tol``. Zeroing them is
    right only if each stays optimal at zero, ``||Proj_{K_j}(A_j^T v)|| <= beta`` on its kept
    rows ``K_j``; otherwise the whole nonzero set is polished. A result is kept only if it is
    feasible and no worse than ``x`` (up to rounding).
    """
    coef = x[: n_groups * h].reshape(n_groups, h)
    norms = np.linalg.norm(coef, axis=1)
    if not norms.any():
        return None
    start_value = objective(loss, M @ x, y, beta, coef)
    for face in distinct_faces([*gap_faces(norms), norms > RESIDUE * norms.max(), norms > 0]):
        polished = newton_on_face(
            M, y, x, np.flatnonzero(face), loss, beta, fit_intercept, h, kept_rows
        )
        if polished is None:
            continue
        coef_p = polished[: n_groups * h].reshape(n_groups, h)
        f = M @ polished
        if objective(loss, f, y, beta, coef_p) > start_value + 1e-14 * abs(start_value):
            continue  # (worse beyond rounding)
        zeroed = np.flatnonzero(~face & (norms > 0))
        if len(zeroed) and not _optimal_at_zero(M, f, y, zeroed, loss, beta, h, kept_rows):
            continue
        return polished
    return None


def distinct_faces(faces):
    """The ``faces`` (masks over the groups) without repeats, in their order."""
    distinct = []
    for face in faces:
        if not any(np.array_equal(face, seen) for seen in distinct):
            distinct.append(face)
    return distinct


def gap_faces(norms, n_faces=3):
    """Faces that keep the groups above one of the widest gaps (10x or more) in the norms.

    Near-degenerate groups (price within ``1e-4`` of ``beta``) converge to zero slowly in the
    interior point and are left at ``1e-6`` to ``1e-4`` of the largest norm, above a fixed
    residue threshold; a gap between them and the active groups is what tells them apart.
    Widest gaps first. A face can leave out an active group: :func:`polish` rejects it
    (:func:`_optimal_at_zero`), and the three-layer polish keeps the lowest of its faces' points.
    """
    values = np.sort(norms[norms > 0])[::-1]
    ratios = values[:-1] / values[1:]
    widest = np.argsort(-ratios, kind="stable")[:n_faces]
    return [norms >= values[k] for k in widest if ratios[k] >= 10]


def _optimal_at_zero(M, f, y, groups, loss, beta, h, kept_rows):
    """Whether each group's KKT condition at zero holds: ``||Proj_{K_j}(A_j^T v)|| <= beta``."""
    v = dual_vector(loss, f, y)
    return all(
        price_at_zero(kept_rows[j], M[:, j * h : (j + 1) * h].T @ v, beta)[0] <= beta * (1 + 1e-12)
        for j in groups
    )


def newton_on_face(M, y, x, active, loss, beta, fit_intercept, h, kept_rows):
    """Newton's method with the groups ``active`` free on their tight rows' null space and
    every other group at zero; ``None`` where a group reaches zero or the result is infeasible."""
    n_groups = len(kept_rows)
    coef = x[: n_groups * h].reshape(n_groups, h)
    bases, B, w = face_coordinates(M, coef, active, kept_rows, tight=1e-6)
    if fit_intercept:
        B = np.hstack([B, np.ones((len(y), 1))])
        w = np.append(w, x[-1])
    w = newton_on_blocks(B, y, w, [basis.shape[1] for basis in bases], beta=beta, loss=loss)
    if w is None:
        return None
    polished = from_face(w, active, bases, coef.shape)
    for j in active:
        rows = kept_rows[j]
        if len(rows):
            slack = rows @ polished[j]
            limit = -1e-12 * np.linalg.norm(polished[j]) * np.linalg.norm(rows, axis=1)
            if np.any(slack < limit):
                return None
    return np.concatenate([polished.ravel(), [w[-1]] if fit_intercept else []])


def face_coordinates(M, coef, active, cones, *, tight):
    """The face of ``coef`` on which the groups ``active`` (nonzero) keep the rows of their
    ``cones[j]`` that are tight at ``coef[j]`` (a slack below ``tight`` relative to the norms) at
    zero.

    A nonzero group lies on its own face. So where a group's tight rows leave a face that does
    not hold it (within ``10 * tight`` of its norm), or only zero, some of them are not tight
    at all, and the fewest of them, loosest first, are left out (:func:`_face_basis`). One
    row at ``8.6e-6`` of the norm, the others at ``2e-9`` and below, left a three-layer group
    no face, and its solve stalled at ``6.4e-6`` of the optimum with the point there
    (``benchmarks/README.md``, "Three-layer programs with every pattern"); and nearly
    parallel rows, all tight, can leave a direction at 45 degrees from the group.

    Returns each active group's orthonormal basis of its face, the design in the face's
    coordinates, ``[M_j basis_j]``, and ``coef``'s coordinates.
    """
    h = coef.shape[1]
    bases = [_face_basis(cones[j], coef[j], tight) for j in active]
    pairs = list(zip(active, bases, strict=True))
    B = np.hstack([M[:, j * h : (j + 1) * h] @ basis for j, basis in pairs])
    w = np.concatenate([basis.T @ coef[j] for j, basis in pairs])
    return bases, B, w


def _face_basis(rows, c, tight):
    """Orthonormal basis of the null space of the ``rows`` tight at ``c`` (a slack below
    ``tight`` relative to the norms), the loosest left out until it holds ``c``."""
    h = len(c)
    if not len(rows):
        return np.eye(h)
    row_norms = np.linalg.norm(rows, axis=1)
    slack = rows @ c / np.where(row_norms > 0, row_norms, 1.0)
    tight_rows = np.flatnonzero(slack <= tight * np.linalg.norm(c))
    tight_rows = rows[tight_rows[np.argsort(slack[tight_rows], kind="stable")]]
    # every set of rows ranked at the scale of all of them: a row only raises the singular
    # values, so faces then only grow as rows leave (against its own largest singular value,
    # a set could leave a direction that a larger one does not)
    scale = np.linalg.norm(tight_rows, 2) if len(tight_rows) else 0.0

    def face_holding_c(count):
        basis = null_space(tight_rows[:count], h, scale=scale)
        off = np.linalg.norm(c - basis @ (basis.T @ c))
        return basis if off <= 10 * tight * np.linalg.norm(c) else None

    basis = face_holding_c(len(tight_rows))
    if basis is not None:
        return basis
    # the most rows (the tightest) whose face holds c, by bisection, as thousands of rows can
    # be tight on degenerate data
    kept, too_many, basis = 0, len(tight_rows), np.eye(h)
    while too_many - kept > 1:
        middle = (kept + too_many) // 2
        candidate = face_holding_c(middle)
        if candidate is None:
            too_many = middle
        else:
            kept, basis = middle, candidate
    return basis


def from_face(w, active, bases, shape):
    """The groups' coefficients, of ``shape``, at the face coordinates ``w`` (those of
    :func:`face_coordinates`; any entries after them are ignored)."""
    coef = np.zeros(shape)
    start = 0
    for j, basis in zip(active, bases, strict=True):
        coef[j] = basis @ w[start : start + basis.shape[1]]
        start += basis.shape[1]
    return coef


def newton_on_blocks(B, y, w, sizes, *, beta, loss, subspace=None):
    """Minimize ``loss(B x, y) + beta * sum_j ||x_j||`` by Newton's method from ``x = w``.

    ``x_j`` are the leading blocks of ``sizes``; any entries after them (an intercept) are not
    penalized. With ``subspace`` (orthonormal columns ``Z``, with ``w`` in their range), over
    ``x = Z omega`` only: linear equalities held, such as a three-layer branch's tight
    second-layer rows. Returns ``x``, or ``None`` where a block reaches zero (the norm is not
    smooth there).
    """
    Z = np.eye(len(w)) if subspace is None else subspace
    splits = np.cumsum(sizes)[:-1]
    n_w = int(sum(sizes))

    def value(x):
        norms = [np.linalg.norm(part) for part in np.split(x[:n_w], splits)]
        return loss_value(loss, B @ x, y) + beta * float(sum(norms))

    def derivatives(x):
        """The gradient and the Hessian at ``x``, or ``None`` where a block is zero."""
        f = B @ x
        gradient = -(B.T @ dual_vector(loss, f, y))
        hessian = weighted_gram(B, hessian_weights(loss, f, y))
        offset = 0
        for part in np.split(x[:n_w], splits):
            size, norm = len(part), np.linalg.norm(part)
            if norm == 0:
                return None
            unit = part / norm
            gradient[offset : offset + size] += beta * unit
            hessian[offset : offset + size, offset : offset + size] += (
                beta / norm * (np.eye(size) - np.outer(unit, unit))
            )
            offset += size
        return gradient, hessian

    x = w
    current = value(x)
    settling = None  # the reduced gradient's norm and x before the last full step
    for _ in range(30):
        found = derivatives(x)
        if found is None:
            return None
        gradient, hessian = found
        reduced = Z.T @ gradient
        if settling is not None:
            # full steps go on while each at least halves the gradient: on a flat face (a
            # singular Hessian) one alone left 6e-9 of beta, and a three-layer certificate
            # 2.4e-9 of the objective against tol=1e-9 (3.4e-13 of beta after one more)
            reduced_norm, before = settling
            if np.linalg.norm(reduced) > reduced_norm:
                x = before
            if np.linalg.norm(reduced) > 0.5 * reduced_norm:
                break
        step = Z @ newton_step(Z.T @ hessian @ Z, reduced)
        decrease = gradient @ step
        if decrease >= 0:
            break
        if settling is not None or -decrease <= 1e-14 * max(abs(current), 1.0):
            # below what the objective resolves, so no line search can judge the step; this
            # close, the full Newton step is the accurate one (it zeroes a gradient of 1e-8),
            # and the gradient judges it
            settling = np.linalg.norm(reduced), x
            x = x + step
            continue
        alpha = 1.0
        while alpha > 1e-6:
            candidate = x + alpha * step
            candidate_value = value(candidate)
            if candidate_value <= current + 1e-4 * alpha * decrease:
                break
            alpha *= 0.5
        else:
            break
        x, current = candidate, candidate_value
    else:
        if settling is not None:  # (the last iteration's full step, judged as in the loop)
            found = derivatives(x)
            if found is None:
                return None
            if np.linalg.norm(Z.T @ found[0]) > settling[0]:
                x = settling[1]
    return x


def clean(coef, beta, scale, norm):
    """Zero the groups that are interior-point residue (cost far below the accuracy)."""
    norms = norm(coef)
    residue = (norms <= 1e-10 * norms.max(initial=0.0)) | (beta * norms <= 1e-14 * scale)
    coef = coef.copy()
    coef[residue] = 0.0
    return coef
