"""The memory guard fires before anything large is allocated."""

import tracemalloc
import warnings

import numpy as np
import pytest

from sklearn_convexcnn import ConvexCNNRegressor
from sklearn_convexcnn._formulations._operator import PatchOperator
from sklearn_convexcnn._formulations.two_layer import _exact_gates, make_formulation
from sklearn_convexcnn._outputs import DenseProgram
from sklearn_convexcnn._patterns import cover_bound
from sklearn_convexcnn._resources import (
    check_memory,
    check_program_memory,
    dense_program_bytes,
    operator_bytes,
    program_groups,
    three_layer_program_bytes,
)


def test_estimate_matches_the_measured_cvxpy_footprint():
    # doc/notes/solver-measurements.md: 0.67 GB at n=200, P=64 and 2.6 GB at n=1000, P=64
    # (K=16, h=5); the estimate must cover both without being far above
    for n_samples, measured in [(200, 0.67e9), (1000, 2.6e9)]:
        estimate = dense_program_bytes(n_samples, 16, 5, 64)
        assert measured <= estimate <= 1.5 * measured


def test_check_memory_message_names_sizes_and_remedies():
    with pytest.raises(MemoryError, match=r"The thing needs about 2.0 GiB .* only 1.0 GiB .* Fix"):
        check_memory(2 * 2**30, "The thing", "Fix it.", available=2**30)
    check_memory(2**30, "The thing", "Fix it.", available=2 * 2**30)  # fits: no error
    # below a GiB in MiB (a review: "needs about 0.0 GiB but only 0.0 GiB is available")
    with pytest.raises(MemoryError, match=r"needs about 40.0 MiB .* only 30.0 MiB is available"):
        check_memory(40 * 2**20, "The thing", "Fix it.", available=30 * 2**20)


def test_an_unknown_kind_of_program_is_an_error_not_an_estimate():
    with pytest.raises(ValueError, match=r"unknown kind='dense_oprator'"):
        check_program_memory(200, 36, 9, 64, kind="dense_oprator", solver="auto")


def _assert_refused_before_allocating(n_patterns, solver, match):
    """The fit raises MemoryError (message ``match``) having allocated nothing program-sized."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5000, 64)), rng.standard_normal(5000)
    reg = ConvexCNNRegressor(input_shape=(8, 8), n_patterns=n_patterns, solver=solver)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=match):
            reg.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # validation copies X (2.5 MB) and cuts patches (13 MB); nothing of the program's size
    assert peak < 100 * 2**20
    assert not hasattr(reg, "network_")


def test_guard_fires_before_allocating():
    _assert_refused_before_allocating(
        10**7,
        "clarabel",
        r"5000 samples .* 36 patches .* 10000000 patterns .* needs about [0-9.]+ GiB .*n_patterns",
    )


def test_guard_refuses_a_numpy_int_that_would_overflow_its_arithmetic():
    # a review: np.int64(2**62) overflowed the estimate ("overflow encountered in scalar
    # multiply"), the guard passed, and NumPy's random generator failed on the array size
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 9)), rng.standard_normal(20)
    with pytest.raises(MemoryError, match=r"with up to 4611686018427387904 patterns"):
        ConvexCNNRegressor(n_patterns=np.int64(2**62)).fit(X, y)


def test_guard_covers_the_matrix_free_operator_of_the_native_solver():
    # one sign bit per (sample, patch, pattern): 5000 x 36 x 10**8 bits are 2.2 TB
    assert operator_bytes(5000, 36, 9, 10**8) > 2 * 10**12
    _assert_refused_before_allocating(
        10**8,
        "native",
        # (their draw and keys, which come first, about as much: named where larger)
        r"matrix-free convex program for 5000 samples .* 100000000 patterns .* "
        r"needs about [0-9.]+ GiB .*fewer n_patterns",
    )


def test_operator_estimate_covers_the_measured_footprint():
    # benchmarks/README.md: n = 60,000, K = 16, h = 5, P = 256 peaked at 357 MiB resident at
    # c7ae1c3 (335 MiB at 15c387a), 252 MiB above the interpreter, imports and data (105 MiB);
    # the operator is most of it
    estimate = operator_bytes(60000, 16, 5, 256)
    assert 30 * 2**20 <= estimate <= 252 * 2**20


@pytest.mark.parametrize(
    "n_samples, n_patterns, regions, measured_mib",
    [
        # peak resident memory of native fits of 28x28 images (K = 676, h = 9), max_iter=2,
        # above the imports: pooling="none" is a region per patch, a group per pattern and
        # patch (the estimate once counted one per pattern: 0.04 GiB for 1.5 GiB measured)
        (20, 100, [1] * 676, 164),
        (20, 300, [1] * 676, 481),
        (60, 100, [1] * 676, 185),
        # global pooling, many patterns: 399 MiB once the signs came in blocks of patterns
        (20, 100_000, None, 399),
    ],
)
def test_operator_estimate_covers_every_group(n_samples, n_patterns, regions, measured_mib):
    estimate = operator_bytes(n_samples, 676, 9, n_patterns, regions)
    assert measured_mib * 2**20 <= estimate <= 2 * measured_mib * 2**20


def test_groups_of_an_exact_regional_program_are_counted_per_region():
    # a review: the enumeration's gates pooled over all regions were counted in every
    # region: 39,568 gates of 199 one-patch regions were 7.9 million groups (19.3 GiB) for
    # a fit that peaked at 289 MiB with its 39,800 groups
    from sklearn_convexcnn._formulations.two_layer import make_formulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry

    assert program_groups(100, 2, 39_568, [1] * 199) == 39_800
    X = np.random.default_rng(0).standard_normal((30, 20))
    geometry = resolve_geometry(None, 2, 1, 20)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("none", None, "sum", geometry.grid_shape)
    gates = formulation.enumerate_gates(patches)
    regions, _ = formulation.groups(patches, gates)
    # Gaussian rows are in general position: each region has exactly Cover's count
    assert program_groups(30, 2, gates.shape[1], formulation.region_sizes) == len(regions)


def test_a_regions_groups_are_bounded_by_its_rows_and_in_pool_differences():
    # a mutant that counted n |S| hyperplanes, not n |S|^2, survived: 10 samples of a region
    # of 4 patches are 160 of them
    assert program_groups(10, 2, 10**6, [4]) == cover_bound(160, 2)


def test_guard_counts_a_group_per_region(monkeypatch):
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    X, y = np.random.default_rng(0).standard_normal((20, 784)), np.zeros(20)
    reg = ConvexCNNRegressor(input_shape=(28, 28), pooling="none", n_patterns=1000)
    message = (
        r"20 samples x 676 patches .* 1000 patterns in 676 regions, each read out on its own "
        r"\(up to 676000 groups\) .* needs about 1.7 GiB .*use fewer regions \(pooling='average' "
        r"or 'max', with a pool_size or readout='sum'\)"
    )
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "network_")
    # pooled regions: a larger pool_size or readout='sum' (pooling='none' ignores both, an
    # audit found them advised there)
    reg.set_params(pooling="average", pool_size=2, readout="dense", n_patterns=4000)
    with pytest.raises(
        MemoryError, match=r"in 169 regions.*\(a larger pool_size, or readout='sum'\)"
    ):
        reg.fit(X, y)


def test_three_layer_estimate_covers_its_measured_footprint():
    # the three-layer program pairs every first-layer pattern with each second-layer one: the
    # two-layer estimate was 8x below these peaks (measured at 042ab11, signals of length 8)
    for n_samples, n_patterns, measured_mib in [(100, 16, 95), (100, 32, 305), (50, 32, 177)]:
        estimate = three_layer_program_bytes(n_samples, 6, 3, n_patterns)
        assert measured_mib * 2**20 <= estimate <= 1.5 * measured_mib * 2**20
        assert estimate > 4 * dense_program_bytes(n_samples, 6, 3, n_patterns)


@pytest.mark.parametrize("n_samples, n_patterns, measured_mib", [(500, 64, 419), (300, 32, 100)])
def test_the_native_three_layer_estimate_covers_its_measured_footprint(
    monkeypatch, n_samples, n_patterns, measured_mib
):
    # peak resident memory of native three-layer fits above the imports, signals of length
    # 10, kernel 3 (K=8, h=3) (commit a85ff9c); the estimate once charged half the
    # second-layer patterns' arrays: 214 and 33 MiB
    import sklearn_convexcnn._resources as resources

    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    resources.check_program_memory(
        n_samples, 8, 3, n_patterns, kind="three_layer_native", solver="native", at_once=1
    )
    assert measured_mib * 2**20 <= required[0] <= 2 * measured_mib * 2**20


@pytest.mark.parametrize(
    "pool_size, readout, n_samples, n_patterns",
    [
        (None, "sum", 1000, 64),
        (2, "sum", 300, 32),
        (3, "dense", 300, 32),
        # (unequal pools, 30 and 6 patches: a pool's block beside the program, 2.07 times
        # its arrays, while the estimate said 1.6; a review)
        ((5, 6), "sum", 300, 32),
        (5, "dense", 300, 32),
    ],
)
def test_the_dense_operator_estimate_covers_building_it(
    monkeypatch, pool_size, readout, n_samples, n_patterns
):
    # max pooling's program is dense; concatenating its pools' or regions' blocks held 2.2
    # times its arrays, which the estimate counted once (a review)
    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry

    X = np.random.default_rng(0).random((n_samples, 64))
    geometry = resolve_geometry((8, 8), 3, 1, 64)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("max", pool_size, readout, geometry.grid_shape)
    gates = formulation.sample_gates(patches, n_patterns, np.random.RandomState(0))
    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    regions = formulation.region_sizes
    check_program_memory(
        n_samples, 36, 9, gates.shape[1], kind="dense_operator", solver="native", regions=regions
    )
    tracemalloc.start()
    try:
        operator = formulation.operator(patches, gates)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert operator.n_patterns >= gates.shape[1]
    assert kept <= peak <= required[0] <= 2 * peak


@pytest.mark.parametrize("kind", ["three_layer", "three_layer_native"])
def test_the_exact_three_layer_estimate_counts_every_second_layer_pattern(monkeypatch, kind):
    # n_patterns="exact" pairs each first-layer pattern with all 2^n second-layer patterns;
    # the estimate counted n_patterns + 1 of them (3 of 1024 here, a review)
    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation

    patches = np.random.default_rng(0).standard_normal((10, 50, 1))
    formulation = ThreeLayerFormulation()
    n_patterns = formulation.enumerate_gates(patches).shape[1]
    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    for exact in (False, True):
        resources.check_program_memory(10, 50, 1, n_patterns, kind=kind, solver="auto", exact=exact)
    # (arrays times the second-layer patterns, and the native solver's fixed workspace)
    workspace = resources.THREE_LAYER_WORKSPACE if kind == "three_layer_native" else 0
    sampled, exact = (nbytes - workspace for nbytes in required)
    assert len(formulation.outer_masks_) == 2**10
    assert exact >= sampled * 2**10 / (n_patterns + 1) * 0.99


def test_guard_covers_the_three_layer_program(monkeypatch):
    # 200 images of 8x8, 16 patterns: 0.7 GB as a two-layer program, 3.7 GiB as a three-layer
    # one; with 2 GiB available only the three-layer fit is refused, before any work
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 2**30)
    assert (
        dense_program_bytes(200, 36, 9, 16)
        < 2**30
        < 2 * 2**30
        < (three_layer_program_bytes(200, 36, 9, 16))
    )
    X, y = np.random.default_rng(0).standard_normal((200, 64)), np.zeros(200)
    reg = ConvexCNNRegressor(input_shape=(8, 8), n_patterns=16, architecture="three_layer")
    message = r"200 samples x 36 patches .* 3.7 GiB .* fewer n_patterns \(it grows with their sq"
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)


@pytest.fixture
def two_mib(monkeypatch):
    """Only 2 MiB of memory available: what the guards refuse is known without allocating."""
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 2**20)


def _signals(n_samples, length, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, length)), rng.standard_normal(n_samples)


# Found by a review of the guards: each of these allocated gigabytes, or Clarabel aborted the
# process, where the same sizes in another path were refused with the numbers and the fix.


@pytest.mark.parametrize("n_patterns", [2, "exact"])
def test_the_patches_of_x_are_checked_before_they_are_cut(two_mib, n_patterns):
    # 7.2 MB, its patches of size 3 take 21 MB. "exact" (894,000 patch rows) first refused
    # from a sample of its rows, which cut 200,001 of them and copied those several times:
    # with kernel_size=200, 1.9 GB where 1 GiB was said free (a review)
    from sklearn_convexcnn import convex_cnn_path

    X, y = _signals(3000, 300)
    with pytest.raises(MemoryError, match=r"Cutting X into patches \(3000 samples x 298 patches"):
        ConvexCNNRegressor(n_patterns=n_patterns).fit(X, y)
    with pytest.raises(MemoryError, match=r"Cutting X into patches \(3000 samples x 298 patches"):
        convex_cnn_path(X, y, n_patterns=n_patterns)


def test_the_patches_of_circular_rows_name_the_fixes_that_apply(two_mib):
    # (circular CNNs ignore kernel_size and stride, which the two-layer remedy names)
    X, y = _signals(3000, 200)
    with pytest.raises(MemoryError, match=r"patches of size 200\) .*Use shorter signals or fewer"):
        ConvexCNNRegressor(architecture="circular", n_patterns=2).fit(X, y)


@pytest.mark.parametrize("exact", [False, True])
def test_the_dense_fallback_program_is_refused_with_its_sizes_and_fix(two_mib, exact):
    # solver="auto"'s CVXPY fallback (logged, not raised): it said "The dense convex program
    # needs ... Use fewer n_patterns." without sizes, also for n_patterns="exact"
    patches = np.zeros((500, 36, 9))
    formulation = make_formulation("average", None, "sum", (6, 6))
    fallback = DenseProgram(formulation, patches, np.zeros((9, 64)), exact=exact)
    remedy = "Sample the patterns .*instead of n_patterns='exact'" if exact else "Use fewer n_p"
    with pytest.raises(MemoryError, match=r"500 samples x 36 patches of size 9 .*" + remedy):
        fallback()


@pytest.mark.parametrize(
    "architecture, named", [("two_layer", True), ("three_layer", True), ("circular", False)]
)
def test_a_program_refused_for_its_patches_names_their_geometry(two_mib, architecture, named):
    # a huge kernel_size on long signals, with n_patterns=2, was told "Use fewer n_patterns"
    # alone; circular CNNs (whole rows as patches) have no stride or kernel_size to change
    X, y = _signals(200, 60)
    geometry = {} if architecture == "circular" else {"kernel_size": 30}
    reg = ConvexCNNRegressor(architecture=architecture, n_patterns=2, **geometry)
    with pytest.raises(MemoryError, match="convex program for 200 samples") as error:
        reg.fit(X, y)
    assert ("a larger stride or a smaller kernel_size" in str(error.value)) == named


def test_a_built_dense_fallback_program_is_not_sent_to_workers():
    # built in the fitting process by a hand-over to CVXPY, it was pickled into every later
    # call to a worker, the traffic SHARED_MAX_BYTES keeps away (a review)
    import pickle

    rng = np.random.default_rng(0)
    patches = rng.standard_normal((50, 36, 9))
    formulation = make_formulation("average", None, "sum", (6, 6))
    fallback = DenseProgram(formulation, patches, rng.standard_normal((9, 64)))
    before = len(pickle.dumps(fallback))
    program = fallback()
    assert program.pieces.nbytes + program.cones.nbytes > 10 * before
    assert len(pickle.dumps(fallback)) == before
    assert fallback() is program  # (kept where it was built)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fallback))().cones, program.cones)


def _linear_formulation():
    from sklearn_convexcnn._formulations.linear import LinearFormulation

    return LinearFormulation("none")


@pytest.mark.parametrize("solver", ["auto", "clarabel", "scs"])
def test_a_linear_cnn_without_pooling_is_checked_as_clarabel_holds_it(monkeypatch, solver):
    # Clarabel's semidefinite cone of order h + K: 5 signals of length 400 asked for 52 GB
    # and aborted the process, as no MemoryError could; the check counted n_patterns
    # (ignored by linear CNNs) and advised solver='native', which refuses them (a fuzz)
    import sklearn_convexcnn._resources as resources

    # (1 GiB available and 98 patches: without the check Clarabel takes 1.36 GiB, 12 s, and
    # the test fails, rather than aborting the test process as at 398 patches)
    X, y = _signals(5, 100)
    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    reg = ConvexCNNRegressor(activation="linear", pooling="none", solver=solver)
    required = []
    if solver == "scs":  # (first-order: 28 MiB at 140 patches where Clarabel took 5.1 GiB)
        monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
        reg._check_program_memory((5, 98, 3), _linear_formulation(), 64, 1)
        assert len(required) == 1 and required[0] < 2**30 / 100  # (checked: it fits)
        return
    message = (
        r"^The nuclear-norm program of a linear CNN without pooling, 98 patches of size 3 "
        rf"\(solver='{solver}': Clarabel, a semidefinite cone of order 101\) needs about "
        r"[\d.]+ GiB .* Use solver='scs' .*or fewer patches \(a larger stride or kernel_size\)"
    )
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "network_")
    # its estimate covers what was measured: 5.1 GiB above the imports at 138 patches
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    resources.check_nuclear_program_memory(138, 3, solver)
    assert 5.1 * 2**30 <= required[0] <= 2 * 5.1 * 2**30


def test_circular_programs_count_their_spectral_blocks(two_mib):
    # (d + 2) d nonzeros per group and sign: 20 signals of length 200 with 8 patterns take
    # 0.2 GiB through CVXPY, where the two-layer estimate said 21 MiB
    X, y = _signals(20, 200)
    reg = ConvexCNNRegressor(architecture="circular", n_patterns=8)
    with pytest.raises(MemoryError, match=r"224\.1 MiB .* shorter signals"):
        reg.fit(X, y)
    assert not hasattr(reg, "network_")


def test_native_circular_programs_are_not_charged_cvxpys_canonicalization(monkeypatch):
    # solver="native" holds the dense arrays (16 n d P bytes), never CVXPY's program: 1,000
    # signals of 64 features with 32 patterns take 1.4 GiB through CVXPY, about 300 MiB
    # natively, and were refused with 512 MiB free
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 512 * 2**20)
    X, _ = _signals(1000, 64)
    y = np.maximum(X @ np.full(64, 0.125), 0.0)
    reg = ConvexCNNRegressor(architecture="circular", solver="native", n_patterns=32, beta=300.0)
    reg.fit(X, y)  # (a beta past most patterns: a quick fit)
    assert hasattr(reg, "network_")
    # solver="auto" solves it through CVXPY first: still checked as CVXPY holds it
    auto = ConvexCNNRegressor(architecture="circular", solver="auto", n_patterns=32)
    with pytest.raises(MemoryError, match=r"\(solver='auto'\) needs about 1\.4 GiB"):
        auto.fit(X, y)


def test_a_circular_program_refused_through_cvxpy_names_the_native_solver(monkeypatch):
    # the native solver holds the arrays alone (298 MiB here, where CVXPY takes 1.4 GiB):
    # the refusal of solver="auto" names it, with its estimate
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 512 * 2**20)
    X, _ = _signals(1000, 64)
    y = np.maximum(X @ np.full(64, 0.125), 0.0)
    for solver in ("auto", "clarabel"):
        reg = ConvexCNNRegressor(architecture="circular", solver=solver, n_patterns=32)
        with pytest.raises(
            MemoryError, match=r"Use fewer n_patterns, solver='native' \(about 29\d\.\d MiB"
        ):
            reg.fit(X, y)


def test_a_native_circular_program_too_large_is_refused_with_the_fix(monkeypatch):
    # 1,000 signals of 1,024 features, 32 patterns: 0.5 GB of arrays natively (881 MiB
    # with the workspace), where the CVXPY estimate says 41 GiB
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 512 * 2**20)
    X, y = _signals(1000, 1024)
    reg = ConvexCNNRegressor(architecture="circular", solver="native", n_patterns=32)
    message = (
        r"^The convex program for 1000 samples x 1 patches of size 1024 with up to 32 "
        r"patterns \(solver='native'\) needs about 881\.0 MiB of memory but only 512\.0 MiB is "
        r"available\. Use fewer n_patterns, shorter signals, or fewer samples\.$"
    )
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "network_")


def test_the_native_circular_estimate_covers_what_was_measured():
    # peak RSS above the baseline: 1,036 MiB at n=8000, d=256, P=32 (no neuron at that beta)
    # and 229 MiB at n=8000, d=16, P=32 with 39 neurons; CVXPY's estimate said 42.6 GiB
    from sklearn_convexcnn._resources import circular_native_bytes, circular_program_bytes

    for sizes, measured in [((8000, 256, 32), 1036), ((8000, 16, 32), 229)]:
        estimate = circular_native_bytes(*sizes) / 2**20
        assert measured <= estimate <= 1.6 * measured
    assert circular_program_bytes(8000, 256, 32) > 25 * circular_native_bytes(8000, 256, 32)


def test_exact_patterns_are_checked_once_enumerated(two_mib):
    X, y = _signals(40, 20)
    reg = ConvexCNNRegressor(kernel_size=2, n_patterns="exact", solver="clarabel")
    with pytest.raises(MemoryError, match=r"Sample the patterns \(an int n_patterns\) instead"):
        reg.fit(X, y)


def test_max_pooling_enumeration_is_checked_before_its_pairs(two_mib):
    X, y = _signals(100, 400)  # 80,000 pairs of patches per sample in one global pool
    reg = ConvexCNNRegressor(kernel_size=2, pooling="max", n_patterns="exact")
    with pytest.raises(MemoryError, match=r"The enumeration of max pooling's patterns"):
        reg.fit(X, y)


def test_max_pooling_pairs_are_counted_at_8_bytes_a_number(two_mib):
    # a mutant that counted a byte a number survived: the test above is 60 times over the
    # limit. Here the in-pool differences take 40 x 4,950 pairs x 2 x 8 bytes = 3.2 MB, 1.5
    # times the 2 MiB (a byte a number: 0.4 MB, let through to the arrangement's bound)
    patches = np.random.default_rng(0).standard_normal((40, 100, 2))
    with pytest.raises(MemoryError, match=r"The enumeration of max pooling's patterns"):
        _exact_gates(patches, [np.arange(100)], "max", max_patterns=10)


def test_convex_cnn_path_is_checked_as_the_estimators_are(two_mib):
    from sklearn_convexcnn import convex_cnn_path

    X, y = _signals(200, 100)
    with pytest.raises(MemoryError, match=r"matrix-free convex program .* 10000000 patterns"):
        convex_cnn_path(X, y, n_patterns=10**7)


@pytest.mark.parametrize(
    "n_samples, pool_size, pooling",
    [(8, None, "average"), (8, 2, "average"), (200, 4, "average"), (200, 4, "max")],
)
def test_the_sampling_estimate_covers_the_draw_and_its_keys(n_samples, pool_size, pooling):
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry
    from sklearn_convexcnn._resources import sampling_bytes

    geometry = resolve_geometry(None, 2, 1, 64)
    readout = "sum" if pool_size is None else "dense"
    formulation = make_formulation(pooling, pool_size, readout, geometry.grid_shape)
    X, _ = _signals(n_samples, 64)
    patches = extract_patches(X, geometry)
    tracemalloc.start()
    try:
        formulation.sample_gates(patches, 20000, np.random.RandomState(0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    regions = formulation.region_sizes
    assert peak <= sampling_bytes(n_samples, geometry.n_patches, 2, 20000, regions)


def test_the_sampling_estimate_is_below_the_program_of_a_large_fit():
    # a review: keys counted twice refused 60,000 images of 28 x 28 with 4,096 patterns of
    # 3 x 3 filters (39 GiB for the draw, whose peak is about 19.5 GiB, against the matrix-
    # free program's 24.9 GiB)
    from sklearn_convexcnn._resources import sampling_bytes

    assert sampling_bytes(60000, 676, 9, 4096) < operator_bytes(60000, 676, 9, 4096)


def test_a_draw_too_large_is_refused_where_regions_bound_the_program(two_mib):
    # each region's groups are capped by its Cover bound, and the check of max pooling's
    # regional program passed where the draw of 10**9 filters then took 15 GiB in NumPy (a
    # review); here 10**5 filters, 26 MB to draw and key, where 2 MiB are said available
    from sklearn_convexcnn import convex_cnn_path

    X, y = _signals(8, 16)
    params = dict(kernel_size=2, n_patterns=10**5, pooling="max", pool_size=2, readout="dense")
    refused = (
        r"^Drawing the sampled patterns of the convex program for 8 samples x 15 patches of "
        r"size 2 with up to 100000 patterns in 8 regions.* Use fewer n_patterns"
    )
    with pytest.raises(MemoryError, match=refused):
        ConvexCNNRegressor(**params).fit(X, y)
    with pytest.raises(MemoryError, match=refused):
        convex_cnn_path(X, y, **params)
    # (drawn once, whatever n_jobs: no smaller n_jobs to advise, a review)
    with pytest.raises(MemoryError) as refusal:
        check_program_memory(
            8, 15, 2, 10**5, kind="dense_operator", solver="native", at_once=4, regions=[2] * 8
        )
    assert str(refusal.value).startswith("Drawing the sampled patterns")
    assert "n_jobs" not in str(refusal.value)


def test_one_vs_rest_targets_are_checked_before_they_are_made(two_mib):
    # sample ids passed as labels: 40,000 of them asked NumPy for 11.9 GiB (a review)
    from sklearn_convexcnn import ConvexCNNClassifier

    X, _ = _signals(600, 4)
    # (scikit-learn 1.7 and later warn of so many classes; 1.6 does not)
    with (
        warnings.catch_warnings(),
        pytest.raises(MemoryError, match=r"one-vs-rest targets of 600 samples and 600 classes"),
    ):
        warnings.filterwarnings("ignore", "The number of unique classes is greater than 50%")
        ConvexCNNClassifier(kernel_size=2, n_patterns=4).fit(X, np.arange(600))


def test_certify_checks_the_fitted_patterns_where_every_one_would_not_fit(monkeypatch):
    import sklearn_convexcnn._resources as resources

    X, y = _signals(40, 20)
    reg = ConvexCNNRegressor(kernel_size=2, n_patterns=8, random_state=0).fit(X, y)
    assert reg.certify(X, y).exact
    # (1 MiB: the operator of every pattern, 62, needs 1.3 MB, the fitted ones' 0.2 MB)
    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    certificate = reg.certify(X, y)
    assert not certificate.exact and certificate.n_patterns_checked == reg.n_patterns_


@pytest.mark.parametrize("method", ["regularized_objective", "certify"])
def test_evaluating_on_data_whose_patches_would_not_fit_names_the_fix(method, monkeypatch):
    # (an error-message audit: the evaluation's own remedy, fewer samples, was not pinned;
    # fit's, a geometry to change, would not apply to a fitted model). The fit is of the
    # first 40 signals, the evaluation of 3000, whose patches take 3.3 MiB of the 2 left
    import sklearn_convexcnn._resources as resources

    X, y = _signals(3000, 50)
    reg = ConvexCNNRegressor(kernel_size=3, n_patterns=4, random_state=0).fit(X[:40], y[:40])
    # (2 MiB, by what every measure of the available memory reads)
    monkeypatch.setattr(resources, "_system_available", lambda: 2 * 2**20)
    monkeypatch.setattr(resources, "_cgroup_headroom", lambda: None)
    monkeypatch.setattr(resources, "_address_space_headroom", lambda: None)
    with pytest.raises(
        MemoryError,
        match=r"^Cutting X into patches \(3000 samples x 48 patches of size 3\) needs about "
        r"3\.3 MiB of memory but only 2\.0 MiB is available\. Evaluate on fewer samples\.$",
    ):
        getattr(reg, method)(X, y)


def test_the_native_working_set_is_checked_as_it_grows(monkeypatch):
    # a review: at n=100,000 the working set's design (8 n h bytes a group, which no estimate
    # before the solve can count) failed with numpy's own MemoryError, 70 s into the solve
    import functools

    from sklearn_convexcnn._solvers import _native

    monkeypatch.setattr(_native, "_CHECKED_WORKING_SET_BYTES", 0)
    monkeypatch.setattr(_native, "check_memory", functools.partial(check_memory, available=1000))
    X = np.random.default_rng(0).standard_normal((12, 9))
    message = (
        r"The native solver's working set \(\d+ groups of 3 coefficients on 12 samples\) needs "
        r"about .* Use a larger beta \(fewer neurons\), fewer samples or fewer n_patterns\."
    )
    with pytest.raises(MemoryError, match=message):
        ConvexCNNRegressor(beta=0.01, n_patterns=8, solver="native").fit(X, X[:, 0])


def test_predictions_cut_patches_in_chunks(monkeypatch):
    import sklearn_convexcnn._base as base
    from sklearn_convexcnn._patches import extract_patches

    X, y = _signals(50, 12)
    reg = ConvexCNNRegressor(n_patterns=8, random_state=0).fit(X, y)
    whole = reg.predict(X)
    monkeypatch.setattr(base, "_PATCH_CHUNK_BYTES", 1000)  # 4 samples a chunk
    chunks = []

    def extract(X, geometry):
        chunks.append(len(X))
        return extract_patches(X, geometry)

    monkeypatch.setattr(base, "extract_patches", extract)
    np.testing.assert_array_equal(reg.predict(X), whole)
    assert chunks == [4] * 12 + [2]


def test_workers_solving_outputs_at_once_each_count(monkeypatch):
    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn import ConvexCNNClassifier

    X = np.random.default_rng(0).standard_normal((60, 12))
    y = np.arange(60) % 3
    one = dense_program_bytes(60, 10, 3, 16)  # 19 MB: three at once do not fit in 30
    monkeypatch.setattr(resources, "available_memory", lambda: 30 * 2**20)
    assert one < 30 * 2**20 < 3 * one
    params = dict(n_patterns=16, solver="clarabel", random_state=0)
    ConvexCNNClassifier(n_jobs=1, **params).fit(X, y)
    with pytest.raises(MemoryError, match=r"3 outputs' programs at once, n_jobs\).* n_jobs\."):
        ConvexCNNClassifier(n_jobs=3, **params).fit(X, y)


def test_the_regional_output_weights_are_checked(monkeypatch):
    # one weight per neuron, region and output: the square of the outputs (2.6 GiB at 200
    # outputs in a review, after 167 s of solves), refused with the sizes and the fix
    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn._formulations.two_layer import make_formulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry
    from sklearn_convexcnn._solvers._solution import Solution

    X, _ = _signals(30, 40)
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 40))
    formulation = make_formulation("none", None, "sum", (38,))
    gates = formulation.sample_gates(patches, 4, np.random.default_rng(0))
    operator = formulation.operator(patches, gates)
    coef = np.abs(np.random.default_rng(1).standard_normal((2, operator.n_patterns, 3)))
    solutions = [Solution(coef, 0.0, 1.0, True, "optimal", 1, "native")] * 20
    network = formulation.network(solutions, patches, gates)
    assert len(network.output_weights) == 20 * coef.shape[0] * coef.shape[1]
    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match=r"The output weights of \d+ neurons x 38 regions x 20 "):
        formulation.network(solutions, patches, gates)


def test_native_solves_are_charged_their_arrays_not_cvxpy(monkeypatch):
    # a review: the CVXPY estimate (330 bytes a nonzero) refused native max-pooling fits that
    # took 20-60x less (all digits: 11.6 GiB estimated, 0.57 GB used), certify fell back to
    # the fitted patterns (a gap of 3e-12 where every pattern's gave 101), and the path
    from sklearn.datasets import load_digits

    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn import ConvexCNNClassifier
    from sklearn_convexcnn._resources import check_program_memory

    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    with pytest.raises(MemoryError, match=r"up to 4806 patterns \(solver='native'\) needs about"):
        check_program_memory(1000, 5, 2, 4806, kind="dense", solver="native")
    check_program_memory(1000, 5, 2, 4806, kind="dense_operator", solver="native")
    X, y = load_digits(n_class=3, return_X_y=True)
    params = dict(input_shape=(8, 8), pooling="max", n_patterns=32, n_jobs=2, random_state=0)
    assert dense_program_bytes(len(X), 36, 9, 32) > 2**30  # what refused it
    ConvexCNNClassifier(**params).fit(X / 16, y)


def _cgroups(monkeypatch, tmp_path, membership, files):
    """A fake /proc/self/cgroup (``membership``) and cgroup tree (``files``: path -> text)."""
    from sklearn_convexcnn import _resources as resources

    (tmp_path / "proc").write_text(membership)
    for path, text in files.items():
        (tmp_path / "cgroup" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cgroup" / path).write_text(text)
    (tmp_path / "cgroup").mkdir(exist_ok=True)
    monkeypatch.setattr(resources, "_PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(resources, "_CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(resources, "_system_available", lambda: 64 * 2**30)
    monkeypatch.setattr(resources, "_address_space_headroom", lambda: None)  # (ulimit -v)
    return resources


def test_a_cgroup_v2_limit_bounds_the_available_memory(monkeypatch, tmp_path):
    # a container's or CI job's limit: the system's figure is the host's, and a fit let
    # through on it met the OOM killer, not the guard's error
    resources = _cgroups(monkeypatch, tmp_path, "0::/ci/job\n", {
        "ci/memory.max": "4294967296\n",  # 4 GiB for the CI, 1 GiB of it in use
        "ci/memory.current": "1073741824\n",
        "ci/job/memory.max": "max\n",  # none for the job itself
        "ci/job/memory.current": "536870912\n",
        "ci/memory.stat": "anon 900000000\nfile 3145728\nshmem 2097152\n",  # 1 MiB free
    })  # fmt: skip
    assert resources.available_memory() == 3 * 2**30 + 2**20
    with pytest.raises(MemoryError, match="needs about 4.0 GiB of memory but only 3.0 GiB"):
        resources.check_memory(4 * 2**30, "The program", "Use less.")


def test_a_cgroup_v1_limit_bounds_the_available_memory(monkeypatch, tmp_path):
    resources = _cgroups(monkeypatch, tmp_path, "4:memory:/docker/abc\n3:cpu:/\n", {
        "memory/docker/abc/memory.stat": (
            "hierarchical_memory_limit 2147483648\ntotal_cache 0\ntotal_shmem 0\n"
        ),
        "memory/docker/abc/memory.usage_in_bytes": "1073741824\n",
    })  # fmt: skip
    assert resources.available_memory() == 2**30


def test_the_tightest_of_nested_cgroup_v2_limits_bounds_the_memory(monkeypatch, tmp_path):
    # a mutant that took the loosest of the limits of a group and its ancestors survived
    resources = _cgroups(monkeypatch, tmp_path, "0::/ci/job\n", {
        "ci/memory.max": "4294967296\n",
        "ci/memory.current": "0\n",
        "ci/job/memory.max": "2147483648\n",
        "ci/job/memory.current": "0\n",
    })  # fmt: skip
    assert resources.available_memory() == 2 * 2**30


def test_a_cgroup_not_under_the_mount_reads_the_roots_limit(monkeypatch, tmp_path):
    # a container sees its own group as the root: a mutant that then read no group survived
    resources = _cgroups(monkeypatch, tmp_path, "0::/not/here\n", {
        "memory.max": "3221225472\n",
        "memory.current": "1073741824\n",
    })  # fmt: skip
    assert resources.available_memory() == 2 * 2**30


@pytest.mark.parametrize("shmem, available", [(0, 2**30 + 2**29), (2**28, 2**30 + 2**28)])
def test_a_cgroup_v1_limit_counts_its_file_cache_as_free_but_not_its_shared_memory(
    shmem, available, monkeypatch, tmp_path
):
    # the kernel reclaims the cache first (a mutant that counted it as in use survived), but
    # not total_shmem, file cache too (a mutant that counted it as free survived)
    resources = _cgroups(monkeypatch, tmp_path, "4:memory:/docker/abc\n", {
        "memory/docker/abc/memory.stat": (
            f"hierarchical_memory_limit 2147483648\ntotal_cache 536870912\ntotal_shmem {shmem}\n"
        ),
        "memory/docker/abc/memory.usage_in_bytes": "1073741824\n",
    })  # fmt: skip
    assert resources.available_memory() == available


@pytest.mark.parametrize(
    "membership, files",
    [
        ("0::/\n", {}),  # a host: no limit at the root
        ("0::/job\n", {"job/memory.max": "max\n", "job/memory.current": "5\n"}),
        ("4:memory:/\n", {"memory/memory.stat": "hierarchical_memory_limit 9223372036854771712\n"}),
        # (v2's memory.max as v1 writes "no limit": a mutant that took it for one survived, the
        # system's smaller figure standing; the headroom alone is read where that is unknown)
        ("0::/job\n", {"job/memory.max": "9223372036854771712\n", "job/memory.current": "5\n"}),
        ("not a cgroup file", {}),
    ],
)
def test_without_a_cgroup_limit_the_system_figure_stands(monkeypatch, tmp_path, membership, files):
    resources = _cgroups(monkeypatch, tmp_path, membership, files)
    assert resources.available_memory() == 64 * 2**30
    monkeypatch.setattr(resources, "_system_available", lambda: None)
    assert resources.available_memory() is None


def _process_of_size(monkeypatch, tmp_path, vm_size):
    """The _resources module seeing this process's /proc status with ``VmSize: vm_size``, 64
    GiB of free system memory and no cgroup limit."""
    from sklearn_convexcnn import _resources as resources

    status = tmp_path / "status"
    status.write_text(f"Name:\tpython\nVmSize:\t {vm_size}\n")
    monkeypatch.setattr(resources, "_PROC_STATUS", status)
    monkeypatch.setattr(resources, "_system_available", lambda: 64 * 2**30)
    monkeypatch.setattr(resources, "_cgroup_headroom", lambda: None)
    return resources


def test_an_address_space_limit_bounds_the_measured_memory(monkeypatch, tmp_path):
    # ulimit -v, set on some clusters: a fit let through failed in NumPy's allocation, with a
    # MemoryError that named no remedy (an audit). The limit is read, not set: a test's own
    # ulimit would otherwise decide it (a review)
    resource = pytest.importorskip("resource", reason="RLIMIT_AS is Unix's")
    resources = _process_of_size(monkeypatch, tmp_path, "1048576 kB\nVmRSS:\t 2048 kB")  # 1 GiB
    unlimited = resource.RLIM_INFINITY
    monkeypatch.setattr(resource, "getrlimit", lambda which: (5 * 2**30, unlimited))
    assert resources._address_space_headroom() == 4 * 2**30
    resources.check_memory(4 * 2**30, "A program", "Use less.")
    with pytest.raises(
        MemoryError,
        match=r"^A program needs about 4\.1 GiB of memory, but the process's address-space "
        r"limit \(ulimit -v\) leaves only 4\.0 GiB\. Use less\.$",
    ):
        resources.check_memory(4 * 2**30 + 2**27, "A program", "Use less.")
    # (a figure given is the one checked: the estimates' tests give theirs)
    resources.check_memory(8 * 2**30, "A program", "Use less.", available=16 * 2**30)
    # the enumeration's cap reads it too, down to a headroom of 0 (a review: taken as unknown)
    capped = resources.patterns_in_memory(100, 10, 3)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (2**30, unlimited))
    assert resources._address_space_headroom() == 0
    assert resources.patterns_in_memory(100, 10, 3) == 1
    monkeypatch.setattr(resource, "getrlimit", lambda which: (unlimited, unlimited))
    assert resources._address_space_headroom() is None
    assert resources.patterns_in_memory(100, 10, 3) > capped
    resources.check_memory(8 * 2**30, "A program", "Use less.")


def test_scs_on_a_linear_cnn_without_pooling_is_checked_too(monkeypatch):
    # (an audit: 400 x 400 images got NumPy's "Unable to allocate 23.8 GiB" inside CVXPY,
    # where Clarabel's check advised solver='scs')
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 22 * 2**30)
    X, y = _signals(5, 400 * 400)
    reg = ConvexCNNRegressor(
        activation="linear", pooling="none", input_shape=(400, 400), kernel_size=1, solver="scs"
    )
    message = (
        r"^The nuclear-norm program of a linear CNN without pooling, 160000 patches of size 1 "
        r"\(solver='scs': a semidefinite cone of order 160001\) needs about [\d.]+ GiB .* Use "
        r"fewer patches \(a larger stride or kernel_size\), or pooling='average'\.$"
    )
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)


def test_scs_is_charged_more_than_clarabel_where_it_holds_more(monkeypatch):
    # (an audit measured SCS at 1.73 times the Clarabel estimate, 330 bytes a nonzero, on
    # these sizes, 1,146 MiB: a fit between the two passed the check, then exhausted memory)
    import sklearn_convexcnn._resources as resources
    from sklearn_convexcnn._resources import check_program_memory

    sizes = (300, 18, 3, 64)
    assert dense_program_bytes(*sizes, solver="scs") > 1146 * 2**20
    clarabel = dense_program_bytes(*sizes)
    monkeypatch.setattr(resources, "available_memory", lambda: int(1.3 * clarabel))
    check_program_memory(*sizes, kind="dense", solver="clarabel")
    with pytest.raises(MemoryError, match=r"up to 64 patterns \(solver='scs'\) needs about"):
        check_program_memory(*sizes, kind="dense", solver="scs")


def test_certify_caps_its_enumeration_by_memory(monkeypatch):
    # (an audit: max_patterns=10**12 enumerated 1.9e9 cells for minutes, memory growing,
    # before any check; with memory for a few thousand patterns it falls back at once)
    import sklearn_convexcnn._resources as resources

    X, y = _signals(200, 12)
    reg = ConvexCNNRegressor(kernel_size=4, n_patterns=16, random_state=0).fit(X, y)
    monkeypatch.setattr(resources, "available_memory", lambda: 2**24)
    assert resources.patterns_in_memory(200, 9, 4) < 10**4  # (the Cover bound: 1.9e9)
    certificate = reg.certify(X, y, max_patterns=10**12)
    assert not certificate.exact
    assert certificate.n_patterns_checked == reg.n_patterns_


def test_certify_checks_the_fitted_patterns_operator(monkeypatch):
    # (an audit: only the patches were checked on this path, 1/3.4 of its peak at 60,000
    # samples)
    import sklearn_convexcnn._resources as resources

    X, y = _signals(2000, 40)
    reg = ConvexCNNRegressor(kernel_size=4, n_patterns=16, random_state=0).fit(X, y)
    monkeypatch.setattr(resources, "available_memory", lambda: 2**22)
    message = (
        r"^Certifying on 2000 samples x 37 patches of size 4 over the \d+ fitted patterns needs "
        r"about .* Certify on a subset of the samples\.$"
    )
    with pytest.raises(MemoryError, match=message):
        reg.certify(X, y)


@pytest.mark.parametrize("kind", ["three_layer", "three_layer_native"])
def test_an_exact_three_layer_program_of_many_samples_is_refused_not_overflowed(kind):
    # 2^n second-layer patterns of 2,000 samples are a Python int past a float's range: the
    # count is capped at 2^62 (beyond any memory either way), so that the estimate can be said
    # in GiB; uncapped, formatting the refusal raised OverflowError instead of MemoryError
    with pytest.raises(MemoryError, match=r"^The convex program for 2000 samples .* GiB of memory"):
        check_program_memory(2000, 6, 3, 4, kind=kind, solver="auto", exact=True)


def test_an_address_space_already_past_its_limit_leaves_no_headroom(monkeypatch, tmp_path):
    # a process whose virtual size is above its ulimit -v (the limit lowered after it grew)
    # has nothing left to allocate, not a negative amount: the refusal says 0.0 MiB
    resource = pytest.importorskip("resource", reason="RLIMIT_AS is Unix's")
    resources = _process_of_size(monkeypatch, tmp_path, "2097152 kB")  # 2 GiB
    monkeypatch.setattr(resource, "getrlimit", lambda which: (2**30, resource.RLIM_INFINITY))
    assert resources._address_space_headroom() == 0
    with pytest.raises(MemoryError, match=r"\(ulimit -v\) leaves only 0\.0 MiB\. Use less\.$"):
        resources.check_memory(2**20, "A program", "Use less.")


def test_a_cgroup_v2_group_above_its_limit_leaves_no_memory(monkeypatch, tmp_path):
    # usage can exceed memory.max (a limit lowered under a running group): the headroom is
    # 0, not negative, and the refusal says "only 0.0 MiB is available"
    resources = _cgroups(monkeypatch, tmp_path, "0::/job\n", {
        "job/memory.max": "1073741824\n",
        "job/memory.current": "2147483648\n",
    })  # fmt: skip
    assert resources.available_memory() == 0
    with pytest.raises(MemoryError, match=r"needs about 1\.0 MiB of memory but only 0\.0 MiB"):
        resources.check_memory(2**20, "The program", "Use less.")


@pytest.mark.parametrize("kind", ["three_layer", "three_layer_native"])
@pytest.mark.parametrize(
    "exact, fewer",
    [
        (False, "Use fewer n_patterns"),
        (True, r"Sample the patterns \(an int n_patterns\) instead of n_patterns='exact'"),
    ],
)
def test_a_refused_three_layer_program_says_it_grows_with_the_square_of_the_patterns(
    monkeypatch, kind, exact, fewer
):
    # each first-layer pattern is paired with its second-layer ones, through CVXPY or natively:
    # halving n_patterns there quarters the program, which the first remedy says
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    monkeypatch.setattr(resources, "_address_space_headroom", lambda: None)
    with pytest.raises(
        MemoryError,
        match=rf"\. {fewer} \(it grows with their square\), use fewer or smaller patches "
        r"\(a larger stride or a smaller kernel_size\), or fit on a subset of the samples\.$",
    ):
        check_program_memory(200, 36, 9, 64, kind=kind, solver="auto", exact=exact)


def test_a_program_that_needs_exactly_what_is_available_is_let_through():
    # "exceed": a requirement equal to the available bytes fits
    check_memory(2**30, "The thing", "Fix it.", available=2**30)
    with pytest.raises(MemoryError, match=r"needs about 1\.0 GiB of memory but only 1\.0 GiB"):
        check_memory(2**30 + 1, "The thing", "Fix it.", available=2**30)


def test_an_address_space_limit_of_2_to_the_60_or_more_is_no_limit(monkeypatch):
    # as for cgroups (_NO_LIMIT): a limit that large, though not RLIM_INFINITY, bounds nothing
    resource = pytest.importorskip("resource", reason="RLIMIT_AS is Unix's")
    from sklearn_convexcnn import _resources as resources

    unlimited = resource.RLIM_INFINITY
    for limit in (2**60, 2**62):
        monkeypatch.setattr(resource, "getrlimit", lambda which, limit=limit: (limit, unlimited))
        assert resources._address_space_headroom() is None
    monkeypatch.setattr(resource, "getrlimit", lambda which: (2**60 - 1, unlimited))
    assert resources._address_space_headroom() > 2**59


def test_a_limit_on_the_mounts_root_bounds_a_group_below_it(monkeypatch, tmp_path):
    # in a cgroup namespace the container's own group is the mount's root, its limit on the
    # root's files: a process in a child group of it is bound by that limit too
    resources = _cgroups(monkeypatch, tmp_path, "0::/worker\n", {
        "memory.max": "3221225472\n",  # 3 GiB for the container, 1 GiB of it in use
        "memory.current": "1073741824\n",
        "worker/memory.max": "max\n",
        "worker/memory.current": "536870912\n",
    })  # fmt: skip
    assert resources.available_memory() == 2 * 2**30


def test_the_patterns_that_fit_in_memory_pay_their_bits_group_and_gate_each(monkeypatch):
    # each pattern: a sign bit per (sample, patch), OPERATOR_BYTES_PER_GROUP, and its gate of
    # patch_size floats; what is left after the operator's fixed share, in whole patterns
    import sklearn_convexcnn._resources as resources

    n_samples, n_patches, patch_size = 8, 8, 4
    fixed = operator_bytes(n_samples, n_patches, patch_size, 0)
    per_pattern = n_samples * n_patches / 8 + resources.OPERATOR_BYTES_PER_GROUP + 8 * patch_size
    monkeypatch.setattr(resources, "_address_space_headroom", lambda: None)
    for available, expected in [(100 * per_pattern, 100), (100 * per_pattern - 1, 99)]:
        monkeypatch.setattr(resources, "available_memory", lambda a=available: fixed + a)
        assert resources.patterns_in_memory(n_samples, n_patches, patch_size) == expected


def test_a_warm_start_checks_the_programs_memory_as_a_cold_fit_does(monkeypatch):
    # a warm start keeps the previous fit's patterns, but its program is built anew, for the
    # solver and n_jobs of this fit: it is refused where a cold fit would be
    import sklearn_convexcnn._resources as resources

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    params = dict(beta=0.3, kernel_size=3, n_patterns=16, random_state=0)
    reg = ConvexCNNRegressor(warm_start=True, **params).fit(X, y)
    monkeypatch.setattr(resources, "available_memory", lambda: 2**16)
    message = r"^The matrix-free convex program for 30 samples x 6 patches .* 16 patterns"
    with pytest.raises(MemoryError, match=message):
        ConvexCNNRegressor(**params).fit(X, y)
    with pytest.raises(MemoryError, match=message):
        reg.fit(X, y)


def test_a_native_three_layer_fit_is_charged_the_native_solvers_workspace(monkeypatch):
    # the estimator checks the program as the solver that will run holds it: the native
    # three-layer solver's workspace (THREE_LAYER_WORKSPACE, 48 MiB) is not CVXPY's
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2**24)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 6)), rng.standard_normal(8)
    params = dict(architecture="three_layer", kernel_size=2, n_patterns=3, random_state=0)
    with pytest.raises(MemoryError, match=r"\(solver='native'\) needs about 48\.0 MiB of memory"):
        ConvexCNNRegressor(solver="native", **params).fit(X, y)
    ConvexCNNRegressor(solver="clarabel", **params).fit(X, y)


# Found unpinned by a mutation pass on _resources.py (each test names the mutant it kills)


def test_the_systems_figure_is_memavailable_then_the_free_pages(monkeypatch, tmp_path):
    # MemAvailable counts the page cache the kernel can reclaim; the free pages, the fallback
    # where /proc/meminfo lacks it (kernels before 3.14), do not. Mutants that skipped
    # MemAvailable, or read the total pages (SC_PHYS_PAGES) in the fallback, survived
    import os

    from sklearn_convexcnn import _resources as resources

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8388608 kB\nMemFree:  1024 kB\nMemAvailable:  2097152 kB\n")
    monkeypatch.setattr(resources, "_PROC_MEMINFO", meminfo)
    assert resources._system_available() == 2 * 2**30
    pages = {"SC_AVPHYS_PAGES": 3, "SC_PHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", pages.__getitem__)
    meminfo.write_text("MemTotal:  8388608 kB\nMemFree:  1024 kB\n")
    assert resources._system_available() == 3 * 4096


def test_an_address_space_limit_without_a_readable_size_is_the_headroom(monkeypatch, tmp_path):
    # where /proc does not say the virtual size (macOS; or a field that is not a number) the
    # limit itself is the headroom, an upper bound: a mutant that took it as none left survived
    resource = pytest.importorskip("resource", reason="RLIMIT_AS is Unix's")
    resources = _process_of_size(monkeypatch, tmp_path, "0 kB")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3 * 2**30, resource.RLIM_INFINITY))
    for status in ("Name:\tpython\n", "VmSize:\t n/a kB\n"):
        (tmp_path / "status").write_text(status)
        assert resources._address_space_headroom() == 3 * 2**30


@pytest.mark.parametrize(
    "membership, files",
    [
        ("0::/job\n", {
            "job/memory.max": "2147483648\n",
            "job/memory.current": "1073741824\n",
            "job/memory.stat": "file 1048576\nshmem 3145728\n",
        }),
        ("4:memory:/job\n", {
            "memory/job/memory.stat": (
                "hierarchical_memory_limit 2147483648\ntotal_cache 1048576\ntotal_shmem 3145728\n"
            ),
            "memory/job/memory.usage_in_bytes": "1073741824\n",
        }),
    ],
    ids=["v2", "v1"],
)  # fmt: skip
def test_shared_memory_beyond_the_file_cache_is_not_charged_twice(
    monkeypatch, tmp_path, membership, files
):
    # shared memory is in the usage already; where the statistics say more of it than of file
    # cache, no reclaimable cache is left, and nothing is taken off beyond the usage (mutants
    # that counted the negative difference survived)
    resources = _cgroups(monkeypatch, tmp_path, membership, files)
    assert resources.available_memory() == 2**30


def test_a_three_layer_program_of_few_samples_has_at_most_2_to_the_n_second_layer_patterns():
    # 3 samples have 8 sign patterns: 64 sampled first-layer patterns are paired with 8 of
    # them, not 65 (a mutant without the cap survived, charging 8 times too much)
    two_layer = dense_program_bytes(3, 6, 3, 64)
    assert three_layer_program_bytes(3, 6, 3, 64) == two_layer * 2**3 // 3
    assert three_layer_program_bytes(300, 6, 3, 64) == dense_program_bytes(300, 6, 3, 64) * 65 // 3


def test_the_draws_keys_are_those_of_the_largest_region_not_the_grid():
    # with a read-out per patch (pooling="none") a gate's key is a byte per sample of one
    # region, twice; a mutant that keyed the whole grid of 676 patches survived
    from sklearn_convexcnn._resources import sampling_bytes

    regional = sampling_bytes(1000, 676, 9, 1000, [1] * 676)
    assert regional < sampling_bytes(1000, 676, 9, 1000)
    assert regional < sampling_bytes(1000, 2, 9, 1000, [2]) * 1.1


@pytest.mark.parametrize("regions, keys", [(None, 1), ([4, 4], 2)])
def test_each_drawn_gate_is_charged_its_filter_keys_and_overheads(regions, keys):
    # 16 h bytes of filter (the draw and the kept gates), a key a gate, two where regions are
    # keyed one after the other, and the overheads: mutants that dropped the filter or
    # charged one key with regions survived the bounds on measured peaks
    import sklearn_convexcnn._resources as resources

    n_samples, n_patches, patch_size = 100, 8, 5
    key = n_samples * 1  # (a bit a patch of 8 patches, or of the largest region of 4)
    per_gate = 16 * patch_size + keys * (key + resources.KEY_OVERHEAD)
    per_gate += resources.GATE_OVERHEAD
    sizes = (n_samples, n_patches, patch_size)
    # (above KEY_GATES gates the chunk of keys and products stays the same)
    more = resources.sampling_bytes(*sizes, 2000, regions)
    assert more - resources.sampling_bytes(*sizes, 1000, regions) == 1000 * per_gate


def test_a_dense_program_refused_through_cvxpy_names_the_native_solver(monkeypatch):
    # (a mutant that dropped this remedy survived; the circular one is pinned above)
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    monkeypatch.setattr(resources, "_address_space_headroom", lambda: None)
    with pytest.raises(
        MemoryError,
        match=r"\. Use fewer n_patterns, solver='native' \(matrix-free\) where the architecture "
        r"supports it, use fewer or smaller patches \(a larger stride or a smaller kernel_size\), "
        r"or fit on a subset of the samples\.$",
    ):
        check_program_memory(200, 36, 9, 64, kind="dense", solver="clarabel")


def test_a_dense_program_read_out_per_region_is_charged_its_regions_groups(monkeypatch):
    # each region's groups are capped by its Cover bound: 4 one-patch regions of 10 samples
    # have 4 x 20 groups, not 1000 of 4 patches (a mutant that dropped the regions from the
    # CVXPY estimate, 50 times larger here, survived)
    import sklearn_convexcnn._resources as resources

    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    regions = [1] * 4
    check_program_memory(10, 4, 2, 1000, kind="dense", solver="clarabel", regions=regions)
    assert required == [dense_program_bytes(10, 4, 2, 1000, regions)]
    assert 40 * required[0] < dense_program_bytes(10, 4, 2, 1000)


def test_the_draw_is_charged_with_its_regions_keys_and_only_where_patterns_are_drawn(
    monkeypatch,
):
    # an enumeration draws nothing: a mutant that charged exact patterns the draw of as many
    # survived, as did one that keyed the draw on the whole grid despite the regions
    import sklearn_convexcnn._resources as resources

    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    sizes, regions = (8, 15, 2, 10**5), [2] * 8
    for exact in (False, True):
        check_program_memory(
            *sizes, kind="dense_operator", solver="native", exact=exact, regions=regions
        )
    program = int(resources.DENSE_OPERATOR_PEAK * resources.dense_arrays_bytes(*sizes, regions))
    drawn = resources.sampling_bytes(*sizes, regions)
    assert required == [drawn, program]
    assert program < drawn


@pytest.mark.parametrize("solver", ["scs", "clarabel"])
def test_a_linear_cnns_programs_solved_at_once_each_count(monkeypatch, solver):
    # n_jobs workers each hold a nuclear-norm program: mutants that charged one survived
    import sklearn_convexcnn._resources as resources

    required = []
    monkeypatch.setattr(resources, "check_memory", lambda n, *args, **_: required.append(n))
    for at_once in (1, 3):
        resources.check_nuclear_program_memory(98, 3, solver, at_once=at_once)
    assert required[1] == 3 * required[0] > 0


def test_the_operators_signs_are_held_once_while_they_are_built():
    # many patterns of many rows come in many blocks of the sign pass; gathered and then
    # concatenated, the blocks held the signs twice at the peak, past operator_bytes, which
    # counts them once: a fit of 10,740 digits and 30,000 patterns that the guard let through
    # (ulimit -v 3 GB) failed in NumPy's allocation of the concatenation after 85 s
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((2000, 8, 2))
    gates = rng.standard_normal((2, 20000))
    tracemalloc.start()
    try:
        operator = PatchOperator(patches, gates, np.full(8, 1 / 8), with_candidates=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    signs = operator.signs
    assert signs.nbytes == 20000 * 2000  # (16,000 rows: 2,000 bytes a pattern)
    assert peak < 1.5 * signs.nbytes
    # and they are the signs (of the first and the last blocks' patterns)
    for some in (slice(0, 100), slice(19900, 20000)):
        expected = (patches.reshape(-1, 2) @ gates[:, some] >= 0).T
        assert np.array_equal(np.unpackbits(signs[some], axis=1, count=16000), expected)


def _no_patches_cut(monkeypatch, module):
    """Memory of 1 MiB, and ``module``'s patch extraction forbidden."""
    import sklearn_convexcnn._resources as resources

    def cut(X, geometry):
        raise AssertionError("the patches were cut before the program's memory was checked")

    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    monkeypatch.setattr(module, "extract_patches", cut)
    return np.random.RandomState(0).standard_normal((50, 64))


def test_a_sampled_program_too_large_is_refused_before_the_patches_are_cut(monkeypatch):
    # the program's estimate needs only the patches' shape: 3,000 images of 64x64 with
    # 10x10 filters were cut into 7 GiB of patches, in 23 s, before their program of
    # 13.7 GiB was refused
    import sklearn_convexcnn._base as base

    X = _no_patches_cut(monkeypatch, base)
    for params in (
        {"kernel_size": 8},
        {"kernel_size": 8, "pool_size": 2},
        {"architecture": "three_layer", "kernel_size": 8},
        {"architecture": "circular"},
    ):
        reg = ConvexCNNRegressor(n_patterns=4000, **params)
        with pytest.raises(MemoryError, match=r"with up to 4000 patterns.*Use fewer n_patterns"):
            reg.fit(X, X[:, 0])


def test_the_check_before_the_patches_are_cut_holds_every_output(monkeypatch):
    # the program's estimate before the patches are cut is the fit's, of all its outputs
    # (which decide how many are solved at once), as it is once they are cut
    original, checked = ConvexCNNRegressor._check_program_memory, []

    def recording(self, patches_shape, formulation, n_patterns, n_outputs):
        checked.append(n_outputs)
        return original(self, patches_shape, formulation, n_patterns, n_outputs)

    monkeypatch.setattr(ConvexCNNRegressor, "_check_program_memory", recording)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    ConvexCNNRegressor(kernel_size=2, n_patterns=2, random_state=0).fit(X, Y)
    assert len(checked) >= 2 and set(checked) == {3}


def test_a_sampled_path_too_large_is_refused_before_the_patches_are_cut(monkeypatch):
    # convex_cnn_path checks its program as the estimators do: from the patches' shape
    import sklearn_convexcnn._path as path
    from sklearn_convexcnn import convex_cnn_path

    X = _no_patches_cut(monkeypatch, path)
    with pytest.raises(MemoryError, match=r"with up to 4000 patterns.*Use fewer n_patterns"):
        convex_cnn_path(X, X[:, 0], kernel_size=8, n_patterns=4000)


def test_the_dense_fallback_program_is_sized_by_its_patterns_and_regions(two_mib):
    # DenseProgram: the estimate counts the patterns, the columns of gates (patch_size x
    # n_patterns), and a dense read-out's regions, whose program has a group per pattern and
    # region. Mutants that counted the patch size as the patterns, or left the regions out
    # (a program 4 times smaller here), survived
    patches = np.zeros((500, 36, 9))
    formulation = make_formulation("average", (3, 3), "dense", (6, 6))
    fallback = DenseProgram(formulation, patches, np.zeros((9, 64)))
    with pytest.raises(
        MemoryError, match=r"of size 9 with up to 64 patterns in 4 regions, each read out"
    ):
        fallback()
