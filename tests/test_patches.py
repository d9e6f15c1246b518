import numpy as np
import pytest

from sklearn_convexcnn._patches import extract_patches, resolve_geometry


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


def test_geometry_properties():
    geometry = resolve_geometry((8, 8), 3, 2, 64)
    assert geometry.grid_shape == (3, 3)
    assert geometry.n_patches == 9
    assert geometry.filter_shape == (3, 3, 1)


@pytest.mark.parametrize(
    "input_shape, kernel_size, stride, match",
    [
        ((4, 4), 3, 1, r"input_shape=\(4, 4\) describes 16 features per sample but X has 20"),
        ((2, 2, 2, 2), 1, 1, r"input_shape=\(2, 2, 2, 2\) is not a valid shape"),
        ((4, 5), 6, 1, r"kernel_size=6 does not fit in inputs of spatial shape \(4, 5\)"),
        ((4, 5), (2, 2, 2), 1, r"kernel_size=\(2, 2, 2\) has 3 entries but the input has 2"),
        ((4, 5), 2, (1,), r"stride=\(1,\) has 1 entries but the input has 2"),
    ],
)
def test_geometry_errors(input_shape, kernel_size, stride, match):
    n_features = 20
    with pytest.raises(ValueError, match=match):
        resolve_geometry(input_shape, kernel_size, stride, n_features)
