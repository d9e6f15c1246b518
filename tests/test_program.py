"""The group program's algebra (doc/formulations.md §1, §2.4), warnings attributed to the
caller's line, and wrong calls told in the caller's words: checked on small known answers."""

import inspect
import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from joblib import Parallel, delayed

from sklearn_convexcnn._calls import check_call
from sklearn_convexcnn._formulations._program import (
    GroupNorm,
    GroupProgram,
    recover_neurons,
    summed_network,
)
from sklearn_convexcnn._validation import warn_common_offset
from sklearn_convexcnn._warnings import warn


def _groups():
    """Groups of shape (2, 3, 2): ``c_0 = (3, 4)``, ``c'_2 = (0, -9)``, all others zero."""
    coef = np.zeros((2, 3, 2))
    coef[0, 0] = [3.0, 4.0]
    coef[1, 2] = [0.0, -9.0]
    return coef


def test_recovered_neurons_have_the_groups_fit_and_weight_decay():
    # c becomes u = c / sqrt(||c||) with output weight +sqrt(||c||) for c_i, -sqrt(||c'_i||)
    # for c'_i: w u = +-c (the same fit), ||u||^2 = w^2 = ||c|| (the same penalty); zero
    # groups are no neurons
    filters, weights, patterns = recover_neurons(_groups())
    np.testing.assert_allclose(filters, [[3 / 5**0.5, 4 / 5**0.5], [0.0, -3.0]], rtol=1e-15)
    np.testing.assert_allclose(weights, [5**0.5, -3.0], rtol=1e-15)
    np.testing.assert_array_equal(patterns, [0, 2])
    np.testing.assert_allclose(weights[:, None] * filters, [[3.0, 4.0], [0.0, 9.0]], rtol=1e-15)
    np.testing.assert_allclose(np.sum(filters**2, axis=1), weights**2, rtol=1e-15)


def test_no_nonzero_group_recovers_no_neuron():
    filters, weights, patterns = recover_neurons(np.zeros((2, 4, 3)))
    assert filters.shape == (0, 3) and weights.shape == (0,) and patterns.shape == (0,)


def test_the_program_fits_the_difference_of_the_groups_and_pays_for_both():
    # loss(sum_i A_i (c_i - c'_i)) + beta sum_i (R(c_i) + R(c'_i)): c' enters the fit negated
    pieces = np.zeros((3, 2, 2))
    pieces[0] = [[1.0, 0.0], [0.0, 1.0]]
    pieces[2] = [[1.0, 1.0], [2.0, 0.0]]
    program = GroupProgram(pieces, np.zeros((3, 0, 2)))
    assert program.n_patterns == 3
    np.testing.assert_array_equal(program.fit_values(_groups()), [3.0 + 9.0, 4.0 + 0.0])
    np.testing.assert_array_equal(program.group_norms(_groups()), [[5.0, 0, 0], [0, 0, 9.0]])
    assert program.regularizer(_groups()) == 14.0


def test_the_default_norm_is_euclidean_and_its_conic_block_the_identity():
    norm = GroupNorm()
    assert norm.is_euclidean and norm.orthogonal_form is None
    np.testing.assert_array_equal(norm(np.array([[3.0, 4.0], [0.0, 0.0]])), [5.0, 0.0])
    np.testing.assert_array_equal(norm.conic_blocks(3), np.eye(3)[None])
    blocks = np.eye(2)[:, None, :]  # (||u||_1: two blocks of one row)
    np.testing.assert_array_equal(GroupNorm(blocks).conic_blocks(2), blocks)


def test_blocks_of_fewer_rows_than_the_patch_have_no_orthogonal_form():
    # one orthonormal row for patches of 2 entries: no basis of R^2 (a change of coordinates)
    blocks = np.array([[[1.0, 0.0]], [[0.0, 0.0]]])
    assert GroupNorm(blocks).orthogonal_form is None


def test_the_orthogonal_form_scales_the_rows_to_unit_norm():
    # rows 2 e_1 and 3 e_0: Q holds them normalized in order, D their norms (T_b u = D_b Q u)
    blocks = np.array([[[0.0, 2.0]], [[3.0, 0.0]]])
    Q, D = GroupNorm(blocks).orthogonal_form
    np.testing.assert_array_equal(Q, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(D, [[[2.0, 0.0]], [[0.0, 3.0]]])


def test_the_summed_network_gives_each_output_its_own_column():
    # outputs are separate programs: a neuron of output o has a weight in column o only
    first = SimpleNamespace(coef=_groups(), intercept=0.5)
    second = SimpleNamespace(coef=np.zeros((2, 3, 2)), intercept=-1.0)
    second.coef[0, 1] = [0.0, 4.0]
    network = summed_network([first, second], pooling="sum")
    np.testing.assert_allclose(
        network.output_weights, [[5**0.5, 0.0], [-3.0, 0.0], [0.0, 2.0]], rtol=1e-15
    )
    np.testing.assert_allclose(network.filters[2], [0.0, 2.0])
    np.testing.assert_array_equal(network.intercept, [0.5, -1.0])
    assert network.pooling == "sum"


def _warn_here():
    """A warning through the package's :func:`warn`, and the line that called it."""
    line = inspect.currentframe().f_lineno + 1
    warn("from here", UserWarning)
    return line


def test_a_warning_names_the_line_that_called_warn():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        line = _warn_here()
    assert [(w.filename, w.lineno) for w in record] == [(__file__, line)]


def test_a_warning_from_inside_the_package_names_the_callers_line():
    # (frames of the package between the user and warn are skipped, however many)
    X = 1e6 + np.random.default_rng(0).standard_normal((5, 4))  # (an offset: it warns)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        warn_common_offset(X)
    assert [(w.filename, w.lineno) for w in record] == [(__file__, line)]


def test_a_warning_from_inside_joblib_names_the_callers_line():
    # a sequential n_jobs runs the solves inside joblib's Parallel: its frames are skipped too
    X = 1e6 + np.random.default_rng(0).standard_normal((5, 4))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        Parallel(n_jobs=1)(delayed(warn_common_offset)(X) for _ in range(1))
    assert [(w.filename, w.lineno) for w in record] == [(__file__, line)]


def test_a_warning_from_a_neighbour_named_like_scikit_learn_names_its_line():
    # the prefixes skipped are folders: scikit-learn-extra's sklearn_extra/, beside
    # sklearn/, is no part of scikit-learn, and its line is the one to name
    import sklearn

    filename = os.path.join(os.path.dirname(sklearn.__file__) + "_extra", "cluster.py")
    namespace = {"warn": warn}
    exec(compile('def fit():\n    warn("from here", UserWarning)\n', filename, "exec"), namespace)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        namespace["fit"]()
    assert [(w.filename, w.lineno) for w in record] == [(filename, 2)]


def test_a_stack_of_internal_frames_only_still_warns(monkeypatch):
    # (a thread started on the package's code has no caller outside it: the walk ends at
    # the bottom of the stack, and Python names "sys", rather than failing on no frame)
    import sklearn_convexcnn._warnings as package_warnings

    monkeypatch.setattr(package_warnings, "_INTERNAL", ("",))  # (every frame internal)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warn("from nowhere", UserWarning)
    assert [(str(w.message), w.category) for w in record] == [("from nowhere", UserWarning)]
    # (the patch took: no frame of this file was named; Python 3.13 says "<sys>")
    assert record[0].filename in ("sys", "<sys>")


def _f(a, b=1):
    """A function to bind calls to."""


def _hint(name):
    return f" [hint for {name}]"


@pytest.mark.parametrize(
    "kwargs",
    # (of two unknown keywords, the hint answers the first, which Python's message names)
    [{"b": 2, "c": 3}, {"c": 3, "d": 4}],
)
def test_a_wrong_call_is_pythons_error_in_the_callers_name_with_the_hint(kwargs):
    signature = inspect.signature(_f)
    with pytest.raises(
        TypeError, match=r"^f\.g\(\) got an unexpected keyword argument 'c' \[hint for c\]$"
    ) as caught:
        check_call(signature, (1,), kwargs, "f.g", _hint)
    # (raised from None: no "During handling of the above exception" in the traceback)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    check_call(signature, (1,), {"b": 2}, "f.g", _hint)  # (a right call: nothing)


@pytest.mark.parametrize("unknown", ["c", "missing"])
def test_a_wrong_call_of_another_kind_gives_the_hint_no_name(unknown):
    # a missing argument is Python's first complaint, though a keyword is unknown too: the
    # hint must not answer the unknown keyword the message does not name (as a name: the
    # word "missing" of the message is not the keyword missing=...)
    signature = inspect.signature(_f)
    with pytest.raises(
        TypeError, match=r"^f\(\) missing a required argument: 'a' \[hint for None\]$"
    ):
        check_call(signature, (), {"b": 2, unknown: 3}, "f", _hint)


def test_long_fourier_blocks_keep_their_orthogonal_form_despite_rounding():
    # the rounding of the real Fourier rows' products grows with the length: 1.1e-14 at 256,
    # past a fixed tolerance of 1e-14 (the certificates' prices would solve 256-dense rows)
    from sklearn_convexcnn._formulations.circular import spectral_blocks

    blocks = spectral_blocks(256, 3)
    Q, D = GroupNorm(blocks).orthogonal_form
    assert Q.shape == (256, 256) and np.count_nonzero(D) == 256
