"""Input geometry and patch extraction (im2col), pure numpy.

A sample is one row of ``X``. Its geometry is ``(*spatial, channels)``, channels last, where
``spatial`` has one entry for signals and two for images. A patch is flattened in the same
order (row-major, channels fastest), so a filter ``u`` of length ``h = prod(kernel) * channels``
is applied to patch ``k`` of every sample at once as ``patches[:, k, :] @ u``.
"""

from dataclasses import dataclass
from math import prod
from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._warnings import warn

# The kernel_size of None along each spatial axis, where the axis is at least that long
DEFAULT_KERNEL = 3

# Entries that a computation in blocks holds at a time (32 MiB of float64): the blocks of
# samples, patches and gates in pattern keys, the operator's chunks, the offset check.
# :mod:`._resources` sizes its memory estimates by it.
BLOCK_ENTRIES = 2**22


@dataclass(frozen=True)
class PatchGeometry:
    """How the rows of ``X`` are cut into convolution patches.

    Attributes
    ----------
    spatial_shape : tuple of int
        ``(L,)`` for signals, ``(H, W)`` for images.
    n_channels : int
    kernel_size, stride : tuple of int
        One entry per spatial dimension.
    """

    spatial_shape: tuple
    n_channels: int
    kernel_size: tuple
    stride: tuple

    @property
    def grid_shape(self):
        """Number of patch positions along each spatial dimension (valid convolution)."""
        return tuple(
            (size - kernel) // step + 1
            for size, kernel, step in zip(
                self.spatial_shape, self.kernel_size, self.stride, strict=True
            )
        )

    @property
    def n_patches(self):
        """``K``, the number of patches per sample."""
        return prod(self.grid_shape)

    @property
    def patch_size(self):
        """``h``, the length of a flattened patch and of a filter."""
        return prod(self.kernel_size) * self.n_channels

    @property
    def filter_shape(self):
        """Shape of one filter as an array: ``(*kernel_size, n_channels)``."""
        return (*self.kernel_size, self.n_channels)


def invalid_entries(value):
    """Entries of ``value`` (a scalar or a sequence) that are not integers >= 1.

    Integers are ``numbers.Integral`` as in scikit-learn, so numpy integers count but floats,
    even integral ones, do not; nor do bools, which would silently mean 0 or 1.
    """
    entries = value if np.iterable(value) else (value,)
    return [v for v in entries if isinstance(v, bool) or not isinstance(v, Integral) or v < 1]


# where a tuple has more entries than a signal's one dimension: the likely fix
IMAGES_FIX = "for images, set input_shape=(H, W) or (H, W, C)"
SIGNALS_HINT = f" (with input_shape=None each row of X is a 1-D signal: {IMAGES_FIX})"


# the default kernel, as the messages offer it
DEFAULT_KERNEL_FIX = (
    f"kernel_size=None ({DEFAULT_KERNEL} along each axis, the whole axis where it is shorter)"
)


def _as_tuple(value, ndim, name, hint=""):
    if invalid := invalid_entries(value):
        # (a None entry reads as "the default on this axis": the default is one None)
        offer_default = name == "kernel_size" and any(v is None for v in invalid)
        raise ValueError(
            f"{name}={value!r} is not valid: {invalid[0]!r} is not a positive integer; pass a "
            f"positive int or a tuple of length {ndim} of positive ints"
            + (f", or {DEFAULT_KERNEL_FIX}." if offer_default else ".")
        )
    if not np.iterable(value):
        return (int(value),) * ndim
    if len(value) != ndim:
        raise ValueError(
            f"{name}={value!r} has {len(value)} entries but the input has {ndim} spatial "
            f"dimension(s){hint if len(value) > ndim else ''}; pass an int or a tuple of "
            f"length {ndim}."
        )
    return tuple(int(v) for v in value)


def resolve_geometry(input_shape, kernel_size, stride, n_features):
    """Check the user's geometry parameters against the data and resolve them.

    Parameters
    ----------
    input_shape : None or tuple of int
        ``None`` (each row is a signal), ``(L,)``, ``(H, W)`` or ``(H, W, C)``.
    kernel_size : None, int or tuple of int
        One int used along every spatial dimension, or one entry per spatial dimension;
        ``None`` is :data:`DEFAULT_KERNEL` along each, or the whole axis where it is shorter.
    stride : int or tuple of int
        One int used along every spatial dimension, or one entry per spatial dimension.
    n_features : int
        Number of columns of ``X``.

    Returns
    -------
    geometry : PatchGeometry

    Raises
    ------
    ValueError
        If an entry of ``input_shape``, ``kernel_size`` or ``stride`` is not a positive integer
        (``numbers.Integral``, bools excluded), if ``input_shape`` does not multiply out to
        ``n_features``, or if the kernel does not fit.
    """
    hint = SIGNALS_HINT if input_shape is None else ""
    if input_shape is None:
        input_shape = (n_features,)
    valid_shapes = "use None, (L,), (H, W) or (H, W, C) with positive integer entries."
    if not np.iterable(input_shape) or not 1 <= len(input_shape) <= 3:
        raise ValueError(f"input_shape={input_shape!r} is not a valid shape; {valid_shapes}")
    if invalid := invalid_entries(input_shape):
        raise ValueError(
            f"input_shape={input_shape!r} is not a valid shape: {invalid[0]!r} is not a positive "
            f"integer; {valid_shapes}"
        )
    input_shape = tuple(int(v) for v in input_shape)
    if prod(input_shape) != n_features:
        raise ValueError(
            f"input_shape={input_shape!r} describes {prod(input_shape)} features per sample but "
            f"X has {n_features}; pass an input_shape whose product is {n_features}."
        )
    if len(input_shape) == 3:
        spatial_shape, n_channels = input_shape[:2], input_shape[2]
    else:
        spatial_shape, n_channels = input_shape, 1
    ndim = len(spatial_shape)
    if kernel_size is None:  # (so that the default fits any input: 1 or 2 features too)
        kernel = tuple(min(DEFAULT_KERNEL, size) for size in spatial_shape)
    else:
        kernel = _as_tuple(kernel_size, ndim, "kernel_size", hint)
    step = _as_tuple(stride, ndim, "stride", hint)
    if any(k > s for k, s in zip(kernel, spatial_shape, strict=True)):
        channels_hint = ""
        if ndim == 2 and kernel[0] <= spatial_shape[0] and kernel[1] > spatial_shape[1]:
            length, width = spatial_shape
            if n_channels == 1 and width > 1:  # (L, C) is an L x C image
                channels_hint = (
                    f" For signals of length {length} with {width} channels, pass "
                    f"input_shape={(length, 1, width)} and kernel_size={(kernel[0], 1)}."
                )
            elif width == 1:  # (L, 1, C): signals, whose filters are (k, 1)
                channels_hint = (
                    f" For signals of length {length}, pass kernel_size={(kernel[0], 1)}."
                )
        raise ValueError(
            f"kernel_size={kernel_size!r} does not fit in inputs of spatial shape "
            f"{spatial_shape!r} (X has {n_features} feature(s)); use a kernel_size of at most "
            f"{spatial_shape!r}, or {DEFAULT_KERNEL_FIX}.{channels_hint}"
        )
    # (a stride past the axis takes one patch along it, as the axis's own length does; NumPy
    # would overflow on 2**70)
    step = tuple(map(min, step, spatial_shape))
    geometry = PatchGeometry(spatial_shape, n_channels, kernel, step)
    # (a stride past the kernel skips the features between two patches, or leaves more past
    # the last one than a stride of the kernel's size would: those the valid convolution of
    # a stride that does not tile the axis leaves out anyway are no warning. Gaps warn even
    # where a tiling stride would leave as many out at the end: 3x3 patches of 8x8 images at
    # stride 5 would skip the middle rows and columns silently)
    unseen = n_features - n_channels * prod(_covered(geometry))
    tiling = PatchGeometry(spatial_shape, n_channels, kernel, tuple(map(min, step, kernel)))
    gaps = any(
        s > k and n > 1
        for n, k, s in zip(geometry.grid_shape, kernel, geometry.stride, strict=True)
    )
    if gaps or unseen > n_features - n_channels * prod(_covered(tiling)):
        resolved = "" if kernel_size is not None else f" (a kernel of {kernel!r})"
        widest = kernel[0] if len(set(kernel)) == 1 else kernel
        warn(
            f"stride={stride!r} is larger than kernel_size={kernel_size!r}{resolved}: {unseen} "
            f"of the {n_features} features of each row lie between patches or past the last "
            "one, in no patch, and the network never sees them. Use a stride of at most "
            f"{widest!r}.",
            UserWarning,
        )
    return geometry


def _covered(geometry):
    """How many positions along each spatial axis some patch covers: ``n`` patches of ``k``
    at stride ``s`` cover ``(n - 1) s + k`` where they overlap or touch, ``n k`` where they
    leave gaps. (Counted, not listed: the positions' list takes 6.7 GiB for a kernel of 30,000
    before the patches' memory check.)"""
    return [
        (n - 1) * s + k if s <= k else n * k
        for n, k, s in zip(geometry.grid_shape, geometry.kernel_size, geometry.stride, strict=True)
    ]


def extract_patches(X, geometry):
    """Cut every sample into its convolution patches.

    Patch ``k`` of a signal ``x`` is ``x[k * stride : k * stride + kernel_size]``; for images
    the patches are ordered row-major over the output grid.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    geometry : PatchGeometry

    Returns
    -------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    """
    windows = _windows(X, geometry)
    return np.ascontiguousarray(windows).reshape(
        X.shape[0], geometry.n_patches, geometry.patch_size
    )


def patch_rows(X, geometry, rows):
    """The patches numbered ``rows`` in the rows of ``extract_patches(X, geometry)`` stacked
    as ``(n_samples * n_patches, patch_size)``, without cutting the others: shape
    ``(len(rows), patch_size)``."""
    samples, positions = np.divmod(np.asarray(rows), geometry.n_patches)
    index = (samples, *np.unravel_index(positions, geometry.grid_shape))
    return _windows(X, geometry)[index].reshape(len(samples), geometry.patch_size)


def _windows(X, geometry):
    """The patches as a view of ``X``: ``(n_samples, *grid_shape, *kernel_size, channels)``."""
    images = X.reshape(X.shape[0], *geometry.spatial_shape, geometry.n_channels)
    spatial_axes = tuple(range(1, 1 + len(geometry.spatial_shape)))
    # windows: (n, *grid_full, C, *kernel); strided by `stride` along the grid axes
    windows = sliding_window_view(images, geometry.kernel_size, axis=spatial_axes)
    grid_index = (slice(None),) + tuple(slice(None, None, s) for s in geometry.stride)
    windows = windows[grid_index]
    # move channels after the kernel axes so a patch flattens as (*kernel, C)
    return np.moveaxis(windows, 1 + len(spatial_axes), -1)
