"""Activation patterns: exact enumeration (doc/formulations.md §3, §4 check 1) and their keys."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_convexcnn import ConvexCNNRegressor, _patterns
from sklearn_convexcnn._formulations.two_layer import make_formulation
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._patterns import (
    MAX_EXACT_PATTERNS,
    TooManyPatterns,
    all_sign_patterns,
    arrangement_gates,
    cover_bound,
    distinct_hyperplanes,
    enumerate_gates,
    first_of_each,
    first_of_each_pattern,
    key_bytes,
    packed_columns,
    pattern_bytes,
    pattern_masks,
)


def _keys(patches, gates):
    masks = pattern_masks(patches, gates).reshape(-1, gates.shape[1])
    return [column.tobytes() for column in np.packbits(masks, axis=0).T]


def test_cover_bound_values():
    assert cover_bound(40, 1) == 2
    assert cover_bound(40, 2) == 80  # 2N lines' sectors in the plane
    assert cover_bound(40, 3) == 2 * (1 + 39 + 741)
    assert cover_bound(0, 3) == 1 and cover_bound(5, 0) == 1
    assert cover_bound(3, 5) == 8  # fewer hyperplanes than dimensions: all 2^N orthants


def test_an_enumeration_whose_cover_bound_equals_the_limit_is_accepted():
    # the limit is inclusive: refused only where the bound exceeds it (a mutation audit found
    # no test on the boundary)
    rows = np.tile(np.eye(3), (5, 1))  # (3 distinct hyperplanes of rank 3: the 8 octants)
    assert cover_bound(3, 3) == 8
    gates = arrangement_gates(rows, max_patterns=8)
    assert gates.shape == (3, 8)
    assert len({tuple(np.sign(g)) for g in gates.T}) == 8
    with pytest.raises(TooManyPatterns, match=r"would enumerate up to 8 activation patterns"):
        arrangement_gates(rows, max_patterns=7)


@pytest.mark.parametrize(
    "n, K, h",
    [(10, 4, 1), (10, 4, 2), (16, 7, 2), (10, 4, 3), (12, 3, 3), (6, 3, 4), (5, 3, 5)],
)
def test_count_equals_cover_bound_on_gaussian_data(n, K, h):
    # Gaussian rows are in general position: the bound is attained exactly
    patches = np.random.default_rng(n * K + h).standard_normal((n, K, h))
    gates = enumerate_gates(patches)
    assert gates.shape == (h, cover_bound(n * K, h))
    assert len(set(_keys(patches, gates))) == gates.shape[1]  # all distinct


@pytest.mark.parametrize("n_rows, dim", [(2, 2), (3, 3), (5, 5), (6, 9), (12, 20)])
def test_independent_rows_give_every_orthant_well_inside(n_rows, dim, monkeypatch):
    # independent hyperplanes cut all 2^n orthants (after whitening), built directly, without
    # the general sweep: it took 36 s for the 16 signals of a circular CNN (an audit)
    def sweep(normals):
        raise AssertionError("independent rows were swept")

    monkeypatch.setattr(_patterns, "_deletion_restriction", sweep)
    monkeypatch.setattr(_patterns, "_sweep_3d", sweep)
    rows = np.random.default_rng(dim).standard_normal((n_rows, dim)) * np.logspace(0, 3, dim)
    gates = arrangement_gates(rows)
    assert gates.shape == (dim, 2**n_rows)
    signs = rows @ gates
    assert len({tuple(column) for column in (signs > 0).T}) == 2**n_rows
    # every gate as far from each hyperplane, relative to the row's norm, as the row's
    # whitened direction allows: none near a boundary
    margins = np.abs(signs) / np.linalg.norm(rows, axis=1)[:, None]
    assert margins.min() > 1e-4


@pytest.mark.parametrize("h", [2, 3, 4])
def test_every_random_filter_pattern_is_enumerated(h):
    rng = np.random.default_rng(h)
    patches = rng.standard_normal((7, 4, h))
    enumerated = set(_keys(patches, enumerate_gates(patches)))
    sampled = set(_keys(patches, rng.standard_normal((h, 20000))))
    assert sampled <= enumerated


@pytest.mark.parametrize("h", [2, 3, 4])
def test_degenerate_data_matches_exhaustive_sampling(h):
    # repeated, parallel and zero rows (entries in {-1, 0, 1}): fewer cells than the bound,
    # and none so thin that 300k random filters would miss it
    rng = np.random.default_rng(10 + h)
    patches = rng.integers(-1, 2, size=(8, 3, h)).astype(float)
    enumerated = set(_keys(patches, enumerate_gates(patches)))
    sampled = set(_keys(patches, rng.standard_normal((h, 300_000))))
    assert enumerated == sampled
    n_planes = len(distinct_hyperplanes(patches.reshape(-1, h)))
    # distinct lines in the plane are always in general position; above, these are not
    assert (len(enumerated) == cover_bound(n_planes, h)) == (h == 2)


@pytest.mark.parametrize("scale", [1e-5, 1e-7])
def test_nearly_parallel_rows_are_refused_with_the_fix(scale):
    # signals of 100 + tiny noise make nearly parallel rows, whose rays (cross products) were
    # too inexact for the sweep (a review: IndexError); merged, the patterns between them were
    # left out of an "exact" enumeration (another review: a certificate of 6.75 for a problem
    # with a network of 0.002). Refused, with the remedy, which then enumerates them
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = 100 + scale * rng.standard_normal((6, 5))
    y = rng.standard_normal(6)
    reg = ConvexCNNRegressor(kernel_size=3, n_patterns="exact")
    with (
        pytest.warns(UserWarning, match=r"^The entries of X share an offset of 100 "),
        pytest.raises(ValueError, match=r"nearly parallel .* standardize X if it has an offset"),
    ):
        reg.fit(X, y)
    standardized = StandardScaler().fit_transform(X)
    patches = np.stack([standardized[:, k : k + 3] for k in range(3)], axis=1)
    gates = enumerate_gates(patches)
    assert set(_keys(patches, rng.standard_normal((3, 100_000)))) <= set(_keys(patches, gates))
    assert reg.fit(standardized, y).n_patterns_ == gates.shape[1]


def test_a_chain_of_nearly_parallel_rows_is_refused_not_merged():
    # a review: near copies were merged transitively, so 200 rows 0.9e-7 apart in a chain
    # became one hyperplane and 2 of their 400 patterns; certify then called a network at
    # 6.75 optimal where one of 0.002 exists
    angles = 0.9e-7 * np.arange(200)
    X = np.column_stack([np.cos(angles), np.sin(angles)])
    u0 = np.array([np.cos(1e-5), np.sin(1e-5)])
    y = np.abs(X @ u0)
    reg = ConvexCNNRegressor(kernel_size=2, beta=1e-3, fit_intercept=False, n_patterns=8)
    with pytest.warns(UserWarning, match=r"The targets \(y\) share an offset of 1 against"):
        reg.fit(X, y)  # (y is 1 to within 1e-11)
    with pytest.raises(ValueError, match="nearly parallel"):
        enumerate_gates(X[:, None, :])
    certificate = reg.certify(X, y)
    assert not certificate.exact and not certificate.is_optimal


def _near_copies(h, scale, seed, n=16):
    """``n`` Gaussian rows and copies of half of them, each entry moved by ``scale`` of itself."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, h))
    return np.vstack([rows, rows[: n // 2] * (1 + scale * rng.standard_normal((n // 2, h)))])


def _nearly_dependent(h, scale, seed, n=14, k=6):
    """``n`` Gaussian rows and ``k`` random combinations of two of them, moved by ``scale``."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, h))
    sums = (rng.standard_normal((k, 2, 1)) * rows[rng.integers(0, n, (k, 2))]).sum(axis=1)
    return np.vstack([rows, sums * (1 + scale * rng.standard_normal(sums.shape))])


def _count_or_refusal(rows):
    """The number of cells the enumeration lost against the Cover bound (these rows are in
    general position), or "refused"."""
    try:
        gates = arrangement_gates(rows)
    except ValueError as error:
        assert "too thin to resolve" in str(error) or "nearly parallel" in str(error)
        assert "n_patterns=<int>" in str(error)
        return "refused"
    normals = distinct_hyperplanes(rows, strict=True)
    found = np.unique(rows @ gates >= 0, axis=1).shape[1]
    return cover_bound(len(normals), min(rows.shape)) - found


@pytest.mark.parametrize(
    "make, h, scale",
    [
        (_near_copies, 4, 1e-6),
        (_near_copies, 5, 1e-6),
        (_nearly_dependent, 3, 1e-8),
        (_nearly_dependent, 4, 1e-8),
        (_nearly_dependent, 5, 1e-6),
    ],
)
def test_nearly_dependent_rows_are_enumerated_in_full_or_refused(make, h, scale):
    # reviews: rows 2e-7 to 3e-6 apart, or within 1e-8 of the span of two others, lost 2 to
    # 1,466 of their cells silently, and certify called fits over them exact; each
    # enumeration now checks its count of the cells, and refuses where it does not match
    outcomes = [_count_or_refusal(make(h, scale, seed)) for seed in range(8)]
    assert set(outcomes) <= {0, "refused"}


@pytest.mark.parametrize("delta", [1e-9, 1e-10, 1e-11])
@pytest.mark.parametrize("h", [3, 4])
def test_a_plane_near_the_line_of_two_others_keeps_its_small_cells(h, delta):
    # a review: the 3-D sweep took a plane within 1e-9 of the line where two others meet for
    # one through it, and lost the small cells between them (40 of 44 in 3-D, 126 of 128 in
    # 4-D), its count of the cells too; planes through a line are now those within its rounding
    extra = np.array([[1, -2, 3, 1], [2, 1, -1, 3], [1, 3, 2, -2]], dtype=float)
    rows = np.vstack([np.eye(h), np.r_[np.ones(h - 1), delta], extra[:, :h]])
    assert _count_or_refusal(rows) == 0


def test_rows_a_little_further_from_dependent_keep_every_cell():
    # the check refuses what float64 cannot resolve, not every near dependence: rows within
    # 1e-6 of the span of two others, and near copies at 1e-5, keep every cell
    outcomes = [_count_or_refusal(_nearly_dependent(4, 1e-6, seed)) for seed in range(8)]
    outcomes += [_count_or_refusal(_near_copies(4, 1e-5, seed)) for seed in range(8)]
    assert outcomes.count(0) >= 12 and set(outcomes) <= {0, "refused"}


def test_digits_whose_planes_are_exactly_a_product_keep_their_cells():
    # an audit: three digits (pixels multiples of 1/16, many zero) made an arrangement that is
    # exactly a product of two coordinate planes' lines; its normals' rounding, 7e-14 where 0
    # was meant, put points of one plane 2e-14 to 4e-14 off the other's hyperplanes, above
    # the 64 eps then allowed: 28 "cells" of 24, and "exact" refused patches far from
    # dependent (their condition number 81)
    X, y = load_digits(return_X_y=True)
    images = (X[np.flatnonzero(y < 2)[:3]] / 16).reshape(3, 8, 8)
    patches = np.array(
        [
            [images[i, r : r + 3, c : c + 3].ravel() for r in (0, 3) for c in (0, 3)]
            for i in range(3)
        ]
    )
    gates = enumerate_gates(patches)
    enumerated = set(_keys(patches, gates))
    assert len(enumerated) == gates.shape[1]
    # every pattern of 200,000 random filters is enumerated (they find 1,588 of its 3,930)
    assert set(_keys(patches, np.random.default_rng(0).standard_normal((9, 200_000)))) <= enumerated


def test_certify_over_rows_too_thin_to_enumerate_is_not_exact():
    # the rows of X are the patches (kernel_size = signal length): near copies at 1e-6 lost
    # 10 of their cells, and the certificate over them said exact
    X = _near_copies(4, 1e-6, seed=0)
    y = np.abs(X @ np.array([1.0, -0.5, 0.25, 2.0]))
    with pytest.raises(ValueError, match="too thin to resolve"):
        ConvexCNNRegressor(kernel_size=4, n_patterns="exact").fit(X, y)
    reg = ConvexCNNRegressor(kernel_size=4, beta=1e-3, n_patterns=8, random_state=0).fit(X, y)
    certificate = reg.certify(X, y)
    assert not certificate.exact and not certificate.is_optimal


def test_three_planes_nearly_parallel_but_not_through_one_line_keep_their_cells():
    # a review: three near copies of a row (1e-6 apart) are planes whose determinant is below
    # any fixed tolerance, taken for planes through one line by the 3-D sweep and its count
    # alike: 2 cells lost silently for seeds 4 and 5. Rays from differences of the normals
    # are exact to eps, and the tolerance scales with the planes' angles
    outcomes = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        copies = rng.standard_normal(4) + 1e-6 * rng.standard_normal((3, 4))
        outcomes.append(_count_or_refusal(np.vstack([rng.standard_normal((6, 4)), copies])))
    assert outcomes == [0] * 10


def test_integer_signal_patches_are_enumerated_not_refused():
    # a review: deep in the restrictions of these patches (of an integer signal), three planes
    # exactly through one line showed a determinant of 289 eps times their largest sine, and
    # the through-test at 256 refused what the one before had enumerated (32,328 cells)
    rows = np.array(
        [[2, 2, 0, 1, 1, 2], [0, 2, 3, 0, 0, 1], [1, 0, 3, 2, 3, 3], [1, 1, 2, 3, 0, 2],
         [3, 0, 0, 1, 3, 3], [3, 2, 3, 3, 0, 2], [0, 1, 3, 3, 3, 2], [3, 0, 2, 1, 1, 3],
         [3, 1, 0, 0, 3, 3], [0, 0, 1, 3, 3, 3], [2, 1, 1, 0, 1, 0], [1, 1, 0, 1, 0, 2],
         [3, 3, 1, 3, 3, 1], [3, 3, 3, 2, 1, 1], [2, 0, 2, 2, 0, 1], [1, 3, 3, 1, 2, 0],
         [1, 1, 3, 1, 3, 3], [1, 3, 3, 3, 2, 1], [2, 1, 2, 0, 0, 1], [0, 3, 3, 2, 2, 1]],
        dtype=float,
    )  # fmt: skip
    gates = arrangement_gates(rows)
    filters = np.random.default_rng(0).standard_normal((6, 200_000))
    assert set(map(bytes, (rows @ filters >= 0).T)) <= set(map(bytes, (rows @ gates >= 0).T))


@pytest.mark.parametrize("thin", [1e-11, 1e-12])
def test_patches_too_thin_for_their_rank_are_refused_with_the_fix(thin):
    # a coordinate at 1e-11 or 1e-12 of the others fell under the rank's cutoff, and the
    # enumeration ran in the plane of the other two: 24 of the 134 cells, silently;
    # standardized, every cell is there
    from sklearn.preprocessing import StandardScaler

    patches = np.random.default_rng(0).standard_normal((4, 3, 3))
    unscaled = enumerate_gates(patches).shape[1]
    patches[..., 2] *= thin
    with pytest.raises(ValueError, match=r"nearly lie in a subspace .* standardize X"):
        enumerate_gates(patches)
    rows = StandardScaler().fit_transform(patches.reshape(-1, 3))
    assert enumerate_gates(rows.reshape(4, 3, 3)).shape[1] == unscaled


@pytest.mark.parametrize(
    "multiplicity, n_cells",
    [
        ([2, 2, 2], 8),  # three planes in general position: the octants
        ([2] * 6, 14),  # four: N^2 - N + 2
        ([3, 3, 3, 2, 2, 2], 12),  # three through one line, a fourth across: 6 wedges, halved
        ([3, 3, 2], None),  # the pairs of a line of three planes disagree
    ],
)
def test_cells_of_lines_is_zaslavskys_count(multiplicity, n_cells):
    from sklearn_convexcnn._patterns import _cells_of_lines

    assert _cells_of_lines(np.array(multiplicity)) == n_cells


def test_near_copies_of_a_hyperplane_are_one_wherever_they_sort():
    # a review: copies were found only as neighbours in an order sorted on rounded entries,
    # so a copy 3e-8 away survived when another normal sorted between the two
    a = np.array([0.6, 0.8, 0.0])
    copy = np.array([0.6 + 3e-8, 0.8 - 2.25e-8, 0.0])  # the same hyperplane (within 1e-7)
    between = np.array([0.6 + 1.5e-8, -0.8, 0.0])  # another one, sorted between the two
    assert len(distinct_hyperplanes(np.stack([a, between, -2.0 * copy]))) == 2
    # and none is lost among many: 200 planes, each with a scaled near copy, shuffled
    rng = np.random.default_rng(0)
    normals = rng.standard_normal((200, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    copies = normals + 3e-8 * rng.uniform(-1, 1, normals.shape)
    rows = np.concatenate([normals, -2.0 * copies, 0.5 * normals])
    assert len(distinct_hyperplanes(rows[rng.permutation(len(rows))])) == 200
    # a cluster of near copies is one hyperplane (its every pair within 1e-7 once made this
    # quadratic: 8 s for these 5,000 rows, 154 s for 20,000)
    X = 100 + 1e-6 * rng.standard_normal((500, 12))
    rows = np.stack([X[:, k : k + 3] for k in range(10)], axis=1).reshape(-1, 3)
    assert len(distinct_hyperplanes(rows)) == 1


def test_near_copies_are_one_whatever_their_tiny_entries_and_exact_copies():
    # a review: a normal's sign is made positive at its first entry above 1e-8, which two
    # near copies can place on opposite sides of zero (then 1e-8 rad apart but far apart as
    # vectors), and a row repeated eight times filled its nearest neighbours with its copies
    first, second = np.array([1.5e-8, -1.0, 0.3]), np.array([0.5e-8, -1.0, 0.3])
    assert len(distinct_hyperplanes(np.stack([first, second]))) == 1
    a, b = np.array([0.6, 0.8, 0.0]), np.array([0.6, 0.8, 5e-8])
    for copies in (1, 8, 20):
        rows = np.concatenate([np.tile(a, (copies, 1)), np.tile(b, (copies, 1))])
        assert len(distinct_hyperplanes(rows)) == 1
    # an exact enumeration refuses them (the cells between them would be left out); with
    # exact copies, the arrangement of these rows and five others has Cover's number of
    # cells for six hyperplanes in general position
    others = np.random.default_rng(0).standard_normal((5, 3))
    with pytest.raises(ValueError, match="nearly parallel"):
        arrangement_gates(np.concatenate([rows, others]))
    rows = np.concatenate([np.tile(a, (8, 1)), -2.5 * np.tile(a, (8, 1)), others])
    assert arrangement_gates(rows).shape[1] == cover_bound(6, 3) == 32


def test_repeated_rows_are_removed_a_block_at_a_time():
    # binarized images repeat a few patches millions of times (a review: 4.8 GB of copies of
    # 44 million rows of 2x2 patches, at most 16 distinct)
    from sklearn_convexcnn._patterns import _distinct_rows

    rng = np.random.default_rng(0)
    rows = (rng.random((10_000, 4)) < 0.3).astype(float)
    distinct = _distinct_rows(rows, block_size=1000)
    np.testing.assert_array_equal(distinct, np.unique(rows, axis=0))
    assert len(distinct) == 16
    np.testing.assert_array_equal(distinct_hyperplanes(rows), distinct_hyperplanes(distinct))


def test_rank_deficient_patches_count_in_their_span():
    # patches of size 4 that span a plane: 2 * N cells, each a wedge times the null space
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((6, 3, 2)) @ rng.standard_normal((2, 4))
    gates = enumerate_gates(patches)
    assert gates.shape == (4, 2 * 18)


def test_zero_patches_have_the_all_ones_pattern():
    # 1[0 >= 0] = 1: a zero patch is active for every filter and splits nothing
    rng = np.random.default_rng(1)
    patches = rng.standard_normal((5, 3, 2))
    patches[:, 1] = 0.0
    gates = enumerate_gates(patches)
    assert gates.shape[1] == cover_bound(10, 2)
    assert pattern_masks(patches, gates)[:, 1].all()


def test_refuses_above_the_limit_naming_the_bound():
    patches = np.random.default_rng(0).standard_normal((50, 10, 3))
    bound = cover_bound(500, 3)
    message = rf"up to {bound} activation patterns.*limit of 1000.*n_patterns=<int>"
    with pytest.raises(ValueError, match=message):
        enumerate_gates(patches, max_patterns=1000)
    assert MAX_EXACT_PATTERNS >= 10_000


def test_estimator_enumerates_with_n_patterns_exact():
    from sklearn_convexcnn import ConvexCNNRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((9, 6)), rng.standard_normal(9)
    model = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact").fit(X, y)
    assert model.n_patterns_ == cover_bound(9 * 5, 2) == model.gates_.shape[1]
    big = ConvexCNNRegressor(kernel_size=5, n_patterns="exact")
    bound = cover_bound(200 * 16, 5)
    with pytest.raises(ValueError, match=rf"n_patterns='exact' would enumerate up to {bound} "):
        big.fit(rng.standard_normal((200, 20)), rng.standard_normal(200))
    # circular CNNs ignore kernel_size (a review followed that advice to a warning): the
    # advice names what shortens their patches
    circular = ConvexCNNRegressor(architecture="circular", n_patterns="exact")
    with pytest.raises(
        ValueError, match=r"shorter patches \(architecture='circular': fewer features\)\.$"
    ):
        circular.fit(rng.standard_normal((200, 20)), rng.standard_normal(200))


def test_too_many_patterns_are_refused_from_a_sample_of_the_rows(monkeypatch):
    # a review: every generated fit asks for the exact patterns up to 20,000, and 4e6 patches
    # took 32 s and 1.7 GB to be refused, all their hyperplanes found first
    from sklearn_convexcnn import _patterns

    sizes = []
    distinct = _patterns.distinct_hyperplanes
    monkeypatch.setattr(
        _patterns,
        "distinct_hyperplanes",
        lambda rows, **kwargs: sizes.append(len(rows)) or distinct(rows, **kwargs),
    )
    rows = np.random.default_rng(0).standard_normal((10_000, 3))
    with pytest.raises(
        ValueError, match=r"up to \d+ activation patterns or more .* among 2001 of the 10000 rows"
    ):
        arrangement_gates(rows, max_patterns=1000)
    assert sizes == [2001]
    # where the sample stays within the limit, every row counts (3 of 10,000 distinct here)
    sizes.clear()
    assert arrangement_gates(np.tile(np.eye(3), (3334, 1)), max_patterns=1000).shape[1] == 8
    assert sizes == [2001, 10_002]


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(pooling="max", pool_size=4),
        dict(pool_size=100, readout="dense"),
        dict(architecture="three_layer"),
        dict(architecture="circular", input_shape=(1, 3)),
    ],
    ids=["average", "max", "regional", "three_layer", "circular"],
)
def test_exact_enumeration_is_refused_before_the_patches_are_cut(monkeypatch, params):
    # a review: 50,000 images of 28 x 28 pixels were refused after 2.4 GB of patches; the
    # refusal comes from a spread sample of their rows, which patch_rows cuts alone
    from sklearn_convexcnn import _base, _path, convex_cnn_path

    def cut(*args):
        raise AssertionError("every patch was cut")

    monkeypatch.setattr(_base, "extract_patches", cut)
    monkeypatch.setattr(_path, "extract_patches", cut)
    rng = np.random.default_rng(0)
    # more than 4 * (2 * MAX_EXACT_PATTERNS + 1) rows, patches of 3 (a circular CNN's: rows)
    if params.get("architecture") == "circular":
        X = rng.standard_normal((800_005, 3))
    else:
        X, params = rng.standard_normal((802, 1000)), dict(params, kernel_size=3)
    y = rng.standard_normal(len(X))
    model = ConvexCNNRegressor(n_patterns="exact", **params)
    if params.get("architecture") == "three_layer":
        # (its 2^n second-layer patterns refuse it whatever the first layer's)
        match = (
            r"needs all 2\^802 second-layer patterns for each first-layer pattern, more than "
            r"the limit of 20000 pattern pairs, of four groups each "
        )
    elif params.get("readout") == "dense":  # (each region's rows, its own arrangement)
        match = r"up to \d+ activation patterns or more \(the Cover bounds of 1 of the 10 regions'"
    else:
        match = r"would enumerate up to \d+ activation patterns or more .* among 200001 of the"
    with pytest.raises(ValueError, match=match) as early:
        model.fit(X, y)
    if params in (dict(kernel_size=3), dict(pooling="max", pool_size=4, kernel_size=3)):
        with pytest.raises(ValueError, match=match):
            convex_cnn_path(X, y, n_patterns="exact", **params)
    if params == dict(kernel_size=3):  # the message of the enumeration on every patch
        geometry = resolve_geometry(None, 3, 1, X.shape[1])
        with pytest.raises(ValueError) as late:
            enumerate_gates(extract_patches(X, geometry))
        assert str(late.value) == str(early.value)


def test_exact_three_layer_of_few_samples_is_refused_on_its_first_layer_before_the_cut(
    monkeypatch,
):
    # ThreeLayerFormulation.check_enumeration: 4 samples have only 2^4 second-layer patterns,
    # but their 800,008 patch rows too many first-layer ones, which the spread sample of the
    # rows refuses before the patches are cut, as for two layers (a mutant that left the
    # first layer to the enumeration, after the cut, survived)
    from sklearn_convexcnn import _base

    def cut(*args):
        raise AssertionError("every patch was cut")

    monkeypatch.setattr(_base, "extract_patches", cut)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 200_004)), rng.standard_normal(4)
    model = ConvexCNNRegressor(architecture="three_layer", kernel_size=3, n_patterns="exact")
    with pytest.raises(ValueError, match=r"would enumerate up to \d+ activation patterns or more"):
        model.fit(X, y)


@pytest.mark.parametrize("dtype", [bool, np.int64])
def test_first_of_each_pattern_keeps_the_first_of_every_distinct_column(dtype):
    # boolean keys (average pooling: joint signs) and integer keys (max: winner and sign)
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 2 if dtype is bool else 7, size=(37, 9)).astype(dtype)
    columns = rng.integers(0, 9, size=40)
    keys = distinct[:, columns]
    _, reference = np.unique(keys, axis=1, return_index=True)
    np.testing.assert_array_equal(first_of_each_pattern(keys), np.sort(reference))


@pytest.mark.parametrize(
    "pooling, pool_size, readout",
    [("average", None, "sum"), ("average", 2, "sum"), ("max", 2, "sum"), ("max", None, "sum"),
     ("average", 2, "dense"), ("none", None, "sum")],
)  # fmt: skip
def test_keys_in_blocks_of_samples_group_the_gates_as_all_at_once(pooling, pool_size, readout):
    # a review: the keys of 200,000 images took their products at once, 3 to 8 GB that no
    # memory check had counted; in blocks of 4 samples here
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 36))
    patches = extract_patches(X, resolve_geometry((6, 6), 3, 1, 36))  # a 4x4 patch grid
    formulation = make_formulation(pooling, pool_size, readout, grid_shape=(4, 4))
    drawn = rng.integers(0, 30, size=60)
    gates = rng.standard_normal((9, 30))[:, drawn]  # repeated gates
    samples = []

    def pattern_keys(patches, gates):
        samples.append(len(patches))
        return formulation.pattern_keys(patches, gates)

    blocked = key_bytes(pattern_keys, patches, gates, block_entries=4 * 16 * 256)
    assert max(samples) == 4 and sum(samples) == 50
    whole = first_of_each_pattern(formulation.pattern_keys(patches, gates))
    np.testing.assert_array_equal(first_of_each(blocked), whole)
    assert len(whole) == len(set(drawn))  # (random gates of distinct patterns)
    # keys of other calls compare (certify matches its filters' keys to its gates'): the
    # blocks end at the same samples whatever the number of gates
    assert (
        key_bytes(pattern_keys, patches, gates[:, 3:5], block_entries=4 * 16 * 256)
        == (blocked[3:5])
    )


@pytest.mark.parametrize("n_rows", [1, 8, 13, 64])
def test_packed_columns_are_numpys_packed_bits(n_rows):
    # the keys of every pattern (packed from a byte view of the rows, not transposed first)
    rng = np.random.default_rng(n_rows)
    bits = rng.random((n_rows, 5)) < 0.5
    for keys in (bits, np.asfortranarray(bits), bits[:, ::-1]):
        expected = np.packbits(keys.T, axis=1)
        np.testing.assert_array_equal(packed_columns(keys), expected)
        assert pattern_bytes(keys) == [column.tobytes() for column in expected]


def test_all_sign_patterns_are_the_bits_of_their_row():
    patterns = all_sign_patterns(3)
    assert patterns.shape == (8, 3)
    assert len({row.tobytes() for row in patterns}) == 8
    np.testing.assert_array_equal(patterns[6], [False, True, True])  # 6 = 0b110, lowest first


@pytest.mark.parametrize("seed", [30, 35])
def test_every_enumerated_gate_is_inside_a_cell(seed):
    # a review: deletion-restriction's first points (+-the first normal) can lie on a later
    # hyperplane; kept, their sign vectors were "patterns" of no cell (1 or 2 more than the
    # cells of these ternary signals, the same draw as the review's)
    rng = np.random.default_rng(seed)
    h = int(rng.integers(4, 6))
    X = rng.integers(-1, 2, size=(5, h + 3)).astype(float)
    patches = extract_patches(X, resolve_geometry(None, h, 1, h + 3))
    gates = enumerate_gates(patches)
    rows = patches.reshape(-1, h)
    rows = rows[np.linalg.norm(rows, axis=1) > 0]
    margins = np.abs(rows @ gates) / np.linalg.norm(rows, axis=1, keepdims=True)
    assert margins.min() > 1e-12


def test_each_cell_keeps_its_point_farthest_from_the_hyperplanes():
    # a mutant that kept the nearest point of each cell (argsort(margin), not -margin)
    # survived: two points of the cell u_1 > 0, at margins 0.01 and 0.1, and one of u_1 < 0
    from sklearn_convexcnn._patterns import _best_per_cell

    points = np.array([[0.01, 1.0], [0.1, 1.0], [-0.5, 1.0]])
    best = _best_per_cell(points, np.array([[1.0, 0.0]]))
    assert sorted(map(tuple, best)) == [(-0.5, 1.0), (0.1, 1.0)]


@pytest.mark.parametrize("h", [2, 3])
def test_a_row_of_1e_11_of_the_largest_norm_is_a_hyperplane(h):
    # a mutant that counted rows below 1e-10 (not 1e-12) of the largest norm as zero rows
    # survived: a row at 1e-11 of it is a hyperplane like any other, and general position
    # gives Cover's number of cells with it
    patches = np.random.default_rng(0).standard_normal((4, 3, h))
    largest = np.linalg.norm(patches, axis=2).max()
    patches[0, 0] *= 1e-11 * largest / np.linalg.norm(patches[0, 0])
    assert len(distinct_hyperplanes(patches.reshape(-1, h))) == 12
    assert enumerate_gates(patches).shape[1] == cover_bound(12, h)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("thin", [1e-8, 1e-9])
def test_patches_thin_in_one_coordinate_keep_their_rank_and_every_cell(seed, thin):
    # a mutant that dropped singular values below 1e-6 (not 1e-10) of the largest from the
    # rank survived, and its review found the thin cells lost: patches whose third
    # coordinate is scaled by 1e-8 have the cells of the unscaled ones (a linear map of the
    # filters), but 122 of 134 were enumerated (54 at 1e-9), before the enumeration
    # whitened the normals
    patches = np.random.default_rng(seed).standard_normal((4, 3, 3))
    unscaled = enumerate_gates(patches).shape[1]
    patches[..., 2] *= thin
    with pytest.raises(ValueError, match=r"12 distinct hyperplanes of rank 3\)"):
        enumerate_gates(patches, max_patterns=10)
    gates = enumerate_gates(patches)
    assert gates.shape[1] == unscaled
    rows = patches.reshape(-1, 3)
    filters = np.random.default_rng(5).standard_normal((3, 100_000))
    filters[2] /= thin  # (as likely to fall in a thin cell as in any other)
    found = set(map(bytes, (rows @ filters >= 0).T))
    assert found <= set(map(bytes, (rows @ gates >= 0).T))


def test_rows_too_many_to_enumerate_are_refused_by_their_count_not_as_nearly_parallel():
    # (an audit) 20,000 Gaussian signals with filters of 2, a Cover bound above 397,000, were
    # refused as nearly parallel, advising to standardize X: by chance, some of so many rows
    # in R^2 are. Merged, they leave a bound above the limit all the same, which refuses
    rows = np.random.default_rng(0).standard_normal((60_000, 2))
    with pytest.raises(TooManyPatterns, match=r"up to 1\d{5} activation patterns or more \(the "):
        arrangement_gates(rows)
    with pytest.raises(TooManyPatterns, match="nearly parallel"):  # (a bound within the limit)
        arrangement_gates(rows[:20_000])


def test_nearly_parallel_rows_are_refused_as_such_where_merged_they_reach_the_limit_exactly():
    # five directions in R^2 and one 1e-9 from the first: merged, a Cover bound of 10. A
    # limit of 10 enumerates them all, so the merge (not their count) is what refuses; below
    # it, the count refuses, as a bound from below ("or more"). Rows not merged are counted
    # exactly: no "or more"
    angles = np.array([0.1, 0.7, 1.3, 1.9, 2.5, 0.1 + 1e-9])
    rows = np.column_stack([np.cos(angles), np.sin(angles)])
    with pytest.raises(TooManyPatterns, match="nearly parallel"):
        arrangement_gates(rows, 10)
    with pytest.raises(TooManyPatterns, match=r"up to 10 activation patterns or more \(the "):
        arrangement_gates(rows, 9)
    with pytest.raises(TooManyPatterns, match=r"up to 10 activation patterns \(the Cover "):
        arrangement_gates(rows[:5], 9)
