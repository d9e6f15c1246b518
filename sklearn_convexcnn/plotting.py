"""Plot helpers for fitted convex CNNs.

matplotlib is an optional dependency (the ``doc`` extra): it is imported only when a helper is
called, so ``import sklearn_convexcnn.plotting`` works without it and the estimators never need
it.
"""

import numbers
from collections.abc import Mapping, Set

import numpy as np
from sklearn.exceptions import NotFittedError

from ._base import _BaseConvexCNN
from ._formulations.circular import CircularCNN
from ._formulations.three_layer import ThreeLayerCNN
from ._patches import resolve_geometry

__all__ = ["plot_filters", "plot_filter_spectra", "plot_objectives"]

_INSTALL_HINT = (
    "sklearn_convexcnn.plotting needs matplotlib, which is not installed. Install it with "
    '`pip install matplotlib` (or, from a checkout, `pip install ".[doc]"`).'
)


def _pyplot():
    """``matplotlib.pyplot``, or an ImportError that names the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return plt


def _fitted(estimator, attribute, needs=None):
    """``estimator.attribute``; ``needs`` names the parameter setting that gives it."""
    if not isinstance(estimator, _BaseConvexCNN):
        # (a fitted Pipeline has no filters_ either: "call fit first" misled)
        where = ""
        if hasattr(estimator, "steps"):
            where = " For a Pipeline, pass its last step: pipeline[-1]."
        elif hasattr(estimator, "best_estimator_"):
            where = " For a search, pass its best_estimator_."
        elif hasattr(estimator, "refit"):  # (a search not fitted yet, or without refit)
            where = " For a search, fit it (with refit=True) and pass its best_estimator_."
        raise TypeError(
            f"estimator must be a ConvexCNNClassifier or ConvexCNNRegressor, got a "
            f"{type(estimator).__name__}.{where}"
        )
    if not hasattr(estimator, attribute):
        if needs is not None and hasattr(estimator, "network_"):  # fitted, but not so
            # (the network's architecture: the parameter may have been set since the fit)
            fitted = (
                "circular"
                if isinstance(estimator.network_, CircularCNN)
                else "three_layer"
                if isinstance(estimator.network_, ThreeLayerCNN)
                else "two_layer"
            )
            raise ValueError(
                f"This {type(estimator).__name__} has no {attribute!r}: it was fitted with "
                f"architecture={fitted!r}; this plot needs {needs} (refit with it)."
            )
        raise NotFittedError(  # (a ValueError)
            f"{type(estimator).__name__} has no attribute {attribute!r}: pass a fitted "
            "ConvexCNNClassifier or ConvexCNNRegressor (call fit first)."
        )
    return getattr(estimator, attribute)


def _axes(ax, plt, figsize):
    """``ax``, or new Axes where it is None; a TypeError for anything else (an array of
    Axes from ``plt.subplots`` failed deep in matplotlib)."""
    if ax is None:
        return plt.subplots(figsize=figsize, layout="constrained")[1]
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        many = f" of shape {ax.shape}" if isinstance(ax, np.ndarray) else ""
        raise TypeError(
            f"ax must be one matplotlib Axes or None, got a {type(ax).__name__}{many}. "
            "For a grid of Axes from plt.subplots, pass one of them (ax=axes[0])."
        )
    return ax


def _check_positive_int(value, name, none_means):
    """ValueError unless ``value`` is None or a positive int (a negative ``max_filters``
    sliced the last filters off, 0 drew an empty panel; ``n_cols=-1`` failed in matplotlib
    on the figure's size)."""
    if value is not None and not (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
    ):
        raise ValueError(
            f"{name} must be a positive int or None ({none_means}), got {name}={value!r}."
        )


def _filter_images(estimator):
    """Filters as images of shape (n_neurons, rows, columns): a 1-D filter one row, the
    channels side by side, each after the first behind a column of NaN (drawn blank: without
    it, a (3, 1) filter of 3 channels looked like a 3x3 filter)."""
    filters = _fitted(estimator, "filters_")
    geometry = _fitted(estimator, "geometry_")
    shape = geometry.filter_shape
    if isinstance(estimator.network_, CircularCNN):
        # q_j weighs the whole row: drawn as the input it weighs (not images of 8 x 8
        # pixels as strips of 1 x 64)
        geometry = resolve_geometry(estimator.input_shape, 1, 1, filters.shape[1])
        shape = (*geometry.spatial_shape, geometry.n_channels)
    images = filters.reshape(len(filters), *shape)
    if images.ndim == 3:  # 1-D signals: (n_neurons, length, channels), shown as one row
        images = images[:, None]
    channels = [images[..., c] for c in range(geometry.n_channels)]
    gap = np.full((*images.shape[:-2], 1), np.nan)
    return np.concatenate([channels[0], *(part for c in channels[1:] for part in (gap, c))], -1)


def plot_filters(estimator, *, order="norm", max_filters=None, n_cols=None, label=None):
    """Show the first-layer filters of a fitted estimator as images.

    Each panel is one filter ``u_j`` reshaped to ``kernel_size`` (``input_shape`` for a circular
    CNN's ``q_j``, which weighs the whole input; channels side by side, a blank column between
    them), drawn on a symmetric diverging colour scale shared by all panels, so the panels
    compare directly: red weighs a pixel positively, blue negatively.

    Parameters
    ----------
    estimator : ConvexCNNClassifier or ConvexCNNRegressor
        A fitted estimator.
    order : {"norm", "fitted"}, default="norm"
        ``"norm"`` sorts the filters by decreasing norm (the most used neurons first; for a
        three-layer CNN, whose filters have unit norm, by the size of their middle-layer
        weights ``middle_weights_``); ``"fitted"`` keeps the order of ``filters_``.
    max_filters : int, default=None
        Draw at most this many filters (all when None).
    n_cols : int, default=None
        Panels per row (at most the number of panels); about the square root of the number
        of panels when None.
    label : callable, default=None
        ``label(j) -> str`` titles the panel of neuron ``j`` (index into ``filters_``), for
        example with the class it serves. No titles when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure, with one axes per filter and a shared colour bar.

    Raises
    ------
    ImportError
        If matplotlib is not installed; the message names the extra to install.
    TypeError
        If ``estimator`` is not one of the package's estimators (a Pipeline or a search:
        the message names the step to pass), or ``label`` is not callable.
    ValueError
        If the estimator is not fitted (NotFittedError), ``order`` is unknown or
        ``max_filters`` or ``n_cols`` is not a positive int.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_convexcnn import ConvexCNNClassifier
    >>> from sklearn_convexcnn.plotting import plot_filters
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> clf = ConvexCNNClassifier(beta=0.1, input_shape=(8, 8), stride=2, n_patterns=8,
    ...                           random_state=0).fit(X[:60] / 16, y[:60])
    >>> fig = plot_filters(clf, max_filters=4)  # the four largest of the 3x3 filters
    >>> sum(1 for ax in fig.axes if ax.images)
    4
    """
    if order not in ("norm", "fitted"):
        raise ValueError(f"order must be 'norm' or 'fitted', got order={order!r}.")
    if label is not None and not callable(label):
        raise TypeError(
            f"label must be a function label(j) -> str of the neuron's index j, or None; got "
            f"a {type(label).__name__}. For a sequence of titles, pass label=titles.__getitem__."
        )
    _check_positive_int(max_filters, "max_filters", "all filters")
    _check_positive_int(n_cols, "n_cols", "about the square root of the panels")
    plt = _pyplot()
    images = _filter_images(estimator)
    index = np.arange(len(images))
    if order == "norm":
        norms = np.sqrt(np.nansum(images**2, axis=(1, 2)))
        if hasattr(estimator, "middle_weights_"):  # (unit filters: the scale is in w1)
            norms = norms * np.abs(estimator.middle_weights_)
        index = np.argsort(-norms, kind="stable")
    if max_filters is not None:
        index = index[:max_filters]
    n_panels = max(len(index), 1)
    # (no more columns than panels: n_cols=10**6 laid out a million empty axes)
    n_cols = min(n_cols or int(np.ceil(np.sqrt(n_panels))), n_panels)
    n_rows = int(np.ceil(n_panels / n_cols))
    # (wide enough for the title of a network without neurons)
    width = 1.3 * n_cols + 1.0 if len(index) else 4.5
    # 1-D filters are strips one weight high: rows as tall as square panels' left them far
    # apart, and at the default padding a row of long strips read as one longer filter
    strips = images.shape[1] == 1
    height = (0.75 if strips else 1.3) * n_rows + 0.4
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(width, height), squeeze=False, layout="constrained"
    )
    if strips:
        fig.get_layout_engine().set(wspace=0.15)
    limit = float(np.nanmax(np.abs(images[index]))) if len(index) else 1.0
    mappable = None
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, j in zip(axes.ravel(), index, strict=False):
        mappable = ax.imshow(images[j], cmap="RdBu_r", vmin=-limit, vmax=limit)
        if label is not None:
            ax.set_title(label(j), fontsize=8)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.8, label="filter weight")
    else:  # (a beta large enough leaves no neuron)
        fig.suptitle("no neurons: the network is its intercept")
    return fig


def plot_filter_spectra(estimator, *, ax=None, max_filters=None, floor=None):
    """Magnitude of the DFT of each recovered filter of a circular CNN.

    The convex program of a three-layer circular CNN penalizes the l1 norm of the filters'
    spectra (``doc/formulations.md`` §7; deeper ones a weighted l1 norm, a relaxation), so the
    optimal filters tend to leave some frequencies at zero (to the solver's precision): each
    row of the image is one neuron, each column one frequency.

    Parameters
    ----------
    estimator : ConvexCNNClassifier or ConvexCNNRegressor
        Fitted with ``architecture="circular"`` (it has ``filter_spectra_``).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    max_filters : int, default=None
        Draw at most this many neurons, those with the largest spectra first.
    floor : float, default=None
        When given, each row is divided by its largest coefficient and drawn on a log colour
        scale from ``floor`` to 1, with smaller values (exact zeros included) clipped to
        ``floor``: the lowest colour then means "zero up to ``floor``". Linear scale of the
        raw magnitudes when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes with the image of the spectra and a colour bar.

    Raises
    ------
    ImportError
        If matplotlib is not installed; the message names the extra to install.
    TypeError
        If ``estimator`` is not one of the package's estimators (a Pipeline or a search:
        the message names the step to pass), or ``ax`` is not one Axes.
    ValueError
        If the estimator has no ``filter_spectra_`` (not fitted: NotFittedError, or not
        circular), ``max_filters`` is not a positive int or ``floor`` is not in (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_convexcnn import ConvexCNNRegressor
    >>> from sklearn_convexcnn.plotting import plot_filter_spectra
    >>> X = np.random.default_rng(0).standard_normal((40, 8))
    >>> reg = ConvexCNNRegressor(architecture="circular", beta=0.5, random_state=0)
    >>> reg = reg.fit(X, X[:, 0] - X[:, 3])
    >>> ax = plot_filter_spectra(reg, floor=1e-3)  # one row per neuron, log colour scale
    >>> ax.get_xlabel()
    'frequency index k'
    """
    _check_positive_int(max_filters, "max_filters", "all filters")
    if floor is not None and not (isinstance(floor, numbers.Real) and 0 < floor < 1):
        raise ValueError(
            f"floor must be in (0, 1), the smallest relative magnitude shown on the log scale, "
            f"or None (a linear scale), got floor={floor!r}."
        )
    spectra = np.abs(np.asarray(_fitted(estimator, "filter_spectra_", "architecture='circular'")))
    plt = _pyplot()
    ax = _axes(ax, plt, figsize=(6, 3.5))
    if not len(spectra):  # (a beta large enough leaves no neuron)
        ax.set_title("no neurons: the network is its intercept")
        return ax
    spectra = spectra.reshape(len(spectra), -1)
    order = np.argsort(-spectra.sum(axis=1), kind="stable")[:max_filters]
    spectra, norm, label = spectra[order], None, "|DFT coefficient|"
    if floor is not None:
        from matplotlib.colors import LogNorm

        largest = spectra.max(axis=1, keepdims=True)
        spectra = np.clip(spectra / np.where(largest > 0, largest, 1.0), floor, None)
        norm, label = LogNorm(vmin=floor, vmax=1.0), "|DFT coefficient| / largest of the row"
    image = ax.imshow(spectra, aspect="auto", cmap="viridis", interpolation="nearest", norm=norm)
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("frequency index k")
    ax.set_ylabel("neuron (largest spectrum first)")
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):  # (else two neurons get ticks at -0.5, -0.25, ...)
        axis.set_major_locator(MaxNLocator(integer=True))
    return ax


def plot_objectives(objectives, optimum, *, ax=None, labels=None, optimum_label="convex optimum"):
    """Training objectives of gradient-trained runs against the convex optimum.

    Each group of runs (for example restarts of one optimizer) is drawn as one column of
    dots; each dot is the final regularized objective of one run, and the horizontal line is
    the global optimum the convex program certifies. No run of the same network can lie
    below the line.

    Parameters
    ----------
    objectives : array-like of shape (n_runs,), list of array-like, or mapping
        Final objectives of the runs, one array per group (the groups may differ in size; the
        rows of a 2-D array are groups). A mapping (a dict, a pandas DataFrame) holds one
        group per key (per column of a DataFrame), its keys naming the groups unless
        ``labels`` does.
    optimum : float
        The convex optimum (``objective_`` of a fit with ``n_patterns="exact"``).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    labels : list of str, default=None
        One name per group; ``"group 1"``, ``"group 2"``, ... (or a mapping's keys) when None.
    optimum_label : str, default="convex optimum"
        Legend entry of the horizontal line.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes with one column of dots per group and the optimum's line.

    Raises
    ------
    ImportError
        If matplotlib is not installed; the message names the extra to install.
    TypeError
        If ``ax`` is not one Axes, or ``labels`` is not a sequence of names.
    ValueError
        If ``objectives`` is empty, has an empty group, a group of more than one axis or an
        entry that is not a finite number (a diverged run has no objective to draw), mixes
        single runs and groups, ``labels`` does not name every group, or ``optimum`` is not
        a finite number.

    Examples
    --------
    >>> from sklearn_convexcnn.plotting import plot_objectives
    >>> ax = plot_objectives([[1.31, 1.27, 1.40], [1.26]], 1.25, labels=["Adam", "L-BFGS"])
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['Adam', 'L-BFGS']
    """
    one_run = _is_one_run(objectives)
    # (a pandas Series has items too, but is one group of runs)
    if hasattr(objectives, "items") and getattr(objectives, "ndim", None) != 1:
        items = list(objectives.items())  # (each value a group, if of one run)
        groups = [[group] if _is_one_run(group) else group for _, group in items]
        if labels is None:
            labels = [str(name) for name, _ in items]
    else:
        groups = [objectives] if one_run else list(objectives)
    if not groups:
        raise ValueError(
            "objectives is empty: pass the runs' objectives, or one array of them per group."
        )
    single = [_is_one_run(group) for group in groups]
    if all(single):  # one group (groups may differ in size: no ndim of the whole)
        groups = [groups]
    elif any(single):
        raise ValueError(
            "objectives mixes single runs and groups of runs: pass one array of objectives, "
            "or a list with one array of objectives per group."
        )
    try:
        groups = [np.asarray(group) for group in groups]
    except (TypeError, ValueError) as exc:  # (ragged)
        raise ValueError(
            f"objectives must hold numbers, the runs' final objectives; got {objectives!r} ({exc})."
        ) from None
    if deeper := next((group.shape for group in groups if group.ndim > 1), None):
        # (an array of shape (2, 2, 2) would be drawn as two groups of four runs)
        raise ValueError(
            f"objectives has a group of shape {deeper}, where a group is one run per entry: "
            "pass a 2-D array (a group per row) or a list of 1-D arrays. For more axes, say "
            "which are runs: objectives.reshape(n_groups, -1)."
        )
    # (not a float conversion: it read None as NaN and the string "1.5" as a number)
    if kinds := {group.dtype.kind for group in groups} - set("iuf"):
        raise ValueError(
            f"objectives must hold numbers, the runs' final objectives; got {objectives!r} "
            f"(entries of dtype kind {''.join(sorted(kinds))!r})."
        )
    groups = [group.astype(float) for group in groups]
    if not all(map(len, groups)):
        raise ValueError(
            "objectives has a group without runs: pass at least one objective per group."
        )
    for i, group in enumerate(groups):
        if not np.all(np.isfinite(group)):
            raise ValueError(
                f"objectives has runs that are not finite in group {i + 1}: "
                f"{group[~np.isfinite(group)][:4].tolist()}. A run that diverged has no "
                "objective to draw: leave it out (and say so in the figure's caption)."
            )
    if (
        isinstance(optimum, bool)
        or np.ndim(optimum) != 0
        or np.asarray(optimum).dtype.kind not in "iuf"
        or not np.isfinite(optimum)
    ):
        raise ValueError(
            f"optimum must be a finite number, the convex optimum (an estimator's objective_), "
            f"got optimum={optimum!r}."
        )
    if labels is None:
        labels = [f"group {i + 1}" for i in range(len(groups))]
    elif isinstance(labels, str | Mapping | Set) or not hasattr(labels, "__getitem__"):
        raise TypeError(
            f"labels must be a list of str, one per group of objectives, got labels={labels!r}."
        )
    elif len(labels) != len(groups):
        raise ValueError(
            f"labels has {len(labels)} names for {len(groups)} groups of objectives; pass one "
            "label per group."
        )
    plt = _pyplot()
    ax = _axes(ax, plt, figsize=(6, 4))
    rng = np.random.default_rng(0)  # horizontal jitter only, so the dots do not overlap
    for i, group in enumerate(groups):
        ax.scatter(
            i + rng.uniform(-0.15, 0.15, len(group)), group, s=18, alpha=0.7, label=labels[i]
        )
    ax.axhline(optimum, color="black", linestyle="--", label=optimum_label)
    ax.set_xticks(range(len(groups)), labels)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel("regularized training objective")
    ax.legend(loc="best")
    return ax


def _is_one_run(objectives):
    """Whether ``objectives`` is one value, not a group of them (np.ndim raised on a ragged
    group, before the message that names it)."""
    if isinstance(objectives, str) or not hasattr(objectives, "__iter__"):
        return True
    return getattr(objectives, "ndim", None) == 0
