"""Checks of the data that the estimators and :func:`~.convex_cnn_path` take, pure numpy.

What scikit-learn's ``validate_data`` does not refuse, or refuses without naming the fix:
entries of a scale the programs cannot take (:func:`check_scale`), offsets that rounding
would swamp, targets that are not finite numbers, complex entries, rows of different
lengths.
"""

import math
import sys
from collections.abc import Iterator, Mapping, Set
from numbers import Integral

import numpy as np

from ._patches import BLOCK_ENTRIES, DEFAULT_KERNEL
from ._warnings import warn

# The largest magnitude of X, and of real targets, that the programs take. The native
# solver's products reach the fourth power of X's scale: from 1e80 on they overflow (with
# warnings; the fits stayed right), and from about 1e150 its projections fail on infinities;
# the squared loss of targets beyond 1e154 is infinite. The limit is per array: X and y both
# at 1e70 gave overflow warnings in the path's products, with finite results.
MAX_DATA_SCALE = 1e75
# And the smallest largest magnitude, by symmetry: fits with X and beta scaled alike (an
# equivalent program) are right down to 1e-150, and from 1e-180 on, where squares underflow,
# have no neuron and a gap of -1.8e-15, "optimal" to certify().
MIN_DATA_SCALE = 1e-75


def check_scale(values, name):
    """ValueError, naming the fix, where an entry of ``values`` (``X``, or the real targets
    ``y``) is beyond ``MAX_DATA_SCALE`` in magnitude, or not finite, or where the largest
    magnitude is below ``MIN_DATA_SCALE`` but not zero."""
    # (no copy: np.abs(X) took as much memory as X before a memory check could refuse it)
    largest = max(float(np.max(values, initial=0.0)), -float(np.min(values, initial=0.0)))
    if not np.isfinite(largest):
        # (reached under scikit-learn's assume_finite=True, which skips its own check: a NaN
        # in X would give an empty network, certified optimal, with no warning)
        raise ValueError(
            f"Input {name} contains NaN or infinity (scikit-learn's assume_finite=True skips "
            "its own check of them). Remove or impute them, e.g. with "
            "sklearn.impute.SimpleImputer."
        )
    if largest > MAX_DATA_SCALE:
        raise ValueError(
            f"{name} has entries of magnitude up to {largest:.3g}; the convex program takes "
            f"them only up to {MAX_DATA_SCALE:.0e} (its products of up to four of them "
            f"overflow float64). Scale {name} to about unit size, e.g. divide it by its "
            "largest entry, and choose beta for the scaled data."
        )
    if 0.0 < largest < MIN_DATA_SCALE:
        raise ValueError(
            f"{name} has entries of magnitude at most {largest:.3g}; the convex program takes "
            f"data whose largest entry is at least {MIN_DATA_SCALE:.0e} (products of its "
            f"entries underflow float64). Scale {name} to about unit size, e.g. divide it by "
            "its largest entry, and choose beta for the scaled data."
        )


# |mean| / standard deviation of the entries of X above which fit warns of a common offset:
# 60 digits (3 classes, logistic loss) plus 1e3, a ratio of 2.6e3, were solved as fast and as
# exactly as the digits alone; plus 1e4, 1e5 and 1e6 the solves stalled, 3e-4, 6e-2 and 13
# from the optimum, in 2.3, 3.3 and 34 s against 0.1 s. Not every such X stalls
# (temperatures of 290 K +- 0.01 are solved to 5e-10 in 0.1 s), hence "can".
MAX_OFFSET_RATIO = 1e4


def warn_common_offset(X):
    """UserWarning where the entries of ``X`` share an offset beyond ``MAX_OFFSET_RATIO``
    times their spread: the patches then point nearly one way, their patterns are thin
    cells, and the solves can stall short of ``tol`` (with warnings that would not name the
    cause)."""
    offset, spread = _offset_and_spread(X)
    if spread > 0 and abs(offset) > MAX_OFFSET_RATIO * spread:
        warn(
            f"The entries of X share an offset of {offset:.3g} against a spread (standard "
            f"deviation) of {spread:.3g}, {abs(offset) / spread:.1e} times smaller: such data "
            "can make the convex programs ill-conditioned, and their solves slow or short of "
            "tol. Centre X (subtract its mean, or use sklearn.preprocessing.StandardScaler), "
            "or choose units in which its values vary.",
            UserWarning,
        )


# The spread of a target column, in ulps of its offset, below which fit warns with an
# intercept too: float64 rounds the network's outputs near the offset, and that rounding,
# which duality_gap_ allows for without a ConvergenceWarning, can be most of the objective
# (targets 1e12 + 1e-3 x, 9 ulps: gaps of 1.2 % to 91 % of it). A spread of at most
# CONSTANT_ULPS is a constant's, rounded (y = 0.3 had 0.4 ulps, 1e8 + 0.1 had 2): the
# intercept fits it
MAX_ROUNDED_ULPS = 1000
CONSTANT_ULPS = 4


def warn_target_offset(Y, fit_intercept):
    """UserWarning where, without an intercept, a target column ``Y[:, k]`` has an offset
    beyond ``MAX_OFFSET_RATIO`` times its spread: the neurons must then build the offset, and
    resolve the spread at a scale far below it, and the solves can stall short of ``tol``
    (targets of 1e6 +- 1.5 at ``beta=0.1`` stall at 1e-6 of the objective, with advice to
    standardize X, where an intercept certifies them to 1e-14, as does ``beta=1e5``). With an
    intercept, which takes the offset, only where the spread is within ``MAX_ROUNDED_ULPS``
    of it (but more than ``CONSTANT_ULPS``)."""
    if Y.size == 0:
        return
    columns = [_offset_and_spread(Y[:, k : k + 1]) for k in range(Y.shape[1])]
    # (a constant column has no spread to resolve: y = 1e6 everywhere stalls at beta=0.1 for
    # the beta, small against the targets, and is solved to 8e-16 at beta=1e5)
    ratios = [abs(offset) / spread if spread > 0 else 0.0 for offset, spread in columns]
    if fit_intercept:
        # (the spread against multiples of the ulp, not divided by it: ulp(0) is subnormal)
        over = [
            k
            for k, (offset, spread) in enumerate(columns)
            if CONSTANT_ULPS * np.spacing(abs(offset)) < spread
            and spread <= MAX_ROUNDED_ULPS * np.spacing(abs(offset))
        ]
    else:
        over = [k for k, ratio in enumerate(ratios) if ratio > MAX_OFFSET_RATIO]
    if not over:
        return
    k = max(over, key=ratios.__getitem__)
    offset, spread = columns[k]
    named = f"column {k} of y" if Y.shape[1] > 1 else "y"
    if len(over) > 1:
        named = f"columns {', '.join(map(str, over))} of y; the most, column {k}"
    shared = (
        f"The targets ({named}) share an offset of {offset:.3g} against a spread "
        f"(standard deviation) of {spread:.3g}, {ratios[k]:.1e} times smaller"
    )
    if fit_intercept:
        warn(
            f"{shared}: within {spread / np.spacing(abs(offset)):.0f} ulps of the offset, "
            "where float64 rounds the network's outputs, so the fit is only as close to the "
            "optimum as that rounding allows (duality_gap_ says how close, without a "
            "ConvergenceWarning). Subtract the offset from y, and add it to the predictions.",
            UserWarning,
        )
        return
    warn(
        f"{shared}, and fit_intercept=False leaves the offset to the neurons: unless beta "
        "grows with the offset, the solves can stall short of tol. Set fit_intercept=True, or "
        "subtract the offset from y.",
        UserWarning,
    )


def _offset_and_spread(values):
    """The mean and standard deviation of the entries of the 2-D array ``values``, summed in
    blocks of rows, without a copy of it (as in :func:`check_scale`)."""
    if values.size == 0:
        return 0.0, 0.0
    offset = float(np.mean(values))
    step = max(1, BLOCK_ENTRIES // max(1, values.shape[1]))
    squares = sum(
        float(np.sum((values[i : i + step] - offset) ** 2)) for i in range(0, len(values), step)
    )
    return offset, math.sqrt(squares / values.size)


def missing_entries(values):
    """Which entries of the array ``values`` are missing: None, a float NaN, pandas' NA or
    NaT (only object arrays hold them; pandas' are known where pandas is imported, as it is
    wherever one is made)."""
    if values.dtype.kind != "O":
        return np.zeros(values.shape, dtype=bool)
    pandas = sys.modules.get("pandas")
    na, nat = getattr(pandas, "NA", None), getattr(pandas, "NaT", None)
    missing = [
        label is None
        or label is na
        or label is nat
        or (isinstance(label, float) and label != label)
        for label in values.ravel()
    ]
    return np.reshape(missing, values.shape)


def first_not_a_number(values):
    """The index (a tuple) and the value of the first entry of the array ``values`` that
    ``float`` refuses (an int beyond float64's range too), or a tuple of Nones and None."""
    for index, value in enumerate(values.ravel()):
        try:
            float(value)
        except (TypeError, ValueError, OverflowError):
            value = value.item() if isinstance(value, np.generic) else value  # ('x', not np.str_)
            return tuple(int(i) for i in np.unravel_index(index, values.shape)), value
    return (None,) * values.ndim, None


def _overflows(value):
    """Whether ``float(value)`` overflows (an int beyond float64's range); False where it
    refuses ``value`` otherwise (a missing value, a string)."""
    try:
        float(value)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        pass
    return False


def _too_large(name, values, axes):
    """The ValueError for the first number in ``values`` beyond float64's range, which
    ``float`` refuses with an OverflowError that names neither the array nor the entry nor
    the fix; its position is said by the ``axes``' names (``("sample",
    "feature")``)."""
    flat = next(i for i, value in enumerate(values.ravel()) if _overflows(value))
    value = values.ravel()[flat]
    index = tuple(int(i) for i in np.unravel_index(flat, values.shape))
    if len(index) <= len(axes):  # (a 1-D y: its samples)
        at = ", ".join(f"{axis} {i}" for axis, i in zip(axes, index, strict=False))
    else:  # (more axes than the array should have: its shape is refused after)
        at = f"index {index}"
    what = f"a {type(value).__name__}"
    if isinstance(value, Integral):
        magnitude = abs(int(value))
        digits = math.floor(math.log10(magnitude)) + 1  # (math's log10 takes any int, rounded)
        digits += (magnitude >= 10**digits) - (magnitude < 10 ** (digits - 1))
        what = f"an int of {digits} digits"
    return ValueError(
        f"{name} holds a value too large for float64, {what}, at {at or 'its only entry'}. "
        f"Scale {name} to about unit size, e.g. divide it by its largest entry."
    )


def numeric_targets(y, refuse):
    """Targets ``y`` of objects or strings as float64, missing ones (None, pandas' NA or NaT)
    as NaN, which scikit-learn's validation then names; ``refuse(values)`` makes the
    ValueError for values that ``float`` does not take (NumPy's own error names neither ``y``
    nor the fix). Other ``y`` are returned as they are, for that validation (numbers, ragged
    or sparse input)."""
    try:
        values = np.asarray(y)
    except ValueError:  # (ragged: left to the validation)
        return y
    if y is None or values.dtype.kind not in "OUS":
        return y
    if values.dtype.kind == "O" and not values.shape:  # (a sparse matrix, a scalar)
        if _overflows(values.item()):
            raise _too_large("y", values, ())
        return y  # (refused by the validation)
    if values.dtype.kind == "O":
        values = np.where(missing_entries(values), np.nan, values)
    try:
        return values.astype(np.float64)
    except OverflowError:
        raise _too_large("y", values, ("sample", "output")) from None
    except (TypeError, ValueError) as exc:
        raise refuse(values) from exc


def check_finite_targets(y, given=None):
    """Refuse float targets ``y`` holding a NaN or an infinity, naming the first one's sample
    (and output) and the fix: scikit-learn's "Input y contains NaN." names neither, and a
    target, unlike a feature, cannot be imputed. Other targets (objects, strings, ragged)
    are left to their own checks and to scikit-learn's validation. ``given``: the targets as
    passed, where ``y`` is their conversion (missing objects as NaN): the fix's code is for
    their kind (``np.isfinite`` refuses pandas' nullable NA and categories; a list takes no
    mask)."""
    try:
        values = np.asarray(y)
    except (TypeError, ValueError):
        return
    if values.dtype.kind != "f" or values.ndim not in (1, 2):
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    position = tuple(int(index) for index in np.argwhere(~finite)[0])
    value = float(values[position])
    where = f"sample {position[0]}" + (f", output {position[1]}" if values.ndim == 2 else "")
    rows = ".all(axis=1)" if values.ndim == 2 else ""
    given = y if given is None else given
    if isinstance(given, np.ndarray) and given.dtype.kind == "f":
        fix = f"keep = np.isfinite(y){rows}; X, y = X[keep], y[keep]"
    elif hasattr(given, "to_numpy"):  # (pandas)
        fix = (
            f"keep = np.isfinite(y.to_numpy(dtype=float, na_value=np.nan)){rows}; "
            "X, y = X[keep], y[keep]"
        )
    else:
        fix = (
            f"y = np.asarray(y, dtype=float); keep = np.isfinite(y){rows}; "
            "X, y = np.asarray(X)[keep], y[keep]"
        )
    what = "NaN" if math.isnan(value) else f"infinity ({value!r})"
    raise ValueError(
        f"Input y contains {what} at {where} ({np.count_nonzero(~finite)} non-finite "
        f"target(s) of {values.size}). A target cannot be imputed as a feature can: drop "
        f"those samples, {fix}."
    )


def holds_complex(values):
    """Whether the array-like ``values`` hold complex numbers (a DataFrame or a tensor too).

    By ``np.asarray``: ``np.iscomplexobj`` dispatches to ``__array_function__``, which
    scikit-learn's ``_NotAnArray`` refuses, and a DataFrame has no ``dtype``.
    """
    try:
        return np.asarray(values).dtype.kind == "c"
    except (TypeError, ValueError):  # (ragged or not numbers: their own checks say so)
        return False


def check_numbers(X, who="the estimators take"):
    """Refuse a 2-D ``X`` of objects or strings that are not all numbers, naming the entry and
    the fix (NumPy's own error names neither ``X`` nor where): a missing value (None, pandas'
    NA or NaT) as scikit-learn names a NaN, "Input X contains NaN" (pandas' NA in an array of
    objects raised ``float()``'s TypeError), other values with the type and the words of
    ``float()``'s error on them (scikit-learn's estimator checks expect them). Complex ``X``
    is refused in any shape, naming ``who`` takes real numbers.

    ``X`` itself is left to ``validate_data``, which keeps a DataFrame's feature names, and
    so is what is not a 2-D array (sparse matrices, 1-D lists), whose errors it words, but
    for a number beyond float64's range in any shape (NumPy's OverflowError, raw there).
    """
    try:
        values = np.asarray(X)
    except ValueError:  # (ragged: scikit-learn's validation says so)
        return
    if values.dtype.kind == "c":  # (scikit-learn's error prints the whole array)
        raise ValueError(
            f"Complex data not supported: X holds complex numbers, where {who} real ones. "
            "Pass their real and imaginary parts as channels: np.stack([X.real, X.imag], "
            "axis=-1).reshape(len(X), -1), with input_shape=(L, 1, 2) for signals of length L, "
            "(H, W, 2) for images, (H, W, 2 * C) for images of C channels."
        )
    if values.dtype.kind not in "OUS":
        return
    try:
        values.astype(np.float64)
        return
    except OverflowError:  # (of any shape: validate_data's own conversion raises it raw)
        raise _too_large("X", values, ("sample", "feature")) from None
    except (TypeError, ValueError):
        if values.ndim != 2:
            return
    missing = missing_entries(values)
    # a value that is no number first: imputing the missing ones leaves it
    present = values.astype(object)  # (strings and floats share no other dtype)
    present[missing] = 0.0
    (sample, feature), value = first_not_a_number(present)
    if sample is None:
        sample, feature = np.argwhere(missing)[0]
        raise ValueError(
            f"Input X contains NaN: a missing value ({values[sample, feature]!r}) at "
            f"sample {sample}, feature {feature}. Impute the missing values, e.g. with "
            "sklearn.impute.SimpleImputer, or drop those samples."
        )
    if _overflows(value):  # (NumPy's error was of the first entry it refused: a missing one)
        raise _too_large("X", present, ("sample", "feature"))
    try:
        float(value)
    except (TypeError, ValueError) as refused:
        raise type(refused)(
            f"X holds values that are not numbers (dtype {values.dtype}), such as {value!r} "
            f"at sample {sample}, feature {feature} ({refused}); encode such values as "
            "numbers, e.g. with sklearn.preprocessing.OrdinalEncoder."
        ) from None


def check_rows(X, who):
    """Refuse what is not an array of rows, naming the fix where scikit-learn's or NumPy's own
    error does not: no array at all (None, a string or a number; scikit-learn read None as
    "scalar array instead: array=nan"), rows of different lengths (NumPy's "inhomogeneous
    shape" names neither X nor the rows), and images or signals not flattened into rows
    (scikit-learn's error says only that a 3-D array is not 2-D). ``who`` says who takes rows
    ("the estimators take")."""
    no_array = isinstance(X, str | bytes | Mapping | Set | Iterator) or np.isscalar(X)
    if X is None or no_array or (isinstance(X, np.ndarray) and X.ndim == 0):
        # (a dict, a set or a generator would fail on float() of the whole)
        raise ValueError(
            f"X must be an array of shape (n_samples, n_features), one row per sample; got "
            f"{type(X).__name__} {X!r:.40}. Pass the samples as a 2-D array (a 1-D signal or a "
            "flattened image per row)"
            + (": pandas.DataFrame(X) for columns by name." if isinstance(X, Mapping) else ".")
        )
    if isinstance(X, list | tuple) and X and isinstance(X[0], Mapping):
        raise ValueError(
            f"X holds {type(X[0]).__name__}s (records), where every sample must be one row of "
            "numbers. Pass pandas.DataFrame(X), one column per key, or the rows as a 2-D array."
        )
    shape = getattr(X, "shape", ())
    if isinstance(X, list | tuple):  # nested lists
        try:
            shape = np.shape(X)
        except ValueError:
            raise ValueError(_ragged(X)) from None
    if len(shape) < 3:
        return
    shape = tuple(int(size) for size in shape)
    message = f"X has shape {shape}, but {who} one flattened row per sample, channels last."
    if len(shape) == 3:  # (grayscale images or multichannel signals: the shape cannot say)
        _, a, b = shape
        message += (
            f" Pass X.reshape(len(X), -1) with input_shape={(a, b)} for images of {a}x{b} "
            f"pixels, or with input_shape={(a, 1, b)} for signals of length {a} with {b} "
            f"channels (filters of {(DEFAULT_KERNEL, 1)} by default)."
        )
    elif len(shape) == 4:
        _, a, b, c = shape
        message += (
            f" Pass X.reshape(len(X), -1) with input_shape={(a, b, c)} for {a}x{b} images "
            f"with {c} channels; if the channels come first (N, C, H, W, as in PyTorch), "
            f"np.moveaxis(X, 1, -1).reshape(len(X), -1) with input_shape={(b, c, a)}."
        )
    else:
        message += " Images take input_shape=(H, W, C) at most: two spatial axes."
    raise ValueError(message)


def _ragged(X):
    """The message for rows ``X`` (a list) that NumPy cannot stack, naming the first two rows
    of different lengths where there are such (else their entries are ragged)."""
    lengths = [_length(row) for row in X]
    other = next((i for i, length in enumerate(lengths) if length != lengths[0]), None)
    if other is None:
        return (
            "X is ragged: its rows hold sequences of different lengths, where every sample "
            "must be one row of numbers, of the same number of features."
        )
    return (
        f"X has rows of different lengths ({lengths[0]} entries at sample 0, {lengths[other]} "
        f"at sample {other}): every sample must be one row of the same number of features. "
        "Pad, crop or resample the signals to one length."
    )


def _length(row):
    """The number of entries of a row of X (1 for a number, or a 0-d array)."""
    try:
        return len(row)
    except TypeError:
        return 1
