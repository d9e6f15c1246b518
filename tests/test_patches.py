import warnings

import numpy as np
import pytest

from sklearn_convexcnn._formulations.circular import circular_geometry
from sklearn_convexcnn._patches import extract_patches, patch_rows, resolve_geometry
from sklearn_convexcnn._validation import (
    MAX_DATA_SCALE,
    MIN_DATA_SCALE,
    check_scale,
    holds_complex,
    warn_common_offset,
)


def naive_patches_2d(image, kernel, stride):
    """Patches of one (H, W, C) image by explicit loops, flattened row-major, channels last."""
    height, width, _ = image.shape
    patches = []
    for top in range(0, height - kernel[0] + 1, stride[0]):
        for left in range(0, width - kernel[1] + 1, stride[1]):
            patches.append(image[top : top + kernel[0], left : left + kernel[1], :].ravel())
    return np.array(patches)


@pytest.mark.parametrize("kernel_size, stride", [(3, 1), (3, 2), (1, 1), (5, 3), (8, 1)])
def test_1d_patch_convention(kernel_size, stride):
    # the documented convention: patch k of x is x[k * stride : k * stride + kernel_size]
    X = np.random.default_rng(0).standard_normal((4, 8))
    geometry = resolve_geometry(None, kernel_size, stride, 8)
    patches = extract_patches(X, geometry)
    assert patches.shape == (4, (8 - kernel_size) // stride + 1, kernel_size)
    for k in range(patches.shape[1]):
        np.testing.assert_array_equal(patches[:, k], X[:, k * stride : k * stride + kernel_size])


@pytest.mark.filterwarnings("ignore:stride=:UserWarning")  # ((2, 3) skips: tested below)
@pytest.mark.parametrize(
    "input_shape, kernel_size, stride",
    [((6, 5), 3, 1), ((6, 5), (2, 3), (2, 1)), ((5, 4, 3), 2, 1), ((7, 7, 2), (3, 2), (2, 3))],
)
def test_2d_patches_match_loops(input_shape, kernel_size, stride):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, int(np.prod(input_shape))))
    geometry = resolve_geometry(input_shape, kernel_size, stride, X.shape[1])
    patches = extract_patches(X, geometry)
    kernel, step = geometry.kernel_size, geometry.stride
    for row, x in zip(patches, X, strict=True):
        image = x.reshape(*geometry.spatial_shape, geometry.n_channels)
        np.testing.assert_array_equal(row, naive_patches_2d(image, kernel, step))
    assert patches.shape[2] == geometry.patch_size == np.prod(kernel) * geometry.n_channels


@pytest.mark.filterwarnings("ignore:stride=:UserWarning")
@pytest.mark.parametrize(
    "input_shape, kernel_size, stride",
    [((12,), 3, 1), ((12,), 4, 3), ((6, 5), (2, 3), (2, 1)), ((7, 7, 2), (3, 2), (2, 3))],
)
def test_patch_rows_are_the_stacked_patches_rows(input_shape, kernel_size, stride):
    # (the rows an exact enumeration's refusal is checked on before the patches are cut)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, int(np.prod(input_shape))))
    geometry = resolve_geometry(input_shape, kernel_size, stride, X.shape[1])
    stacked = extract_patches(X, geometry).reshape(-1, geometry.patch_size)
    rows = rng.integers(0, len(stacked), size=30)
    np.testing.assert_array_equal(patch_rows(X, geometry, rows), stacked[rows])


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride",
    [
        ((9,), 2, 3),
        ((8, 8), 2, (3, 2)),
        ((7, 7, 2), (3, 2), (2, 3)),
        ((10,), 1, 4),
        # (one patch position because of the stride: the most features unseen, and no
        # warning, a review)
        ((10,), 3, 8),
        ((8, 8), 2, (7, 1)),
        # (gaps between patches where a tiling stride would leave as many features out past
        # the last patch: the middle rows and columns, silently, a review)
        ((8, 8), 3, 5),
        ((7,), 3, 4),
    ],
)
def test_a_stride_past_the_kernel_warns_of_the_features_no_patch_sees(
    input_shape, kernel_size, stride
):
    # a review: the features between patches were dropped silently
    n_features = int(np.prod(input_shape))
    with pytest.warns(UserWarning, match=r"^stride=.* is larger than kernel_size=") as record:
        geometry = resolve_geometry(input_shape, kernel_size, stride, n_features)
    seen = np.unique(extract_patches(np.arange(n_features)[None, :], geometry))
    unseen = n_features - len(seen)
    assert unseen > 0
    assert f": {unseen} of the {n_features} features of each row lie between" in str(
        record[0].message
    )


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride",
    # (one patch position along the axis of the larger stride: it moves nothing; a review)
    [((8, 8), 3, 2), ((9,), 2, 2), ((8, 1, 2), (3, 1), 2), ((16,), 16, 20)],
)
def test_a_stride_within_the_kernel_does_not_warn(input_shape, kernel_size, stride):
    # (a stride that does not tile leaves the last rows out, as a valid convolution does)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_geometry(input_shape, kernel_size, stride, int(np.prod(input_shape)))


def test_geometry_properties():
    geometry = resolve_geometry((8, 8), 3, 2, 64)
    assert geometry.grid_shape == (3, 3)
    assert geometry.n_patches == 9
    assert geometry.filter_shape == (3, 3, 1)


@pytest.mark.parametrize(
    "input_shape, n_features, kernel",
    [
        (None, 64, (3,)),
        ((8, 8), 64, (3, 3)),
        ((5, 2), 10, (3, 2)),  # ((L, C) is an image: 3x3 does not fit its 2 columns)
        ((10, 1, 3), 30, (3, 1)),  # (signals with channels)
        (None, 2, (2,)),  # (scikit-learn's checks: 2 features, one patch)
        (None, 1, (1,)),
    ],
)
def test_the_default_kernel_is_3_or_the_whole_axis_where_shorter(input_shape, n_features, kernel):
    assert resolve_geometry(input_shape, None, 1, n_features).kernel_size == kernel


def test_a_stride_past_the_default_kernel_names_the_kernel_it_resolved_to():
    with pytest.warns(
        UserWarning,
        match=r"stride=4 is larger than kernel_size=None \(a kernel of \(3,\)\): 4 of the 10 "
        r"features .* Use a stride of at most 3\.$",
    ):
        resolve_geometry(None, None, 4, 10)


@pytest.mark.parametrize("kernel_size", [None, 3])
@pytest.mark.parametrize("stride", [4, 10])
def test_a_stride_that_leaves_out_no_more_than_the_kernels_does_not_warn(kernel_size, stride):
    # a review: on 4 features, strides 2 and 3 were silent where 4 and 10 warned, for the
    # same model (one patch, and the last feature past it whatever the stride)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geometry = resolve_geometry(None, kernel_size, stride, 4)
    assert geometry.grid_shape == (1,)


def test_a_stride_past_the_axis_is_the_axis_length():
    # a mutant that kept such a stride as given survived (NumPy would overflow on 2**70)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (one patch, as a stride of the kernel's size takes)
        geometry = resolve_geometry(None, 3, 2**70, 4)
    assert geometry.stride == (4,)
    assert geometry.grid_shape == (1,)


def test_resolving_a_geometry_of_long_kernels_allocates_next_to_nothing():
    # the stride check listed the positions each patch covers, grid x kernel integers, before
    # the patches' memory check: 6.7 GiB for a kernel of 30,000 (a review); 72 MB here
    import tracemalloc

    tracemalloc.start()
    try:
        geometry = resolve_geometry(None, 3000, 1, 6000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert geometry.grid_shape == (3001,)
    assert peak < 2**20


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride, match",
    [
        ((4, 4), 3, 1, r"input_shape=\(4, 4\) describes 16 features per sample but X has 20"),
        ((2, 2, 2, 2), 1, 1, r"input_shape=\(2, 2, 2, 2\) is not a valid shape"),
        # (it also said "or set input_shape", already set: a review)
        (
            (4, 5),
            6,
            1,
            r"spatial shape \(4, 5\) .*; use a kernel_size of at most \(4, 5\), or "
            r"kernel_size=None \(3 along each axis, the whole axis where it is shorter\)\.$",
        ),
        ((20,), 21, 1, r"spatial shape \(20,\) .*; use a kernel_size of at most \(20,\), or "),
        # (L, C) is read as an image; signals with channels are (L, 1, C) (a review)
        (
            (10, 2),
            3,
            1,
            r"at most \(10, 2\), or kernel_size=None .*\. For signals of length 10 with 2 "
            r"channels, pass "
            r"input_shape=\(10, 1, 2\) and kernel_size=\(3, 1\)\.$",
        ),
        # (L, 1, C) already: only the kernel (a review: the hint said (10, 1, 1))
        (
            (10, 1, 2),
            3,
            1,
            r"at most \(10, 1\), or kernel_size=None .*\. For signals of length 10, pass "
            r"kernel_size=\(3, 1\)\.$",
        ),
        ((4, 5), (2, 2, 2), 1, r"kernel_size=\(2, 2, 2\) has 3 entries but the input has 2"),
        ((4, 5), 2, (1,), r"stride=\(1,\) has 1 entries but the input has 2"),
    ],
)
def test_geometry_errors(input_shape, kernel_size, stride, match):
    n_features = 20
    with pytest.raises(ValueError, match=match):
        resolve_geometry(input_shape, kernel_size, stride, n_features)


SIGNALS = r" \(with input_shape=None each row of X is a 1-D signal: for images, set input_shape"


@pytest.mark.parametrize(
    "kernel_size, stride, match",
    [
        ((3, 3), 1, r"kernel_size=\(3, 3\) has 2 entries but the input has 1 spatial dimension"),
        (3, (2, 2), r"stride=\(2, 2\) has 2 entries but the input has 1 spatial dimension"),
    ],
)
def test_an_image_geometry_on_signals_names_input_shape(kernel_size, stride, match):
    # a student's images without input_shape: the fix is input_shape, not a shorter tuple
    with pytest.raises(ValueError, match=match + r"\(s\)" + SIGNALS):
        resolve_geometry(None, kernel_size, stride, 64)


SHAPES = r"use None, \(L,\), \(H, W\) or \(H, W, C\) with positive integer entries\."


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride, match",
    [
        ((3.7, 3), 1, 1, r"input_shape=\(3\.7, 3\) is not a valid shape: 3\.7 is not a positive"),
        ((4.0, 5), 1, 1, r"input_shape=\(4\.0, 5\) is not a valid shape: 4\.0 is not a positive"),
        (("a",), 1, 1, r"input_shape=\('a',\) is not a valid shape: 'a' is not a positive"),
        ((None, 9), 1, 1, r"input_shape=\(None, 9\) is not a valid shape: None is not a positive"),
        ((True, 20), 1, 1, r"input_shape=\(True, 20\) is not a valid shape: True is not"),
        ((0, 5), 1, 1, r"input_shape=\(0, 5\) is not a valid shape: 0 is not a positive integer"),
        (20, 1, 1, r"input_shape=20 is not a valid shape; use None"),
        ((), 1, 1, r"input_shape=\(\) is not a valid shape; use None"),
        ((4, 5), (2, 0), 1, r"kernel_size=\(2, 0\) is not valid: 0 is not a positive integer"),
        ((4, 5), (2.9, 2), 1, r"kernel_size=\(2\.9, 2\) is not valid: 2\.9 is not a positive"),
        ((4, 5), (None, 2), 1, r"kernel_size=\(None, 2\) is not valid: None is not a positive"),
        ((4, 5), 0, 1, r"kernel_size=0 is not valid: 0 is not a positive integer"),
        ((4, 5), 2.0, 1, r"kernel_size=2\.0 is not valid: 2\.0 is not a positive integer"),
        ((4, 5), "2", 1, r"kernel_size='2' is not valid: '2' is not a positive integer"),
        ((4, 5), True, 1, r"kernel_size=True is not valid: True is not a positive integer"),
        ((4, 5), 2, 0, r"stride=0 is not valid: 0 is not a positive integer"),
        ((4, 5), 2, -1, r"stride=-1 is not valid: -1 is not a positive integer"),
        ((4, 5), 2, (1, 0), r"stride=\(1, 0\) is not valid: 0 is not a positive integer"),
        ((4, 5), 2, (1, 1.5), r"stride=\(1, 1\.5\) is not valid: 1\.5 is not a positive"),
    ],
)
def test_geometry_entries_must_be_positive_integers(input_shape, kernel_size, stride, match):
    # floats are rejected even when integral (as scikit-learn's Interval(Integral, ...)), and so
    # are bools; the message names the parameter, the value and the fix
    fix = SHAPES if str(match).startswith("input_shape") else r"pass a positive int or a tuple of"
    with pytest.raises(ValueError, match=match) as excinfo:
        resolve_geometry(input_shape, kernel_size, stride, 20)
    assert excinfo.match(fix)


@pytest.mark.parametrize("kernel_size", [(None,), (None, None), (2, None)])
def test_a_none_kernel_entry_is_offered_the_default_kernel(kernel_size):
    # None entries read as "the default along this axis"; the default is a single None
    with pytest.raises(ValueError, match=r"positive ints, or kernel_size=None \(3 along each"):
        resolve_geometry((4, 5), kernel_size, 1, 20)


def test_a_none_stride_entry_is_not_offered_a_default_kernel():
    with pytest.raises(ValueError, match=r"tuple of length 2 of positive ints\.$"):
        resolve_geometry((4, 5), 2, (None, 1), 20)


def test_kernel_entry_errors_name_the_number_of_dimensions():
    with pytest.raises(
        ValueError, match=r"pass a positive int or a tuple of length 2 of positive ints\."
    ):
        resolve_geometry((4, 5), (2, 0), 1, 20)
    with pytest.raises(
        ValueError, match=r"pass a positive int or a tuple of length 1 of positive ints\."
    ):
        resolve_geometry(None, (2.9,), 1, 20)


def test_circular_geometry_checks_input_shape():
    with pytest.raises(ValueError, match=r"input_shape=\(3\.7, 3\) is not a valid shape"):
        circular_geometry((3.7, 3), 9)


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride",
    [
        ((np.int64(4), np.int32(5)), (np.int64(2), np.int32(3)), (np.int8(1), 1)),
        ([4, 5], [2, np.uint8(3)], [1, 1]),
        (np.array([4, 5]), np.array([2, 3]), np.int16(1)),
        ((4, 5, 1), (2, 3), 1),
    ],
)
def test_geometry_accepts_numpy_integers_and_lists(input_shape, kernel_size, stride):
    geometry = resolve_geometry(input_shape, kernel_size, stride, 20)
    assert geometry == resolve_geometry((4, 5), (2, 3), 1, 20)
    # resolved to Python ints, so the fitted geometry_ prints and pickles plainly
    values = (*geometry.spatial_shape, geometry.n_channels, *geometry.kernel_size, *geometry.stride)
    assert all(type(v) is int for v in values)


def test_constant_data_share_no_offset_to_warn_of():
    # entries all equal have no spread to resolve: no warning (dividing the offset by the
    # spread would raise ZeroDivisionError), as a constant target column is none either
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_common_offset(np.full((4, 3), 7.0))
        warn_common_offset(np.zeros((4, 3)))
    with pytest.warns(UserWarning, match=r"^The entries of X share an offset of 1e\+06 "):
        warn_common_offset(1e6 + np.array([[0.0, 1.0], [-1.0, 0.0]]))


def test_only_complex_numbers_are_complex():
    # ragged or non-numeric targets are left to their own checks, not called complex
    assert holds_complex([1.0 + 2.0j, 3.0])
    assert not holds_complex([1.0, 3.0])
    assert not holds_complex([[1.0, 2.0], [3.0]])  # (ragged: NumPy's ValueError)


def test_the_data_scale_limits_are_inclusive():
    # "up to MAX_DATA_SCALE", "at least MIN_DATA_SCALE": both limits themselves are taken
    for largest in (MAX_DATA_SCALE, MIN_DATA_SCALE):
        check_scale(np.array([[largest, -largest], [0.0, 0.5 * largest]]), "X")
    with pytest.raises(ValueError, match=r"^X has entries of magnitude up to 1e\+76; "):
        check_scale(np.array([[0.0, -1e76]]), "X")


@pytest.mark.parametrize(
    "input_shape, kernel_size, hint",
    [
        # the kernel fits along the length and the hint gives (k, 1), for any k that does
        ((10, 2), (2, 3), r"pass input_shape=\(10, 1, 2\) and kernel_size=\(2, 1\)\.$"),
        ((10, 2), (10, 3), r"pass input_shape=\(10, 1, 2\) and kernel_size=\(10, 1\)\.$"),
        # too long along the length too: no channels' hint, whatever the width
        ((10, 2), (11, 3), None),
    ],
)
def test_the_channels_hint_is_given_only_where_the_kernel_fits_along_the_length(
    input_shape, kernel_size, hint
):
    # (mutants that tested the hint's condition on the wrong entries, or at the axis's own
    # length, survived: the cases above had kernels of equal entries)
    with pytest.raises(ValueError, match=r"does not fit") as excinfo:
        resolve_geometry(input_shape, kernel_size, 1, 20)
    if hint is None:
        assert "For signals" not in str(excinfo.value)
        assert str(excinfo.value).endswith("where it is shorter).")
    else:
        assert excinfo.match(hint)
