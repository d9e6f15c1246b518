"""The native solver of the three-layer program (doc/formulations.md §8.2): column generation over
its groups, with the second ReLU layer's multipliers in the prices.

The program has a group for every part (``a`` on ``+M_i``, ``b`` on ``-M_i``), output sign
``s``, second-layer pattern ``l`` and first-layer pattern ``i``, and few of them are nonzero at
the optimum (46 of 320 and 63 of 384 on two programs of ``benchmarks/three_layer_rows.py``).
Unlike a two-layer group, a group cannot be priced alone: the groups of a branch ``(s, l)``
share the second layer's constraint ``(2 D'_l - I) z_sl >= 0``, and a group is optimal at zero
iff ``||Proj_{C_i}(+-M_i^T w_sl)|| <= beta`` with ``w_sl = s D'_l v + (2 D'_l - I) mu_sl`` for
the branch's multipliers ``mu_sl >= 0`` of that constraint. Column generation takes them from
the restricted problem:

1. **Restricted problem.** The groups of the working set, the kept rows of their first-layer
   cones, and the kept second-layer rows of their branches: an interior-point QP
   (:func:`._restricted.solve_qp`), by proximal Newton for the logistic loss. It returns the point
   and the multipliers of the kept second-layer rows (zero for the others).
2. **Rows.** Rows of either layer that the point violates are added, the most violated first
   (at most ``_ROWS_PER_BRANCH`` per branch for the second layer), until the point satisfies
   every row (as :func:`._cvxpy._solve_three_layer_with` does for the first layer).
3. **Pricing.** Every group is priced with those multipliers
   (:func:`._three_layer_rows.three_layer_prices`), at the dual vector of the fit they belong
   to, the restricted point's before its residue is zeroed; the most violating ones enter the
   set.
4. **Certificate.** Any ``mu >= 0``, scaled with ``v`` by ``beta`` over the largest price, gives a
   dual feasible point (:func:`._three_layer_rows.three_layer_gap`): the gap to the best of
   them bounds the distance to the optimum of the full program. The solver stops when it is
   at most ``tol`` times the objective.
5. **Polish.** The interior point's point and multipliers satisfy the optimality conditions to
   about ``1e-6`` only, which can leave the gap above ``tol`` once no group is left to add.
   Then the point is polished by Newton's method on its face (:func:`_polished`) and the
   multipliers are solved from the nonzero groups' KKT equations
   (:func:`_refined_multipliers`; the other branches' lowered, 6.), with the dual vector
   corrected by what they leave (the rounding of a fit of large terms), which certifies to
   rounding. The polish tries the face without the groups that the interior point leaves
   near zero (below ``1e-5`` of the largest), its residue of groups that are zero at the
   optimum, whose conditions the least squares cannot meet; the face with them, as at a
   tiny ``beta`` the optimum's own groups can be that small; and the faces above the widest
   gaps (10x or more) in the groups' norms, for residue above ``1e-5`` of the largest that
   such a gap sets apart; the lowest point stands. A point certified before any polish meets
   the kept rows to the interior point's accuracy only, and its objective can be below the
   optimum (a negative gap): it is polished too, and returned polished where that still
   certifies.

6. **Lowered multipliers.** A branch without a group in the set prices with zero multipliers,
   which can hold the certificate far above the point's distance to the optimum while groups
   enter only for the restricted problem to leave them at zero (a point optimal from
   iteration 3 was certified at iteration 28). So when a round's groups all stay at zero, the
   multipliers of the branches without a nonzero group that price above ``beta`` are lowered
   (:func:`._three_layer_rows.lowered_multipliers`), the highest priced first, until one stays
   more than ``1e-4`` above ``beta``: the point is then not optimal, and that branch's groups
   enter (the others' prices, not yet lowered, overstate theirs); it goes first the next
   time. The target is ``beta`` itself: a lower one leaves a branch's largest price above
   ``beta``. The polish (5.) lowers them too. A branch with a nonzero group keeps the
   interior point's multipliers or the refined ones, whichever price it lower: the refined
   ones meet the nonzero groups' conditions to rounding, but can price its zero groups above
   ``beta``. Where the restricted problems are as exact as they get (the last ``qp_tol``)
   and the gap still stands, every branch's multipliers are lowered, those with a group too
   (at a tiny effective ``beta`` the point can be optimal with multipliers far from any that
   certify it), and the rounds go on while each such round at least halves what keeps the
   point from certifying (its gap, or its network's: step 7) since the last one
   (``_EXACT_PROGRESS``; the first such round always goes on), or lowers the best network by
   more than the target (at most ``_EXACT_LOWERINGS`` times). Where they would stop, they go
   on with the restricted QPs in units of their coefficients' size
   (:func:`._restricted.coefficient_unit`), until they would stop again: Clarabel solves QPs
   of large coefficients inaccurately (a regressor on inputs of size 100 stalled at 5.0e-5 of
   its objective, 2.6e-5 above the optimum, and was certified to 1.2e-11 so). A restricted
   solve that fails (``SolverFailed``) goes on in those units too, and only a failure in
   them stops the solve. Where the rounds in units would stop too, the dual vector and the
   multipliers of the branches that bind the bound are chosen by one conic program
   (:func:`_conic_dual`, squared loss): at a tiny effective ``beta`` the fit of an optimal
   point can leave ``v = y - f`` too far off for any multipliers.

7. **Points outside the program.** A restricted point can violate second-layer rows that the
   feasibility rounds do not check again: dropping the interior point's residue can cross
   kept rows, and at a tiny effective ``beta`` the interior point meets a small branch's
   rows only to its absolute accuracy. Such a point's objective can be below the optimum;
   its network's (:func:`_realized`: the fit that the second layer's ReLUs make of it) is
   what the estimators fit, and with every pattern in the program it is at least the
   optimum. So a point certifies only where its network does too, else the solve goes on
   (5.), and a solve that stops short returns the point of the lowest network, which can
   be outside the program where an earlier point was inside: the estimators report its
   network's objective, as for any solve that stops short.

What each step changed on the programs of ``benchmarks/three_layer_exact.py`` and on sweeps
of small programs: ``benchmarks/README.md``, "Three-layer programs with every pattern".

Groups stay in the set when the restricted problem sets them to zero: their branch's
multipliers would leave with them, and without those the groups would price above ``beta``
and enter again. The restricted problems' dense fit rows make the interior point the cost:
0.5-2.3x the time of CVXPY's cutting planes on the benchmark's programs (1.1-8.3x with the
logistic loss, by proximal Newton), where the two-layer solver's faces factor only a face's
dimension (they know no coupling rows). So ``solver="auto"`` keeps CVXPY for three layers.
"""

import dataclasses
import time

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .._formulations._pruning import RESIDUE
from .._losses import best_intercept, loss_value
from .._optimality import dual_objective, dual_point, scaled_dual_objective
from ._cvxpy import unit_scales
from ._linalg import null_space
from ._restricted import (
    EUCLIDEAN,
    coefficient_unit,
    distinct_faces,
    face_coordinates,
    from_face,
    gap_faces,
    newton_on_blocks,
    objective,
    proximal_newton,
)
from ._solution import Solution, SolverFailed, cleaned_if_no_worse, relative_to, target_gap
from ._three_layer_rows import (
    START_ROWS,
    lowered_multipliers,
    nearest_rows,
    three_layer_prices,
    violated_rows,
)

# Groups added per pricing round. Many groups of a three-layer program enter (191 of the 512
# of examples/plot_three_layer.py): 8 at a time took 25 iterations there, 32 took 11 (8.2 s
# against 9.8 s), and 18 against 6 iterations at n=300 (benchmarks/three_layer_rows.py).
_GROUPS_PER_ROUND = 32
# Relative violation of a cone row (of either layer) that counts as infeasible (the QPs'
# accuracy).
_FEASIBILITY_TOL = 1e-9
# Second-layer rows added per branch and feasibility round.
_ROWS_PER_BRANCH = 40
# Feasibility rounds per restricted problem before the solve gives up (no point to certify).
_MAX_ROW_ROUNDS = 100
# Once the restricted solves are as exact as they get, the solve stalls where a round leaves what
# keeps the point from certifying (its gap, or its network's) at this fraction of the last such
# round's or above, and lowers the best network by no more than the target: a gap that closes
# goes on, in at most about 40 rounds from the objective's size to rounding (each such round
# costs a restricted solve: 11 s at n=300 in benchmarks/three_layer_rows.py), and one that
# stands or creeps does not (benchmarks/README.md, "The most exact rounds go on while they
# close the gap")
_EXACT_PROGRESS = 0.5
# Most exact rounds per solve that go on only because they lowered the best network (by more
# than the target): a network that creeps down by just above the target would otherwise go on
# to max_iter, a restricted solve a round (sweep program 74 went on twice so, to 5.3e-7 above
# the optimum from 3.0e-5). As many as the halving gap allows: a cap, not tuned
_EXACT_LOWERINGS = 40
# Relative slack below which a row is tight, for the polish and the refined multipliers: the
# interior point leaves tight rows at 1e-10 to 1.2e-7 of the largest value, others at 2e-3 and
# more (n=300 of benchmarks/three_layer_rows.py)
_POLISH_TIGHT = 1e-5
# Relative norm below which a group is off the first face that the polish tries: the interior
# point leaves groups that are zero at the optimum at up to 4e-6 of the largest (4 signals of
# 2x3, beta=0.2, benchmarks/three_layer_exact.py), and on a face that kept them the polished
# point stayed 6.5e-12 above the optimum, its certificate at 1.04e-7 of the objective against
# tol=1e-7 (2.9e-12 without them)
_POLISH_ZERO = 1e-5
# Faces the polish goes through where Newton's method crosses rows that were not tight (each
# crossing makes at least one tight): a cap, not tuned. With it, a stall at 3.3e-9 above the
# optimum among 127 tiny programs of every pattern was certified (benchmarks/README.md)
_POLISH_FACES = 5
# Branches priced within this fraction of beta bind the bound, for the conic dual
# (_conic_dual): a change of v of the rounding-to-1e-5 size that it makes leaves the others
# below beta (on the program of its docstring they priced 0.41 of beta and less)
_BINDING = 1e-3
# Most nonzeros of the conic dual's constraints: a cost cap, not tuned. Its program of 4e4
# nonzeros (3 samples, 8 binding branches of 104 groups) took well under a second; of 3.3e5
# (300 samples, 16 of 16 groups) 11 s, where it lowered a stalled gap from 0.81 to 4e-4 of the
# objective, still far above tol
_CONIC_DUAL_ENTRIES = 200_000


class _Groups:
    """The working set: groups ``(part, sign, outer, pattern)`` and the restricted problem's
    design, second-layer rows and first-layer cone rows over them."""

    def __init__(self, program, fit_intercept):
        self.program = program
        self.fit_intercept = fit_intercept
        self.keys = []
        self.coef = np.zeros((0, program.pieces.shape[2]))
        # kept second-layer rows (samples) of each branch
        self.samples = np.zeros((2 * program.outer_masks.shape[0], program.pieces.shape[1]), bool)
        self.row_norms = np.linalg.norm(program.cones, axis=2)
        # the fit of the last restricted point before its residue was zeroed (_restricted_solve)
        self.restricted_fit = None

    def __len__(self):
        return len(self.keys)

    def add(self, keys, coef=None):
        h = self.program.pieces.shape[2]
        self.keys += [tuple(int(k) for k in key) for key in keys]
        added = np.zeros((len(keys), h)) if coef is None else coef
        self.coef = np.vstack([self.coef, added])

    def _columns(self):
        """Per group, ``+-M_i`` (n_samples, h), and its branch ``s * n_outer + l``."""
        n_outer = self.program.outer_masks.shape[0]
        for part, sign, outer, pattern in self.keys:
            yield (-1.0 if part else 1.0) * self.program.pieces[pattern], sign * n_outer + outer

    def design(self):
        """``[s D'_l (+-M_i)]`` side by side (and a column of ones)."""
        masks = self.program.outer_masks
        n_outer = masks.shape[0]
        columns = []
        for piece, branch in self._columns():
            sign, outer = divmod(branch, n_outer)
            columns.append((-1.0 if sign else 1.0) * masks[outer][:, None] * piece)
        if self.fit_intercept:
            columns.append(np.ones((masks.shape[1], 1)))
        return np.hstack(columns)

    def second_layer_rows(self, samples=None):
        """The kept rows (or those of the mask ``samples``) of ``(2 D'_l - I) z_sl >= 0``,
        over the design's columns, and the branch and sample of each."""
        masks = self.program.outer_masks
        n_outer = masks.shape[0]
        h = self.coef.shape[1]
        samples = self.samples if samples is None else samples
        branch_of_row, sample_of_row = np.nonzero(samples)
        first = np.searchsorted(branch_of_row, np.arange(len(samples) + 1))
        rows = np.zeros((len(branch_of_row), self.coef.size + self.fit_intercept))
        for j, (piece, branch) in enumerate(self._columns()):
            block = slice(first[branch], first[branch + 1])
            samples = sample_of_row[block]
            outer_signs = 2.0 * masks[branch % n_outer, samples] - 1.0
            rows[block, j * h : (j + 1) * h] = outer_signs[:, None] * piece[samples]
        return rows, branch_of_row, sample_of_row

    def add_violated_samples(self, coef):
        """Keep the second-layer rows that ``coef`` violates, the most violated
        ``_ROWS_PER_BRANCH`` of each branch; returns how many were added."""
        slack = self.program.second_layer_slacks(coef)
        scale = np.abs(slack).max(axis=1, keepdims=True)
        violated = (slack < -_FEASIBILITY_TOL * scale) & ~self.samples
        added = 0
        for branch in np.flatnonzero(violated.any(axis=1)):
            new = np.flatnonzero(violated[branch])
            if len(new) > _ROWS_PER_BRANCH:
                new = new[np.argpartition(slack[branch, new], _ROWS_PER_BRANCH)[:_ROWS_PER_BRANCH]]
            self.samples[branch, new] = True
            added += len(new)
        return added

    def branches(self):
        """The branches ``s * n_outer + l`` with a group in the set."""
        return np.unique([branch for _, branch in self._columns()]).astype(int)

    def slacks(self, coef, which=None):
        """The rows of the groups ``coef`` (one per group of the set): their values, ``>= 0``
        where they hold, and the rounding allowed below zero, both flat. The rows of the
        first-layer cones of the groups ``which`` (indices; default: the nonzero groups, the
        only ones whose rows can be violated), then those of every branch's second layer."""
        if which is None:
            which = np.flatnonzero(np.any(coef, axis=1))
        patterns = [self.keys[j][3] for j in which]
        first = np.einsum("grh,gh->gr", self.program.cones[patterns], coef[which])
        first_allowed = self.row_norms[patterns] * np.linalg.norm(coef[which], axis=1)[:, None]
        second = self.program.second_layer_slacks(self.full_coef(coef))
        second_allowed = np.broadcast_to(np.abs(second).max(axis=1, keepdims=True), second.shape)
        values = np.concatenate([first.ravel(), second.ravel()])
        return values, 1e-12 * np.concatenate([first_allowed.ravel(), second_allowed.ravel()])

    def feasible(self, coef):
        """Whether the groups ``coef`` satisfy every row of their first-layer cones and of
        their branches' second layer (to rounding)."""
        values, allowed = self.slacks(coef)
        return bool(np.all(values >= -allowed))

    def full_coef(self, coef=None):
        """The working set's groups (or ``coef``, one row per group) in the program's layout,
        shape (2, 2, n_outer, n_patterns, h)."""
        n_patterns, _, h = self.program.pieces.shape
        full = np.zeros((2, 2, self.program.outer_masks.shape[0], n_patterns, h))
        for key, c in zip(self.keys, self.coef if coef is None else coef, strict=True):
            full[key] = c
        return full


def _restricted_solve(groups, y, b, rows, multipliers, *, beta, loss, qp_tol, in_units=False):
    """The restricted problem on the first-layer rows ``rows[i]``; returns the point's ``b``;
    with ``in_units``, its QPs in units of the coefficients' size (step 6).

    The multipliers ``mu`` of the second-layer rows, shape (2 * n_outer, n_samples), are
    updated in place for the branches in the set (zero on the rows not kept); the others
    keep theirs."""
    program = groups.program
    n_samples, h = program.pieces.shape[1:]
    M = groups.design()
    coupling, branch_of_row, sample_of_row = groups.second_layer_rows()
    kept_rows = [program.cones[pattern][rows[pattern]] for *_, pattern in groups.keys]
    x = np.concatenate([groups.coef.ravel(), [b] if groups.fit_intercept else []])
    x, value, mu = proximal_newton(
        M, y, x, beta=beta, loss=loss, gram=M.T @ M if loss == "squared" else None,
        kept_rows=kept_rows, patch_size=h, norm=EUCLIDEAN, qp_tol=qp_tol, coupling=coupling,
        unit=coefficient_unit(float(np.abs(groups.coef).max(initial=0.0))) if in_units else 1.0,
        centred=True,
    )  # fmt: skip
    # interior-point residue is zeroed: groups below RESIDUE of the largest, which the
    # recovered network drops and whose rows are not checked (violated_rows), and groups
    # that cost less than the QP resolves (where all are, the logistic loss's first solves
    # left them at 1e-12 and the cutting planes chased their rows, 25,000 of them) where
    # that costs no more than it resolves: at beta=1e-12 all of a close fit's groups cost
    # that little, and zeroed they left the empty network at 2e9 times the optimum
    coef = x[: groups.coef.size].reshape(-1, h)
    norms = np.linalg.norm(coef, axis=1)
    coef = np.where((norms > RESIDUE * norms.max(initial=0.0))[:, None], coef, 0.0)
    cheap = beta * norms <= qp_tol * abs(value)
    intercept = x[-1:] if groups.fit_intercept else []

    def value_of(c):
        return objective(loss, M @ np.concatenate([c.ravel(), intercept]), y, beta, c)

    groups.coef = cleaned_if_no_worse(coef, np.where(cheap[:, None], 0.0, coef), value_of, qp_tol)
    # the multipliers meet the KKT conditions at the fit before the residue was zeroed, where
    # the prices are to be taken: at a tiny effective beta the residue moves the fit by more
    # than beta resolves (inputs of size 1000 at beta=1e-4, an effective 8e-8: groups at 1e-8
    # to 1e-6 of the largest moved the groups' prices by up to 1.3e4 times beta, the groups
    # of the set priced 20 to 2500 times it, and the prices of the optimum's missing groups
    # were lowered below it with theirs, a stall 46 % above the optimum)
    groups.restricted_fit = M @ x
    multipliers[groups.branches()] = 0.0
    multipliers[branch_of_row, sample_of_row] = np.maximum(mu, 0.0)
    return x[-1] if groups.fit_intercept else 0.0


def _feasible_restricted_point(groups, y, b, rows, row_norms, multipliers, **options):
    """Solve the restricted problem (:func:`_restricted_solve`, ``options`` its keywords),
    adding the first- and second-layer rows its point violates, until it violates none or
    ``_MAX_ROW_ROUNDS`` rounds have passed. Returns ``b``, the kept first-layer rows and
    whether the point is feasible."""
    for _ in range(_MAX_ROW_ROUNDS):
        b = _restricted_solve(groups, y, b, rows, multipliers, **options)
        coef = groups.full_coef()
        violated = violated_rows(groups.program, coef, rows, row_norms, _FEASIBILITY_TOL)
        if not groups.add_violated_samples(coef) and not any(map(len, violated)):
            return b, rows, True
        rows = [np.union1d(kept, new) for kept, new in zip(rows, violated, strict=True)]
    return b, rows, False


def _polished(groups, y, b, *, beta, loss):
    """Newton's method on the face of the working set's point: its nonzero groups on the null
    space of their tight first-layer rows, and their branches' tight second-layer rows held at
    zero. Returns ``(coef, b)``, or ``None`` where on every face tried (below) the first Newton
    point has a group reaching zero, or is worse or infeasible. Where Newton's point crosses
    rows that were not tight, the point where the segment to it meets the first of them is
    polished again on its own face (an active-set step, :func:`_polished_on`); a later face
    that fails leaves the last point standing.

    An interior point balances the optimality conditions to about ``1e-6`` only: on programs of
    ``benchmarks/three_layer_rows.py`` the gap stalled at 2e-7 of the objective. On the face the
    program is smooth, and a few Newton steps reach rounding (as :func:`._restricted.polish`).

    It also leaves groups that are zero at the optimum at up to ``4e-6`` of the largest, which
    must be off the face. But at a tiny ``beta`` groups of the optimum can be that small (their
    face's point was ``1.1e-4`` lower): where the point has groups below ``_POLISH_ZERO`` of
    the largest, both faces are tried. So are the faces above the widest gaps in the groups'
    norms (:func:`._restricted.gap_faces`, as the two-layer polish tries them): at a tiny
    ``beta`` the interior point left groups at ``1e-4`` of the largest where the optimum has
    one group (a sweep's program, certified so). The lowest point is returned (so the faces'
    order only breaks ties; no face is checked as the two-layer polish checks it, at zero).
    """
    norms = np.linalg.norm(groups.coef, axis=1)
    faces = distinct_faces(
        [norms > _POLISH_ZERO * norms.max(initial=0.0), norms > 0, *gap_faces(norms)]
    )
    polished = [
        _polished_on(groups, y, b, np.flatnonzero(face), beta=beta, loss=loss) for face in faces
    ]
    polished = [point for point in polished if point is not None]
    if not polished:
        return None
    coef, b, _ = min(polished, key=lambda point: point[2])
    return coef, b


def _polished_on(groups, y, b, active, *, beta, loss):
    """:func:`_polished` on the face of the groups ``active`` (indices, nonzero), the others
    zero: ``(coef, b, objective)`` or ``None``.

    Where Newton's point crosses a row that was not tight, the point where the segment to it
    meets the row is polished again, on its own face, where that row is tight: up to
    ``_POLISH_FACES`` faces, each no higher than the last."""
    if not len(active):
        return None
    polished, coef = None, groups.coef
    for _ in range(_POLISH_FACES):
        on_face = _newton_on_face(groups, coef, y, b, active, beta=beta, loss=loss)
        if on_face is None or (polished is not None and on_face[2] > polished[2]):
            break
        coef, b, value, crossed = on_face
        polished = coef, b, value
        if not crossed:
            break
    return polished


def _newton_on_face(groups, coef, y, b, active, *, beta, loss):
    """Newton's method from the groups ``coef`` (one row per group of the set) on their face:
    ``(coef, b, objective, crossed)``, ``crossed`` whether the point was cut back to the first
    row it crossed, or ``None``."""
    program = groups.program
    h = coef.shape[1]
    M = groups.design()
    cones = [program.cones[pattern] for *_, pattern in groups.keys]
    bases, B, w = face_coordinates(M, coef, active, cones, tight=_POLISH_TIGHT)
    sizes = [basis.shape[1] for basis in bases]
    splits = np.cumsum(sizes)[:-1]
    # the tight second-layer rows, on the face's coordinates: C w = 0
    coupling, branch_of_row, sample_of_row = groups.second_layer_rows(np.ones_like(groups.samples))
    slack = program.second_layer_slacks(groups.full_coef(coef))
    scale = np.abs(slack).max(axis=1)[branch_of_row]
    # (a signed slack, as for the first layer's rows: a row that the start violates beyond
    # _POLISH_TIGHT, as dropped residue can leave it, is held too. Left off the face, it was
    # crossed further by Newton's point, and the polish failed on every face)
    tight = slack[branch_of_row, sample_of_row] <= _POLISH_TIGHT * scale
    coupling = coupling[tight]
    blocks = [coupling[:, j * h : (j + 1) * h] for j in active]
    C = np.hstack([block @ basis for block, basis in zip(blocks, bases, strict=True)])
    # (on the face, a tight row of the second layer can be a combination of tight first-layer
    # rows: zero but for rounding. Ranked against its own norm, such residue cut the face down
    # to a subspace 0.15 away from the point on a 4-signal program, and the polish failed)
    Z = null_space(C, len(w), scale=np.linalg.norm(np.hstack(blocks), axis=1).max(initial=0.0))
    if groups.fit_intercept:
        B = np.hstack([B, np.ones((len(y), 1))])
        Z = np.block([[Z, np.zeros((len(w), 1))], [np.zeros((1, Z.shape[1])), np.ones((1, 1))]])
        w = np.append(w, b)
    n_w = int(sum(sizes))

    def value(x):
        norms = [np.linalg.norm(part) for part in np.split(x[:n_w], splits)]
        return loss_value(loss, B @ x, y) + beta * float(sum(norms))

    w = Z @ (Z.T @ w)  # onto the face: the interior point leaves its tight rows at ~1e-7
    x = newton_on_blocks(B, y, w, sizes, beta=beta, loss=loss, subspace=Z)
    if x is None:
        return None
    coef = from_face(x, active, bases, coef.shape)
    # the face holds the tight rows only, and Newton's method can cross the others (a flat
    # direction did, on 3 signals of 2x3): back to where the first is crossed, no higher on the
    # segment (the objective is convex), which is often still the face's optimum
    fraction = _feasible_fraction(groups, from_face(w, active, bases, coef.shape), coef)
    if fraction == 0.0:
        return None
    if fraction < 1.0:
        x = w + fraction * (x - w)
        coef = from_face(x, active, bases, coef.shape)
    if value(x) > value(w) + 1e-14 * abs(value(w)) or not groups.feasible(coef):
        return None
    return coef, (x[-1] if groups.fit_intercept else 0.0), value(x), fraction < 1.0


def _feasible_fraction(groups, start, end):
    """The largest ``t <= 1`` at which ``start + t (end - start)`` (the groups' coefficients)
    satisfies every row that ``end`` violates beyond rounding: rows are linear in the groups,
    so each crosses zero once on the segment. Zero where ``start`` violates one of them."""
    which = np.flatnonzero(np.any(start, axis=1) | np.any(end, axis=1))
    before, _ = groups.slacks(start, which)
    after, allowed = groups.slacks(end, which)
    crossed = after < -allowed
    if not crossed.any():
        return 1.0
    before, after = before[crossed], after[crossed]
    # (a row that start violates too: no step. Where neither end moves it, as for a group
    # that the face's second-layer rows pin, before - after is 0, and the quotient was 0/0)
    if np.any(before <= 0.0):
        return 0.0
    return float(np.min(before / (before - after)))


def _refined_multipliers(program, coef, v, multipliers, beta):
    """Second-layer multipliers that satisfy the KKT conditions of the nonzero groups to
    rounding, where the interior point's satisfy them to its accuracy only.

    With those, nonzero groups priced at ``beta (1 +- 2.5e-6)`` and the gap stalled at 2e-7 of
    the objective, while the groups at zero priced 1e-3 below ``beta`` (n=200 of
    ``benchmarks/three_layer_rows.py``). At the optimum, a nonzero group ``c`` on ``+-M_i`` of
    branch ``(s, l)`` satisfies ``beta c / ||c|| = +-M_i^T (s D'_l v + (2 D'_l - I) mu_sl)
    + G_i^T lambda`` with ``mu_sl`` on the branch's tight second-layer rows and ``lambda`` on
    the tight rows of ``C_i``: a linear system in ``(mu, lambda)``, solved here by least
    squares over every nonzero group. Branches without a nonzero group keep their multipliers;
    any ``mu >= 0`` gives a valid bound, so the result is clipped at zero.
    """
    conditions = _nonzero_group_conditions(program, coef, v, beta)
    if conditions is None:  # the empty network: no condition to satisfy
        return multipliers
    A, rhs, _, tight, start = conditions
    solution = np.linalg.lstsq(A, rhs, rcond=None)[0]
    refined = multipliers.copy()
    for branch, samples in tight.items():
        refined[branch] = 0.0
        mu = solution[start[branch] : start[branch] + len(samples)]
        refined[branch, samples] = np.maximum(mu, 0.0)
    return refined


def _corrected_dual_vector(program, coef, v, y, *, beta, loss, fit_intercept):
    """The dual vector ``v`` changed by the least that meets what the refined multipliers
    (:func:`_refined_multipliers`) leave of the nonzero groups' KKT conditions, ``v`` and
    those multipliers solved together by least squares (with an intercept, within
    ``sum(v) = 0``); ``v`` itself where the change leaves the loss's dual domain.

    Any ``v`` gives a valid bound (scaled by its largest price). Where the fit nearly
    interpolates ``y`` from terms far larger than it, ``v = y - f`` carries the rounding of
    ``f``: 11 signals of size 1000 at ``beta=1e-4`` summed terms of 300-650 to targets of
    one, and with the point polished to rounding its nonzero groups priced ``beta (1 +-
    1e-7)``, the gap stalled at 1.04e-7 of the objective against ``tol=1e-7``; a change of
    ``v`` of 4.6e-14 met their conditions to 3e-13 of ``beta``.
    """
    conditions = _nonzero_group_conditions(program, coef, v, beta)
    if conditions is None:
        return v
    A, rhs, V, _, _ = conditions
    left = rhs - A @ np.linalg.lstsq(A, rhs, rcond=None)[0]
    if fit_intercept:
        V = V - V.mean(axis=1, keepdims=True)
    change = np.linalg.lstsq(np.hstack([V, A]), left, rcond=None)[0][: len(v)]
    corrected = v + (change - change.mean() if fit_intercept else change)
    return corrected if np.isfinite(dual_objective(loss, corrected, y, fit_intercept)) else v


def _conic_dual(program, v, multipliers, prices, y, rows, *, beta, loss, fit_intercept):
    """The dual vector and the binding branches' multipliers that maximize the dual
    objective subject to those branches' prices being at most ``beta``: one conic program
    (squared loss only: its dual objective ``y^T v - ||v||^2 / 2`` is a QP's). Returns ``(v,
    multipliers, prices)``, the other branches' multipliers kept, or ``None``.

    The binding branches are those priced within ``_BINDING`` of ``beta``; a group's price is
    ``min ||+-M_i^T w_sl + G_i^T lambda||`` over ``lambda >= 0`` (the distance to the polar
    cone of ``C_i``), here over the kept rows ``rows[i]`` of ``G_i`` only (an upper bound), a
    second-order cone in ``(v, mu_sl, lambda)``. Any ``(v, mu >= 0)`` gives a valid bound
    once scaled by its largest price, which the returned prices are, over every branch and
    every row.

    The prices need ``v = y - f`` more exactly than the objective needs the point: at a
    tiny effective ``beta`` the penalty dominates, and a point optimal to 1e-12 had its fit
    4e-8 off (4e-6 of ``||v||``), its zero groups priced 1.2e-6 above ``beta`` at the best
    multipliers for that ``v`` (2.2 % at the refined ones), and its gap stalled at 2.4e-6 of
    the objective (3 signals of 2x3 times 100, every pattern, ``beta`` 0.01 of the largest
    target). With this ``v`` the solve certified to 7e-8 against ``tol=1e-7``.
    """
    if loss != "squared":
        return None
    import clarabel

    n = len(v)
    tops = prices.max(axis=(0, 3)).ravel()
    binding = np.flatnonzero(tops >= beta * (1 - _BINDING))
    if not len(binding):
        return None
    n_outer = program.outer_masks.shape[0]
    masks = np.vstack([program.outer_masks, program.outer_masks]).astype(float)
    signs = np.repeat([1.0, -1.0], n_outer)[:, None]
    cones = [cone[kept] for cone, kept in zip(program.cones, rows, strict=True)]
    n_patterns, _, h = program.pieces.shape
    n_rows = sum(map(len, cones))
    if 2 * len(binding) * h * (2 * n * n_patterns + n_rows) > _CONIC_DUAL_ENTRIES:
        return None
    n_lambda = 2 * len(binding) * n_rows
    n_x = n + len(binding) * n + n_lambda
    # x = (v, mu of each binding branch, lambda of each of their groups); A's rows: sum(v) = 0
    # with an intercept, mu >= 0 and lambda >= 0, then each group's cone (beta, +-M_i^T w_sl
    # + G_i^T lambda), w_sl linear in (v, mu_sl)
    n_first = int(fit_intercept)
    entries = [
        (np.ones(n * n_first), np.zeros(n * n_first), np.arange(n * n_first)),
        (-np.ones(n_x - n), n_first + np.arange(n_x - n), n + np.arange(n_x - n)),
    ]
    row, column = n_first + n_x - n, n + len(binding) * n
    grid = np.arange(h)[:, None]
    for k, branch in enumerate(binding):
        on_v = signs[branch] * masks[branch]
        on_mu = 2 * masks[branch] - 1
        for part in (1.0, -1.0):
            for piece, cone in zip(program.pieces, cones, strict=True):
                at = row + 1 + grid
                entries.append(
                    ((-part * piece.T * on_v).ravel(), np.repeat(at, n), np.tile(np.arange(n), h))
                )
                entries.append(
                    (
                        (-part * piece.T * on_mu).ravel(),
                        np.repeat(at, n),
                        np.tile(n + k * n + np.arange(n), h),
                    )
                )
                m = len(cone)
                entries.append(
                    (-cone.T.ravel(), np.repeat(at, m), np.tile(column + np.arange(m), h))
                )
                row, column = row + h + 1, column + m
    values, rows_, columns = (np.concatenate(part) for part in zip(*entries, strict=True))
    A = sp.csc_matrix((values, (rows_, columns)), shape=(row, n_x))
    b = np.zeros(row)
    b[n_first + n_x - n :: h + 1] = beta
    kinds = [clarabel.ZeroConeT(1)] if fit_intercept else []
    kinds += [clarabel.NonnegativeConeT(n_x - n)]
    kinds += [clarabel.SecondOrderConeT(h + 1)] * (2 * len(binding) * n_patterns)
    P = sp.diags(np.concatenate([np.ones(n), np.zeros(n_x - n)])).tocsc()
    q = np.concatenate([-y, np.zeros(n_x - n)])
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    result = clarabel.DefaultSolver(P, q, A, b, kinds, settings).solve()
    if str(result.status) not in ("Solved", "AlmostSolved"):
        return None
    x = np.asarray(result.x)
    v = x[:n] - (x[:n].mean() if fit_intercept else 0.0)
    multipliers = multipliers.copy()
    multipliers[binding] = np.maximum(x[n : n + len(binding) * n], 0.0).reshape(-1, n)
    return v, multipliers, three_layer_prices(program, v, multipliers, beta=beta)


def _nonzero_group_conditions(program, coef, v, beta):
    """The nonzero groups' KKT conditions (:func:`_refined_multipliers`) as ``A s = rhs`` in
    the multipliers ``s = (mu, lambda)``, and how they change with ``v``: ``(A, rhs, V,
    tight, start)``, ``rhs`` less ``V dv`` at ``v + dv``, ``tight[branch]`` the tight
    second-layer rows of each branch with a nonzero group and ``start[branch]`` where their
    ``mu`` start in ``s``; ``None`` without a nonzero group."""
    n_outer = program.outer_masks.shape[0]
    slack = program.second_layer_slacks(coef)
    norms = np.linalg.norm(coef, axis=-1)
    active = np.argwhere(norms > 0)  # (part, sign, outer, pattern)
    if not len(active):
        return None
    branches = np.unique(active[:, 1] * n_outer + active[:, 2])
    # (by signed slack, as the polish's face takes them: a row that the point violates, as
    # dropped residue can leave it, is tight. Any mu >= 0 is a valid bound, and _lower_of keeps
    # the lower prices)
    tight = {
        b: np.flatnonzero(slack[b] <= _POLISH_TIGHT * np.abs(slack[b]).max()) for b in branches
    }
    offsets = np.cumsum([0] + [len(tight[b]) for b in branches])
    start = dict(zip(branches, offsets[:-1], strict=True))
    equations, columns, rhs, on_v = [], [], [], []
    n_mu = offsets[-1]
    for part, sign, outer, pattern in active:
        branch = sign * n_outer + outer
        c = coef[part, sign, outer, pattern]
        piece = (-1.0 if part else 1.0) * program.pieces[pattern]  # +-M_i
        cone = program.cones[pattern]
        slack = cone @ c
        rows = cone[slack <= _POLISH_TIGHT * np.linalg.norm(cone, axis=1) * np.linalg.norm(c)]
        signs = 2.0 * program.outer_masks[outer] - 1.0
        samples = tight[branch]
        block = np.zeros((len(c), n_mu))
        block[:, start[branch] : start[branch] + len(samples)] = (
            piece[samples] * signs[samples, None]
        ).T
        equations.append(block)
        columns.append(rows.T)
        sign_s = -1.0 if sign else 1.0
        on_v.append(sign_s * piece.T * program.outer_masks[outer])
        rhs.append(beta * c / np.linalg.norm(c) - on_v[-1] @ v)
    A = np.hstack([np.vstack(equations), scipy.linalg.block_diag(*columns)])
    return A, np.concatenate(rhs), np.vstack(on_v), tight, start


def solve_three_layer(
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
    multipliers_init=None,
):
    """Solve the three-layer program for one output by column generation (module docstring).

    Parameters
    ----------
    program : ThreeLayerProgram
    y : ndarray of shape (n_samples,)
        Targets, centred where ``fit_intercept`` (as :func:`.._outputs.solve_output` centres
        them): the solve scales ``y`` by its largest magnitude, and an offset far beyond
        the targets' spread squeezes them below the interior point's accuracy (a test
        program's ``y + 1e6`` stalled 11 % above the optimum, its gap still a valid bound).
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    tol : float
        Stop when the duality gap is at most ``tol`` times the objective.
    max_iter : int
        Maximum number of column-generation iterations (pricing rounds; one may take several
        restricted solves, as cone rows are added).
    verbose : int
    coef_init : ndarray of shape (2, 2, n_outer_patterns, n_patterns, patch_size), default=None
        Warm start: its nonzero groups form the initial working set.
    intercept_init : float, default=None
    multipliers_init : ndarray of shape (2 * n_outer_patterns, n_samples), default=None
        Multipliers of the second ReLU layer's constraints at data scale (a CVXPY point's,
        handed over with it): the branches' starting multipliers, which a branch keeps until
        the restricted problem gives it its own. From zero multipliers the point's
        certificate is nearly empty (a gap of 98 % of the objective at a CVXPY point
        certified to 3.5e-5 of it), and column generation added groups to nearly every
        branch only to recover them (3,396 groups in 107 iterations on 7 signals with
        n_patterns="exact": a fit of 197 s, Clarabel's 8.7 s included; from Clarabel's
        multipliers, 5 iterations and a fit of 10.8 s).

    Returns
    -------
    solution : Solution
        With ``duality_gap`` the certified gap of the returned point.
    """
    # at unit scale, as CVXPY's solves: Clarabel's tolerances are absolute in part, and on
    # targets of size 1000 the restricted QPs stalled 2.5e-4 of the objective above the optimum
    y = np.asarray(y, dtype=float)
    x_scale, y_scale, unit_beta = unit_scales(program.pieces, y, beta, loss)
    coef_scale = y_scale / x_scale
    solution = _solve(
        dataclasses.replace(program, pieces=program.pieces / x_scale),
        y / y_scale,
        beta=unit_beta,
        loss=loss,
        fit_intercept=fit_intercept,
        tol=tol,
        max_iter=max_iter,
        verbose=verbose,
        coef_init=None if coef_init is None else coef_init / coef_scale,
        intercept_init=None if intercept_init is None else intercept_init / y_scale,
        multipliers_init=None if multipliers_init is None else multipliers_init / y_scale,
        objective_scale=y_scale**2,
    )
    coef, b = solution.coef * coef_scale, solution.intercept * y_scale
    return dataclasses.replace(
        solution,
        coef=coef,
        intercept=b,
        objective=_objective(program, coef, b, y, beta=beta, loss=loss)[1],
        duality_gap=None if solution.duality_gap is None else solution.duality_gap * y_scale**2,
    )


def _realized(program, coef, b, y, primal, *, beta, loss):
    """The objective of the network of the point ``(coef, b)`` (the program's layout), of
    objective ``primal``: ``primal`` where the point meets its second layer's rows (to
    ``_FEASIBILITY_TOL`` of each branch's largest ``|z|``), else that of the fit
    ``sum_sl s (z_sl)_+`` that the second layer's ReLUs make of it. (The first layer's rows,
    checked in every feasibility round, are taken as met: those kept are met to the interior
    point's accuracy, as before any polish.)"""
    hidden = program.hidden_values(coef)
    scale = np.abs(hidden).max(axis=2)
    if np.all(program.second_layer_violations(coef) <= _FEASIBILITY_TOL * scale):
        return primal
    z = np.maximum(hidden, 0.0)
    f = z[0].sum(axis=0) - z[1].sum(axis=0) + b
    return float(loss_value(loss, f, y) + beta * program.regularizer(coef))


def _objective(program, coef, b, y, *, beta, loss):
    """The fit of the point ``(coef, b)`` and its objective."""
    f = program.fit_values(coef) + b
    return f, float(loss_value(loss, f, y) + beta * program.regularizer(coef))


def _solve(
    program,
    y,
    *,
    beta,
    loss,
    fit_intercept,
    tol,
    max_iter,
    verbose,
    coef_init,
    intercept_init,
    objective_scale,
    multipliers_init=None,
):
    """:func:`solve_three_layer` on unit-scale data; ``objective_scale`` converts the
    objectives it prints back to the data's scale."""
    start_time = time.perf_counter()
    options = dict(beta=beta, loss=loss, fit_intercept=fit_intercept)
    groups, b = _started(program, y, coef_init, intercept_init, loss, fit_intercept)
    rows = nearest_rows(program, START_ROWS)  # per first-layer cone, for all its groups
    row_norms = groups.row_norms
    multipliers = np.zeros((2 * program.outer_masks.shape[0], program.pieces.shape[1]))
    if multipliers_init is not None:  # (a CVXPY point's: its branches' prices start there)
        multipliers = np.maximum(np.array(multipliers_init, dtype=float), 0.0)
    qp_tol = min(1e-9, max(1e-12, 1e-2 * tol))
    # what stood open when the most exact restricted solves last ran dry, and the lowest
    # network then
    exact_gap, exact_realized, lowerings = np.inf, np.inf, 0
    in_units = False
    n_iter, converged, stopped, best = 0, False, None, _Best()  # (stopped: why, if not at max_iter)
    entered = 0  # the groups of the last round, at the end of the working set
    hard = []  # the branches whose multipliers could not be lowered, the latest first
    while True:
        if len(groups):
            try:
                b, rows, feasible = _feasible_restricted_point(
                    groups, y, b, rows, row_norms, multipliers, beta=beta, loss=loss,
                    qp_tol=qp_tol, in_units=in_units,
                )  # fmt: skip
            except SolverFailed:
                # tried again in units of the coefficients' size (step 6) before the solve
                # stops: on noise-free targets at an effective beta of 4e-9, a QP of
                # coefficients of 4e2 ended 'InsufficientProgress' at 4.1 times Clarabel's
                # objective; in units the fit certified to 1.2e-8, below Clarabel's
                if in_units:
                    if best.point is None:
                        raise
                    stopped = "stalled"
                    break
                in_units = True
                continue
            if not feasible:  # (its rows still violated: the best certified point, if any)
                if best.point is None:
                    return _infeasible(program, groups, b, y, n_iter, beta=beta, loss=loss)
                stopped = _still_violated()
                break
        coef, v, primal = _point(program, groups, b, y, **options)
        if groups.restricted_fit is not None:
            # priced at the dual vector that the multipliers belong to, the restricted
            # point's before its residue was zeroed (_restricted_solve)
            v = dual_point(loss, groups.restricted_fit, y, fit_intercept)
        prices = three_layer_prices(program, v, multipliers, beta=beta)
        # (a point outside the program certifies only where its network does too: step 7)
        realized = _realized(program, coef, b, y, primal, beta=beta, loss=loss)
        gap = best.offer(coef, b, primal, _dual_objective(prices, v, y, **options), realized)
        target = target_gap(y, primal, tol)
        if verbose:
            _print_iteration(n_iter, objective_scale, primal, gap, target, groups, rows, start_time)
        if _certifies(best, gap, realized, target):
            converged = True
            break
        if n_iter >= max_iter:
            break
        stopped_at = None
        if entered and not np.any(groups.coef[-entered:]):
            # the restricted problem left the last round's groups at zero: the point may be
            # optimal, its prices held up by the multipliers (a branch without a group in
            # the set has none), which other multipliers can lower. A branch that could not
            # be lowered is tried first the next time (where it still cannot, the point is
            # still not optimal, and lowering the others first would be wasted), and its
            # groups enter (the others' prices, not lowered, overstate theirs)
            lowered, stopped_at = _lowered(
                program, v, multipliers, prices, beta, hard, _with_groups(coef)
            )
            if stopped_at is not None:
                hard = [stopped_at, *(branch for branch in hard if branch != stopped_at)]
            prices = _repriced(program, v, multipliers, lowered, prices, beta)
            multipliers = lowered
            gap = best.offer(coef, b, primal, _dual_objective(prices, v, y, **options), realized)
            if _certifies(best, gap, realized, target):
                converged = True
                break
        candidates = _most_violating(prices, groups, beta, stopped_at)
        if not candidates:
            # nothing left to add: the bound may be the interior point's accuracy (polish the
            # point and its multipliers), or the restricted solutions must be more exact
            polished = _polished(groups, y, b, beta=beta, loss=loss)
            if polished is not None:  # (feasible to rounding: _polished checks)
                groups.coef, b = polished
            coef, v, primal, prices, priced_at = _refined_prices(
                program, groups, y, b, multipliers, hard, **options
            )
            realized = realized if polished is None else primal
            gap = best.offer(coef, b, primal, _dual_objective(prices, v, y, **options), realized)
            if _certifies(best, gap, realized, target_gap(y, primal, tol)):
                converged = True
                break
            if qp_tol <= 1e-12:
                # the restricted problems are as exact as they get: the point can be optimal
                # with multipliers too far off to certify it (at a tiny effective beta: 0.13 of
                # the objective, where Clarabel's multipliers certified the same point to
                # 7.5e-9). Lowered, every branch's (those with groups too) certified it
                lowered, _ = _lowered(program, v, priced_at, prices, beta)
                prices = _repriced(program, v, priced_at, lowered, prices, beta)
                dual = _dual_objective(prices, v, y, **options)
                gap = best.offer(coef, b, primal, dual, realized)
                if _certifies(best, gap, realized, target_gap(y, primal, tol)):
                    converged = True
                    break
                # what keeps it from certifying: its gap, or its network's where that is
                # higher (step 7), above the target and so positive, which a point outside
                # the program at a negative gap would not be
                open_gap = max(gap, realized - best.dual)
                # (a round that lowers the best network by more than the target goes on too,
                # whatever its gap: sweep program 74, whose new groups lowered it, stalled 3e-5
                # above the optimum where the rounds went on to 5e-7)
                network_lowered = best.realized < exact_realized - target_gap(y, primal, tol)
                if open_gap >= _EXACT_PROGRESS * exact_gap:
                    if not network_lowered or lowerings >= _EXACT_LOWERINGS:
                        if in_units:
                            # before it stalls: the dual vector of the fit can be too far off
                            # for any multipliers, and one conic program gives the binding
                            # branches' best with v (_conic_dual)
                            conic = _conic_dual(program, v, lowered, prices, y, rows, **options)
                            if conic is not None:
                                dual = _dual_objective(conic[2], conic[0], y, **options)
                                gap = best.offer(coef, b, primal, dual, realized)
                                converged = _certifies(
                                    best, gap, realized, target_gap(y, primal, tol)
                                )
                            stopped = None if converged else "stalled"
                            break
                        in_units = True
                    lowerings += 1
                exact_realized = best.realized
                # the rounds can still close the gap: the branches without a group keep the
                # multipliers lowered in this round (_refined_prices), where the next round's
                # lowering starts, and the next restricted solve can price groups in (a
                # sweep's program that stalled here, 6.2e-2 above the optimum, was certified
                # two iterations later)
                # (the least so far: a round that goes on for its network alone can leave a
                # larger gap, against which a later round would count as halving it)
                exact_gap = min(exact_gap, open_gap)
            qp_tol = max(1e-12, qp_tol * 1e-2)
        entered = len(candidates)
        groups.add(candidates)
        n_iter += 1
    if converged and not groups.feasible(groups.coef):
        # certified before any polish, the point meets the kept rows to the interior point's
        # accuracy only, and its objective can be below the optimum (a negative gap, -5.5e-8 of
        # it on 4 signals of 2x3): where the polish succeeds, it meets them to rounding, and
        # stands where it certifies too (repriced: on two programs of
        # benchmarks/three_layer_exact.py, the bound that certified the unpolished point fell
        # short of the polished one)
        polished = _polished(groups, y, b, beta=beta, loss=loss)
        if polished is not None:  # (feasible to rounding: _polished checks)
            certified = coef, b, primal, gap
            groups.coef, b = polished
            coef, v, primal, prices, _ = _refined_prices(
                program, groups, y, b, multipliers, hard, **options
            )
            gap = best.offer(coef, b, primal, _dual_objective(prices, v, y, **options))
            if gap > target_gap(y, primal, tol):
                coef, b, primal, gap = certified
    if not converged:
        (coef, b, primal), gap = best.point, best.point[2] - best.dual
    return Solution(
        coef=coef,
        intercept=float(b),
        objective=float(primal),
        converged=converged,
        status="optimal" if converged else stopped or "max_iter reached",
        n_iter=n_iter,
        solver="native",
        duality_gap=float(gap),
    )


def _refined_prices(program, groups, y, b, multipliers, hard, *, beta, loss, fit_intercept):
    """The working set's point priced with refined multipliers (:func:`_refined_multipliers`,
    :func:`_lower_of`) at its corrected dual vector (:func:`_corrected_dual_vector`), the
    branches without a group lowered: ``(coef, v, primal, prices, multipliers)``, the last
    those of the prices. Updates the multipliers of the branches without a group in place
    (the next lowering starts there)."""
    options = dict(beta=beta, loss=loss, fit_intercept=fit_intercept)
    coef, v, primal = _point(program, groups, b, y, **options)
    v = _corrected_dual_vector(program, coef, v, y, **options)
    refined, prices = _lower_of(
        program, v, multipliers, _refined_multipliers(program, coef, v, multipliers, beta), beta
    )
    with_groups = _with_groups(coef)
    lowered, _ = _lowered(program, v, refined, prices, beta, hard, with_groups)
    multipliers[~with_groups] = lowered[~with_groups]
    return coef, v, primal, _repriced(program, v, refined, lowered, prices, beta), lowered


def _started(program, y, coef_init, intercept_init, loss, fit_intercept):
    """The working set of a warm start's nonzero groups, at their point, and the intercept
    to start from (the best one for the empty network, where none is given)."""
    groups = _Groups(program, fit_intercept)
    b = best_intercept(loss, y) if fit_intercept else 0.0
    if fit_intercept and intercept_init is not None:
        b = float(intercept_init)
    if coef_init is not None:
        keys = np.argwhere(np.linalg.norm(coef_init, axis=-1) > 0)
        groups.add(keys, coef_init[tuple(keys.T)])
    return groups, b


def _point(program, groups, b, y, *, beta, loss, fit_intercept):
    """The working set's point in the program's layout, the dual vector at its fit and its
    objective: ``(coef, v, objective)``."""
    coef = groups.full_coef()
    f, primal = _objective(program, coef, b, y, beta=beta, loss=loss)
    return coef, dual_point(loss, f, y, fit_intercept), primal


def _certifies(best, gap, realized, target):
    """Whether a point of gap ``gap`` to the best dual bound certifies, and its network too
    (of objective ``realized``): a point outside the program can be below the optimum, and
    certified at a negative gap while its network is not."""
    return gap <= target and realized - best.dual <= target


def _dual_objective(prices, v, y, *, beta, loss, fit_intercept):
    """The dual objective of ``v`` scaled into the dual feasible set by the largest of the
    groups' ``prices`` (:func:`~.._optimality.scaled_dual_objective`)."""
    top = float(prices.max(initial=0.0))
    return scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top)


@dataclasses.dataclass
class _Best:
    """The best bounds on the optimum so far: the largest dual objective (any ``mu >= 0``
    gives one, and the gap is to the largest) and the point ``(coef, b, objective)`` whose
    network has the lowest objective, the answer of a solve that stops short (a restricted
    solve failed, a stall, max_iter), whose last point can be the higher one.

    A point inside the program is its network; one outside it (a row violated beyond
    ``_FEASIBILITY_TOL``) is not, and its objective can be below the optimum, its network's
    above it. Stalled solves at a tiny effective ``beta`` returned such points, a branch's
    second-layer row crossed by up to 0.7 of the branch's largest ``|z|``: their networks are
    what the estimators fit, so they are what is compared."""

    dual: float = -np.inf
    point: tuple | None = None
    realized: float = np.inf

    def offer(self, coef, b, primal, dual, realized=None):
        """Keep the dual objective ``dual``, and the point ``(coef, b)`` of objective
        ``primal`` and of network objective ``realized`` (default: ``primal``), where better;
        returns the point's gap to the best dual objective."""
        realized = primal if realized is None else realized
        self.dual = max(self.dual, dual)
        if self.point is None or realized < self.realized:
            self.point, self.realized = (coef, b, primal), realized
        return primal - self.dual


def _lowered(program, v, multipliers, prices, beta, first=(), keep=None):
    """``multipliers`` with those of the branches whose groups price above ``beta`` lowered
    (:func:`._three_layer_rows.lowered_multipliers`) to ``beta``, where they no longer set
    the largest price: the nonzero groups, at ``beta`` to the interior point's accuracy, then
    do.

    The branches ``first`` go first (where they price above ``beta``), then the others, the
    highest priced first; those of the mask ``keep`` keep theirs. Returns the multipliers
    and the branch whose prices stayed more than ``1e-4`` above ``beta`` (beyond the interior
    point's accuracy: the point is not optimal), or ``None``.
    """
    tops = prices.max(axis=(0, 3)).reshape(len(multipliers))
    if keep is not None:
        tops = np.where(keep, 0.0, tops)
    first = [branch for branch in first if tops[branch] > beta]
    others = np.flatnonzero(tops > beta)
    others = others[np.argsort(-tops[others], kind="stable")]
    branches = list(dict.fromkeys([*first, *others.tolist()]))
    # (to beta, not below it: where the target is below a branch's least largest price, the sum
    # of squared excesses ends with its largest price above beta, by 0.36 of the distance to the
    # target on a 4-signal program, 3.6e-7 of beta at a target of beta (1 - 1e-6))
    return lowered_multipliers(
        program, v, multipliers, branches, target=beta, limit=beta * (1 + 1e-4)
    )


def _lower_of(program, v, multipliers, others, beta):
    """Per branch, whichever of ``multipliers`` and ``others`` prices its groups lower: the
    multipliers and their prices. (The refined multipliers meet the nonzero groups' conditions
    to rounding, but can price a branch's zero groups above ``beta`` where the interior
    point's did not.)"""
    prices = three_layer_prices(program, v, multipliers, beta=beta)
    other_prices = _repriced(program, v, multipliers, others, prices, beta)
    lower = other_prices.max(axis=(0, 3)) < prices.max(axis=(0, 3))  # (sign, outer)
    chosen = np.where(lower.reshape(-1, 1), others, multipliers)
    return chosen, np.where(lower[None, :, :, None], other_prices, prices)


def _repriced(program, v, multipliers, changed, prices, beta):
    """``prices`` (at ``multipliers``) with the branches whose multipliers differ in
    ``changed`` priced again at those."""
    branches = np.flatnonzero(np.any(changed != multipliers, axis=1))
    return three_layer_prices(program, v, changed, beta=beta, branches=branches, prices=prices)


def _with_groups(coef):
    """Whether each branch has a nonzero group, a mask in the multipliers' order."""
    return np.any(np.linalg.norm(coef, axis=-1) > 0, axis=(0, 3)).ravel()


def _most_violating(prices, groups, beta, branch=None):
    """The groups outside the working set whose ``prices`` exceed ``beta``, at most
    ``_GROUPS_PER_ROUND``, the largest first (of the ``branch`` only, where given); the set's
    prices are zeroed in place."""
    prices[tuple(np.array(groups.keys, dtype=int).reshape(-1, 4).T)] = 0.0
    if branch is not None:
        sign, outer = divmod(branch, prices.shape[2])
        mask = np.zeros(prices.shape, dtype=bool)
        mask[:, sign, outer] = True
        prices = np.where(mask, prices, 0.0)
    order = np.argsort(prices, axis=None)[::-1][:_GROUPS_PER_ROUND]
    return [np.unravel_index(k, prices.shape) for k in order if prices.flat[k] > beta]


def _infeasible(program, groups, b, y, n_iter, *, beta, loss):
    """The answer at a point that still violates cone rows after ``_MAX_ROW_ROUNDS``
    feasibility rounds, where no earlier point was certified: infeasible for the whole
    program, so without a gap."""
    coef = groups.full_coef()
    return Solution(
        coef=coef,
        intercept=float(b),
        objective=_objective(program, coef, b, y, beta=beta, loss=loss)[1],
        converged=False,
        status=_still_violated(),
        n_iter=n_iter,
        solver="native",
    )


def _still_violated():
    """The status of a solve whose last point still violated cone rows."""
    return f"cone rows still violated after {_MAX_ROW_ROUNDS} rounds"


def _print_iteration(n_iter, objective_scale, primal, gap, target, groups, rows, start_time):
    """The progress line of an iteration, its objective and gap at the data's scale."""
    print(
        f"[native] three-layer iteration {n_iter}: objective "
        f"{objective_scale * primal:.10g}, gap {objective_scale * gap:.2e} "
        f"(relative {relative_to(gap, primal):.1e}, target "
        f"{relative_to(target, primal):.1e}), "
        f"{len(groups)} groups, {sum(map(len, rows))} first-layer rows, "
        f"{time.perf_counter() - start_time:.2f} s",
        flush=True,
    )
