"""Shared estimator logic: parameters, validation, the fit skeleton, prediction via the network.

The estimators contain no mathematics beyond wiring: patches come from :mod:`._patches`,
patterns from :mod:`._patterns`, the convex program from :mod:`._formulations`, its solution
from :mod:`._solvers`, and predictions from the recovered network (a
:class:`~._network.Network`).
"""

import dataclasses
import functools
import hashlib
import inspect
import os
import time
from contextlib import nullcontext
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from joblib import delayed, effective_n_jobs
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._calls import check_call
from ._certificate import certify_network
from ._compat import Interval, StrOptions, _fit_context, validate_parameter_constraints
from ._convergence import LOOSE_GAP, uncertified_messages, unconverged_message
from ._formulations.architectures import (
    ACTIVATIONS,
    ARCHITECTURES,
    ATTAINED_TOL,
    fitted_bounds,
    make_architecture,
)
from ._formulations.circular import MAX_LAYERS, cheapest_by_output, check_depth, circular_geometry
from ._formulations.two_layer import POOLINGS, READOUTS, make_formulation
from ._generation import (
    GENERATION_TOL,
    generation_attributes,
    generation_fit,
    supports_generation,
    unpassed_check_message,
)
from ._optimality import warn_unreliable_nnls
from ._outputs import (
    DenseProgram,
    Finishing,
    NotSolved,
    Route,
    SolveOptions,
    lines_of_output,
    solve_in_worker,
    solve_output,
)
from ._parallel import call_size, caller_takes_part, longest_first, one_blas_thread, run_calls
from ._patches import extract_patches, resolve_geometry
from ._patterns import MAX_EXACT_PATTERNS, TooManyPatterns, check_enumeration, program_gates
from ._resources import (
    check_memory,
    check_patches_memory,
    operator_bytes,
    patches_bytes,
    patterns_in_memory,
)
from ._solvers import CVXPY_SOLVERS
from ._solvers._solution import gap_in_words, relative_to, target_gap
from ._validation import (
    check_finite_targets,
    check_numbers,
    check_rows,
    check_scale,
    holds_complex,
    warn_common_offset,
    warn_target_offset,
)
from ._warnings import warn

_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")
# Patches extracted at a time for predictions (bytes).
_PATCH_CHUNK_BYTES = 2**28
# Defaults of the parameters that the code also compares with or reuses.
_DEFAULT_N_PATTERNS = 64
_DEFAULT_MAX_ITER = 500
_DEFAULT_TOL = 1e-7
# Working-set iterations that a relaxation's output-layer refit may take, at least
# (:meth:`_BaseConvexCNN._refit_output_weights`)
_REFIT_MAX_ITER = _DEFAULT_MAX_ITER


def _problem_line(architecture, n_samples, geometry, gates, warm, second_layer=None):
    """The verbose line that opens a fit: the samples, their patches and the patterns; for a
    three-layer CNN also its ``second_layer`` patterns and the pattern pairs, each first-layer
    pattern with every second-layer one: the pairs, not the patterns, set its program's size
    (doc/formulations.md §8.3)."""
    kernel = (
        "the whole row"
        if architecture == "circular"
        else "kernel " + "x".join(map(str, geometry.kernel_size))
    )  # (what kernel_size=None resolved to)
    channels = f", {geometry.n_channels} channels" if geometry.n_channels > 1 else ""
    if gates.shape[1] == 0:  # (activation="linear": "0 distinct patterns" read as a fault)
        patterns = "no activation patterns (a linear CNN)"
    else:
        # (a warm start's are the previous fit's: distinct on its data, maybe not on these)
        patterns = (
            f"{gates.shape[1]} {'' if warm else 'distinct '}"
            f"{'pattern' if gates.shape[1] == 1 else 'patterns'}"
        )
    if second_layer is not None:
        pairs = gates.shape[1] * second_layer
        patterns = (
            f"{patterns} in the first layer and {second_layer} second-layer "
            f"{'pattern' if second_layer == 1 else 'patterns'} ({pairs} pattern "
            f"{'pair' if pairs == 1 else 'pairs'}, four groups each)"
        )
    return (
        f"{n_samples} samples, {geometry.n_patches} "
        f"{'patch' if geometry.n_patches == 1 else 'patches'} of size "
        f"{geometry.patch_size} ({kernel}{channels}), {patterns}"
    )


def _summary(attributes, seconds):
    """The verbose line that ends a fit: the network's width, its objective and certificate."""
    objective, gap = attributes["objective_"], attributes["duality_gap_"]
    width = attributes["network_"].n_neurons
    # a relaxation's gap is relative to its program's value at its point, lower_bound_ + gap,
    # not to objective_, the realized network's, which can be far larger
    value = objective
    if not attributes["is_exact_"] and np.isfinite(attributes["lower_bound_"]):
        value = attributes["lower_bound_"] + max(gap, 0.0)
    certified = (
        "no duality gap (none is computed for this point)"
        if np.isnan(gap)
        else f"certified duality gap {gap_in_words(gap, value)}"
    )
    # (objective_ is the network's where it misses its program: relaxations, unfinished
    # solves, loose three-layer points; the gap is the program's)
    bound = objective - attributes["lower_bound_"]
    if (
        not np.isnan(gap)
        and np.isfinite(bound)
        and abs(bound - max(gap, 0.0)) > 1e-9 * abs(objective)
    ):
        certified += f", objective_ - lower_bound_ {bound:.1e}"
    return (
        f"fit: {width} neuron{'' if width == 1 else 's'}, objective {objective:.6g}, "
        f"{certified}, {seconds:.2f} s"
    )


def _parameter_names(estimator_class):
    """The parameters of ``estimator_class``'s ``__init__`` (what scikit-learn's private
    ``_get_param_names`` gives)."""
    return list(inspect.signature(estimator_class.__init__).parameters)[1:]  # (after self)


def _spells(value, default, axes=1):
    """Whether ``value`` is the int ``default`` in any spelling: ``3``, ``(3,)``, ``[3]``, or
    once for each of ``axes`` axes, ``(3, 3)`` for two."""
    try:
        entries = np.atleast_1d(value).tolist()
    except ValueError:  # (ragged, as (3, (1, 2)))
        return False
    return entries in ([default], [default] * axes)


def _warn_ignored(name, value, default, network):
    """The UserWarning of a parameter set away from its default where ``network`` has no use
    for it (scikit-learn's practice: ignored, with a warning)."""
    warn(
        f"{name}={value!r} does not apply to {network}; it is ignored. Leave {name}={default!r}.",
        UserWarning,
    )


def target_shape(y):
    """The shape of the targets ``y`` as ints, or None where it has none (a ragged list: left
    to ``validate_data``)."""
    shape = getattr(y, "shape", None)  # (not np.shape: scikit-learn's checks pass objects
    if shape is None and isinstance(y, list | tuple):  # that refuse NumPy's functions)
        try:
            shape = np.shape(y)
        except ValueError:
            return None
    return None if shape is None else tuple(int(size) for size in shape)


def _check_targets(y, multi_output):
    """Refuse targets of no column, of shape (n_samples, 0), whose error from scikit-learn
    speaks of features ("Found array with 0 feature(s)"), complex targets, whose error
    from scikit-learn prints them all, and NaN or infinite ones, whose error names no sample
    (:func:`.check_finite_targets`). ``multi_output``: whether the estimator takes several
    target columns."""
    shape = target_shape(y)
    if shape is not None and len(shape) == 2 and shape[1] == 0:
        several = ", or (n_samples, n_outputs) with at least one column" if multi_output else ""
        raise ValueError(
            f"y has shape {shape}: no target column. Pass y of shape (n_samples,){several}."
        )
    if holds_complex(y):
        raise ValueError(
            "Complex data not supported: y holds complex numbers, where the estimators take "
            "real targets. Fit their real and imaginary parts as two outputs of "
            "ConvexCNNRegressor: np.column_stack([y.real, y.imag])."
        )
    check_finite_targets(y)


def _output_labels(classes, n_outputs):
    """How warnings name each output: its number, and for a classifier its class (one-vs-rest:
    output ``k`` is ``classes[k]``; a binary classifier's one output is the second class's
    score against the first)."""
    if classes is None:
        return [str(output) for output in range(n_outputs)]
    if n_outputs == 1:
        return [f"0 (class {classes[1]} against {classes[0]})"]
    return [f"{output} (class {label})" for output, label in enumerate(classes)]


def _warm_start_entries(solutions):
    """What a warm start keeps of each output's solution (:meth:`_BaseConvexCNN.
    _warm_starts`)."""
    return [(_NonzeroEntries.of(solution.coef), solution.intercept) for solution in solutions]


class _NonzeroEntries(NamedTuple):
    """A solution's coefficients kept for a warm start: its nonzero entries only. Few groups
    are nonzero, and the dense coefficients made up most of a pickled classifier."""

    shape: tuple
    index: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, coef):
        coef = np.asarray(coef)
        index = np.flatnonzero(coef)
        return cls(coef.shape, index, coef.ravel()[index])

    def dense(self):
        coef = np.zeros(self.shape)
        coef.flat[self.index] = self.values
        return coef


class _TrainingData(NamedTuple):
    """What every solve of one fit reads of its data, whatever the program: the samples
    ``X``, their patches, the targets ``Y`` (one column per output) and the outputs' names
    in warnings (:func:`_output_labels`)."""

    X: np.ndarray
    patches: np.ndarray
    Y: np.ndarray
    labels: list


class _FittedProgram(NamedTuple):
    """What ``fit`` solved, for the methods that evaluate the fitted network afterwards
    (:meth:`_BaseConvexCNN.regularized_objective`, :meth:`_BaseConvexCNN.certify`): the
    program of the parameters at fit time, not as ``set_params`` may have changed them since.
    """

    formulation: object
    beta: float
    loss: str
    fit_intercept: bool
    n_outputs: int
    # the digest of X (_data_digest) where gates_ are every pattern of X (n_patterns="exact"
    # with patterns="sampled"), else None: certify's proof that gates_ enumerate its data
    enumerated_data: tuple | None = None
    # the column of gates_ of each neuron's group (two-layer ReLU CNNs: the formulation's
    # neuron_gates), where certify re-solves: interior points of the neurons' cells
    neuron_gates: np.ndarray | None = None


def _data_digest(X):
    """``X``'s shape and a digest of its bytes: equal for equal float64 arrays."""
    digest = hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16)
    return X.shape, digest.hexdigest()


def _empty_network_message(solutions, Y, beta, tol):
    """The verbose line of a fit without neurons: why it has none.

    Where every output's solve converged to a gap within the default tolerance's (or within
    rounding: :func:`~._solvers._solution.target_gap`), the empty network is optimal:
    ``beta`` is past its largest useful value. Otherwise a solve stopped short (its
    ConvergenceWarning says why), or ``tol`` accepted the constant model short of the optimum.
    """
    if not all(solution.converged for solution in solutions):
        return (
            "no neurons: a solve stopped short of the optimum (see its ConvergenceWarning), "
            "and the model predicts a constant"
        )
    if any(
        solution.duality_gap is None or np.isnan(solution.duality_gap) for solution in solutions
    ):
        return "no neurons: the model predicts a constant (no duality gap certifies it optimal)"
    gaps = [max(solution.duality_gap, 0.0) for solution in solutions]
    if all(
        gap <= target_gap(y, solution.objective, _DEFAULT_TOL)
        for gap, solution, y in zip(gaps, solutions, Y.T, strict=True)
    ):
        return (
            f"no neurons: beta={beta:g} is at least the largest useful value of every output, "
            "and the model predicts a constant"
        )
    objective = sum(solution.objective for solution in solutions)
    return (
        f"no neurons: tol={tol:g} accepted the constant model (objective {objective:.6g}, "
        f"certified gap {sum(gaps):.2e}); a smaller tol finds the optimum's neurons, if it has "
        "any"
    )


def _foreign_parameter_hint(estimator, name, value, *, got=False):
    """`` (name=value). What to use instead.``, where ``name`` is another scikit-learn
    model's parameter, or ""; with ``got``, `` Got name=value. ...`` (after scikit-learn's
    sentences, which end with a full stop)."""
    fixes = {
        "alpha": "The regularization strength is beta (alpha in scikit-learn's models): pass "
        "beta instead",
        # (the deep-learning name)
        "weight_decay": "The regularization strength is beta, which weighs the weights' "
        "squared norms in the objective as weight decay does (the user guide's 'The convex "
        "program in plain words' gives each architecture's)",
        # (LogisticRegression's and SVC's name: an inverse strength)
        "C": "The regularization strength is beta, the inverse of C in scikit-learn's "
        "LogisticRegression and SVC (their loss is summed over samples, as here): pass "
        "beta=1/C instead",
        # (the paper's and many papers' name)
        "lambda_": "The regularization strength is beta (lambda in some papers): pass beta instead",
        "lambda": "The regularization strength is beta (lambda in some papers): pass beta instead",
        # (the user guide's name for the beta that empties the network)
        "beta_max": "beta_max is no parameter: the smallest beta whose network is constant is "
        "convex_cnn_path(X, y, n_betas=1, ...)[0][0] with the estimator's settings (the user "
        "guide, 'Choosing beta, kernel_size and n_patterns'); pass beta=<a fraction of it>",
    }
    if is_classifier(estimator):
        # (imbalanced classes: where users reach for it first)
        fixes["class_weight"] = (
            "Class weights are not supported (every solver and certificate sums unweighted "
            "losses); for integer weights w[c], repeat the samples of each class c: "
            "repeats = np.array([w[c] for c in y]); "
            "fit(np.repeat(X, repeats, axis=0), np.repeat(y, repeats)), and for 'balanced' "
            "repeat the smaller classes' samples towards the largest's count"
        )
    if name not in fixes:
        return ""
    return (
        f" Got {name}={value!r}. {fixes[name]}." if got else f" ({name}={value!r}). {fixes[name]}."
    )


def _named_after_the_estimator(method):
    """``method`` whose wrong arguments raise a TypeError naming the estimator's own class.

    Python names the class that defines it (``_BaseConvexCNN.fit()``, private). The signature
    is ``method``'s (``functools.wraps``), as scikit-learn inspects it (``get_params`` reads
    ``__init__``'s): ``sample_weight`` is not a parameter of ``fit`` (``has_fit_parameter``),
    and is refused there with the workaround; ``alpha``, scikit-learn's name for the
    regularization, is pointed to ``beta``.
    """
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not isinstance(self, BaseEstimator):  # (called on the class: Python's own error)
            return method(self, *args, **kwargs)

        def hint(name):
            # (scikit-learn's fit takes sample_weight third)
            if method.__name__ == "fit" and ("sample_weight" in kwargs or len(args) > 2):
                return (
                    ". Sample weights are not supported (every solver and certificate sums "
                    "unweighted losses); for integer weights w, repeat the rows: "
                    "fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0))"
                )
            if method.__name__ == "__init__" and name is not None:
                return _foreign_parameter_hint(self, name, kwargs[name])
            return ""

        called = f"{type(self).__name__}.{method.__name__}"
        check_call(signature, (self, *args), kwargs, called, hint)
        return method(self, *args, **kwargs)

    return wrapper


# The parameters that a warm start may change: they leave the program's groups and patterns
# as they were (kernel_size, stride and input_shape count through the patch geometry).
_WARM_START_FREE = frozenset(
    {
        "beta", "loss", "fit_intercept", "tol", "max_iter", "solver", "prune", "verbose",
        "n_jobs", "warm_start", "kernel_size", "stride", "input_shape",
    }
)  # fmt: skip


class _NetworkArray:
    """A fitted attribute that is an array of ``network_``, the model that predicts: so that
    assigning it, as to a scikit-learn model's ``coef_``, changes the predictions (a copy
    taken at fit ignored the assignment). An assignment is checked as the network needs it
    (shape, finite numbers, the weights' constraints: ``Network.check_assigned``) and builds
    a new network, so that a shallow copy of the estimator keeps its own. Reading gives a
    read-only view (of the network's arrays, read-only themselves: ``Network.__post_init__``):
    an edit in place (``filters_[0, 0] = nan``, ``branches_ += 10``) would bypass the checks,
    and through a shallow copy change the original's predictions. The network's derived
    arrays (a circular CNN's ``filters``) cannot be assigned."""

    def __init__(self, field, derived_from=None, architecture=None):
        self.field = field
        self.derived_from = derived_from
        self.architecture = architecture  # (the one that has it, where only one does)

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, estimator, owner=None):
        if estimator is None:
            return self
        network = vars(estimator).get("network_")
        if not hasattr(network, self.field):  # (unfitted, or another architecture's)
            # (Python's words first, as hasattr's callers know them; then why, and the fix)
            name = type(estimator).__name__
            why = (
                f"it is an array of the fitted network_, and this {name} is not fitted. Call "
                "fit first."
                if network is None
                else f"this {name} was fitted as a {type(network).__name__}, which has no "
                f"{self.name}: {self._belongs_elsewhere()}"
            )
            raise AttributeError(f"{name!r} object has no attribute {self.name!r}: {why}")
        value = getattr(network, self.field)
        view = (value() if callable(value) else value).view()
        view.flags.writeable = False
        return view

    def _belongs_elsewhere(self):
        return (
            f"it belongs to architecture={self.architecture!r}. Refit with that architecture."
            if self.architecture
            else "it belongs to another architecture."
        )

    def __set__(self, estimator, value):
        network = vars(estimator).get("network_")
        if network is None:
            raise AttributeError(
                f"This {type(estimator).__name__} is not fitted: {self.name} is an array of "
                "the fitted network_. Call fit first."
            )
        if not hasattr(network, self.field):
            raise AttributeError(
                f"This {type(estimator).__name__} was fitted as a {type(network).__name__}, "
                f"which has no {self.name}: {self._belongs_elsewhere()}"
            )
        if self.field not in {field.name for field in dataclasses.fields(network)}:
            raise AttributeError(
                f"{self.name} of a {type(network).__name__} is computed from "
                f"{self.derived_from}: assign that instead."
            )
        current = getattr(network, self.field)
        integers = current.dtype.kind in "iu"
        try:
            array = np.asarray(value)
        except ValueError:  # (ragged)
            array = np.asarray(value, dtype=object)
        if array.shape != current.shape or array.dtype.kind not in ("iu" if integers else "iuf"):
            got = f"shape {array.shape}, dtype {array.dtype}"
            # (another number of rows, each of the fitted shape; a scalar has no rows)
            other_count = (
                self.field != "intercept"
                and array.ndim == current.ndim >= 1
                and array.shape[0] != current.shape[0]
                and array.shape[1:] == current.shape[1:]
            )
            raise ValueError(
                f"{self.name} must be an array of {'integers' if integers else 'real numbers'} "
                f"of shape {current.shape}, as fitted, got one of {got}"
                + ("; to change the number of neurons, refit." if other_count else ".")
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self.name} must be finite, got NaN or infinite entries.")
        array = array.astype(current.dtype)
        network.check_assigned(self.field, array)
        vars(estimator)["network_"] = dataclasses.replace(network, **{self.field: array})

    def __delete__(self, estimator):
        raise AttributeError(
            f"{self.name} cannot be deleted: it is an array of the fitted network_ (assign "
            "it an array of the same shape instead)."
        )


class _BaseConvexCNN(BaseEstimator):
    """Fit skeleton shared by the classifier and the regressor.

    Subclasses provide ``_encode_targets(y, reset=True) -> (Y, fitted_attributes)`` turning
    ``y`` into one real target column per output of the network: in ``fit`` (``reset``) with
    the attributes it fits (``classes_``), otherwise as ``fit`` encoded it, with none.
    """

    _parameter_constraints = {
        "beta": [Interval(Real, 0, None, closed="neither")],
        "kernel_size": [None, Interval(Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "stride": [Interval(Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "input_shape": [None, tuple, list, np.ndarray],
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "n_layers": [None, Interval(Integral, 3, MAX_LAYERS, closed="both")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "pooling": [StrOptions(set(POOLINGS))],
        "pool_size": [None, Interval(Integral, 1, None, closed="left"), tuple, list, np.ndarray],
        "readout": [StrOptions(set(READOUTS))],
        "n_patterns": [Interval(Integral, 1, None, closed="left"), StrOptions({"exact"})],
        "patterns": [StrOptions({"sampled", "generated"})],
        "prune": ["boolean"],
        "solver": [StrOptions({"auto", "native", *CVXPY_SOLVERS})],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "n_jobs": [  # (joblib's meaning: 0 has none)
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # the network's arrays, documented in the classes' Attributes
    filters_ = _NetworkArray("filters", derived_from="layer_filters_")
    output_weights_ = _NetworkArray("output_weights")
    intercept_ = _NetworkArray("intercept")
    layer_filters_ = _NetworkArray("layer_filters", architecture="circular")
    filter_spectra_ = _NetworkArray(
        "spectra", derived_from="layer_filters_", architecture="circular"
    )
    middle_weights_ = _NetworkArray("middle_weights", architecture="three_layer")
    branches_ = _NetworkArray("branches", architecture="three_layer")

    @_named_after_the_estimator
    def __init__(
        self,
        *,
        beta=1.0,
        kernel_size=None,
        stride=1,
        input_shape=None,
        architecture="two_layer",
        n_layers=None,
        activation="relu",
        pooling="average",
        pool_size=None,
        readout="sum",
        n_patterns=_DEFAULT_N_PATTERNS,
        patterns="sampled",
        prune=True,
        loss="squared",
        solver="auto",
        fit_intercept=True,
        max_iter=_DEFAULT_MAX_ITER,
        tol=_DEFAULT_TOL,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.beta = beta
        self.kernel_size = kernel_size
        self.stride = stride
        self.input_shape = input_shape
        self.architecture = architecture
        self.n_layers = n_layers
        self.activation = activation
        self.pooling = pooling
        self.pool_size = pool_size
        self.readout = readout
        self.n_patterns = n_patterns
        self.patterns = patterns
        self.prune = prune
        self.loss = loss
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def set_params(self, **params):
        """Set the parameters of this estimator (scikit-learn's ``set_params``).

        Parameters
        ----------
        **params : dict
            Parameter names and their new values.

        Returns
        -------
        self : estimator instance
            This estimator.
        """
        try:
            return super().set_params(**params)
        except ValueError as exc:
            # (a grid over another model's parameter, C or alpha, reaches this first; the
            # hint is for the one scikit-learn names: the first that is not a parameter)
            valid = self.get_params(deep=False)
            name = next((name for name in params if name.partition("__")[0] not in valid), None)
            hint = (
                "" if name is None else _foreign_parameter_hint(self, name, params[name], got=True)
            )
            if not hint:
                raise
            raise ValueError(f"{exc}{hint}") from None

    def _log(self, message):
        if self.verbose:
            print(f"[{type(self).__name__}] {message}", flush=True)

    def _fit_network(self, X, Y, labels):
        """Solve the convex program once per column of ``Y`` and recover one network.

        ``labels`` names the outputs in warnings (:func:`_output_labels`). Returns the fitted
        attributes as a dict, so a failure leaves the estimator untouched.
        """
        start = time.perf_counter()
        geometry = self._geometry(X)
        formulation = self._formulation(geometry)
        self._refuse_before_patches(X, geometry, formulation, n_outputs=Y.shape[1])
        patches = extract_patches(X, geometry)
        data = _TrainingData(X, patches, Y, labels)
        rng = check_random_state(self.random_state)
        warm_start_key = self._warm_start_key(geometry, Y.shape[1], formulation, X)
        starts, compared_starts = self._warm_starts(warm_start_key)
        if starts:
            # the previous fit's patterns: its gates, and the formulation that sampled them
            # (a three-layer formulation holds its second-layer patterns)
            formulation = self._fitted_program.formulation
        check_program_fits = functools.partial(
            self._check_program_memory, patches.shape, formulation, n_outputs=Y.shape[1]
        )
        if starts:  # (sampled patterns, checked as their draw was)
            check_program_fits(self.n_patterns)
            gates = self.gates_
        else:
            gates = program_gates(formulation, patches, self.n_patterns, rng, check_program_fits)
        outer_masks = getattr(formulation, "outer_masks_", None)  # (three layers)
        second_layer = None if outer_masks is None else len(outer_masks)
        self._log(
            _problem_line(self.architecture, X.shape[0], geometry, gates, starts, second_layer)
        )
        # the user's options, and those the solves get (tighter for generated patterns)
        options = solve_options = self._solve_options()
        if self.patterns == "generated":
            if options.tol >= GENERATION_TOL:  # (the dual check needs accurate prices)
                solve_options = dataclasses.replace(
                    options,
                    tol=GENERATION_TOL,
                    tol_reason="the loosest that patterns='generated' solves to",
                )
            gates, solutions, finishing, generated = self._generate(
                formulation, gates, data, rng, solve_options, options
            )
        else:
            solutions, finishing = self._solve_program(formulation, gates, data, starts, options)
            generated = generation_attributes(None)
        # (of the finished points: finishing certifies some that their solver left inaccurate)
        relaxation = not formulation.is_exact  # (circular, n_layers >= 4)
        self._warn_unconverged(solutions, labels, solve_options, relaxation=relaxation)
        self._warn_uncertified(
            solutions, Y, labels, options, loose=finishing.loose, relaxation=relaxation
        )
        network, compared = self._recovered_network(
            formulation, solutions, gates, data, solve_options, compared_starts,
            relaxation=relaxation,
        )  # fmt: skip
        attributes = {
            "geometry_": geometry,
            "gates_": gates,
            "n_patterns_": gates.shape[1],
            "network_": network,
            **fitted_bounds(formulation, network, patches, Y, options.beta, self.loss, solutions),
            "n_iter_": max(solution.n_iter for solution in solutions),
            "_warm_start_state": (
                warm_start_key,
                _warm_start_entries(solutions),
                None if compared is None else _warm_start_entries(compared),
            ),
            "_fitted_program": self._fitted_program_of(
                formulation, options, data, solutions, gates
            ),
            **generated,
        }
        self._warn_unattained(attributes, solutions, solve_options)
        self._log(_summary(attributes, time.perf_counter() - start))
        return attributes

    def _fitted_program_of(self, formulation, options, data, solutions, gates):
        """What :meth:`certify` and :meth:`regularized_objective` need of this fit."""
        neuron_gates = None
        if formulation.certifiable:  # (certify re-solves over them)
            neuron_gates = formulation.neuron_gates(solutions, data.patches, gates)
        # (generated patterns are a subset of the enumeration)
        enumerated = self.n_patterns == "exact" and self.patterns == "sampled"
        return _FittedProgram(
            formulation,
            options.beta,
            self.loss,
            self.fit_intercept,
            data.Y.shape[1],
            enumerated_data=_data_digest(data.X) if enumerated else None,
            neuron_gates=neuron_gates,
        )

    def _solve_program(self, formulation, gates, data, warm_starts, options):
        """Each output's finished solution of ``formulation``'s program over ``gates``
        (:meth:`_solve_outputs`), and the :class:`Finishing` that finished them."""
        finishing = self._finishing(formulation, data.patches, gates)
        solutions = self._solve_outputs(
            self._program_builder(formulation)(data.patches, gates),
            data,
            DenseProgram(formulation, data.patches, gates, exact=self.n_patterns == "exact"),
            warm_starts,
            finishing,
            options,
            shareable=self._uses_operator(formulation),
        )
        return solutions, finishing

    def _recovered_network(
        self, formulation, solutions, gates, data, options, compared_starts, *, relaxation
    ):
        """The network of the outputs' ``solutions``: a relaxation's realized network with its
        output weights refit (:meth:`_refit_output_weights`) and polished (:meth:`_polished`),
        or the padded 3-layer one, polished too (:meth:`_no_worse_than_shallow`, started from
        ``compared_starts`` where not ``None``), logged where it has no neuron; and the
        3-layer solutions, ``None`` where not solved."""
        network = formulation.network(solutions, data.patches, gates)
        realized, compared = network, None
        if relaxation:
            network = self._refit_output_weights(formulation, network, data, options)
            network, compared = self._no_worse_than_shallow(
                formulation, network, solutions, gates, data, options, compared_starts
            )
        if len(network.filters) == 0 and len(realized.filters) > 0:
            self._log(
                "no neurons: the refit of the realized network's output weights dropped every "
                "one (the relaxation's neurons cost more than they fit), and the model predicts "
                "a constant"
            )
        elif len(network.filters) == 0:
            self._log(_empty_network_message(solutions, data.Y, options.beta, float(self.tol)))
        return network, compared

    def _no_worse_than_shallow(
        self, formulation, network, solutions, gates, data, options, compared_starts
    ):
        """Output by output, the neurons of ``network`` or those of the exact 3-layer circular
        CNN over the same patterns padded to ``n_layers`` with identity filters
        (:meth:`~._formulations.circular.CircularFormulation.padded`), each polished
        (:meth:`_polished`), whichever then cost less
        (:func:`~._formulations.circular.cheapest_by_output`): a deep circular CNN can be any
        shallower one, and a relaxation's realized network can cost more than the padded one
        (doc/formulations.md §7.3); choosing per output can beat both whole networks. Both
        are polished before the choice: L-BFGS ends in another local minimum from each, and
        the one that cost less before it need not after it.

        The 3-layer programs are solved and finished as the fit's own (:meth:`_solve_program`:
        the same solver, processes and clean-up), each started from ``compared_starts``, the
        previous fit's 3-layer solution of its output (a warm start, the cheaper), or else
        from the relaxation's, whose groups and cones they share. Where
        they stop short, their networks are compared as they are: a ConvergenceWarning is the
        fit's own program's. Returns the network kept and the 3-layer solutions (``None``
        where they were not solved)."""
        shallow = formulation.shallow()
        starts = compared_starts or [
            {"coef_init": solution.coef, "intercept_init": solution.intercept}
            for solution in solutions
        ]
        self._log("the 3-layer programs of the same patterns, for comparison:")
        try:
            three_layer, _ = self._solve_program(shallow, gates, data, starts, options)
        except NotSolved as exc:  # (the realized network is an answer already)
            self._log(f"the 3-layer network was not solved for comparison: {exc}")
            return self._polished(formulation, network, data, options, "realized"), None
        patches, Y = data.patches, data.Y
        network = self._polished(formulation, network, data, options, "realized")
        padded = formulation.padded(shallow.network(three_layer, patches, gates))
        padded = self._polished(formulation, padded, data, options, "padded 3-layer")
        deep = network.objective(patches, Y, options.beta, self.loss)
        three = padded.objective(patches, Y, options.beta, self.loss)
        kept, chosen = cheapest_by_output([network, padded], patches, Y, options.beta, self.loss)
        if chosen.all():
            choice = " (kept the padded one)"
        elif chosen.any():
            outputs = [data.labels[c] for c in np.flatnonzero(chosen)]
            choice = (
                f" (kept the padded one for output{'s' if len(outputs) > 1 else ''} "
                f"{', '.join(outputs)}: objective "
                f"{kept.objective(patches, Y, options.beta, self.loss):.6g})"
            )
        else:
            choice = ""
        self._log(
            f"the 3-layer network padded with identity filters: objective {three:.6g} against "
            f"{deep:.6g}{choice}"
        )
        return kept, three_layer

    def _polished(self, formulation, network, data, options, name):
        """A relaxation's ``name`` network (the realized one, refit, or the padded 3-layer
        one) polished by L-BFGS on its own objective where that lowers an output's cost
        (:meth:`~._formulations.circular.CircularFormulation.polished`; doc/formulations.md
        §7.3)."""
        if not network.n_neurons:
            return network
        polished = formulation.polished(
            network, data.patches, data.Y, options.beta, self.loss, self.fit_intercept
        )
        before = network.objective(data.patches, data.Y, options.beta, self.loss)
        after = polished.objective(data.patches, data.Y, options.beta, self.loss)
        self._log(
            f"the {name} network polished by L-BFGS: objective {before:.6g} -> {after:.6g}"
            + (" (kept it as it was)" if polished is network else "")
        )
        return polished

    def _refit_output_weights(self, formulation, network, data, options):
        """A relaxation's realized network with its output layer refit by the native solver
        (:meth:`~._formulations.circular.CircularFormulation.refit_output_weights`), where that
        lowers its objective. The refit, a lasso over the neurons, is allowed the default
        ``max_iter`` at least: the user's bounds the program's solve, and a small one would
        leave the refit where it started."""

        def solve(program, output, coef_init, intercept_init):
            return solve_output(
                program, data.Y[:, output], data.labels[output], refit_options,
                coef_init=coef_init, intercept_init=intercept_init,
            )  # fmt: skip

        refit_options = dataclasses.replace(
            options, solver="native", verbose=0, max_iter=max(options.max_iter, _REFIT_MAX_ITER)
        )
        try:
            refit = formulation.refit_output_weights(network, data.patches, solve)
        except NotSolved as exc:  # (the realized network is an answer already)
            self._log(f"the realized network's output weights were not refit: {exc}")
            return network
        if refit is network:  # (no neuron to refit)
            return network
        before = network.objective(data.patches, data.Y, options.beta, self.loss)
        after = refit.objective(data.patches, data.Y, options.beta, self.loss)
        self._log(
            f"the realized network's output weights refit: objective {before:.6g} -> {after:.6g}"
            + ("" if after < before else " (kept the realized network)")
        )
        return refit if after < before else network

    def _formulation(self, geometry):
        """The convex program's formulation for the architecture parameters (checked against
        ``patterns``: before any pattern is drawn or enumerated)."""
        formulation = make_architecture(
            self.architecture,
            self.n_layers,
            self.activation,
            self.pooling,
            self.pool_size,
            self.readout,
            self.solver,
        ) or make_formulation(self.pooling, self.pool_size, self.readout, geometry.grid_shape)
        # (refused before the warnings about parameters this fit would ignore)
        if self.patterns == "generated" and not supports_generation(formulation):
            raise ValueError(
                "patterns='generated' needs a two-layer ReLU CNN with one output weight per "
                "neuron (architecture='two_layer', activation='relu', readout='sum', pooling "
                f"other than 'none'); got architecture={self.architecture!r}, activation="
                f"{self.activation!r}, readout={self.readout!r}, pooling={self.pooling!r}. "
                "Use patterns='sampled'."
            )
        if self.activation == "linear" and not _spells(self.n_patterns, _DEFAULT_N_PATTERNS):
            _warn_ignored(
                "n_patterns", self.n_patterns, _DEFAULT_N_PATTERNS,
                "activation='linear', which has no activation patterns",
            )  # fmt: skip
        if not self.prune and not formulation.prunable:
            _warn_ignored(
                "prune", False, True, f"architecture={self.architecture!r} with "
                f"activation={self.activation!r}: only two-layer ReLU CNNs are pruned",
            )  # fmt: skip
        return formulation

    def _generate(self, formulation, gates, data, rng, solving, options):
        """Pattern generation from ``gates`` (:func:`._generation.generation_fit`), each
        solve with the options ``solving``, its solutions finished here with the user's
        ``options``, in turn (a sampled fit's workers finish their own).

        Returns the generated gates, the finished solutions, the :class:`Finishing` and the
        generation's fitted attributes. Only the last solve of an output is warned about
        (by the caller): a round's solve that stopped at max_iter has a point that the next
        round's solve replaces.
        """
        patches, Y, labels = data.patches, data.Y, data.labels

        def solve(program, y, *, output, **warm_start):
            with lines_of_output(labels[output], Y.shape[1]) if self.verbose else nullcontext():
                return solve_output(program, y, labels[output], solving, **warm_start)

        build = self._program_builder(formulation)
        gates, solutions, report = generation_fit(
            patches, formulation, Y, gates, rng, n_patterns=self.n_patterns, beta=solving.beta,
            loss=self.loss, fit_intercept=self.fit_intercept, program_of=build, solve=solve,
            log=self._log,
        )  # fmt: skip
        if (message := unpassed_check_message(report, solving.max_iter, self.solver)) is not None:
            warn(message, ConvergenceWarning)
        program = build(patches, gates)  # the program grew with the generated patterns
        finishing = self._finishing(formulation, patches, gates)
        finished = [
            finishing(program, solution, Y[:, output], options)
            for output, solution in enumerate(solutions)
        ]
        return gates, finished, finishing, generation_attributes(report)

    def _geometry(self, X):
        """Patch geometry of ``X``; circular architectures read the whole row as one patch."""
        if self.architecture == "circular":
            network = (
                "architecture='circular', whose filters are full-length circular convolutions "
                "of each row"
            )
            if self.kernel_size is not None:
                _warn_ignored("kernel_size", self.kernel_size, None, network)
            # (an image's default stride spelled per axis, (1, 1), is no setting to ignore)
            shape = self.input_shape
            axes = min(len(shape), 2) if shape is not None and np.iterable(shape) else 1
            if not _spells(self.stride, 1, axes):
                _warn_ignored("stride", self.stride, 1, network)
            check_depth(X.shape[1], 3 if self.n_layers is None else int(self.n_layers))
            return circular_geometry(self.input_shape, X.shape[1])
        return resolve_geometry(self.input_shape, self.kernel_size, self.stride, X.shape[1])

    def _refuse_before_patches(self, X, geometry, formulation, n_outputs):
        """MemoryError (or the enumeration's error) for a fit that would not fit in memory,
        from what is known before the patches are cut: their shape, and the enumeration's
        count. The sampled program is checked again once its patterns are drawn."""
        patches_shape = (X.shape[0], geometry.n_patches, geometry.patch_size)
        check_patches_memory(*patches_shape, whole_rows=self.architecture == "circular")
        if self.n_patterns == "exact":
            check_enumeration(formulation, X, geometry)
        else:
            # (before the patches are cut: they can take gigabytes and seconds themselves)
            self._check_program_memory(patches_shape, formulation, self.n_patterns, n_outputs)

    def _check_program_memory(self, patches_shape, formulation, n_patterns, n_outputs):
        """MemoryError, naming the fix, when the program would not fit in memory
        (:func:`._resources.check_program_memory`), held as the solver that will run holds
        it (the CVXPY fallback of ``"auto"`` checks its own, :class:`DenseProgram`), from the
        patches' shape ``(n_samples, n_patches, patch_size)`` (checked before they are cut)."""
        formulation.check_program_memory(
            patches_shape,
            n_patterns,
            solver=self.solver,
            exact=self.n_patterns == "exact",
            at_once=self._outputs_at_once(n_outputs),
        )

    def _outputs_at_once(self, n_outputs):
        """How many outputs' programs ``n_jobs`` solves at the same time (one with generated
        patterns, whose outputs share each round's program: solved in turn)."""
        if self.patterns == "generated":
            return 1
        return max(1, min(effective_n_jobs(self.n_jobs), n_outputs))

    def _warm_start_key(self, geometry, n_outputs, formulation, X):
        """What must not change for a previous solution to be a start of the next fit: the
        program's shape and what draws its patterns (asking for other patterns starts cold),
        that is every parameter but those of :data:`_WARM_START_FREE` (a parameter added
        later starts cold until it is listed there).

        Where the program's groups are built from the samples themselves (a read-out per
        region: one group per pattern that occurs in a region; three layers: second-layer
        patterns of the samples), also the data, by a digest of ``X``: on other data the
        previous groups mean other things, or do not exist.
        """
        data = _data_digest(X) if formulation.groups_from_samples else None
        # every parameter of the network, also where a subclass's __init__ exposes only some
        # (get_params then lists those alone: a KeyError below), and the subclass's own
        params = {
            **{name: getattr(self, name) for name in _parameter_names(_BaseConvexCNN)},
            **self.get_params(deep=False),
        }
        # as the program reads them: pool_size=2, (2,) and [2] pool alike; n_layers=None is 3
        pools = getattr(formulation, "pools", None)
        params["pool_size"] = None if pools is None else tuple(map(tuple, map(list, pools)))
        params["n_layers"] = getattr(formulation, "n_layers", None)
        if params["pooling"] == "none":  # (every patch read out, whatever the read-out)
            params["readout"] = None
        drawing = tuple((name, params[name]) for name in sorted(params.keys() - _WARM_START_FREE))
        return (data, geometry, n_outputs, drawing)

    def _warm_starts(self, key):
        """Each output's ``coef_init``/``intercept_init`` from the last fit, and from its 3-layer
        comparison (:meth:`_no_worse_than_shallow`; ``None`` where it had none); ``(None,
        None)`` without a warm start.

        Only with ``warm_start=True``, sampled patterns and a previous fit of the same program
        shape and patterns (``key``, :meth:`_warm_start_key`); the previous fit's gates are
        then kept, so that its groups mean the same.
        """
        previous_key, *solved = getattr(self, "_warm_start_state", (None, None, None))
        if not (
            self.warm_start
            and self.patterns == "sampled"
            and self.n_patterns != "exact"  # the enumeration belongs to the data
            and previous_key == key
        ):
            return None, None
        self._log(f"warm start from the previous fit's {self.n_patterns_} patterns")
        starts = [
            None
            if entries is None
            else [{"coef_init": c.dense(), "intercept_init": b} for c, b in entries]
            for entries in solved
        ]
        return starts[0], starts[1]

    def _solve_outputs(
        self, program, data, dense_program, warm_starts, finishing, options, *, shareable
    ):
        """One solve per column of ``data.Y`` with the options ``options``, each followed by
        ``finishing``, on ``n_jobs`` processes (this one among them where joblib's default
        backend would start workers, for ``shareable`` programs whose calls are small:
        :mod:`._parallel`), the longest first as the samples ``data.X`` suggest
        (:func:`._parallel.longest_first`); returns what ``finishing`` returns, per output.

        Every process that solves limits its BLAS threads to one
        (:func:`._parallel.blas_limited`), and each worker records its warnings, which are
        issued again here: warnings raised in another process would otherwise never reach the
        caller (threads of this process, joblib's threading backend, do neither:
        :func:`solve_in_worker`). The workers get the solve's options, not the estimator, and
        joblib's ``delayed``, not scikit-learn's: they never import scikit-learn
        (:mod:`._outputs`).
        """
        X, Y, labels = data.X, data.Y, data.labels
        n_outputs = Y.shape[1]
        n_jobs = self._outputs_at_once(n_outputs)
        order = longest_first(X, Y) if n_jobs > 1 else range(n_outputs)
        calls = [
            delayed(solve_in_worker)(
                program,
                Y[:, output],
                n_outputs,
                options,
                dense_program,
                warm_starts[output] if warm_starts else {},
                finishing,
                caller=os.getpid(),
                label=labels[output],
            )
            for output in order
        ]
        # (the others, CVXPY's programs, go to joblib's workers whatever their size: n_jobs)
        call_bytes = call_size(calls[0]) if shareable and n_jobs > 1 else np.inf
        if caller_takes_part(n_jobs, call_bytes):
            self._log(
                f"{n_outputs} outputs on {n_jobs} processes (this one and {n_jobs - 1} "
                f"worker(s)), one BLAS thread each"
            )
        elif n_jobs > 1:
            self._log(f"{n_outputs} outputs on {n_jobs} workers, one BLAS thread each")
        try:
            in_order = run_calls(calls, n_jobs, call_bytes=call_bytes)
        except NotSolved as exc:  # what led to it, from a worker (:func:`solve_in_worker`)
            for message, category in getattr(exc, "caught_warnings", ()):
                warn(message, category)
            raise
        results = [None] * n_outputs
        for output, result in zip(order, in_order, strict=True):
            results[output] = result
        for _, caught in results:
            for message, category in caught:
                warn(message, category)
        return [solution for solution, _ in results]

    def _finishing(self, formulation, patches, gates):
        """What every output's solution goes through after its solve (:class:`Finishing`):
        what ``formulation`` says of its solutions (its ``finishing``), with ``prune``."""
        return Finishing(**formulation.finishing(patches, gates, prune=self.prune))

    def _warn_uncertified(self, solutions, Y, labels, options, *, loose=False, relaxation=False):
        """A ConvergenceWarning for the solutions that their solvers called solved but whose
        certified duality gaps say otherwise (:func:`._convergence.uncertified_messages`;
        ``loose`` for CVXPY points certified from their own dual points).

        Not ``loose`` with ``solver="auto"`` where CVXPY goes first (circular and three-layer
        CNNs): the native solver polishes their points to ``tol`` (at least
        ``CVXPY_ACCURACY``: :func:`._outputs.solve_and_finish`), so a point that it could not
        improve on, kept as the lower, is held to that too, not passed up to ``LOOSE_GAP``
        without a warning."""
        loose = loose and options.route is not Route.CVXPY_THEN_NATIVE
        for message in uncertified_messages(
            solutions, Y, labels, options, loose=loose, relaxation=relaxation
        ):
            warn(message, ConvergenceWarning)

    def _warn_unattained(self, attributes, solutions, options):
        """A ConvergenceWarning where the network misses the value of its converged program
        (``objective_`` is then the network's: :func:`.fitted_bounds`) by more than a fit's
        tolerance allows: ``objective_ - lower_bound_`` above ``tol`` (at least ``LOOSE_GAP``,
        as for the CVXPY points of three-layer programs, the only ones it happens to) or below
        zero, where the program's own gap is within that tolerance."""
        convex = sum(solution.objective for solution in solutions)
        objective, lower = attributes["objective_"], attributes["lower_bound_"]
        converged = all(solution.converged for solution in solutions)
        attained = abs(objective - convex) <= ATTAINED_TOL * abs(convex)
        if attained or not (converged and attributes["is_exact_"]):
            return  # (unconverged solves have their own warnings; a relaxation is never attained)
        relative = max(options.tol, LOOSE_GAP)
        if convex - lower > relative * abs(convex):
            return  # (a program's point short of tol has its own warning: _warn_uncertified)
        tolerance = relative * abs(objective)
        if 0.0 <= objective - lower <= tolerance:
            return
        solvers = {solution.solver for solution in solutions}
        advice = "a smaller tol" if solvers == {"native"} else "solver='native' or a smaller tol"
        warn(
            f"The recovered network's objective {objective:.6g} differs from its convex "
            f"program's value {convex:.6g} by {relative_to(objective - convex, convex):.1e} of "
            "it (a solver's point satisfies the second ReLU layer's constraints only to its "
            f"accuracy), and objective_ - lower_bound_ is {objective - lower:.3e} (tolerance "
            f"{tolerance:.3e}; below zero, its neurons left the program's patterns); objective_ "
            f"is the network's. Try {advice} (tol is {self.tol!r}).",
            ConvergenceWarning,
        )

    def _program_builder(self, formulation):
        """``formulation``'s builder of the program, ``(patches, gates) -> program``: the
        matrix-free operator where the native solver uses one."""
        return formulation.operator if self._uses_operator(formulation) else formulation.program

    def _uses_operator(self, formulation):
        """Whether the program goes to the native solver as an operator (matrix-free where
        the formulation can be), rather than as a dense program: the formulations that have
        one (two-layer ReLU CNNs), which ``solver="auto"`` solves natively first
        (:meth:`_auto_route`)."""
        return self.solver in ("auto", "native") and hasattr(formulation, "operator")

    def _solve_options(self):
        # beta and tol as Python floats: a NumPy float32 beta made every objective and gap
        # float32 (NumPy 2 keeps the scalar's type), and their rounding a ConvergenceWarning
        return SolveOptions(
            beta=float(self.beta),
            loss=self.loss,
            fit_intercept=self.fit_intercept,
            tol=float(self.tol),
            max_iter=self.max_iter,
            solver=self.solver,
            verbose=self.verbose,
            name=type(self).__name__,
            auto_route=self._auto_route(),
            native_supported=self.activation == "relu"
            or self.architecture == "circular"
            or self._linear_group_lasso(),
        )

    def _auto_route(self):
        """The solvers that ``solver="auto"`` has solve the program, in turn
        (:class:`._outputs.Route`): the native solver first for two-layer CNNs whose program it
        takes (ReLU CNNs, as an operator: :meth:`_uses_operator`; a linear CNN's group lasso),
        CVXPY first for circular and three-layer CNNs, CVXPY alone for a linear CNN's nuclear
        norm."""
        if self.architecture in ("circular", "three_layer"):
            return Route.CVXPY_THEN_NATIVE
        if self.activation == "relu" or self._linear_group_lasso():
            return Route.NATIVE_THEN_CVXPY
        return Route.CVXPY

    def _linear_group_lasso(self):
        """Whether the program is a linear CNN's group lasso (two layers, average pooling)."""
        return (
            self.activation == "linear"
            and self.architecture == "two_layer"
            and self.pooling == "average"
        )

    def _warn_unconverged(self, solutions, labels, options, *, relaxation=False):
        message = unconverged_message(solutions, labels, options, relaxation=relaxation)
        if message is not None:
            warn(message, ConvergenceWarning)

    @_named_after_the_estimator
    @_fit_context(prefer_skip_nested_validation=True)
    @one_blas_thread  # (the whole fit: threads woken before the solves spin on after them)
    def fit(self, X, y):
        """Train the network to the global optimum over the program's activation patterns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says. Taken in
            float64 whatever its dtype: the program is solved and certified in float64, and
            the network's outputs (predictions, scores) are float64 too.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels for the classifier (1-D: for several labels per sample, wrap it in
            :class:`~sklearn.multioutput.MultiOutputClassifier`); real targets for the
            regressor, one column per output.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter or the data is invalid (NaN or infinity, entries of ``X`` or real
            targets beyond ``1e75`` in magnitude or all below ``1e-75``, a shape
            ``input_shape`` does not describe, entries of ``X`` or targets of a regressor that
            are not numbers, an ``X`` that is no array of rows, such as None, a string, a
            dict, records or rows of different lengths, complex ``X`` or ``y``, a ``y`` of no
            column); the message names the fix.
        MemoryError
            If the patches or the program would not fit in memory (before allocating them).
        RuntimeError
            If no solver returned a point for an output's program (CVXPY's solvers fail on
            some logistic programs); the message names the output and what to try. A fit
            that raises leaves a previously fitted model as it was.
        TypeError
            If ``X`` or ``y`` is missing, or another argument is given: ``sample_weight`` is
            not supported (for integer weights, repeat the rows; the message shows how). If
            ``X`` holds objects that ``float()`` refuses by their type (the message names the
            entry), or ``X`` or ``y`` is a sparse matrix (pass its ``.toarray()``: the
            patches of sparse images are dense anyway).

        Warns
        -----
        ConvergenceWarning
            Where a solve stopped short of ``tol``: one warning naming every such output,
            with its duality gap.
        UserWarning
            For a parameter that the architecture ignores (it names the value to leave), a
            ``stride`` larger than ``kernel_size`` (it counts the features in no patch), or
            entries of ``X`` sharing an offset more than ``1e4`` times their spread (the solves
            can stall short of ``tol``; it names both: centre ``X``), or, with
            ``fit_intercept=False``, a regressor's target column sharing one (set it to True),
            or a SciPy whose NNLS the package's requirements exclude (1.12 to 1.15: the fits
            can stall; it names the install that fixes it; once a process).
        """
        # validate_data records n_features_in_ at once; a fit that fails must not leave a
        # previous model paired with the new data's feature count
        recorded = {k: v for k, v in vars(self).items() if k in _INPUT_ATTRIBUTES}
        try:
            X, y = self._validated(X, y, reset=True)
            Y, target_attributes = self._encode_targets(y)
            check_scale(X, "X")
            check_scale(Y, "y")  # (a classifier's are +-1)
            warn_common_offset(X)
            warn_unreliable_nnls()
            warn_target_offset(Y, self.fit_intercept)
            labels = _output_labels(target_attributes.get("classes_"), Y.shape[1])
            attributes = self._fit_network(X, Y, labels)
        except BaseException:
            for name in _INPUT_ATTRIBUTES:
                vars(self).pop(name, None)
            vars(self).update(recorded)
            raise
        fitted = {**target_attributes, **attributes}
        # a previous fit's attributes that this fit does not set (another architecture's)
        for name in [name for name in vars(self) if name.endswith("_") and name not in fitted]:
            if name not in _INPUT_ATTRIBUTES and not name.startswith("__"):
                del vars(self)[name]  # (not delattr: the network's arrays are descriptors)
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def __sklearn_is_fitted__(self):
        return "network_" in vars(self)

    def _decision(self, X):
        check_is_fitted(self)
        check_rows(X, "the estimators take")
        check_numbers(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        # in chunks of samples: the patches of X take kernel_size^2 times its memory (images)
        geometry = self.geometry_
        step = max(
            1, _PATCH_CHUNK_BYTES // patches_bytes(1, geometry.n_patches, geometry.patch_size)
        )
        with np.errstate(over="ignore", invalid="ignore"):  # (refused below, by the outputs)
            f = np.concatenate(
                [
                    self.network_.forward(extract_patches(X[start : start + step], geometry))
                    for start in range(0, len(X), step)
                ]
            )
        if not np.isfinite(f).all():
            # finite rows whose outputs overflow are refused: their NaN would predict
            # classes_[0] silently. A row with NaN or infinity, which only
            # assume_finite=True lets through, has its NaN passed on, as scikit-learn's
            # estimators do
            overflowed = ~np.isfinite(f).all(axis=1) & np.isfinite(X).all(axis=1)
            if not overflowed.any():
                return f
            sample = int(np.flatnonzero(overflowed)[0])
            largest = float(np.max(np.abs(X[sample])))
            raise ValueError(
                f"The network's output on sample {sample} of X overflows float64 (its "
                f"entries reach {largest:.3g} in magnitude). Scale X as the training data "
                "were scaled."
            )
        return f

    @_named_after_the_estimator
    def regularized_objective(self, X, y):
        """Regularized training objective of the fitted (non-convex) network on ``(X, y)``.

        ``loss(f(X), y) + beta/2 * sum_j (||u_j||^2 + ||w_j||^2)``, with ``||w_j||_1^2`` in
        place of ``||w_j||^2`` for ``readout="dense"`` and for ``pooling="none"`` with ReLUs
        (the linear network without pooling keeps weight decay), and the l1 norm across
        outputs where there are several (``beta``). For circular CNNs ``u_j`` is neuron
        ``j``'s last circular filter, ``layer_filters_[-1, j]`` (the inner ones have unit
        norm). For three-layer CNNs the sum runs over the branches ``b``, with
        ``||w1_b||_1^2``, the l1 norm of the branch's ``middle_weights_``, in place of
        ``||u_j||^2`` (the filters have unit norm) and ``w_j`` the branch's output weights.
        On the training data it equals ``objective_``: the convex optimum where ``is_exact_``
        is true and the solves converged (a three-layer CNN's to its solver's accuracy), which
        is the exactness guarantee; otherwise ``objective_`` is this network's own objective
        (a circular CNN with ``n_layers >= 4``: an upper bound on the deep network's optimum,
        of which ``lower_bound_`` is a lower one with ``n_patterns="exact"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as passed to ``fit``.

        Returns
        -------
        objective : float
            Loss summed over samples plus the penalty, evaluated with real ReLUs.

        Raises
        ------
        ValueError
            Where ``X`` or ``y`` is not what ``fit`` would take: their shapes, or entries
            beyond the magnitude at which the objective overflows (as ``fit`` refuses them).
        """
        _, patches, Y = self._evaluation_data(X, y)
        fitted = self._fitted_program
        return self.network_.objective(patches, Y, fitted.beta, fitted.loss)

    def _validated(self, X, y, *, reset):
        """``X`` and ``y`` through :func:`~sklearn.utils.validation.validate_data` (``reset``:
        recording the features, as ``fit`` does), after the check that names a reshape."""
        check_rows(X, "the estimators take")
        check_numbers(X)
        classifier = is_classifier(self)
        _check_targets(y, multi_output=not classifier)
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=np.float64,
            multi_output=not classifier,
            y_numeric=not classifier,
        )

    def _evaluation_data(self, X, y):
        """``X`` validated, its patches and the target columns of ``y``, encoded as ``fit``
        encoded them, for the methods that evaluate the fitted network on data; refused
        beyond the scale that ``fit`` takes (:func:`._validation.check_scale`), where the
        objective overflows."""
        check_is_fitted(self)
        X, y = self._validated(X, y, reset=False)
        Y, _ = self._encode_targets(y, reset=False)
        n_outputs = self._fitted_program.n_outputs
        if Y.shape[1] != n_outputs:
            raise ValueError(
                f"y has {Y.shape[1]} target columns, but the network was fitted to "
                f"{n_outputs}. Pass targets of the shape that fit was given."
            )
        geometry = self.geometry_
        check_patches_memory(
            X.shape[0], geometry.n_patches, geometry.patch_size, "Evaluate on fewer samples."
        )
        check_scale(X, "X")  # (as fit: its features in no patch too)
        check_scale(Y, "y")
        return X, extract_patches(X, geometry), Y

    def _patterns_to_certify(self, formulation, X, patches, max_patterns):
        """The gates that :meth:`certify` checks, and whether they are every pattern of
        ``X``: all of them where at most ``max_patterns`` and their program fits in memory,
        else the fitted ones."""
        # no more patterns than memory holds, before the enumeration: its own check comes
        # after it, and a huge max_patterns would enumerate for minutes first
        max_patterns = min(max_patterns, patterns_in_memory(*patches.shape) or max_patterns)
        try:
            gates = formulation.enumerate_gates(patches, max_patterns=max_patterns)
            formulation.check_program_memory(
                patches.shape, gates.shape[1], solver="native", exact=True, at_once=1
            )
            exact = True
        except (TooManyPatterns, MemoryError):  # more than max_patterns or memory holds
            # the fitted patterns: every pattern of X where fit enumerated this very X
            gates = self.gates_
            enumerated = self._fitted_program.enumerated_data
            exact = enumerated is not None and enumerated == _data_digest(X)
            # (their operator takes several times the patches' memory: checked too)
            check_memory(
                operator_bytes(*patches.shape, gates.shape[1], formulation.region_sizes),
                f"Certifying on {patches.shape[0]} samples x {patches.shape[1]} patches of "
                f"size {patches.shape[2]} over the {gates.shape[1]} fitted patterns",
                "Certify on a subset of the samples.",
            )
        return gates, exact

    @_named_after_the_estimator
    @one_blas_thread  # (it re-solves each output's program: as fit)
    def certify(self, X, y, *, tol=1e-6, max_patterns=MAX_EXACT_PATTERNS):
        """Certificate of global optimality of the fitted network on ``(X, y)``.

        The certificate is a lower bound on the regularized training objective of *every*
        ReLU CNN of this architecture, of any width, together with the gap between it and the
        fitted network's objective: a gap of zero proves the network globally optimal. It is
        exact when every activation pattern of ``X`` can be enumerated (``exact=True``, at
        most ``max_patterns`` patterns, whose program fits in memory); otherwise only the
        fitted patterns are checked and the bound holds only for networks whose neurons use
        those patterns, unless ``X`` is the very data of a fit with ``n_patterns="exact"`` and
        ``patterns="sampled"``, whose patterns are every pattern of ``X`` (``exact=True``).

        The bound is the dual objective of the convex program at the dual vector of the
        network's fit (its residual for the squared loss; centred when an intercept is fitted),
        or of a tight re-solve over the patterns of the network's groups (their gates in
        ``gates_``) where that is better, scaled so that
        ``max_{||u|| <= 1} |v^T sum_k alpha_k (X_k u)_+| <= beta`` holds over the checked
        patterns (doc/formulations.md §2.3). Each output (class in one-vs-rest) is a separate
        problem; the bounds are summed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Usually the training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as passed to ``fit``.
        tol : float, default=1e-6
            Relative gap below which the certificate's ``is_optimal`` holds, if every pattern
            was checked (``exact``); in (0, 1). Its default is looser than the estimators'
            ``tol`` (``1e-7``, their solvers' stopping rule), so that a network fitted to that
            ``tol`` is called optimal with room to spare. A gap within the rounding of the
            targets (each output's within its ``output_rounding_gaps``) is optimal too: an
            exact fit of targets equal up to an ulp has an objective of about ``1e-32`` and a
            smaller gap (of exactly equal targets, 0 and 0).
        max_patterns : int, default=100_000
            Largest Cover bound on the number of patterns that is enumerated (with a
            read-out per region, the smaller of the regions' bounds summed and the bound of
            all the patch rows: ``n_patterns``). Beyond it the fitted patterns are checked
            instead (every pattern, on the data of a fit with
            ``n_patterns="exact"`` and ``patterns="sampled"``).

        Returns
        -------
        certificate : Certificate
            Fields ``objective``, ``lower_bound``, ``gap``, ``relative_gap``, ``exact``,
            ``n_patterns_checked``, ``dual_constraint``, ``beta``, ``tol``,
            ``rounding_gap``, ``output_objectives``, ``output_gaps``,
            ``output_rounding_gaps`` and the property ``is_optimal``: ``exact``, and either
            ``relative_gap <= tol`` or each output's gap at most ``tol`` times its objective
            plus its rounding gap, a global optimum. Where the
            patterns could not all be enumerated (images: 3x3 filters) and are not those of
            an ``n_patterns="exact"`` fit on this ``X``, ``is_optimal`` is ``False`` whatever
            the gap, and ``relative_gap <= tol`` certifies the network within its patterns
            only.

        Raises
        ------
        ValueError
            For architectures other than the two-layer ReLU CNN, a ``tol`` or
            ``max_patterns`` out of range, data that ``fit`` would refuse (entries of ``X``
            or real targets beyond ``1e75`` in magnitude included), or a non-zero
            ``intercept_`` assigned to a network fitted with ``fit_intercept=False`` (the
            bound is over networks without one).

        Warns
        -----
        UserWarning
            Where SciPy is one of 1.12 to 1.15, whose NNLS the package's requirements exclude
            (the bound can be looser and slow; once a process, as ``fit`` warns).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_convexcnn import ConvexCNNRegressor
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.standard_normal((10, 7)), rng.standard_normal(10)
        >>> reg = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns="exact").fit(X, y)
        >>> certificate = reg.certify(X, y)
        >>> certificate.exact, certificate.is_optimal
        (True, True)
        """
        validate_parameter_constraints(
            {
                "tol": [Interval(Real, 0, 1, closed="neither")],
                "max_patterns": [Interval(Integral, 1, None, closed="left")],
            },
            {"tol": tol, "max_patterns": max_patterns},
            caller_name=f"{type(self).__name__}.certify",
        )
        check_is_fitted(self)
        fitted = self._fitted_program
        formulation = fitted.formulation
        if not formulation.certifiable:  # (before the data: a cheap refusal)
            raise ValueError(
                "certify is implemented for two-layer ReLU CNNs (architecture='two_layer', "
                f"activation='relu'), but this {type(self).__name__} was fitted as a "
                f"{type(self.network_).__name__}. duality_gap_ certifies its convex program over "
                "the fitted patterns; is_exact_ says whether that program is exact."
            )
        if not fitted.fit_intercept and np.any(self.network_.intercept != 0):
            # the bound is over networks without an intercept (no sum(v) = 0 in the dual): an
            # assigned one can take the network below it, a negative gap called optimal
            raise ValueError(
                f"certify bounds networks without an intercept, as this {type(self).__name__} "
                f"was fitted (fit_intercept=False), but its intercept_ is "
                f"{np.array2string(np.asarray(self.intercept_), precision=6)}: such a network "
                "is not among them, and its objective can lie below the bound. Set intercept_ "
                "back to zeros, or refit with fit_intercept=True."
            )
        start = time.perf_counter()
        X, patches, Y = self._evaluation_data(X, y)
        warn_unreliable_nnls()  # (its prices are cone projections: looser bounds, slower)
        gates, exact = self._patterns_to_certify(formulation, X, patches, max_patterns)
        self._log(
            f"certify: {gates.shape[1]} {'pattern' if gates.shape[1] == 1 else 'patterns'}, "
            + (
                "every pattern of X"
                if exact
                else "the fitted ones, not every pattern of X (the bound holds for networks "
                "whose neurons use them)"
            )
            + f", {time.perf_counter() - start:.2f} s"
        )
        if fitted.neuron_gates is None:  # (pickled before fits recorded them: the filters
            neuron_gates = self.network_.filters  # as gates, a bound as valid, maybe looser)
        else:
            neuron_gates = self.gates_[:, fitted.neuron_gates].T
        certificate = certify_network(
            self.network_,
            formulation,
            patches,
            Y,
            gates,
            neuron_gates,
            beta=fitted.beta,
            loss=fitted.loss,
            fit_intercept=fitted.fit_intercept,
            exact=exact,
            tol=tol,
            log=lambda message: self._log(f"certify: {message}"),
        )
        self._log(
            f"certify: objective {certificate.objective:.6g}, lower bound "
            f"{certificate.lower_bound:.6g}, gap {certificate.gap:.1e} (relative "
            f"{certificate.relative_gap:.1e}), is_optimal={certificate.is_optimal}, "
            f"{time.perf_counter() - start:.2f} s"
        )
        return certificate
