"""Regularization path of the two-layer convex CNN program, warm started (like ``lasso_path``)."""

import numpy as np
from sklearn.utils import check_random_state

from ._formulations.two_layer import POOLINGS, READOUTS, make_formulation
from ._optimality import dual_point, max_dual_norm
from ._patches import extract_patches, resolve_geometry
from ._solvers._native import solve_native


def convex_cnn_path(
    X,
    y,
    *,
    betas=None,
    n_betas=10,
    eps=1e-2,
    kernel_size=3,
    stride=1,
    input_shape=None,
    pooling="average",
    pool_size=None,
    readout="sum",
    n_patterns=64,
    loss="squared",
    fit_intercept=True,
    tol=1e-7,
    max_iter=500,
    random_state=None,
    return_regions=False,
):
    """Solve the convex program of a two-layer ReLU CNN along a decreasing ``beta`` path.

    Each solve of the native solver starts from the previous solution, whose groups form the
    initial working set and keep the cone rows they sit on: along a fine path each step adds
    only a few groups. On 1-D signals (n=1000, 64 patterns) a path of 10 values took 0.34-0.42
    times the time of the same 10 solves started cold (``benchmarks/warm_starts.py``). The
    sampled patterns are the same for every ``beta``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        One flattened signal or image per row, laid out as ``input_shape`` says.
    y : ndarray of shape (n_samples,)
        Real targets for ``loss="squared"``, ``-1``/``+1`` for ``loss="logistic"``.
    betas : array-like, default=None
        Regularization strengths; solved in decreasing order. ``None`` takes ``n_betas`` values
        spaced geometrically from ``beta_max`` (the smallest ``beta`` whose optimum is the empty
        network) down to ``eps * beta_max``.
    n_betas : int, default=10
        Number of values of ``beta`` when ``betas`` is None.
    eps : float, default=1e-2
        Smallest ``beta`` of the default path, relative to ``beta_max``.
    kernel_size : int or tuple of int, default=3
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    stride : int or tuple of int, default=1
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    input_shape : tuple of int, default=None
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    pooling : {"average", "max", "none"}, default="average"
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    pool_size : int or tuple of int, default=None
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    readout : {"sum", "dense"}, default="sum"
        As in :class:`~sklearn_convexcnn.ConvexCNNRegressor`.
    n_patterns : int, default=64
        Number of random filters whose activation patterns define the program.
    loss : {"squared", "logistic"}, default="squared"
        The loss, summed over samples.
    fit_intercept : bool, default=True
        Whether to fit an unregularised output bias.
    tol : float, default=1e-7
        Duality-gap tolerance, relative to the objective.
    max_iter : int, default=500
        Maximum number of working-set iterations of each solve.
    random_state : int, RandomState instance or None, default=None
        Seed of the random filters that sample the activation patterns.
    return_regions : bool, default=False
        Whether to return the region of every group as well.

    Returns
    -------
    betas : ndarray of shape (n_betas,)
        In decreasing order.
    coefs : ndarray of shape (n_betas, 2, n_groups, patch_size)
        The groups ``c_i`` (``coefs[:, 0]``) and ``c'_i`` (``coefs[:, 1]``) at each ``beta``:
        one per distinct pattern of the gates, and with ``readout="dense"`` (or
        ``pooling="none"``) one per region and distinct pattern in that region, the regions
        in order.
    intercepts : ndarray of shape (n_betas,)
        Output bias at each ``beta``.
    objectives : ndarray of shape (n_betas,)
        Optimal value of the convex program at each ``beta``.
    duality_gaps : ndarray of shape (n_betas,)
        Certified gaps, each at most ``tol`` times its objective.
    gates : ndarray of shape (patch_size, n_groups)
        The gate of every group: for a summed read-out the sampled patterns' gates, as
        ``ConvexCNNRegressor.gates_``; with ``readout="dense"`` (or ``pooling="none"``) a
        gate appears once for every region where its pattern is new.
    regions : ndarray of int, shape (n_groups,)
        Only with ``return_regions=True``: the region (pool, in row-major order over the pool
        grid) that every group reads out; all zero for a summed read-out.

    References
    ----------
    T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN Architectures", ICLR 2021.

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
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(
            f"convex_cnn_path needs X of shape (n_samples, n_features) and y of shape "
            f"(n_samples,); got X {X.shape} and y {y.shape}. Fit one output at a time."
        )
    if pooling not in POOLINGS:
        raise ValueError(f"convex_cnn_path got pooling={pooling!r}; use one of {sorted(POOLINGS)}.")
    if readout not in READOUTS:
        raise ValueError(f"convex_cnn_path got readout={readout!r}; use one of {list(READOUTS)}.")
    geometry = resolve_geometry(input_shape, kernel_size, stride, X.shape[1])
    patches = extract_patches(X, geometry)
    formulation = make_formulation(pooling, pool_size, readout, geometry.grid_shape)
    gates = formulation.sample_gates(patches, n_patterns, check_random_state(random_state))
    operator = formulation.operator(patches, gates)
    if hasattr(formulation, "groups"):  # regional read-outs: groups per region
        regions, index = formulation.groups(patches, gates)
    else:
        regions, index = np.zeros(gates.shape[1], dtype=int), np.arange(gates.shape[1])
    if betas is None:
        f = np.zeros(len(y))
        if fit_intercept:
            f += y.mean() if loss == "squared" else np.log((1 + y.mean()) / (1 - y.mean()))
        beta_max = max_dual_norm(operator, dual_point(loss, f, y, fit_intercept))
        betas = np.geomspace(beta_max, eps * beta_max, n_betas)
    betas = np.sort(np.asarray(betas, dtype=np.float64))[::-1]
    coefs, intercepts, objectives, gaps = [], [], [], []
    coef, intercept = None, None
    for beta in betas:
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
        )
        coef, intercept = solution.coef, solution.intercept
        coefs.append(coef)
        intercepts.append(intercept)
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
