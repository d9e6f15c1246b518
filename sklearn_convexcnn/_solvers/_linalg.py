"""Dense linear algebra that the restricted-problem solvers share (:mod:`._faces`,
:mod:`._restricted`, :mod:`._three_layer`)."""

import numpy as np
import scipy.linalg
from scipy.special import expit

# newton_step: a Cholesky pivot (squared) below this fraction of its diagonal entry is
# rounding (2e-16 to 1.5e-14 on a Hessian with four null directions), not curvature
_DEPENDENT = 1e-13


def null_space(rows, h, *, scale=None):
    """Orthonormal basis of ``{u : rows @ u = 0}``, shape (h, k).

    Singular values at most ``1e-9`` times ``scale`` (default: the largest) count as zero.
    Rows that are rounding residue need the scale of what they were computed from: relative
    to their own largest singular value, they are full rank."""
    if not len(rows):
        return np.eye(h)
    # all h right singular vectors, without the left ones: thousands of rows can be tight on
    # degenerate data (a full U of 2641 x 2641 took 0.17 s, a third of a warm-started fit)
    _, singular, vt = np.linalg.svd(rows, full_matrices=len(rows) < h)
    scale = singular[0] if scale is None else max(scale, singular[0])
    rank = np.count_nonzero(singular > 1e-9 * scale) if scale > 0 else 0
    return vt[rank:].T


def hessian_weights(loss, f, y):
    """The loss's second derivative in ``f``, sample by sample."""
    if loss == "squared":
        return np.ones_like(f)
    p = expit(y * f)
    return p * (1 - p)


def weighted_gram(B, weights, *, rows=None):
    """``B^T diag(weights) B`` for ``weights >= 0``, as the symmetric product ``C^T C`` with
    ``C = sqrt(weights) B``: BLAS forms it in half the flops of ``B^T (weights B)``. With
    ``rows``, ``C`` is formed ``rows`` rows at a time (a copy of at most that many rows)."""
    if rows is None or len(B) <= rows:
        C = np.sqrt(weights)[:, None] * B
        return C.T @ C
    gram = np.zeros((B.shape[1], B.shape[1]))
    for start in range(0, len(B), rows):
        C = np.sqrt(weights[start : start + rows])[:, None] * B[start : start + rows]
        gram += C.T @ C
    return gram


def newton_step(hessian, gradient):
    """``-hessian^{-1} gradient``: Cholesky (10-20x faster than an SVD at a few hundred
    variables), the least-norm least-squares step where the Hessian is singular (to rounding
    too: a pivot of ``_DEPENDENT`` times its diagonal entry or less) or the solve inaccurate,
    no step (zeros) where the Hessian or the gradient is not finite.

    Least norm in these coordinates, with singular values below 1e-14 of the largest taken
    for zero: the step has no part along the Hessian's null directions (which move weight
    between twin groups: the comment on the pivots below), and curvature that small is
    rounding or a penalty's (``beta=1e-12``). The same in the coordinates that give the
    Hessian a unit diagonal was tried (8d145d9, reverted): its step moved along null
    directions whose diagonal entries differ (twins of unequal norms), and three-layer
    polishes that had succeeded left the second layer's cone.

    ``cho_factor``, not ``solve(assume_a="pos")``: the latter warns on ill-conditioning,
    which the residual below judges anyway, and silencing it would take
    ``warnings.catch_warnings``, process-wide state that threads (joblib's threading
    backend) corrupt.
    """
    try:
        factor = scipy.linalg.cho_factor(hessian, check_finite=False)
        # A Hessian singular to rounding (groups whose fits are collinear, such as a
        # three-layer program's twin groups) can still factor, with pivots of rounding size;
        # its step then goes arbitrarily far along the null directions, which the residual
        # below does not see (a three-layer polish walked 0.37 along them and out of the
        # second layer's cone, where the last bit of its start let the factor succeed). A
        # pivot that small against its diagonal entry calls for the least-norm step.
        pivots = np.diag(factor[0]) ** 2
        if np.all(pivots > _DEPENDENT * np.diag(hessian)):
            step = scipy.linalg.cho_solve(factor, -gradient, check_finite=False)
        else:
            step = None
    except np.linalg.LinAlgError:
        step = None
    # (not "residual > bound": a NaN residual, from a factor of a singular Hessian, is not)
    if step is None or not np.linalg.norm(hessian @ step + gradient) <= 1e-10 * max(
        np.linalg.norm(gradient), 1e-300
    ):
        if not (np.isfinite(hessian).all() and np.isfinite(gradient).all()):
            # (LAPACK's least squares prints "illegal value" on a NaN, and gelsd looped
            # without end on one Hessian with a NaN beside a twin pair)
            return np.zeros_like(gradient)
        try:
            step = np.linalg.lstsq(hessian, -gradient, rcond=1e-14)[0]
        except np.linalg.LinAlgError:
            # LAPACK's SVD (gelsd) can fail to converge on a finite Hessian of condition
            # 1e18 (beta=1e-10 on the regressor's docstring data); a pivoted QR
            # does not iterate
            step = scipy.linalg.lstsq(
                hessian, -gradient, cond=1e-14, lapack_driver="gelsy", check_finite=False
            )[0]
    return step
