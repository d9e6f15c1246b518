"""Regularization path of the two-layer convex CNN program, warm started (like ``lasso_path``)."""

import functools
import inspect
import time
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state

from ._base import _DEFAULT_MAX_ITER, _DEFAULT_N_PATTERNS, _DEFAULT_TOL, _BaseConvexCNN
from ._calls import check_call
from ._compat import Hidden, Interval, InvalidParameterError, StrOptions, validate_params
from ._convergence import how_it_stopped, remedy
from ._formulations.two_layer import make_formulation
from ._losses import best_intercept, centred_targets, loss_named_by_scikit_learn
from ._optimality import dual_point, max_pattern_price, warn_unreliable_nnls
from ._outputs import SolveOptions
from ._parallel import one_blas_thread
from ._patches import extract_patches, resolve_geometry
from ._patterns import check_enumeration, program_gates
from ._resources import check_memory, check_patches_memory, check_program_memory
from ._solvers._native import solve_native
from ._solvers._solution import gap_in_words
from ._validation import (
    check_finite_targets,
    check_numbers,
    check_rows,
    check_scale,
    first_not_a_number,
    holds_complex,
    numeric_targets,
    warn_common_offset,
    warn_target_offset,
)
from ._warnings import warn


def _named(function):
    """``function`` whose wrong arguments raise a TypeError that names it, as Python's own
    does (scikit-learn's ``validate_params`` says "got an unexpected keyword argument" of no
    function), and that points ``lasso_path``'s ``alphas`` to ``betas`` and scikit-learn's
    names of the losses to this package's."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        check_call(signature, args, kwargs, function.__name__, _path_hint)
        loss = kwargs.get("loss")
        if (named := loss_named_by_scikit_learn(loss)) is not None and named != loss:
            # (validate_params's message lists this package's names only)
            raise InvalidParameterError(
                f"The 'loss' parameter of {function.__name__} must be a str among "
                f"{{'logistic', 'squared'}}. Got {loss!r} instead: scikit-learn's name for the "
                f"{named} loss; pass loss={named!r}."
            )
        return function(*args, **kwargs)

    return wrapper


def _path_hint(name):
    """The way to what the unexpected keyword ``name`` asked for, or ``""``."""
    if name in ("alpha", "alphas"):
        return ". The path's regularization strengths are betas (lasso_path's alphas)"
    if name == "n_alphas":
        return ". The path's number of strengths is n_betas (lasso_path's n_alphas)"
    if name == "beta":
        return ". The path takes a sequence of strengths: betas=[beta]"
    if name in ("architecture", "n_layers", "activation"):
        # (the bare TypeError names no way to the other CNNs)
        return (
            ". convex_cnn_path solves two-layer ReLU CNNs; for another architecture, "
            "fit an estimator with warm_start=True and lower its beta with "
            "set_params(beta=...) between fits"
        )
    return ""


# The parameters that the path shares with the estimators, validated as theirs are
_ESTIMATORS_PARAMETERS = (
    "kernel_size", "stride", "input_shape", "pooling", "pool_size", "readout", "n_patterns",
    "fit_intercept", "tol", "max_iter", "random_state", "verbose",
)  # fmt: skip


@_named
@validate_params(
    {
        "X": ["array-like", "sparse matrix"],  # (sparse: refused as the estimators refuse it)
        "y": ["array-like", "sparse matrix"],
        # (a number gets _check_betas's message, which says how to pass one beta)
        "betas": ["array-like", None, Hidden(Real)],
        "n_betas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="right")],
        "loss": [StrOptions({"squared", "logistic"})],
        "return_regions": ["boolean"],
        **{name: _BaseConvexCNN._parameter_constraints[name] for name in _ESTIMATORS_PARAMETERS},
    },
    prefer_skip_nested_validation=True,
)
@one_blas_thread  # (_parallel.blas_limited: as the estimators' fits)
def convex_cnn_path(
    X,
    y,
    *,
    betas=None,
    n_betas=10,
    eps=1e-2,
    kernel_size=None,
    stride=1,
    input_shape=None,
    pooling="average",
    pool_size=None,
    readout="sum",
    n_patterns=_DEFAULT_N_PATTERNS,
    loss="squared",
    fit_intercept=True,
    tol=_DEFAULT_TOL,
    max_iter=_DEFAULT_MAX_ITER,
    random_state=None,
    verbose=0,
    return_regions=False,
):
    """Solve the convex program of a two-layer ReLU CNN along a decreasing ``beta`` path.

    Each solve of the native solver starts from the previous solution, whose groups form the
    initial working set and keep the cone rows that hold them there: along a fine path each
    step adds only a few groups. On 1-D signals (n=1000, 64 patterns) a path of 10 values took
    0.34-0.45 times the time of the same 10 solves started cold (``benchmarks/warm_starts.py``).
    The patterns, sampled or enumerated, are the same for every ``beta``: with
    ``n_patterns="exact"`` the path is that of the global optimum.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        One flattened signal or image per row, laid out as ``input_shape`` says.
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Real targets for ``loss="squared"``, ``-1``/``+1`` for ``loss="logistic"`` (both
        classes present when ``fit_intercept=True``).
    betas : array-like, default=None
        Regularization strengths, each finite and positive; solved in decreasing order. A
        path of one ``beta`` is a list of one (``betas=[0.5]``; a number alone is refused).
        ``None`` takes ``n_betas`` values spaced geometrically from ``beta_max`` (the smallest
        ``beta`` whose optimum over the program's patterns is the empty network; over all
        patterns it can be larger, unless ``n_patterns="exact"``) down to ``eps * beta_max``.
    n_betas : int, default=10
        Number of values of ``beta`` when ``betas`` is None.
    eps : float, default=1e-2
        Smallest ``beta`` of the default path, relative to ``beta_max``; in (0, 1].
    kernel_size : int, tuple of int or None, default=None
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    stride : int or tuple of int, default=1
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    input_shape : tuple of int or None, default=None
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    pooling : {"average", "max", "none"}, default="average"
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    pool_size : int, tuple of int or None, default=None
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    readout : {"sum", "dense"}, default="sum"
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    n_patterns : int or "exact", default=64
        An int is the number of random filters whose activation patterns define the program
        (duplicates dropped). ``"exact"`` enumerates every pattern, as in
        :class:`~sklearn_convexcnn.ConvexCNNRegressor`: each ``beta``'s solution is then the
        global optimum of the non-convex problem, and ``random_state`` is not used. The
        enumeration is refused with a ValueError, as the estimators refuse it, where Cover's
        bound on the number of patterns exceeds 100,000 (small filters and few samples only).
    loss : {"squared", "logistic"}, default="squared"
        The loss, summed over samples.
    fit_intercept : bool, default=True
        Whether to fit an unregularized output bias.
    tol : float, default=1e-7
        Duality-gap tolerance, relative to the objective, in (0, 1).
    max_iter : int, default=500
        Maximum number of working-set iterations of each solve.
    random_state : int, RandomState instance or None, default=None
        Seed of the random filters that sample the activation patterns (unused with
        ``n_patterns="exact"``).
    verbose : int, default=0
        ``1`` prints a line for each ``beta`` (its objective, certified gap, nonzero groups
        and time); ``2`` also the native solver's iterations.
    return_regions : bool, default=False
        Whether to return the region of every group as well.

    Returns
    -------
    betas : ndarray of shape (n_betas,) or (len(betas),)
        The values of ``beta`` solved, in decreasing order (the given ``betas`` sorted).
    coefs : ndarray of shape (n_betas, 2, n_groups, patch_size)
        The groups ``c_i`` (``coefs[:, 0]``) and ``c'_i`` (``coefs[:, 1]``) at each ``beta``
        (the path's axis first, where :func:`~sklearn.linear_model.lasso_path` puts it last):
        one per distinct pattern of the gates, and with ``readout="dense"`` (or
        ``pooling="none"``) one per region and distinct pattern in that region, the regions
        in order. A group is a filter flattened like a patch, ``(*kernel, n_channels)`` in
        row-major order, with ``kernel`` as ``kernel_size`` resolves it (``None``: 3 along
        each spatial axis, the whole axis where it is shorter).
    intercepts : ndarray of shape (n_betas,)
        Output bias at each ``beta``.
    objectives : ndarray of shape (n_betas,)
        Value of the convex program at each ``beta``'s solution: its optimum, within
        ``duality_gaps``, where the solve converged.
    duality_gaps : ndarray of shape (n_betas,)
        Certified gaps, each at most ``tol`` times its objective where its solve converged
        (a :class:`~sklearn.exceptions.ConvergenceWarning` names every ``beta`` where not).
    gates : ndarray of shape (patch_size, n_groups)
        The gate of every group: for a summed read-out the sampled (or enumerated) patterns'
        gates, as ``ConvexCNNRegressor.gates_`` (their number its ``n_patterns_``); with
        ``readout="dense"`` (or ``pooling="none"``) a gate appears once for every region
        where its pattern is new.
    regions : ndarray of int, shape (n_groups,)
        Only with ``return_regions=True``: the region (pool, in row-major order over the pool
        grid) that every group reads out; all zero for a summed read-out.

    Raises
    ------
    ValueError
        If a parameter is out of its range (``n_patterns``, ``tol``, ``max_iter``, ``n_betas``
        and ``eps`` positive, ``eps`` at most 1, ``betas`` a sequence of finite positive
        numbers) or not among its options (``loss``, ``pooling``, ``readout``); if
        ``n_patterns="exact"`` and the patterns are too many to enumerate (the message gives
        Cover's bound and says to sample them with an int ``n_patterns``) or the patches are
        nearly parallel (as the estimators refuse them); if ``X`` is not 2-D, ``y``
        not 1-D with one target per row of ``X``, or either contains NaN or infinity, or
        entries beyond ``1e75`` in magnitude or all below ``1e-75`` (what float64 computes
        the program with), or ``X`` entries that are not numbers; if
        ``loss="logistic"`` and ``y`` is not in {-1, +1}, or holds one class only while
        ``fit_intercept=True``; or if ``betas=None`` and ``beta_max`` is 0 (the empty network
        is optimal at every ``beta``).
    TypeError
        If ``X`` or ``y`` is a sparse matrix (pass ``X.toarray()``), or an argument is not
        one of the function's (the message names ``lasso_path``'s ``alphas`` as ``betas``).
    MemoryError
        If the patches of ``X``, the program or the path's solutions (one per ``beta``) would
        not fit in memory; the message gives the sizes and what to change.

    Warns
    -----
    ConvergenceWarning
        For every ``beta`` whose solve stopped short of ``tol`` (``max_iter`` reached, or the
        solver stalled), with its duality gap and tolerance; the path goes on.
    UserWarning
        Where the entries of ``X`` share an offset more than ``1e4`` times their spread (the
        solves can stall short of ``tol``; it names both: centre ``X``), and where ``y`` does
        with ``fit_intercept=False`` (set it to True); and where SciPy is one of 1.12 to 1.15,
        which the package's requirements exclude (the solves can stall; once a process).

    References
    ----------
    T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN Architectures: Convex
    Optimization of Two- and Three-Layer Networks in Polynomial Time", ICLR 2021.
    https://arxiv.org/abs/2006.14798

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_convexcnn import convex_cnn_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 10))
    >>> y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    >>> betas, coefs, *_ = convex_cnn_path(X, y, n_betas=3, random_state=0)
    >>> bool(np.all(coefs[0] == 0)) and bool(np.any(coefs[-1] != 0))
    True
    """
    X, y = _check_data(X, y, loss, fit_intercept)
    if betas is not None:
        betas = _check_betas(betas)
    y, offset = centred_targets(y, loss, fit_intercept)  # (as the estimators' solves)
    geometry = resolve_geometry(input_shape, kernel_size, stride, X.shape[1])
    formulation = make_formulation(pooling, pool_size, readout, geometry.grid_shape)
    check_patches_memory(X.shape[0], geometry.n_patches, geometry.patch_size)
    check_program = functools.partial(  # (as the estimators check theirs)
        check_program_memory,
        X.shape[0],
        geometry.n_patches,
        geometry.patch_size,
        kind="operator" if formulation.matrix_free else "dense_operator",
        solver="native",
        exact=n_patterns == "exact",
        regions=formulation.region_sizes,
    )
    if n_patterns == "exact":  # (refused, where it would be, before the patches)
        check_enumeration(formulation, X, geometry)
    else:  # (sampled: the program is checked from the patches' shape, before they are cut)
        check_program(n_patterns)
    patches = extract_patches(X, geometry)
    gates = program_gates(
        formulation, patches, n_patterns, check_random_state(random_state), check_program
    )
    operator = formulation.operator(patches, gates)
    # the solutions the path returns, twice (their list and the array made of it): without
    # this check n_betas=10**13 gets NumPy's MemoryError for 72.8 TiB of betas, which names
    # neither n_betas nor the fix
    n_steps = n_betas if betas is None else len(betas)
    n_groups = operator.n_patterns
    check_memory(
        2 * n_steps * (2 * n_groups * geometry.patch_size + 4) * 8,
        f"The path's {n_steps} solutions of 2 x {n_groups} groups of size {geometry.patch_size}",
        "Pass a smaller n_betas (or fewer betas), or fewer patterns (n_patterns).",
    )
    if hasattr(formulation, "groups"):  # regional read-outs: groups per region
        regions, index = formulation.groups(patches, gates)
    else:
        regions, index = np.zeros(gates.shape[1], dtype=int), np.arange(gates.shape[1])
    if betas is None:
        f = np.full(len(y), best_intercept(loss, y) if fit_intercept else 0.0)
        # (finite: X and y are at most MAX_DATA_SCALE)
        v = dual_point(loss, f, y, fit_intercept)
        beta_max = max_pattern_price(operator, v)
        # (a constant X gives the rounding of 0, 5.8e-16, and a path fitted to it would warn
        # of stalls: the prices' rounding is at most this)
        rounding = 16 * np.finfo(float).eps * np.linalg.norm(patches) * np.linalg.norm(v)
        if 0 < beta_max <= rounding:  # (an offset of 1e14 in X: 6.4 within a rounding of 57)
            raise ValueError(
                f"convex_cnn_path got betas=None, but beta_max, {beta_max:.3g}, is within the "
                f"rounding of its computation ({rounding:.2g}): it cannot be told from 0, where "
                "the empty network is optimal at every beta. Centre or scale X (a "
                "StandardScaler), or pass betas."
            )
        if not beta_max > 0:
            raise ValueError(
                "convex_cnn_path got betas=None, but beta_max is 0: the empty network "
                f"{'(the intercept alone) ' if fit_intercept else ''}is optimal at every beta "
                "> 0 (as when y is constant or X is zero, or their product underflows), so "
                "there is no path to compute. Check X and y, or pass betas to fit the empty "
                "network at those values."
            )
        if not eps * beta_max > 0:  # (NumPy's "Geometric sequence cannot include zero")
            raise ValueError(
                f"eps={eps!r} times beta_max={beta_max:.3g} is 0 in float64, so the path "
                "has no smallest beta; pass a larger eps (e.g. eps=1e-3), or betas."
            )
        betas = np.geomspace(beta_max, eps * beta_max, n_betas)
    betas = np.sort(betas)[::-1]
    coefs, intercepts, objectives, gaps = [], [], [], []
    coef, intercept = None, None
    for step, beta in enumerate(betas):
        start = time.perf_counter()
        solution = solve_native(
            operator,
            y,
            beta=beta,
            loss=loss,
            fit_intercept=fit_intercept,
            tol=tol,
            max_iter=max_iter,
            coef_init=coef,
            intercept_init=intercept,
            verbose=max(0, verbose - 1),
        )
        if verbose:
            print(
                f"[convex_cnn_path] beta {step + 1} of {len(betas)}, {beta:.4g}: objective "
                f"{solution.objective:.6g}, gap "
                f"{gap_in_words(solution.duality_gap, solution.objective)}, "
                f"{int(np.count_nonzero(np.any(solution.coef, axis=-1)))} nonzero groups, native "
                f"{solution.status} in {solution.n_iter} iteration"
                f"{'' if solution.n_iter == 1 else 's'}, {time.perf_counter() - start:.2f} s",
                flush=True,
            )
        if not solution.converged:
            options = SolveOptions(
                beta=beta, loss=loss, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                solver="native",
            )  # fmt: skip
            warn(
                _unconverged_message(solution, beta, step, len(betas), options), ConvergenceWarning
            )
        coef, intercept = solution.coef, solution.intercept
        coefs.append(coef)
        intercepts.append(intercept + offset)
        objectives.append(solution.objective)
        gaps.append(solution.duality_gap)
    path = (
        betas,
        np.array(coefs),
        np.array(intercepts),
        np.array(objectives),
        np.array(gaps),
        gates[:, index],
    )
    return (*path, regions) if return_regions else path


def _check_data(X, y, loss, fit_intercept):
    """``X`` and ``y`` as finite float arrays of shapes (n, d) and (n,) (a column of ``y``
    raveled); logistic targets +-1."""
    check_rows(X, "convex_cnn_path takes")
    check_numbers(X, "convex_cnn_path takes")
    X = check_array(X, dtype=np.float64, input_name="X", estimator="convex_cnn_path")
    # (otherwise missing targets, None or pandas' NA, are called labels to encode, and
    # pandas' NA raises float()'s TypeError)
    given = y
    y = numeric_targets(
        y,
        lambda values: ValueError(
            f"convex_cnn_path needs numeric targets y; got {values.dtype} labels, such as "
            f"{first_not_a_number(values)[1]!r}. Encode two classes as +-1 and pass "
            "loss='logistic': classes = np.unique(labels); "
            "y = np.where(labels == classes[1], 1.0, -1.0)."
        ),
    )
    # (missing objects, None or pandas' NA, too, now NaN; the fix's code is for y as given)
    check_finite_targets(y, given=given)
    if holds_complex(y):  # (scikit-learn's error printed every target)
        raise ValueError(
            "Complex data not supported: y holds complex numbers, where convex_cnn_path "
            "takes real targets. Compute the paths of y.real and y.imag, one after the other."
        )
    y = check_array(
        y, ensure_2d=False, dtype=np.float64, input_name="y", estimator="convex_cnn_path"
    )
    if y.shape == (X.shape[0], 1):  # (one column: the estimators and lasso_path take it)
        y = y[:, 0]
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"convex_cnn_path needs X of shape (n_samples, n_features) and y of shape "
            f"(n_samples,) or (n_samples, 1); got X {X.shape} and y {y.shape}. Pass one "
            "target per row of X, and fit one output at a time."
        )
    if loss == "logistic":
        values = np.unique(y)
        if not np.all(np.isin(values, (-1.0, 1.0))):
            # every digit (1 + 1e-12 is not 1), none more: 0 and 1 stay "0" and "1"
            shown = ", ".join(f"{value!r}".removesuffix(".0") for value in values[:4].tolist())
            raise ValueError(
                f"convex_cnn_path with loss='logistic' needs y in {{-1, +1}}; got y with "
                f"values {{{shown}{', ...' if len(values) > 4 else ''}}}. Encode two classes "
                "as ConvexCNNClassifier does: classes = np.unique(labels); "
                "y = np.where(labels == classes[1], 1.0, -1.0)."
            )
        if fit_intercept and len(values) == 1:
            raise ValueError(
                f"convex_cnn_path with loss='logistic' and fit_intercept=True needs both "
                f"classes in y; got only y={values[0]:+g}, for which the intercept grows "
                "without bound (the program has no minimizer). Pass samples of both classes, "
                "or fit_intercept=False."
            )
    check_scale(X, "X")
    check_scale(y, "y")
    warn_common_offset(X)
    warn_unreliable_nnls()
    warn_target_offset(y[:, None], fit_intercept)
    return X, y


def _check_betas(betas):
    """``betas`` as a non-empty 1-D float array of finite values > 0."""
    try:
        numbers = np.asarray(betas).dtype.kind in "iuf"  # (not "1.0", True or None)
        values = np.asarray(betas, dtype=np.float64) if numbers else np.zeros(0)
    except (TypeError, ValueError):  # a set, a dict, ragged lists
        values = np.zeros(0)
    if values.ndim == 0 and np.isfinite(values) and values > 0:
        beta = str(betas)  # (as written: a float32's 0.1 is 0.10000000149011612 in float64)
        raise ValueError(
            f"convex_cnn_path got betas={betas!r}, a single number; betas is a sequence of "
            f"values. Pass betas=[{beta}] for a path of one beta, or fit "
            f"ConvexCNNRegressor(beta={beta}) (or ConvexCNNClassifier) for one beta."
        )
    if values.ndim != 1 or not values.size or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(
            f"convex_cnn_path got betas={betas!r}; pass a non-empty 1-D array of finite floats "
            "> 0, or betas=None for the default path down from beta_max (at beta=0 the program "
            "has no regularizer: the solver would stop at the empty network, uncertified)."
        )
    return values


def _unconverged_message(solution, beta, step, n_betas, options):
    """What to warn about a solve of the path that stopped short of ``tol``.

    (``_convergence.unconverged_message`` speaks of an estimator's output and network,
    and of its ``solver`` parameter, which the path does not have.)
    """
    cvxpy = "fit ConvexCNNRegressor or ConvexCNNClassifier with solver='clarabel' at this beta"
    return (
        f"convex_cnn_path did not converge at beta={beta:.3e} ({step + 1} of {n_betas}): "
        f"{how_it_stopped(solution)} (max_iter={options.max_iter}, tol={options.tol:.1e}). "
        "Duality gap: "
        f"{solution.duality_gap:.3e}, tolerance: {options.tol * abs(solution.objective):.3e}. "
        f"{remedy(solution, options, cvxpy)}. The path's coefs at this beta are not the optimum."
    )
