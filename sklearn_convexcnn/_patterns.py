"""Activation patterns of a single convolution filter.

A pattern is the joint sign vector ``1[X_k u >= 0]`` over all samples and all patches produced by
one filter ``u`` (doc/formulations.md §3): a cell of the hyperplane arrangement of the stacked patch
matrix. It is never the product of per-patch patterns. We represent every pattern by a *gate*,
a filter that lies inside its cell, so the masks can be recomputed from the gates on any data.
"""

import functools
import math
import operator

import numpy as np

from ._patches import BLOCK_ENTRIES, patch_rows


def pattern_masks(patches, gates):
    """Boolean activation masks ``1[X_k g >= 0]`` of each gate.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    gates : ndarray of shape (patch_size, n_gates)

    Returns
    -------
    masks : ndarray of bool, shape (n_samples, n_patches, n_gates)
    """
    return patches @ gates >= 0


def all_sign_patterns(n):
    """Every sign pattern of ``n`` entries, shape (2**n, n) bool (row ``j``: the bits of ``j``)."""
    return (np.arange(2**n)[:, None] >> np.arange(n) & 1).astype(bool)


def pattern_bytes(keys):
    """One hashable key per column of ``keys``, equal iff the columns are (packed bits for
    boolean keys: an eighth of the memory)."""
    columns = packed_columns(keys) if keys.dtype == bool else np.ascontiguousarray(keys.T)
    return [column.tobytes() for column in columns]


def packed_columns(bits):
    """``np.packbits(bits.T, axis=1)``: the bits of each column of ``bits`` (n_rows, n_columns),
    8 to a byte, the first the highest.

    Packed from a byte view of the rows, 8 at a time, and only then transposed: transposing the
    booleans first (or packing them across the rows) took three quarters of sampling 256
    patterns of 60,000 signals of 16 patches (26 ms against 2.1 ms a block of 16384 rows).
    """
    n_rows, n_columns = bits.shape
    rows = np.ascontiguousarray(bits).view(np.uint8)
    if n_rows % 8:
        rows = np.concatenate([rows, np.zeros((8 - n_rows % 8, n_columns), dtype=np.uint8)])
    eights = rows.reshape(-1, 8, n_columns)
    packed = eights[:, 0] << 7
    for bit in range(1, 8):
        packed |= eights[:, bit] << (7 - bit)
    return np.ascontiguousarray(packed.T)


# Gates whose keys :func:`key_bytes` computes at once.
KEY_GATES = 256


def key_bytes(pattern_keys, patches, gates, block_entries=BLOCK_ENTRIES):
    """``pattern_bytes(pattern_keys(patches, gates))``, computed a block at a time.

    ``pattern_keys`` of all the samples at once takes ``8 n K P`` bytes for its products
    alone (6.9 GB at n=200,000, 36 patches and 128 gates), where the keys, packed, take a
    64th of that. Here ``KEY_GATES`` gates and ``block_entries / (K KEY_GATES)`` samples
    at a time: a gate's key is the concatenation of its keys of each block of samples, whose
    ends depend on ``patches`` and ``block_entries`` alone, so keys of the same patches are
    equal iff the patterns are, whichever call computed them.
    """
    n_samples = len(patches)
    step = max(1, block_entries // max(1, patches.shape[1] * KEY_GATES))
    keys = []
    for first in range(0, gates.shape[1], KEY_GATES):
        chunk = gates[:, first : first + KEY_GATES]
        blocks = [
            pattern_bytes(pattern_keys(patches[start : start + step], chunk))
            for start in range(0, n_samples, step)
        ]
        keys.extend(b"".join(parts) for parts in zip(*blocks, strict=True))
    return keys


def first_of_each(keys):
    """Indices of the first occurrence of every distinct element of ``keys`` (hashable)."""
    first = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    return np.fromiter(first.values(), dtype=int, count=len(first))


def first_of_each_pattern(keys):
    """Column indices of the first occurrence of every distinct column of ``keys``.

    Each column is hashed as bytes (:func:`pattern_bytes`): ``np.unique(axis=1)`` sorts the
    columns as records, 10x slower on digits' region keys.
    """
    return first_of_each(pattern_bytes(keys))


def row_blocks(n_rows, n_patches, n_columns, max_entries):
    """Slices of the ``n_rows = n_samples * n_patches`` patch rows, about ``max_entries /
    n_columns`` rows each but at least ``lcm(n_patches, 8)``: whole samples, and whole bytes of
    packed signs (multiples of 8 rows), so each block's signs of ``n_columns`` gates pack on
    their own (callers with many columns split the columns too)."""
    unit = math.lcm(n_patches, 8)
    step = max(1, max_entries // max(1, n_columns) // unit) * unit
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def joint_signs(patches, gates):
    """The pattern of every gate, one column each: the signs ``1[X_k g >= 0]`` of every
    patch of every sample, shape (n_samples * n_patches, n_gates)."""
    return pattern_masks(patches, gates).reshape(-1, gates.shape[1])


def unique_gates(patches, gates):
    """Keep the first gate of every distinct pattern (:func:`joint_signs`), in order of
    appearance; computed a block of samples and gates at a time (:func:`key_bytes`)."""
    return gates[:, first_of_each(key_bytes(joint_signs, patches, gates))]


def sample_gates(patches, n_patterns, random_state):
    """Gates of the patterns of ``n_patterns`` random Gaussian filters, de-duplicated.

    This is the sampled program of doc/formulations.md §3: a restriction of the exact one, so its
    optimum is an upper bound on the global optimum and always a realizable network.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    n_patterns : int
        Number of filters drawn; fewer patterns remain when two filters share a pattern.
    random_state : numpy.random.Generator or RandomState

    Returns
    -------
    gates : ndarray of shape (patch_size, n_unique)
    """
    return unique_gates(patches, random_gates(patches.shape[2], n_patterns, random_state))


def random_gates(patch_size, n_patterns, random_state):
    """``n_patterns`` random Gaussian filters as gates, shape (patch_size, n_patterns): the
    draw every formulation's ``sample_gates`` de-duplicates by its own patterns."""
    # operator.index: any integer the parameter constraints admit (a bool, as in scikit-learn)
    return random_state.standard_normal((patch_size, operator.index(n_patterns)))


# --------------------------------------------------------------------------------------------
# Exact enumeration (doc/formulations.md §3)


class TooManyPatterns(ValueError):
    """An exact enumeration refused: the Cover bound exceeds its limit, or rows of the data
    are nearly parallel or nearly dependent (their patterns too thin to enumerate in float64)."""


#: Largest Cover bound :func:`enumerate_gates` accepts by default. A program over this many
#: patterns already has ``2 * P * n * K`` cone rows; beyond it, sample the patterns.
MAX_EXACT_PATTERNS = 100_000

_ZERO_ROW = 1e-12  # rows below this times the largest norm count as zero (enumerate_gates)
# Rows whose unit normals are closer than this (up to sign) without being parallel are refused:
# the ray where two nearer ones meet, their cross product, is only exact to about eps / angle,
# and the sweep around it found no hyperplane through it (signals of 100 + 1e-5 * noise: an
# IndexError). Inside the enumeration, normals are merged only to _ROUNDING_SPREAD.
_PARALLEL = 1e-7
# Normals of parallel rows differ by their rounding alone (about 1e-16): merged further apart,
# nearly parallel rows leave out the thin cells between their hyperplanes, which an exact
# enumeration must not (a chain of 200 normals 0.9e-7 apart, merged into one, left 2 of 400
# patterns, and certify called a network optimal at 6.75 where one of 0.002 exists; the
# restrictions' projections, and the planes around a line, merged at 1e-7 lost the cells of
# near copies 1e-6 apart)
_ROUNDING_SPREAD = 1e-12
# Points closer than this to a hyperplane are on it: they are no cell's (unit vectors). Not
# 64 eps, the products' own rounding: the normals of restrictions carry that of their
# projections too, up to 7e-14 where 0 is meant (on three digits, points of one coordinate
# plane score 2e-14 to 4e-14 against the other's hyperplanes: 28 "cells" of 24, refused).
# benchmarks/near_degenerate_enumeration.py: 900 complete, 160 refused (907 and 153 at
# 64 eps), none short; at 512 eps 894 and 166.
_ON_HYPERPLANE = 256 * np.finfo(float).eps
_RANK = 1e-10  # singular values below this times the largest do not count in the rank
# Singular values of rows in a subspace, across it, are their rounding (at most 6e-16 of the
# largest, at every level, on integer, ternary, binary, digits and subspace data): from this
# to _RANK the rows only nearly lie in the subspace, and the cells across it are too thin
_ROUNDING_RANK = 1e-13
_NEAREST = 8  # neighbours of each normal that may link it to a copy (a cluster stays linked)
# A plane g passes through the ray t = a x b / |a x b| of two others (unit normals) when
# |g . t| |a x b| = |det(a, b, g)| is below this times the largest sine of the three pairs
# (the normals' rounding moves the determinant by about eps times those sines): planes exactly
# through a ray showed up to 289 eps, deep in the restrictions of integer signals' patches of
# 6 (36 eps on integer, ternary, binary, subspace and digits data, h = 3..9; at 256 eps those
# patches were refused); planes off it at least 847 eps (planted near-degenerate rows). A
# plane taken for one through a ray that it is not loses the small cells between them, in the
# sweep and its count alike: at 1024 eps unscaled, any three planes within 5e-7 of each other
# (their determinant is below that whatever it is: 2 cells lost silently in 7 of
# 1,060 near-degenerate arrangements, the planes of a restriction 3e-9 to 5e-6 apart). A plane
# taken for off a ray that it is through only makes the count too large, which refuses
_THROUGH = 512 * np.finfo(float).eps


def cover_bound(n_hyperplanes, rank):
    """Cover's bound on the number of cells of a central hyperplane arrangement.

    ``2 * sum_{l < r} C(N - 1, l)`` for ``N`` hyperplanes through the origin whose normals have
    rank ``r`` (Cover 1965; doc/formulations.md §3). Equality holds when the normals are in general
    position, e.g. for Gaussian data; degenerate data have fewer cells.

    Parameters
    ----------
    n_hyperplanes : int
        Number of distinct hyperplanes ``N`` (non-zero, pairwise non-parallel normals).
    rank : int
        Rank ``r`` of the matrix of normals.

    Returns
    -------
    bound : int
        An exact integer; ``1`` when there is no hyperplane (the whole space is one cell).
    """
    n_hyperplanes, rank = int(n_hyperplanes), int(rank)
    if n_hyperplanes == 0 or rank == 0:
        return 1
    return 2 * sum(math.comb(n_hyperplanes - 1, level) for level in range(rank))


def distinct_hyperplanes(rows, *, strict=False, near=_PARALLEL):
    """Unit normals of the distinct hyperplanes ``{u : row . u = 0}`` of the rows.

    Zero rows define no hyperplane (their sign is ``1[0 >= 0] = 1`` for every filter), and rows
    that are multiples of each other, of either sign, define the same one, as do rows whose
    directions are within ``near`` of each other.

    Parameters
    ----------
    rows : ndarray of shape (n_rows, dim)
    strict : bool, default=False
        Refuse to merge rows that are only nearly parallel (directions further apart than
        their rounding): an exact enumeration of the data's own rows must not leave out the
        cells between them.
    near : float, default=_PARALLEL
        Largest difference of two unit normals (up to sign, in any entry) that makes them one
        hyperplane. The enumeration's inner arrangements (projections onto hyperplanes) pass
        ``_ROUNDING_SPREAD``: projections of parallel rows differ by their rounding alone.

    Returns
    -------
    normals : ndarray of shape (n_hyperplanes, dim)
        Unit vectors, the first entry of each that is not negligible made positive.

    Raises
    ------
    TooManyPatterns
        With ``strict``, where nearly parallel rows would be merged.
    """
    rows = _distinct_rows(np.asarray(rows, dtype=float))
    norms = np.linalg.norm(rows, axis=1)
    rows = rows[norms > _ZERO_ROW * norms.max(initial=0.0)]
    if len(rows) == 0:
        return rows
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    leading = np.argmax(np.abs(unit) > 1e-8, axis=1)
    unit *= np.sign(unit[np.arange(len(unit)), leading])[:, None]
    # exact copies first (blank or repeated patches): eight copies of a row filled its
    # nearest neighbours below, and a near copy of it was never linked
    unit = unit[first_of_each_pattern(unit.T)]
    # (a fixed order of the normals, hence of the gates, whatever the order of the rows)
    unit = unit[np.lexsort(np.round(unit, 8).T[::-1])]
    # near copies: the normals linked to one of their nearest within `near`, one per linked
    # group (neighbours in the sorted order missed a copy whenever a third normal sorted
    # between the two; every pair within `near` was quadratic on clustered rows: 154 s
    # for 20,000 rows of 100 + 1e-6 * noise). Of either sign: the sign made positive above
    # is that of an entry near 1e-8 for some, and differs between near copies
    from scipy.sparse import coo_matrix  # (here: 80 ms more for every worker that imports us)
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(unit)
    tree, sources, targets = cKDTree(unit), [], []
    for sign in (1.0, -1.0):
        _, nearest = tree.query(
            sign * unit, k=min(_NEAREST, n), distance_upper_bound=near, p=np.inf
        )
        nearest = nearest.reshape(n, -1)
        linked = nearest < n  # (n: none that near)
        sources.append(np.nonzero(linked)[0])
        targets.append(nearest[linked])
    sources, targets = np.concatenate(sources), np.concatenate(targets)
    links = coo_matrix((np.ones(len(sources)), (sources, targets)), shape=(n, n))
    _, group = connected_components(links, directed=False)
    _, first = np.unique(group, return_index=True)
    if strict:
        # each normal's distance to the one that stands for its group, up to sign
        representative = unit[first[group]]
        spread = np.minimum(
            np.abs(unit - representative).max(axis=1), np.abs(unit + representative).max(axis=1)
        )
        if spread.max(initial=0.0) > _ROUNDING_SPREAD:
            merged = int(np.count_nonzero(spread > _ROUNDING_SPREAD))
            raise TooManyPatterns(
                f"n_patterns='exact' cannot enumerate the patterns of these data: {merged} "
                "rows (patches) are nearly parallel to others without being parallel "
                f"(directions {spread.max():.1e} apart), and the patterns between their "
                "hyperplanes are too thin to enumerate in float64. Pass an int "
                "n_patterns=<int> (e.g. n_patterns=256) to sample the patterns, or standardize "
                "X if it has an offset common to all entries (which makes the patches nearly "
                "parallel; hundreds of patches of size 2 or 3 also come this close by chance)."
            )
    return unit[np.sort(first)]


def _distinct_rows(rows, block_size=2**20):
    """The distinct rows of ``rows``, sorted, exact copies removed a block of rows at a time.

    Binary images repeat a few patches millions of times (60,000 binarized 28x28 images:
    44 million rows of 2x2 patches, at most 16 distinct): removed first, at the cost of
    sorting each block, they no longer fill the copies that the normalization and the
    search for near copies make of every row (4.8 GB for those images).
    """
    if len(rows) <= block_size:
        return np.unique(rows, axis=0)
    blocks = [np.unique(rows[s : s + block_size], axis=0) for s in range(0, len(rows), block_size)]
    return np.unique(np.concatenate(blocks), axis=0)


def _spectrum(normals):
    """``(singular, vt, rank)``: the rows' singular values and right singular vectors (as
    rows), and their rank (the singular values above ``_RANK`` times the largest)."""
    _, singular, vt = np.linalg.svd(normals, full_matrices=False)
    rank = int(np.sum(singular > _RANK * singular[0])) if len(singular) else 0
    return singular, vt, rank


def _best_per_cell(points, normals, block=BLOCK_ENTRIES):
    """One point per distinct sign vector, the one farthest from every hyperplane; none of
    the points on a hyperplane, which are no cell's (deletion-restriction's first points can
    lie on a later hyperplane: two such 'patterns' among 558 cells of ternary data).

    Points are processed ``block // n_hyperplanes`` at a time, so memory stays at ``block``
    numbers plus one bit per (point, hyperplane).
    """
    step = max(1, block // max(1, len(normals)))
    margins, keys = [], []
    for start in range(0, len(points), step):
        values = points[start : start + step] @ normals.T
        margins.append(np.abs(values).min(axis=1, initial=np.inf))
        keys.append(np.packbits(values >= 0, axis=1))
    margin, keys = np.concatenate(margins), np.concatenate(keys)
    off = margin > _ON_HYPERPLANE
    points, margin, keys = points[off], margin[off], keys[off]
    order = np.argsort(-margin, kind="stable")
    _, first = np.unique(keys[order], axis=0, return_index=True)
    return points[order[np.sort(first)]]


def _sweep_2d(normals):
    """One unit point between consecutive critical angles of lines through the origin in R^2."""
    base = np.arctan2(normals[:, 1], normals[:, 0])
    angles = np.sort(np.mod(np.concatenate([base + np.pi / 2, base - np.pi / 2]), 2 * np.pi))
    angles = angles[np.append(True, np.diff(angles) > 1e-13)]
    following = np.append(angles[1:], angles[0] + 2 * np.pi)
    middle = (angles + following) / 2
    return np.column_stack([np.cos(middle), np.sin(middle)])


def _sweep_3d(normals):
    """Points of every cell of an essential central arrangement in R^3 (doc/formulations.md §3),
    and the number of its cells.

    Every cell is a pointed cone, so it has an extreme ray ``t = +-(g_a x g_b)``. Around each
    ray, the cells touching it are found by a 2-D angular sweep over the hyperplanes through the
    ray, stepping off the ray by less than the distance to any other hyperplane. The number of
    cells is ``2 + 2 sum (m - 1)`` over the lines where ``m >= 2`` planes meet (Zaslavsky's
    theorem for rank 3), counted from the planes found through each pair's ray.
    """
    first, second = np.triu_indices(len(normals), k=1)
    # a x b as a x (b -+ a): the difference of nearly parallel normals is exact, so the ray is
    # exact to eps, not eps / |a x b|, and |det(a, b, g)| to eps |a x b|
    towards = np.sign(np.sum(normals[first] * normals[second], axis=1))[:, None]
    rays = np.cross(normals[first], normals[second] - towards * normals[first])
    sines = np.linalg.norm(rays, axis=1)
    rays /= sines[:, None]
    # (the sines of every pair, for the rounding of each plane's determinant with a ray's pair)
    pair_sines = np.zeros((len(normals), len(normals)))
    pair_sines[first, second] = pair_sines[second, first] = sines
    points, degenerate, steps = [], [], np.empty(len(rays))
    multiplicity = np.empty(len(rays), dtype=int)
    # blocks of rays keep the (rays, N) products small
    block = max(1, BLOCK_ENTRIES // len(normals))
    for start in range(0, len(rays), block):
        part = slice(start, start + block)
        products = np.abs(rays[part] @ normals.T)
        pairs = (first[part], second[part], sines[part])
        through = _through(products * sines[part, None], *pairs, pair_sines)
        # distance to the nearest hyperplane not through the ray bounds the step
        step = 0.5 * np.min(np.where(through, np.inf, products), axis=1, initial=1.0)
        steps[part] = step
        multiplicity[part] = through.sum(axis=1)
        simple = multiplicity[part] == 2
        degenerate.extend(start + np.flatnonzero(~simple))
        if not simple.any():
            continue
        # two hyperplanes through the ray: the 4 quadrants of the plane they span
        a, b = first[part][simple], second[part][simple]
        pair = np.stack([normals[a], normals[b]], axis=1)  # (S, 2, 3)
        inverse = np.linalg.pinv(pair)
        ray = rays[part][simple]
        for signs in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            w = inverse @ np.array(signs, float)
            w /= np.linalg.norm(w, axis=1, keepdims=True)
            for ray_sign in (1.0, -1.0):
                points.append(ray_sign * ray + step[simple, None] * w)
    seen = set()
    for index in degenerate:
        # a degenerate ray on three or more hyperplanes: sweep the plane orthogonal to it
        ray = rays[index]
        key = tuple(np.round(ray * np.sign(ray[np.argmax(np.abs(ray) > 1e-8)]), 7))
        if key in seen:
            continue
        seen.add(key)
        pairs = (first[index : index + 1], second[index : index + 1], sines[index : index + 1])
        through = _through(np.abs(normals @ ray)[None] * sines[index], *pairs, pair_sines)[0]
        basis = np.linalg.svd(ray[None])[2][1:].T  # (3, 2), orthogonal to the ray
        around = distinct_hyperplanes(normals[through] @ basis, near=_ROUNDING_SPREAD)
        directions = _sweep_2d(around) @ basis.T
        for ray_sign in (1.0, -1.0):
            points.append(ray_sign * ray + steps[index] * directions)
    points = np.concatenate(points)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points, _cells_of_lines(multiplicity)


def _through(determinants, first, second, sines, pair_sines):
    """Which planes pass through the rays of the pairs of planes ``(first, second)``, whose
    sines are ``sines``: ``|det(a, b, g)|`` (``determinants``, one row per pair) below
    ``_THROUGH`` times the largest sine of the three pairs (``pair_sines``, every pair's), its
    rounding; a pair's own planes always. The sines are gathered only where ``_THROUGH``
    alone, their largest bound, admits the plane: few pairs have a plane near their ray."""
    through = determinants < _THROUGH
    ray, plane = np.nonzero(through)
    largest = np.maximum(pair_sines[first[ray], plane], pair_sines[second[ray], plane])
    through[ray, plane] = determinants[ray, plane] < _THROUGH * np.maximum(largest, sines[ray])
    own = np.arange(len(determinants))
    through[own, first] = through[own, second] = True  # (whatever rounding)
    return through


def _cells_of_lines(multiplicity):
    """``2 + 2 sum (m - 1)`` over the lines of a rank-3 central arrangement, from the number
    ``m`` of planes through the line of each pair of planes (a line of ``m`` planes is the line
    of ``C(m, 2)`` pairs); None where the pairs disagree on a line's planes."""
    total = 0
    for m, pairs in enumerate(np.bincount(multiplicity)):
        lines, rest = divmod(int(pairs), math.comb(m, 2)) if pairs else (0, 0)
        if rest:
            return None
        total += lines * (m - 1)
    return 2 + 2 * total


def _deletion_restriction(normals):
    """Points of every cell, adding one hyperplane at a time (any dimension), and the number of
    cells.

    A cell of the arrangement of the first ``j - 1`` hyperplanes that ``H_j`` does not cut keeps
    its point; a cell it cuts meets ``H_j`` in a cell of the restricted arrangement (one
    dimension lower, computed recursively), and the two halves contain that cell's point moved
    off ``H_j`` by less than the distance to any other hyperplane. Every cell of the final
    arrangement thus gets at least one point; at most about twice the number of cells are made.
    The cells number 2 and one more for each restricted cell (deletion-restriction).
    """
    points, n_cells = [normals[:1], -normals[:1]], 2
    for j in range(1, len(normals)):
        g, previous = normals[j], normals[:j]
        basis = np.linalg.svd(g[None])[2][1:].T  # (dim, dim - 1), spans H_j
        projected = distinct_hyperplanes(previous @ basis, near=_ROUNDING_SPREAD)
        restricted = _cell_points(projected) @ basis.T
        along = np.abs(previous @ g)
        distance = np.abs(restricted @ previous.T) / np.maximum(along, 1e-300)
        step = np.minimum(0.5 * distance.min(axis=1, initial=np.inf), 1.0)[:, None]
        points += [restricted + step * g, restricted - step * g]
        n_cells += len(restricted)
    points = np.concatenate(points)
    return points / np.linalg.norm(points, axis=1, keepdims=True), n_cells


def _cell_points(normals):
    """One unit point inside every cell of the arrangement of the given unit normals.

    Parameters
    ----------
    normals : ndarray of shape (n_hyperplanes, dim)
        Distinct hyperplanes (:func:`distinct_hyperplanes`).

    Returns
    -------
    points : ndarray of shape (n_cells, dim)
    """
    dim = normals.shape[1]
    if len(normals) == 0:
        return np.eye(dim)[:1]
    singular, vt, rank = _spectrum(normals)
    if rank < len(singular) and singular[rank] > _ROUNDING_RANK * singular[0]:
        raise TooManyPatterns(
            "n_patterns='exact' cannot enumerate every pattern of these data in float64: the "
            "patches nearly lie in a subspace without lying in it (their spread across it is "
            f"{singular[rank] / singular[0]:.1e} of the largest, below {_RANK:.0e}), and the "
            "patterns that differ across it are too thin to resolve. Pass an int "
            "n_patterns=<int> (e.g. n_patterns=256) to sample the patterns instead, or "
            "standardize X if some of its features are nearly constant."
        )
    if rank < dim:  # the cells are products with the null space: enumerate in the row space
        basis = vt[:rank].T
        return _cell_points(distinct_hyperplanes(normals @ basis, near=_ROUNDING_SPREAD)) @ basis.T
    # in coordinates where the normals' singular values are all 1 (u = V S^-1 w: the same
    # cells, mapped linearly), no cell is thinner than the arrangement itself makes it:
    # without it, patches with a coordinate 1e-8 of the others lose 12 of their 134 cells
    whitening = vt.T / singular
    whitened = normals @ whitening
    whitened /= np.linalg.norm(whitened, axis=1, keepdims=True)
    if len(normals) == dim:
        # independent normals, orthonormal once whitened: the cells are the 2^dim orthants,
        # the point of signs s is s @ whitened (its products with the normals are s). The
        # sweep below took 36 s for the 2^16 cells of 16 signals, a circular CNN's rows
        points = np.where(all_sign_patterns(dim), 1.0, -1.0) @ whitened
    elif dim == 1:
        points = np.array([[1.0], [-1.0]])
    elif dim == 2:
        points = _sweep_2d(whitened)  # one point per cell by construction
    else:
        points, n_cells = (_sweep_3d if dim == 3 else _deletion_restriction)(whitened)
        points = _best_per_cell(points, whitened)
        if len(points) != n_cells:
            count = "whose lines do not add up" if n_cells is None else f"of {n_cells} cells"
            raise TooManyPatterns(
                "n_patterns='exact' cannot enumerate every pattern of these data in float64: "
                "some patches are nearly linearly dependent without being dependent, and the "
                "patterns where they meet are too thin to resolve (the enumeration found "
                f"{len(points)} cells of one of its arrangements, {len(normals)} hyperplanes in "
                f"{dim} dimensions {count}). Pass an int n_patterns=<int> (e.g. "
                "n_patterns=256) to sample the patterns instead."
            )
    points = points @ whitening.T
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def arrangement_gates(rows, max_patterns=MAX_EXACT_PATTERNS, *, shorter="a smaller kernel_size"):
    """One point inside every cell of the central arrangement ``{u : row . u = 0}``.

    Exact for any dimension and any data (general position is not needed): a 2-D angular sweep,
    sweeps around the extreme rays in 3-D, and deletion-restriction (one dimension lower per
    added hyperplane) above (doc/formulations.md §3), each checked against its own count of the
    cells (Zaslavsky's in 3-D, deletion-restriction's above), or refused where rows are so
    nearly dependent that float64 misses some of them. Cells are full-dimensional: the patterns of
    filters on the boundary of a cell are not separate patterns, since the closed cones of the
    full-dimensional cells already cover every filter.

    Parameters
    ----------
    rows : ndarray of shape (n_rows, dim)
        Normals of the hyperplanes, possibly repeated, parallel or zero.
    max_patterns : int, default=MAX_EXACT_PATTERNS
        Refuse arrangements whose Cover bound (:func:`cover_bound`) exceeds this.
    shorter : str, default="a smaller kernel_size"
        What shortens the rows, in the refusal's advice.

    Returns
    -------
    gates : ndarray of shape (dim, n_cells)
        Unit vectors, one per cell, each as far from the hyperplanes as the construction allows.

    Raises
    ------
    TooManyPatterns
        If the Cover bound exceeds ``max_patterns``, rows are nearly parallel without being
        parallel (:func:`distinct_hyperplanes`), or an enumeration found fewer or more cells
        than its count (rows nearly dependent without being dependent).
    """
    rows = np.asarray(rows, dtype=float)
    check_sampled_bound(rows.__getitem__, len(rows), max_patterns, shorter=shorter)
    normals = _check_bound(rows, max_patterns, shorter)
    if len(normals) == 0:
        return np.eye(rows.shape[1])[:, :1]
    return _cell_points(normals).T


def arrangement_bound(rows):
    """Cover's bound (:func:`cover_bound`) on the cells of the arrangement of ``rows``, as
    :func:`arrangement_gates` counts it: over their distinct hyperplanes and their rank."""
    normals = distinct_hyperplanes(np.asarray(rows, dtype=float), strict=True)
    return cover_bound(len(normals), _spectrum(normals)[2] if len(normals) else 0)


def check_sampled_bound(
    rows_at, n_rows, max_patterns=MAX_EXACT_PATTERNS, *, shorter="a smaller kernel_size"
):
    """TooManyPatterns where a spread sample of ``n_rows`` rows (``rows_at(indices)`` returns
    them, an array) has a Cover bound above ``max_patterns``, as :func:`arrangement_gates`
    refuses; nothing where ``n_rows`` is at most four times the sample, or the sample passes.

    A subset's hyperplanes and rank are at most the whole's, and Cover's bound grows with both:
    a sample of rows above the limit refuses without a pass over all of them (4e6 patches took
    32 s and 1.7 GB to be refused; in 2-D every hyperplane adds two cells, so
    ``2 * max_patterns + 1`` distinct rows always exceed the limit). The estimators check the
    sample before they cut the patches (the formulations' ``check_enumeration``): 50,000
    images of 28 x 28 pixels were refused after 2.4 GB of patches otherwise.
    """
    sample = 2 * max_patterns + 1
    if n_rows > 4 * sample:
        spread = np.linspace(0, n_rows - 1, sample).astype(int)
        _check_bound(rows_at(spread), max_patterns, shorter, n_rows=n_rows)


def _check_bound(rows, max_patterns, shorter, n_rows=None):
    """The distinct hyperplanes of ``rows``; TooManyPatterns where their Cover bound exceeds
    ``max_patterns`` (``rows`` a sample of ``n_rows`` rows: a bound on the whole from below)."""
    try:
        normals, parallel = distinct_hyperplanes(rows, strict=True), None
    except TooManyPatterns as refusal:
        # nearly parallel rows, merged: fewer hyperplanes than the data's, whose bound is at
        # least theirs. Above the limit the data are too many (an audit: 20,000 Gaussian
        # signals were told that standardizing X would help), else too thin
        normals, parallel = distinct_hyperplanes(rows), refusal
    rank = _spectrum(normals)[2] if len(normals) else 0
    bound = cover_bound(len(normals), rank)
    if parallel is not None and bound <= max_patterns:
        raise parallel
    if bound > max_patterns:
        at_least = n_rows is not None or parallel is not None
        among = "" if n_rows is None else f", found among {len(rows)} of the {n_rows} rows"
        raise TooManyPatterns(
            f"n_patterns='exact' would enumerate up to {bound} activation patterns "
            f"{'or more ' if at_least else ''}(the Cover bound of {len(normals)} "
            f"distinct hyperplanes of rank {rank}{among}), more than the limit of "
            f"{max_patterns}. Pass an int n_patterns=<int> (e.g. n_patterns=256) to sample the "
            f"patterns instead, or use fewer samples or shorter patches ({shorter})."
        )
    return normals


def enumerate_gates(patches, max_patterns=MAX_EXACT_PATTERNS, *, shorter="a smaller kernel_size"):
    """Gates of every joint activation pattern of a single filter (exact enumeration).

    The patterns ``(1[X_k u >= 0])_k`` over all ``u`` are the cells of the central arrangement
    of the ``n * K`` rows of the stacked patch matrix ``[X_1; ...; X_K]`` in ``R^h``
    (doc/formulations.md §3): never the product of per-patch patterns. Their number is at most the
    Cover bound ``2 * sum_{l < r} C(N - 1, l)`` with ``N <= n * K`` distinct hyperplanes and
    ``r`` the rank of the stacked matrix, with equality for data in general position.

    Rows that are multiples of each other count as one hyperplane, and rows below ``1e-12``
    times the largest row's norm as zero rows (no hyperplane): a filter's output on them is at
    most ``1e-12`` of its largest, and rounding leaves such residues where zero was meant (a
    constant feature minus its computed mean), which would otherwise multiply the patterns.
    The patterns that differ only on them are not told apart. Rows whose directions are
    closer than ``1e-7`` (largest difference of the unit normals, up to sign) without being
    parallel are refused: the cells between them are slivers that float64 cannot sweep
    reliably (on signals of ``100 + 1e-5 * noise`` it raised an IndexError), and left out
    they made the enumeration, and certificates over it, inexact. Rows further apart but
    nearly dependent (a near copy at ``1e-6``, a row within ``1e-8`` of the span of two
    others) bound cells as thin: the enumeration checks its count of the cells and refuses
    where it does not match.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    max_patterns : int, default=MAX_EXACT_PATTERNS
        Largest Cover bound accepted; the enumeration is refused above it.
    shorter : str, default="a smaller kernel_size"
        What shortens the patches, in the refusal's advice.

    Returns
    -------
    gates : ndarray of shape (patch_size, n_patterns)
        One filter inside every cell, every pattern once.

    Raises
    ------
    ValueError
        If the Cover bound exceeds ``max_patterns`` (the error names the bound and suggests
        sampling with ``n_patterns=<int>``), rows are nearly parallel (it suggests
        standardizing ``X``), or nearly dependent (it suggests sampling):
        :class:`TooManyPatterns`.
    """
    gates = arrangement_gates(patches.reshape(-1, patches.shape[2]), max_patterns, shorter=shorter)
    # the cells are already distinct on the distinct hyperplanes, which fix every row's sign;
    # re-checking on all rows costs n * K bits per cell, so only where that is small
    if gates.shape[1] * patches.shape[0] * patches.shape[1] <= 2**30:
        gates = unique_gates(patches, gates)
    return gates


def check_enumeration(formulation, X, geometry):
    """Refuse ``n_patterns="exact"`` where ``formulation.enumerate_gates`` would refuse it on
    the patches of ``X`` (:class:`TooManyPatterns`, or a ValueError of its own), as far as a
    spread sample of them tells (``formulation.check_enumeration``), before they are cut."""
    n_samples = X.shape[0]
    formulation.check_enumeration(
        functools.partial(patch_rows, X, geometry), n_samples, n_samples * geometry.n_patches
    )


def program_gates(formulation, patches, n_patterns, random_state, check_memory):
    """Gates of the program's patterns for the parameter ``n_patterns``, as the estimators
    and :func:`~sklearn_convexcnn.convex_cnn_path` take it.

    ``"exact"``: every pattern (``formulation.enumerate_gates``; :class:`TooManyPatterns`
    above :data:`MAX_EXACT_PATTERNS`), checked by ``check_memory(n_enumerated)`` after the
    enumeration, whose count is known only then. An int: the patterns of that many random
    filters drawn from ``random_state`` (``formulation.sample_gates``), checked by
    ``check_memory(n_patterns)`` before the draw (``10**9`` filters alone take 22 GiB).
    ``check_memory`` raises a MemoryError where the program would not fit.
    """
    if n_patterns == "exact":
        gates = formulation.enumerate_gates(patches)
        check_memory(gates.shape[1])
        return gates
    check_memory(n_patterns)
    return formulation.sample_gates(patches, n_patterns, random_state)
