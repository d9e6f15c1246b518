"""Cone-row checks shared by the solver tests.

A point ``c`` of a polyhedral cone satisfies ``rows @ c >= 0``. The checks here are relative,
hence free of the data's scale: a row ``r`` is measured by its *relative slack*
``r @ c / (||r|| ||c||)``, the cosine of the angle between them, so that a tolerance means the
same on pixels of 0 to 255 as on unit-scale data, for a group of norm 1e-6 as for one of 1e3.

The tolerances, by what is checked:

``SOLVER_RTOL = 1e-9``
    A point a solver returns (or a QP of the restricted problem). The solvers count a row as
    violated below this relative slack: ``_solvers/_native.py``'s ``_FEASIBILITY_TOL``
    (against ``||c|| * operator.row_scale``, the largest row norm: a check against the row's
    own norm, as here, is no looser), ``_three_layer.py``'s ``_FEASIBILITY_TOL`` (against
    ``||c|| ||row||``, as here) and ``_faces.py``'s ``_TIGHT`` (the face method's test of its
    own point, ``_faces._inside``).
``ROUNDING_RTOL = 1e-13``
    A point that is exact but for rounding: a projection onto a cone, a direction in the null
    space of tight rows, a step that a construction keeps on added rows. A dot product of
    ``h`` terms rounds to about ``h * 1.1e-16`` relative (the tests measure 1e-16 to 3e-15);
    1e-13 leaves a margin of 30 and more. It is the absolute 1e-12 that these tests once
    asked on unit-scale rows and directions (``||row|| ||c||`` up to 9.5), made relative
    without loosening it.

A check that asks something else says so where it is made.
"""

import numpy as np

SOLVER_RTOL = 1e-9
ROUNDING_RTOL = 1e-13


def relative_slacks(rows, c, size=None):
    """``rows @ c / (||row|| ||c||)`` per row (and per column of a 2-D ``c``, one point per
    column); 0 where the product is 0 (a zero row or a zero point is on every face).

    ``size``, if given, replaces ``||c||``: for a point that is accurate relative to something
    larger than itself (a projection of ``g`` that is zero up to rounding is accurate relative
    to ``||g||``, not to its own norm of 1e-15; a group of a QP's point relative to the point).
    """
    rows = np.asarray(rows, dtype=float)
    c = np.asarray(c, dtype=float)
    products = rows @ c
    row_norms = np.linalg.norm(rows, axis=1)
    if size is not None:
        scale = row_norms[:, None] * size if c.ndim == 2 else row_norms * size
    elif c.ndim == 1:
        scale = row_norms * np.linalg.norm(c)
    else:
        scale = np.outer(row_norms, np.linalg.norm(c, axis=0))
    out = np.zeros_like(products)
    np.divide(products, scale, out=out, where=products != 0)
    return out


def _worst(slacks, pick):
    """Index (a tuple for 2-D) and value of the entry that ``pick`` (argmin, argmax) chooses."""
    index = np.unravel_index(pick(slacks), slacks.shape)
    return (int(index[0]) if len(index) == 1 else tuple(map(int, index))), float(slacks[index])


def _fail_message(what, entry, slack, bound):
    label = f"{what}: " if what else ""
    row = f"row {entry[0]} (point {entry[1]})" if isinstance(entry, tuple) else f"row {entry}"
    return f"{label}{row} has relative slack {slack:.3e}, {bound}"


def assert_in_cone(rows, c, *, rtol, size=None, what=""):
    """``rows @ c >= -rtol * ||row|| * ||c||`` for every row (every column of a 2-D ``c``;
    ``size`` in place of ``||c||`` as in :func:`relative_slacks`); the message names the
    worst row and its relative slack."""
    slacks = relative_slacks(rows, c, size)
    if not slacks.size:
        return
    row, slack = _worst(slacks, np.argmin)
    assert slack >= -rtol, _fail_message(what, row, slack, f"below -{rtol:.0e}")


def assert_tight(rows, d, *, rtol, what=""):
    """``|rows @ d| <= rtol * ||row|| * ||d||`` for every row (every column of a 2-D ``d``):
    the rows stay at zero slack along ``d``; the message names the loosest row."""
    slacks = relative_slacks(rows, d)
    if not slacks.size:
        return
    row, _ = _worst(np.abs(slacks), np.argmax)
    slack = float(slacks[row])
    assert abs(slack) <= rtol, _fail_message(what, row, slack, f"not within {rtol:.0e}")


def assert_nonnegative(values, *, rtol, scale, what=""):
    """``values >= -rtol * scale``: rows whose natural scale is not ``||row|| ||c||``, such as
    a three-layer branch's pre-activations, relative to the branch's largest as the solver
    measures them; all-zero values pass. The message names the worst entry and its value
    relative to ``scale``."""
    values = np.asarray(values, dtype=float)
    if not np.any(values):
        return
    row, slack = _worst(values / scale, np.argmin)
    assert slack >= -rtol, _fail_message(what, row, slack, f"below -{rtol:.0e}")


def assert_groups_in_cones(cones, coef, *, rtol, what=""):
    """Every group ``coef[..., i, :]`` in the cone ``cones[i]`` (``cones[i] @ c >= 0``), as
    :func:`assert_in_cone`; zero groups pass."""
    coef = np.asarray(coef)
    h = coef.shape[-1]
    for i, cone in enumerate(cones):
        groups = coef[..., i, :].reshape(-1, h)
        assert_in_cone(cone, groups.T, rtol=rtol, what=f"{what} pattern {i}".strip())


def assert_operator_point_feasible(operator, coef, *, rtol, what=""):
    """The nonzero groups of ``coef`` (shape (2, n_patterns, h)) in their cones, on every row
    the operator holds (``cone_rows``: lazy and stacked operators included), as
    :func:`assert_in_cone`."""
    groups = np.flatnonzero(np.linalg.norm(coef, axis=2).ravel())
    signs, patterns = np.divmod(groups, operator.n_patterns)
    all_rows = np.arange(operator.n_rows)
    for s, i in zip(signs, patterns, strict=True):
        rows = operator.cone_rows(int(i), all_rows)
        assert_in_cone(rows, coef[s, i], rtol=rtol, what=f"{what} group ({s}, {i})".strip())
