"""The restricted problem by an active-set Newton method over faces, warm started.

The restricted problem of the working set (:mod:`._native`) is::

    min_{c, b}  L(sum_j M_j c_j + b) + beta * sum_j ||c_j||   s.t.  K_j c_j >= 0

with ``K_j`` the kept rows of group ``j``'s cone. On a *face* (which groups are nonzero, which
of their rows are tight) it is smooth: every nonzero group moves in the null space of its tight
rows, every other group stays at zero. Newton's method solves it there in a few steps, each a
Cholesky factorization of a dense matrix of the face's dimension (reused, through a
projection, while cone rows block the steps: :class:`_BlockedSteps`). The face is then corrected
until the KKT conditions of the restricted problem hold:

* a step that would leave the cone stops at the first row it meets, which becomes tight;
* a group that shrinks to zero (or is pinned to zero by its tight rows) leaves the face;
* a zero group whose price ``||Proj_{K_j}(M_j^T v)||`` exceeds ``beta`` enters it, along that
  projection;
* a nonzero group that can still descend into its cone (the projection of its negative
  gradient onto the tangent cone of its tight rows is nonzero) releases the rows that this
  direction leaves, and a step along it starts the next Newton solve. Rows at zero slack that
  were never blocked on count as tight here: on degenerate cones (digits repeat patches) they
  would otherwise be released and met again at once, a cycle.

Corrections must decrease the objective (three in a row that do not decrease it end the
attempt), so the faces cannot cycle. Between two working-set
iterations the face changes little (a few groups enter, a few rows are added), so a handful of
corrections replace an interior-point solve from scratch, whose cost grows with the cube of the
working set. Measured on one digits class (``1347`` images, ``2x2`` regions, 32 patterns), the
native solver's time went from (restricted problems by Clarabel) to (by faces): ``beta=1``
2.7 s to 1.4 s, ``beta=0.1`` 29.6 s to 4.2 s, ``beta=0.01`` 158 s to 17 s (10 s with the
reused factorization), regional max pooling at ``beta=1`` 34 s to 6.5 s.

The answer is an exact KKT point (to the Newton tolerance) of the restricted problem: prices
and descent directions are compared with ``beta * kkt_tol``, or with the rounding of the
gradients where that is larger (large, nearly collinear patches: :meth:`_Faces.rounding`).
Where the corrections do not settle, :class:`FacesFailed` tells the caller to use the
interior-point method instead; the duality gap of the full program certifies whichever answer
is used.
"""

import math

import numpy as np
import scipy.linalg

from .._losses import dual_vector, loss_value
from .._optimality import checked_projection, nnls_projection, price_at_zero
from ._linalg import hessian_weights, newton_step, null_space, weighted_gram

# A row is tight at ``c`` when its slack is at most this times ``||c|| ||row||``.
_TIGHT = 1e-9
# A group whose norm falls below this times the largest leaves the face.
_COLLAPSE = 1e-12
# Relative increase of the Hessian's diagonal in a factorization that is numerically
# singular: a pivot of the Cholesky factor (squared) at most _SINGULAR times its diagonal
# entry (_BlockedSteps).
_SHIFT = 1e-12
_SINGULAR = 1e-13
# Newton iterations of one face (:func:`_newton`), besides the steps that rows block, and the
# most blocking rows added to one factorization before it is recomputed (:class:`_BlockedSteps`).
_NEWTON_ITERATIONS = 100
_MAX_BLOCKED_ROWS = 40


def _norm(x):
    """``np.linalg.norm(x)`` of a float vector: its arithmetic (the dot product of ``x``, of a
    contiguous copy where ``x`` is strided) without its checks, which took half its time on
    the short vectors of the Newton steps (40,000 calls in the README demo's fit)."""
    x = x.ravel()
    return math.sqrt(x @ x)


def _norms(x):
    """``np.linalg.norm(x, axis=1)`` of a float array: its arithmetic without its checks."""
    return np.sqrt(np.add.reduce(x * x, axis=1))


class FacesFailed(Exception):
    """The face corrections did not reach a KKT point; use the interior-point method."""


def _tight(rows, c, row_norms=None):
    """Which ``rows`` are tight at ``c``; ``row_norms``, where given, their norms."""
    if not len(rows):
        return np.zeros(0, dtype=bool)
    if row_norms is None:
        row_norms = _norms(rows)
    return rows @ c <= _TIGHT * _norm(c) * row_norms


def _inside(rows, c, row_norms=None):
    """Whether ``c`` satisfies ``rows @ c >= 0`` up to the tolerance of :func:`_tight`."""
    if not len(rows):
        return True
    if row_norms is None:
        row_norms = _norms(rows)
    return bool(np.all(rows @ c >= -_TIGHT * _norm(c) * row_norms))


def onto_kept_rows(kept_rows, coef, kept_row_norms=None):
    """``coef`` with each group outside the cone of its kept rows ``kept_rows[j]`` (beyond the
    tolerance of :func:`_tight`) replaced by its projection onto that cone; a copy.
    ``kept_row_norms``, where given, are the rows' norms (:class:`_Faces`).

    Raises
    ------
    FacesFailed
        If a projection is inaccurate.
    """
    coef = np.array(coef, dtype=float)
    for j, rows in enumerate(kept_rows):
        if _inside(rows, coef[j], None if kept_row_norms is None else kept_row_norms[j]):
            continue
        limit = -_TIGHT * np.linalg.norm(coef[j]) * np.linalg.norm(rows, axis=1)
        coef[j] = checked_projection(rows, coef[j], _TIGHT)
        if np.any(rows @ coef[j] < limit):
            raise FacesFailed("inaccurate projection onto a cone")
    return coef


class NullSpaces:
    """Null spaces of tight rows (:func:`null_space`), by the rows' bytes, shared by the
    restricted problems of one solve (:class:`._native._WorkingSet`): faces recur across them,
    and a group and its opposite share their rows.

    A key holds its rows (``8 h`` bytes a row), and a long solve meets tens of thousands of
    faces: at most ``limit`` bytes of keys and bases are kept, all forgotten when the next
    would exceed that (on binarized digits, 4x4 filters, ``beta=0.01``: 24,089 null spaces,
    162 MB, against a largest restricted problem's 9 MB). The bytes identify the rows, as a
    working set's rows share one ``h`` and dtype.
    """

    def __init__(self, limit=2**25):
        self.limit, self.nbytes, self._bases = limit, 0, {}

    def __len__(self):
        return len(self._bases)

    def of(self, rows, h):
        """The null space of ``rows`` (shape ``(k, h)``), computed once while it is kept."""
        content = rows.tobytes()
        basis = self._bases.get(content)
        if basis is None:
            basis = null_space(rows, h)
            size = len(content) + 8 * h * h  # (the basis is a view of an h x h array)
            if self.nbytes + size > self.limit:
                self._bases.clear()
                self.nbytes = 0
            self._bases[content] = basis
            self.nbytes += size
        return basis


class _Faces:
    """What the Newton iterations of one restricted problem share.

    The kept rows of all groups are stacked (``rows``, ``row_group``) so that the ratio test
    is one vectorized pass; ``tight`` (see :meth:`tight_rows`) is a flat mask over them whose
    per-group pieces are views, which the face's changes write in place. The rows' norms,
    which every test of tightness scales by, are computed once (``row_norms``, per group
    ``kept_row_norms``).
    """

    def __init__(
        self, M, gram, y, kept_rows, *, beta, loss, fit_intercept, kkt_tol, null_spaces=None
    ):
        self.M, self.gram, self.y, self.kept_rows = M, gram, y, kept_rows
        self.beta, self.loss, self.fit_intercept = beta, loss, fit_intercept
        self.kkt_tol = kkt_tol
        self.h = kept_rows[0].shape[1]
        self.n_coef = len(kept_rows) * self.h
        sizes = [len(rows) for rows in kept_rows]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.rows = np.concatenate([np.reshape(rows, (-1, self.h)) for rows in kept_rows])
        self.row_group = np.repeat(np.arange(len(kept_rows)), sizes)
        self.row_norms = np.linalg.norm(self.rows, axis=1)
        self.kept_row_norms = self._per_group(self.row_norms)
        self.tight = np.zeros(len(self.rows), dtype=bool)
        self._bases = {}
        self._null_spaces = NullSpaces() if null_spaces is None else null_spaces
        self._hessian = None
        self._design = ({}, None)  # the last face's design, by group: see _face_design
        self._product = (None, None)  # the last (x, gram @ x): see _gram_times
        # the columns' norms, for rounding()
        # (an einsum: norm's strided reduction over the columns took 2.4x its time)
        self._column_norms = (
            np.sqrt(np.diag(gram)[: self.n_coef])
            if gram is not None
            else np.sqrt(np.einsum("ij,ij->j", M[:, : self.n_coef], M[:, : self.n_coef]))
        )
        # the size of the terms an objective value sums (its rounding is relative to it)
        self.magnitude = 0.0
        # whether the squared loss's correlations come from the residual rather than the Gram
        # (:meth:`correlations`): from the first KKT point the Gram's own say (solve_on_faces)
        self.from_residual = False
        if gram is not None:  # squared loss: everything from M^T M, M^T y and y^T y
            self._My, self._yy = M.T @ y, float(y @ y)
            self.magnitude = 0.5 * self._yy

    def tight_rows(self, coef):
        """Recompute ``self.tight``, the flat mask of the rows tight at ``coef``, and return
        it per group: views of ``tight``, written in place (``tight[j][:] = ...``), never
        rebound, or :meth:`ratio_test` would not see the change."""
        self.tight = np.concatenate(
            [
                _tight(rows, c, norms)
                for rows, c, norms in zip(self.kept_rows, coef, self.kept_row_norms, strict=True)
            ]
        ).astype(bool)
        return self._per_group(self.tight)

    def _per_group(self, flat):
        """Views of a flat array over the stacked rows, group by group."""
        return [flat[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def inside(self, coef):
        """Whether every group of ``coef`` satisfies its kept rows (:func:`_inside`)."""
        return all(map(_inside, self.kept_rows, coef, self.kept_row_norms))

    def rounding(self, coef, b):
        """Per group, a bound on the rounding error of its part of :meth:`correlations`.

        ``M^T v`` is computed to ``eps |M|^T (|M| |x| + |y|)``, at most
        ``eps ||M_i|| (sum_j ||M_j|| |x_j| + ||y||)`` for column ``i`` (Cauchy-Schwarz). On
        large, nearly collinear patches (pixels of 0 to 255) this exceeds ``kkt_tol * beta``:
        the KKT tests below cannot tell such prices and descents from rounding, and asked
        for them the face method stopped as if it cycled (digits at that scale, ``beta=0.1``).
        """
        reach = self._column_norms @ np.abs(coef.ravel()) + np.linalg.norm(self.y)
        if self.fit_intercept:
            reach += np.sqrt(len(self.y)) * abs(b)  # the intercept's column of ones
        bound = np.finfo(float).eps * self._column_norms * reach
        return np.linalg.norm(bound.reshape(-1, self.h), axis=1)

    def _x(self, coef, b):
        return np.append(coef.ravel(), b) if self.fit_intercept else coef.ravel()

    def _gram_times(self, x):
        """``gram @ x``, kept for the last ``x``: a Newton step asks for it at the same point
        for its gradient, its line search and its objective value (each a pass over a matrix
        of the working set's dimension squared)."""
        key = x.tobytes()
        if self._product[0] != key:
            self._product = (key, self.gram @ x)
        return self._product[1]

    def image(self, coef, b):
        """The point's image, what the loss sees of it: the fit ``M (coef, b)``, or, for the
        squared loss, which works from the Gram matrix alone, ``M^T M (coef, b)``: its costs
        per step then do not grow with ``n`` (a pass over 60,000 samples per line-search
        trial made large-``n`` fits slower than interior-point QPs on the Gram)."""
        if self.gram is not None:
            return self._gram_times(self._x(coef, b))
        return self.image_along(coef, b)

    def image_along(self, dcoef, db):
        """:meth:`image` of a direction ``(dcoef, db)``: the fit's change along it (not kept)."""
        if self.gram is not None:
            return self.gram @ self._x(dcoef, db)
        return self.M[:, : self.n_coef] @ dcoef.ravel() + db

    def correlations(self, coef, b, f):
        """``M^T v`` with ``v`` the dual vector at ``(coef, b)`` (the intercept's last).

        The squared loss's are ``M^T y - M^T M x`` from the Gram, a pass over the working set's
        dimension squared, not over the samples, but of terms ``|M_i| |M| |x|`` that cancel to
        the gradient: their rounding is that bound's (:meth:`rounding`) on the gradient. With
        ``from_residual``, ``M^T (y - M x)``, whose terms are the residual's: what pricing
        computes (``operator.correlations``) and the certificate judges. On a classifier of
        random walks (patches of norm up to 52, groups of norm up to 640, ``beta=1e-3``) the
        Gram's gradients were 3.3e-6 ``beta`` off (the residual's 5e-8), and the face optimum
        they found priced 2.6e-6 above ``beta``: a gap of 2.9e-7 of the objective against a
        target of 1e-7, which only the interior point's polish (Newton from the residual)
        closed, in half the fit's time.
        """
        if self.gram is not None:
            if self.from_residual:
                x = self._x(coef, b)
                return self.M.T @ (self.y - self.M @ x)
            return self._My - (self.image(coef, b) if f is None else f)
        v = dual_vector(self.loss, f, self.y)
        return (
            np.append(self.M[:, : self.n_coef].T @ v, np.sum(v))
            if self.fit_intercept
            else (self.M[:, : self.n_coef].T @ v)
        )

    def value(self, coef, b, f=None):
        """The objective at ``(coef, b)``, whose :meth:`image` is ``f`` (computed if ``None``)."""
        penalty = self.beta * float(_norms(coef).sum())
        f = self.image(coef, b) if f is None else f
        if self.gram is not None:
            x = self._x(coef, b)
            return 0.5 * self._yy - self._My @ x + 0.5 * x @ f + penalty
        return loss_value(self.loss, f, self.y) + penalty

    def line(self, coef, b, dcoef, db, f, current, df=None):
        """The objective along ``(coef, b) + alpha (dcoef, db)`` as a function of ``alpha``.

        For the squared loss it is ``current``'s loss plus the exact quadratic change, so that
        the line search compares differences free of the cancellation in ``y^T y``. ``f`` is
        the point's :meth:`image`, ``df``, where given, the direction's (:meth:`image_along`).
        """

        def penalty(alpha):
            return self.beta * float(_norms(coef + alpha * dcoef).sum())

        df = self.image_along(dcoef, db) if df is None else df
        if self.gram is None:

            def value(alpha):
                return loss_value(self.loss, f + alpha * df, self.y) + penalty(alpha)
        else:
            dx = self._x(dcoef, db)
            slope = (
                -self.correlations(coef, b, None) @ dx
                if self.from_residual
                else (f - self._My) @ dx
            )
            curvature = dx @ df
            base = current - penalty(0.0)

            def value(alpha):
                return base + alpha * (slope + 0.5 * alpha * curvature) + penalty(alpha)

        def guarded(alpha):
            # Newton steps of nearly singular systems (logistic loss, beta=1e-6) can be long
            # enough to overflow: their value is then inf, and the search shortens them
            with np.errstate(over="ignore", invalid="ignore"):
                return value(alpha)

        return guarded

    def curvature_bound(self, dcoef, df=None):
        """An upper bound on the loss's second derivative along a direction of the
        coefficients: ``||M dcoef||^2`` times the largest second derivative of the loss in
        ``f`` (1 for the squared loss, 1/4 for the logistic), at least ``1e-300``. Its
        quadratic model bounds the loss from above, so its minimizer is a safe step. ``df``,
        where given, is the direction's :meth:`image_along` (without the intercept's)."""
        df = self.image_along(dcoef, 0.0) if df is None else df
        squared = float(self._x(dcoef, 0.0) @ df) if self.gram is not None else float(df @ df)
        return (1.0 if self.loss == "squared" else 0.25) * max(squared, 1e-300)

    def basis(self, j, tight):
        key = (j, tight.tobytes())
        if key not in self._bases:
            # looked up by the tight rows themselves too: faces recur across the restricted
            # problems of a solve, and a group and its opposite share their rows (half of the
            # README demo's 4,100 null spaces)
            self._bases[key] = self._null_spaces.of(self.kept_rows[j][tight], self.h)
        return self._bases[key]

    def loss_hessian(self, active, padded, valid, f, bases=None):
        """The loss's Hessian in the face's coordinates (:func:`_face_system`), the
        intercept's last, and the design in those coordinates (``None`` for the squared loss).

        The logistic loss's is the design in those coordinates, weighted
        (:func:`weighted_gram`): no projection of an ``(a h)^2`` Hessian afterwards, and each
        group's block of columns is projected straight into one array, without copies of the
        working set's design (the times and memory: ``benchmarks/digits_history.md``). That
        array is kept: while the face is the same, the steps' gradients and fits are products
        with it, of the face's dimension rather than the working set's (:func:`_newton_steps`),
        and the next face copies from it the columns of the groups whose ``bases`` (the
        objects of :meth:`basis`) are the same (:meth:`_face_design`). So two faces' designs
        are held at most, and the weights are applied to a copy of at most 4096 of its rows
        at a time (:func:`weighted_gram`). The gradients and fits from it alone took the
        README demo's restricted solves from 1.98 s to 1.79 s (CPU, alternating runs). The
        squared loss's is the Gram's block, kept while the face's groups are the same, and
        projected.
        """
        a, h = len(active), self.h
        if self.gram is None:
            face = self._face_design(active, padded, valid, bases)
            return weighted_gram(face, hessian_weights(self.loss, f, self.y), rows=4096), face
        columns = (active[:, None] * h + np.arange(h)).ravel()
        if self.fit_intercept:
            columns = np.append(columns, self.M.shape[1] - 1)
        key, n = active.tobytes(), a * h
        if self._hessian is None or self._hessian[0] != key:
            H = self.gram[np.ix_(columns, columns)]
            self._hessian = (key, H, np.ascontiguousarray(H[:n, :n]))
        _, H, groups_block = self._hessian
        # P^T H: every block row times its basis' transpose (a view of the contiguous block),
        # of which only the face's rows are kept; then those rows times P, block column by
        # block column. No (n, n) copies: 3.1 ms against 0.5 ms at n = 774
        PtH = np.matmul(np.swapaxes(padded, 1, 2), groups_block.reshape(a, h, n))
        PtH = PtH.reshape(n, n)[valid]
        face = np.matmul(np.swapaxes(PtH.reshape(len(PtH), a, h), 0, 1), padded)  # (a, dim, h)
        face = np.swapaxes(face, 0, 1).reshape(len(PtH), n)[:, valid]
        face = 0.5 * (face + face.T)  # (the two products round differently: made exact)
        if not self.fit_intercept:
            return face, None
        cross = np.einsum("aik,ai->ak", padded, H[:n, n:].reshape(a, h)).ravel()[valid]
        return np.block([[face, cross[:, None]], [cross[None, :], H[n:, n:]]]), None

    def _face_design(self, active, padded, valid, bases):
        """The design in the face's coordinates, ``(n_samples, the face's dimension)`` and the
        intercept's column, group by group: a group's columns are the last face's where its
        basis is the same object (the face changes by a row or a group at a time), else its
        block of the design times its basis. Column-major, so that a group's columns are one
        block of memory: on a face of 38 coordinates in 15 groups, the blocks took 147 us
        projected and 70 us copied row-major, 95 us and 14 us column-major (the weighted
        Gram the same, 100 us)."""
        a, h = len(active), self.h
        sizes = valid.reshape(a, h).sum(axis=1)
        face = np.empty((len(self.M), int(sizes.sum()) + self.fit_intercept), order="F")
        last, last_face = self._design
        placed, start = {}, 0
        for i, (j, k) in enumerate(zip(active, sizes, strict=True)):
            basis = None if bases is None else bases[i]
            before = last.get(j)
            if basis is not None and before is not None and before[0] is basis:
                face[:, start : start + k] = last_face[:, before[1] : before[1] + k]
            else:
                np.matmul(
                    self.M[:, j * h : (j + 1) * h], padded[i, :, :k], out=face[:, start : start + k]
                )
            placed[j] = (basis, start)
            start += k
        if self.fit_intercept:
            face[:, -1] = self.M[:, -1]
        self._design = (placed, face)
        return face

    def ratio_test(self, coef, dcoef):
        """Largest step along ``dcoef`` that keeps every slack kept row of the nonzero groups
        feasible, and that row as ``(group, row)``; ``(inf, None)`` if none limits it."""
        # (np.take: the rows' groups gathered in a third of fancy indexing's time)
        g = self.row_group
        rate = np.einsum("rh,rh->r", self.rows, np.take(dcoef, g, axis=0))
        falling = np.flatnonzero((rate < 0) & ~self.tight & coef.any(axis=1)[g])
        if not len(falling):
            return np.inf, None
        slack = np.einsum(
            "rh,rh->r", np.take(self.rows, falling, axis=0), np.take(coef, g[falling], axis=0)
        )
        ratios = np.maximum(slack, 0.0) / -rate[falling]
        k = int(np.argmin(ratios))
        row = falling[k]
        return ratios[k], (g[row], row - self.offsets[g[row]])


def solve_on_faces(
    M, gram, y, coef, b, kept_rows, *, beta, loss, fit_intercept, kkt_tol, max_changes=60,
    guide=False, null_spaces=None,
):  # fmt: skip
    """KKT point of the restricted problem, from ``(coef, b)`` (module docstring); with
    ``guide``, the point after the first change of face instead.

    Parameters
    ----------
    M : ndarray of shape (n_samples, n_groups * h [+ 1])
        The working set's design (and a column of ones with ``fit_intercept``).
    gram : ndarray or None
        ``M^T M`` (squared loss), or ``None`` to form the Hessian from ``M``.
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_groups, h)
        Start; need not satisfy the kept rows (it is projected onto them).
    b : float
    kept_rows : list of ndarray
        The kept rows of every group's cone, each of shape (n_rows_j, h).
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    kkt_tol : float
        Relative accuracy of the KKT conditions: prices and descent directions are compared
        with ``beta * (1 + kkt_tol)`` and ``beta * kkt_tol``.
    max_changes : int, default=60
    guide : bool, default=False
        Return after the first change of face: the groups priced above ``beta`` enter, and
        Newton's method solves the face they make; the descents that correct that face are
        left out. Not a KKT point, but a point of the kept rows' cones: a guide to the
        groups that enter next (:func:`._native._restricted_then_feasible`).
    null_spaces : NullSpaces, default=None
        The null spaces of tight rows computed so far, by the rows' bytes: shared by the
        restricted problems of one solve (:class:`._native._WorkingSet`), filled in here.

    Returns
    -------
    coef : ndarray of shape (n_groups, h)
    b : float

    Raises
    ------
    FacesFailed
        If a projection is inaccurate, three corrections in a row do not decrease the
        objective (rounding at a point that is not a KKT point), the steps leave the cone of
        the kept rows, or the face changes more than ``max_changes`` times.
    """
    faces = _Faces(
        M, gram, y, kept_rows, beta=beta, loss=loss, fit_intercept=fit_intercept,
        kkt_tol=kkt_tol, null_spaces=null_spaces,
    )  # fmt: skip
    coef = onto_kept_rows(kept_rows, coef, faces.kept_row_norms)
    tight = faces.tight_rows(coef)
    stuck = 0
    f = faces.image(coef, b)  # at the current point
    for change in range(max_changes):
        correlations = faces.correlations(coef, b, f)
        rounding = faces.rounding(coef, b)
        entering = _entering(faces, coef, correlations, rounding)
        before = faces.value(coef, b, f)
        if change > 0 and not entering:
            direction = _descent(faces, coef, correlations, tight, rounding)
            if direction is None:
                if faces.gram is None or faces.from_residual:
                    return _on_kept_rows(faces, coef), b
                # a KKT point as the Gram's correlations see it, which is as far as their
                # rounding (_Faces.correlations): Newton's steps on the face again, with the
                # gradients from the residual (iterative refinement), then the tests again
                faces.from_residual = True
                coef, b = _newton(faces, coef, b, tight)
                f = faces.image(coef, b)
                continue
            coef = _descent_step(faces, coef, b, f, before, direction, tight)
        for j, direction, price in entering:
            # the step that minimizes the loss's quadratic upper bound along the direction,
            # shared among the groups that enter together (their fits may be alike)
            along = np.zeros_like(coef)
            along[j] = direction
            step = (price - beta) / (faces.curvature_bound(along) * len(entering))
            coef[j] = step * direction
            tight[j][:] = _tight(kept_rows[j], direction, faces.kept_row_norms[j])
        coef, b = _newton(faces, coef, b, tight)
        if guide:
            return _on_kept_rows(faces, coef), b
        f = faces.image(coef, b)
        # every change decreases the objective, which rules out cycling; rounding aside
        resolution = 1e-15 * max(abs(before), faces.magnitude)
        stuck = stuck + 1 if faces.value(coef, b, f) >= before - resolution else 0
        if stuck == 3:
            raise FacesFailed("the objective stopped decreasing off a KKT point")
    raise FacesFailed(f"the face changed {max_changes} times")


def _on_kept_rows(faces, coef):
    """``coef`` with rounding's violations of the kept rows corrected away
    (:func:`_zero_negative_slacks`), checked."""
    coef = _zero_negative_slacks(faces, coef)
    if not faces.inside(coef):
        raise FacesFailed("the steps left the cone of the kept rows")
    return coef


def _zero_negative_slacks(faces, coef):
    """``coef`` with rounding's violations of the kept rows corrected away.

    The face's bases are null spaces to a relative ``1e-9``, so tight rows drift to slacks of
    about ``-1e-12 ||c||`` over many steps: enough for a point that is not quite feasible to
    report an objective below the optimum (a negative duality gap). The smallest change that
    puts the violated rows back at zero slack is a least-squares correction; a group that it
    would move by more than rounding keeps its coefficients.

    A slack counts as violated beyond the rounding of ``r @ c`` itself, ``h eps ||r|| ||c||``
    (``tests/_cones.py``): one nearer zero cannot be told from zero, and the corrections did
    not move such slacks off it. Counted as violated below 0 instead, on the README demo's
    fit, 1698 of 1994 groups were corrected, 1421 still had such slacks after the third
    correction, and this function took 6 % of the face method's time (py-spy); 1 group
    had a slack below ``-1e-15 ||r|| ||c||``.
    """
    coef = coef.copy()
    # (each group's slacks as ``rows @ c``, as the test below computes them: the stacked
    # slacks of all groups at once round differently, and a group they pass over leaves a
    # fit stalled at 1.14 tol that converges at 0.8 tol: 1 of 380 random problems)
    for j in np.flatnonzero(np.any(coef, axis=1)):
        rows, c = faces.kept_rows[j], coef[j]
        limit = -faces.h * np.finfo(float).eps * _norm(c) * faces.kept_row_norms[j]
        for _ in range(3):
            violated = rows @ c < limit
            if not violated.any():
                break
            c = c - np.linalg.lstsq(rows[violated], rows[violated] @ c, rcond=None)[0]
        if _norm(c - coef[j]) <= 1e-8 * _norm(coef[j]):
            coef[j] = c
    return coef


def _entering(faces, coef, correlations, rounding):
    """Zero groups priced above ``beta`` beyond ``rounding`` (:meth:`_Faces.rounding`):
    ``(group, unit direction, price)``."""
    h, beta = faces.h, faces.beta
    entering = []
    for j in np.flatnonzero(~np.any(coef, axis=1)):
        price, projection = price_at_zero(
            faces.kept_rows[j], correlations[j * h : (j + 1) * h], beta
        )
        if price > beta * (1 + faces.kkt_tol) + rounding[j]:
            entering.append((j, projection / price, price))
    return entering


def _descent(faces, coef, correlations, tight, rounding):
    """A feasible descent direction of the nonzero groups, or ``None`` at a KKT point (to
    ``kkt_tol``, or to ``rounding`` where that is larger: :meth:`_Faces.rounding`).

    Group ``j``'s part is the projection of its negative gradient onto the tangent cone of
    its tight rows, ``{d : K_T d >= 0}``: zero exactly when the multipliers of those rows
    are non-negative. The tight rows that it leaves are released.
    """
    h, beta = faces.h, faces.beta
    direction = np.zeros_like(coef)
    for j in np.flatnonzero(np.any(coef, axis=1)):
        # rows at zero slack that no step blocked on (dependent on the tight ones) are tight
        # too: the direction must not cross them
        tight[j] |= _tight(faces.kept_rows[j], coef[j], faces.kept_row_norms[j])
        norm = _norm(coef[j])
        gradient = -correlations[j * h : (j + 1) * h] + beta * coef[j] / norm
        rows = faces.kept_rows[j][tight[j]]
        d, _ = nnls_projection(rows, -gradient)
        size = _norm(d)
        if size <= max(faces.kkt_tol * beta, rounding[j]):
            continue
        direction[j] = d
        leaving = rows @ d > _TIGHT * size * faces.kept_row_norms[j][tight[j]]
        tight[j][np.flatnonzero(tight[j])[leaving]] = False
    return direction if direction.any() else None


def _descent_step(faces, coef, b, f, current, direction, tight):
    """A step along ``direction`` that decreases the objective and stays in the cones, from
    the point ``(coef, b)`` whose :meth:`~_Faces.image` is ``f`` and objective ``current``.

    Its slope is ``-sum ||d_j||^2`` (each ``d_j`` is a projection of the negative gradient);
    the first trial minimizes the loss's quadratic upper bound along it.
    """
    slope = -float(np.sum(direction**2))
    df = faces.image_along(direction, 0.0)
    curvature = faces.curvature_bound(direction, df)
    limit, blocking = faces.ratio_test(coef, direction)
    # where the loss is flat along the direction, the upper bound's step is no guide: at most
    # a step that moves the coefficients by a thousand times their size
    ratio = _norms(coef).max() / _norms(direction).max()
    step = min(-slope / curvature, limit, 1e3 * ratio)
    value = faces.line(coef, b, direction, 0.0, f, current, df)
    # (relative: a step is in units of the coefficients over the gradient's, below 1e-12 on
    # data of size 1e6, where an absolute bound refused every step)
    while step > 1e-12 * ratio:
        if value(step) <= current + 1e-4 * step * slope:
            if step == limit:
                tight[blocking[0]][blocking[1]] = True
            return coef + step * direction
        step *= 0.5
    return coef


def _collapsed(coef, norms):
    """Nonzero groups whose norm is at most ``_COLLAPSE`` times the largest.

    ``np.any``, not ``norms > 0``, tells a nonzero group: entries of ``1e-181`` have a norm
    that underflows to zero (their squares do), and such a group must leave the face too.
    """
    return coef.any(axis=1) & (norms <= _COLLAPSE * norms.max(initial=0.0))


def _newton(faces, coef, b, tight, max_iter=_NEWTON_ITERATIONS, max_blocked=_MAX_BLOCKED_ROWS):
    """Newton's method on the face of ``coef`` and ``tight`` (updated in place as rows block
    a step or groups collapse); returns ``(coef, b)`` with no collapsed group left in it.

    While rows block the steps, the directions come from one factorization
    (:class:`_BlockedSteps`, at most ``max_blocked`` rows on it). Steps that a row blocks do
    not use up ``max_iter``: the iterations are at most ``max_iter`` plus the kept rows, as a
    row that blocks a step stays tight for the rest of the call (no row is released here).
    Counted with the others, 100 iterations ran out amid rows met one after the other, each
    a step of 1e-8 of the point, short of the face's optimum; the descent released the rows
    and Newton met them again, until the face had changed 60 times (a digits class with 4x4
    filters: 5 s, then 7 s of interior-point solves, against 0.9 s now).
    """
    coef, b = _newton_steps(faces, coef, b, tight, max_iter, max_blocked)
    coef[_collapsed(coef, _norms(coef))] = 0.0
    return coef, b


def _newton_steps(faces, coef, b, tight, max_iter, max_blocked):
    """:func:`_newton` but for its last check: the point returned may hold collapsed groups."""
    f = faces.image(coef, b)  # (the squared loss's from the Gram: _Faces.image)
    current = faces.value(coef, b, f)
    blocked = None
    changed = set(np.flatnonzero(np.any(coef, axis=1)))  # groups whose tight rows grew
    for _ in range(max_iter + len(faces.rows)):  # (:func:`_newton`: the blocked steps)
        norms = _norms(coef)
        pinned = _pinned(faces, norms, tight, changed)
        changed.clear()
        collapsed = _collapsed(coef, norms)
        if pinned or collapsed.any():  # their rows leave no room: the group is zero
            coef[pinned] = 0.0
            coef[collapsed] = 0.0
            f = faces.image(coef, b)
            current = faces.value(coef, b, f)
            blocked = None
            continue
        active = np.flatnonzero(norms)
        # the direction: from the last factorization while rows block the steps, else afresh
        if blocked is not None and (
            blocked.n_rows >= max_blocked or not np.array_equal(blocked.active, active)
        ):
            blocked = None
        if blocked is None:
            gradient, hessian, padded, valid, design = _face_system(
                faces, coef, b, f, tight, active, norms
            )
            try:
                blocked = _BlockedSteps(hessian, active, padded, valid, design)
                step = blocked.step(gradient)
            except np.linalg.LinAlgError:  # singular: least squares, no reuse
                step = newton_step(hessian, gradient)
        else:
            padded, valid, design = blocked.padded, blocked.valid, blocked.design
            gradient = _face_gradient(faces, coef, b, f, active, norms, padded, valid, design)
            step = blocked.step(gradient)
        fresh = blocked is None or not blocked.n_rows
        decrease = gradient @ step
        if decrease >= 0:
            if fresh:
                break
            blocked = None
            continue
        dcoef, db = _in_coefficients(faces, coef, active, padded, valid, step)
        limit, blocking = faces.ratio_test(coef, dcoef)
        if limit <= 1e-12 and _at_zero_slack(faces, coef, blocking):
            # a row at zero slack blocks the step: it is tight. (Not every tiny limit: a
            # nearly singular face system once asked a group to move 1e12 times its size,
            # a row at a slack of 0.75 of it was taken for tight, and the point that stopped
            # there was taken for a KKT point, 1.4e-5 above the optimum; such a step goes
            # on to the line search, which refuses it, and the faces' descent takes over.)
            _block(faces, tight, blocking, blocked, changed)
            continue
        # only a fresh Newton decrement measures the distance to the face's optimum
        converged = fresh and -decrease <= 1e-14 * max(abs(current), 1e-300)
        alpha = min(1.0, limit)
        crossing = _crossing(coef, dcoef, active, alpha)
        if crossing is not None:  # the step takes a group (nearly) through zero: it leaves
            left, b_left, value = _leaving(faces, coef, b, dcoef, db, *crossing)
            if value <= current:
                coef, b, current = left, b_left, value
                f = faces.image(coef, b)
                blocked = None
                continue
        if converged and alpha == 1.0:  # below what a line search can judge: the full step
            return coef + dcoef, b + db
        # the step's fit from the face's design (a column per face coordinate, the
        # intercept's last), not from the working set's; the squared loss's from the Gram
        df = faces.image_along(dcoef, db) if design is None else design @ step
        along = faces.line(coef, b, dcoef, db, f, current, df)
        searched = _backtracking(along, alpha, current, decrease, _shortest(norms, b, dcoef, db))
        if searched is None:
            if fresh:
                return coef, b
            blocked = None  # the old model misled the search: factorize afresh
            continue
        alpha, current = searched
        coef, b = coef + alpha * dcoef, b + alpha * db
        f = f + alpha * df  # (the fit the search valued: no product at the new point)
        if alpha == limit:
            _block(faces, tight, blocking, blocked, changed)
        else:
            blocked = None
            if converged:
                break
    return coef, b


def _pinned(faces, norms, tight, changed):
    """The nonzero groups among ``changed`` whose tight rows leave them no direction (a
    null space of dimension zero): they are zero on this face.

    Only the groups whose tight rows grew can have become pinned, and fewer than ``h`` tight
    rows cannot pin a group: no null space to compute for the others.
    """
    return [
        j
        for j in changed
        if norms[j]
        and np.count_nonzero(tight[j]) >= faces.h
        and faces.basis(j, tight[j]).shape[1] == 0
    ]


def _in_coefficients(faces, coef, active, padded, valid, step):
    """A step in the face's coordinates (:func:`_face_system`; the intercept's last) as a
    step ``(dcoef, db)`` of the working set's coefficients and intercept."""
    step_c = np.zeros(valid.size)
    step_c[valid] = step[: len(step) - faces.fit_intercept]
    dcoef = np.zeros_like(coef)
    dcoef[active] = np.einsum("aik,ak->ai", padded, step_c.reshape(len(active), faces.h))
    db = step[-1] if faces.fit_intercept else 0.0
    return dcoef, db


def _leaving(faces, coef, b, dcoef, db, group, at):
    """The point ``at`` along ``(dcoef, db)``, where the step takes ``group`` nearest zero
    (:func:`_crossing`), with that group at zero, and its objective: ``(coef, b, value)``."""
    coef, b = coef + at * dcoef, b + at * db
    coef[group] = 0.0
    # (a nearly singular face's direction can be long enough to overflow there: its value is
    # then inf, which the caller refuses, as the line search does)
    with np.errstate(over="ignore", invalid="ignore"):
        return coef, b, faces.value(coef, b)


def _shortest(norms, b, dcoef, db):
    """The step of a Newton direction ``(dcoef, db)`` below which its line search gives up:
    ``1e-12``, or where the direction is longer than the point (``norms`` of its groups, ``b``),
    what moves the point by ``1e-12`` of its size, as :func:`_descent_step` bounds its steps.

    Nearly separable logistic fits have nearly singular face Hessians (saturated samples
    weigh nothing), and Newton directions up to 1e18 times longer than the point; a step of
    8e-15 lowered the objective by 1e4 times what Armijo asks. A floor of 1e-12 refused
    every such step: only the faces' first-order descents moved, the faces changed 60 times
    and the interior point solved the restricted problem (10 of 400 random logistic fits;
    a digits 3-vs-8 fit took 0.67 s, now 0.24-0.29 s).
    """
    with np.errstate(over="ignore"):  # (a direction past 1e154 squares to inf: refused below)
        size = max(_norms(dcoef).max(initial=0.0), abs(db))
    reach = max(norms.max(initial=0.0), abs(b))
    if not (0 < size < np.inf and reach > 0):  # (a norm that overflows too)
        return 1e-12
    # (at least the smallest normal float: halving down to 0 never ends where the
    # threshold is not finite)
    return max(1e-12 * min(1.0, reach / size), np.finfo(float).tiny)


def _backtracking(along, alpha, current, decrease, shortest):
    """Armijo's line search from ``alpha``, halving: the first step whose value ``along``
    (:meth:`_Faces.line`) is below ``current`` by a ``1e-4`` of the ``decrease`` it
    predicts, and that value; ``None`` where the step falls below ``shortest``."""
    while alpha >= shortest:
        value = along(alpha)
        if value <= current + 1e-4 * alpha * decrease:
            return alpha, value
        alpha *= 0.5
    return None


def _at_zero_slack(faces, coef, blocking):
    """Whether the row ``blocking = (group, row)`` is at zero slack (:func:`_tight`)."""
    group, row = blocking
    norms = faces.kept_row_norms[group][row : row + 1]
    return bool(_tight(faces.kept_rows[group][row : row + 1], coef[group], norms)[0])


def _block(faces, tight, blocking, blocked, changed):
    """Row ``blocking = (group, row)`` stopped a step: it is tight (and on the factorization),
    and its group's tight rows have grown (``changed``)."""
    group, row = blocking
    tight[group][row] = True
    changed.add(group)
    if blocked is not None:
        blocked.add_row(group, faces.kept_rows[group][row], faces.h)


def _face_system(faces, coef, b, f, tight, active, norms):
    """Gradient and Hessian of the objective in the face's coordinates.

    Each active group ``i`` moves in the null space of its tight rows, an orthonormal
    ``basis_i`` of ``k_i <= h`` columns; the bases are padded to ``h`` columns (``padded``,
    shape (a, h, h)) so that projections onto them are batched products, and ``valid``
    selects the real columns (:meth:`_Faces.loss_hessian`). The norms add
    ``beta / ||c_i|| basis_i^T (I - u_i u_i^T) basis_i`` to the diagonal blocks.
    """
    h, beta, a = faces.h, faces.beta, len(active)
    padded = np.zeros((a, h, h))
    valid = np.zeros((a, h), dtype=bool)
    bases = [faces.basis(j, tight[j]) for j in active]
    for i, basis in enumerate(bases):
        padded[i, :, : basis.shape[1]] = basis
        valid[i, : basis.shape[1]] = True
    valid = valid.ravel()
    hessian, design = faces.loss_hessian(active, padded, valid, f, bases)
    gradient = _face_gradient(faces, coef, b, f, active, norms, padded, valid, design)
    # the norms' curvature, on the diagonal blocks (group i's k_i coordinates are consecutive)
    local = np.einsum("aik,ai->ak", padded, coef[active] / norms[active, None])
    curvature = (beta / norms[active])[:, None, None] * (
        np.eye(h) - local[:, :, None] * local[:, None, :]
    )
    # (at once: each block's valid entries, pairs of valid columns of one group, at their
    # face coordinates; a loop over the groups cost more than the sums)
    columns = valid.reshape(a, h)
    pairs = columns[:, :, None] & columns[:, None, :]
    position = np.broadcast_to((np.cumsum(valid) - 1).reshape(a, h, 1), (a, h, h))
    hessian[position[pairs], np.swapaxes(position, 1, 2)[pairs]] += curvature[pairs]
    return gradient, hessian, padded, valid, design


def _face_gradient(faces, coef, b, f, active, norms, padded, valid, design=None):
    """The objective's gradient in the coordinates of ``padded`` and ``valid``; the loss's
    part from the face's ``design`` where given (:meth:`_Faces.loss_hessian`)."""
    if design is not None:
        unit = coef[active] / norms[active, None]
        penalty = np.einsum("aik,ai->ak", padded, faces.beta * unit).ravel()[valid]
        if faces.fit_intercept:
            penalty = np.append(penalty, 0.0)
        return penalty - design.T @ dual_vector(faces.loss, f, faces.y)
    correlations = faces.correlations(coef, b, f)
    unit = coef[active] / norms[active, None]
    groups = correlations[: faces.n_coef].reshape(-1, faces.h)[active]
    gradient = np.einsum("aik,ai->ak", padded, faces.beta * unit - groups).ravel()[valid]
    return np.append(gradient, -correlations[-1]) if faces.fit_intercept else gradient


class _BlockedSteps:
    """One Cholesky factorization of a face's Hessian, reused while rows block the steps.

    Each blocked step adds one tight row, which only removes one direction from the face. The
    next direction minimizes the same quadratic model on the smaller face: with ``K = L L^T``
    the factorized Hessian, ``g`` the current gradient and ``A`` the added rows in the face's
    coordinates, ``s = -L^{-T} (I - Q Q^T) L^{-1} g`` with ``Q`` an orthonormal basis of the
    span of ``L^{-1} A^T``, so that ``A s = 0``. A factorization costs the cube of the face's
    dimension, this its square; the model is the old point's (its norms' curvature moves), so
    the direction is a descent direction but not Newton's, and an unblocked step factorizes
    afresh.

    Two groups whose fits are collinear make ``K`` singular (moving weight from one to the
    other changes neither the loss nor the sum of norms), and Cholesky may still succeed by
    rounding, with a huge ``L^{-1}``. So where the factor's pivots say so, every diagonal
    entry is raised by ``_SHIFT`` times itself (:func:`_cholesky`), and the added rows are
    projected out in the whitened coordinates rather than through the Schur complement
    ``(A K^{-1} A^T) mu = A K^{-1} g``, whose condition is the square of ``L^{-1} A^T``'s.
    On 0/1 images at ``beta=0.001`` that condition reaches 1e14: a truncated least-squares
    solve lets the added rows drift to slacks of ``-0.2 ||c||``, and the face method ends
    outside the cone (its final check catches it, at the cost of an interior-point solve).
    There ``|A s| / (|A| |s|)`` is at most 3e-8 with both changes, 5e-6 with the shift alone
    and 2e-3 with the projection alone.
    """

    def __init__(self, hessian, active, padded, valid, design=None):
        self.factor = _cholesky(hessian)
        self.active, self.padded, self.valid, self.design = active, padded, valid, design
        self.position = {j: i for i, j in enumerate(active)}
        self.n_rows = 0
        self.span = np.zeros((len(self.factor), 0))  # orthonormal, spans L^{-1} A^T

    def add_row(self, group, row, h):
        """Row ``row`` (a vector in ``R^h``) of group ``group`` is tight from now on."""
        i = self.position[group]
        local = np.zeros((len(self.active), h))
        local[i] = row @ self.padded[i]
        a = local.ravel()[self.valid]
        a = np.append(a, np.zeros(len(self.factor) - len(a)))
        z = self._whiten(a)
        self.n_rows += 1
        # Gram-Schmidt, twice (once loses orthogonality when z is nearly in the span)
        q = z - self.span @ (self.span.T @ z)
        q -= self.span @ (self.span.T @ q)
        size = _norm(q)
        if size > 1e-12 * _norm(z):  # else dependent on the rows before: nothing new
            self.span = np.column_stack([self.span, q / size])

    def _whiten(self, x):
        return _triangular_solve(self.factor, x)

    def step(self, gradient):
        r = self._whiten(gradient)
        r -= self.span @ (self.span.T @ r)
        return -_triangular_solve(self.factor, r, trans=1)


def _triangular_solve(factor, x, trans=0):
    """``L^{-1} x`` (``L^{-T} x`` with ``trans=1``) for the lower Cholesky factor ``L`` of
    :func:`_cholesky`: LAPACK's ``trtrs``, which ``scipy.linalg.solve_triangular`` calls
    too, without its checks and batching, whose overhead was a third of a step's solves at
    the faces' sizes (tens of coordinates)."""
    if not len(factor):
        return np.zeros(0)
    solution, info = scipy.linalg.lapack.dtrtrs(factor, x, lower=1, trans=trans)
    if info:
        raise np.linalg.LinAlgError(f"singular triangular factor (trtrs: {info})")
    return solution


def _cholesky_factor(matrix):
    """Lower Cholesky factor of ``matrix`` by LAPACK's ``potrf`` (what
    ``scipy.linalg.cholesky`` calls, without its overhead: :func:`_triangular_solve`)."""
    factor, info = scipy.linalg.lapack.dpotrf(matrix, lower=1, clean=1)
    if info:
        raise np.linalg.LinAlgError(f"not positive definite (potrf: {info})")
    return factor


def _cholesky(hessian):
    """Lower Cholesky factor of ``hessian``, of ``hessian`` with a raised diagonal where the
    factor shows it (numerically) singular: see :class:`_BlockedSteps`.

    Only then: a shift of 1e-15 also on a well-posed but ill-conditioned Hessian (condition
    1e9, data of scale 1e6) moved a face solve's end point enough to fail its KKT test, which
    is at the rounding of the gradient at that scale.
    """
    try:
        factor = _cholesky_factor(hessian)
        # each pivot against its own diagonal entry, as newton_step judges dependence: against
        # the largest pivot, a well-posed Hessian of groups whose scales differ by 1e7 was shifted
        pivots = np.diag(factor) ** 2
        if np.all(pivots > _SINGULAR * np.diag(hessian)):
            return factor
    except np.linalg.LinAlgError:
        pass
    # relative to each diagonal entry: coordinates of groups whose data differ in scale by 1e6
    # have diagonal entries 1e12 apart
    shifted = hessian + np.diag(_SHIFT * np.diag(hessian))
    return _cholesky_factor(shifted)


def _crossing(coef, dcoef, active, alpha, ratio=1e-2):
    """The first group whose norm falls below ``ratio`` of its own on ``[0, alpha]``.

    The norm is not smooth at zero, so Newton's model of a group that shrinks to zero is
    wrong there and the line search would creep towards it in ever smaller steps. Returns
    ``(group, step)`` at the point of the group's smallest norm, or ``None``.
    """
    c, d = coef[active], dcoef[active]
    rates = np.einsum("ai,ai->a", c, d)
    lengths = np.einsum("ai,ai->a", d, d)
    at = np.where(rates < 0, -rates / np.maximum(lengths, 1e-300), np.inf)
    inside = at < alpha
    if not inside.any():
        return None
    smallest = _norms(c + np.where(inside, at, 0.0)[:, None] * d)
    through = inside & (smallest <= ratio * _norms(c))
    if not through.any():
        return None
    k = np.flatnonzero(through)[np.argmin(at[through])]
    return active[k], at[k]
