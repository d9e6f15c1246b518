"""The public estimators: thin wrappers that encode targets and read out predictions."""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ._base import _BaseConvexCNN, target_shape
from ._compat import InvalidParameterError, StrOptions
from ._losses import logistic_log_proba, logistic_proba, loss_named_by_scikit_learn
from ._resources import check_memory
from ._validation import check_finite_targets, first_not_a_number, missing_entries, numeric_targets

_PARAMETERS = """\
    beta : float, default=1.0
        Weight-decay strength: the network minimizes
        ``loss + beta/2 * sum_j (||u_j||^2 + ||w_j||^2)`` (the penalties of the other
        read-outs and architectures: :meth:`regularized_objective`). The loss is *summed*
        over samples (the paper's scaling), so a fixed ``beta`` regularizes less as the data
        grows. With several outputs (more than two classes, or target columns) ``||w_j||`` is
        the l1 norm of neuron ``j``'s output weights across outputs, the penalty under which
        one convex program per output is exact. From a data-dependent ``beta_max`` on the
        optimum has no neurons and the model predicts a constant; a very small ``beta`` nears
        interpolation and may end with a ConvergenceWarning. Tune it with
        :class:`~sklearn.model_selection.GridSearchCV`. Read more in the User Guide,
        :ref:`Choosing beta <guide-beta>`.

    kernel_size : int, tuple of int or None, default=None
        Filter size: an int for signals or square image filters, or one entry per spatial
        dimension. ``None`` is 3 along each spatial dimension (``3x3`` on images, the classic
        small-CNN choice), or the whole dimension where it is shorter: ``(3, 1)`` on signals
        with channels, ``(L, 1, C)``, and one patch (a fully connected first layer) on
        signals of one or two features. The size of the convex program grows quickly with the
        filter length. Read more in the User Guide,
        :ref:`Choosing kernel_size <guide-kernel-size>`.

    stride : int or tuple of int, default=1
        Step between patches. Patch ``k`` of a signal ``x`` is
        ``x[k * stride : k * stride + kernel_size]`` (valid convolution, no padding), so that
        features past the last whole patch are in none (8x8 images, ``kernel_size=3``,
        ``stride=2``: the last row and column). A stride larger than ``kernel_size`` also
        skips the features between patches, with a UserWarning that counts them.

    input_shape : tuple of int or None, default=None
        Layout of each row of ``X``: ``None`` for a signal of length ``n_features``, ``(L,)``,
        ``(H, W)`` or ``(H, W, C)`` with channels last. Its product must be ``n_features``.
        Here and in ``kernel_size``, ``stride`` and ``pool_size``, a list or a 1-D integer
        array reads as the tuple of its entries. Images need it: with ``None``, 8x8 digits are
        signals of length 64, whose patches cut across rows. Signals with ``C`` channels are
        ``(L, 1, C)`` (``(L, C)`` is an ``L x C`` image, convolved in two dimensions).
        Flatten channels-first arrays after moving the channels last. Read more in the User
        Guide, :ref:`Parameters in detail: input_shape <guide-input-shape>`.

    architecture : {"two_layer", "circular", "three_layer"}, default="two_layer"
        The network, hence the convex regularizer (doc/formulations.md §7-§8).

        - ``"two_layer"``: one convolution layer, ReLU, pooling, output weights (§2, §5, §6).
        - ``"circular"``: ``n_layers - 1`` full-length circular convolutions of each row
          (``kernel_size`` and ``stride`` do not apply), one ReLU, output weights. The
          regularizer is an l1 norm of the filters' DFT, so optimal filters can leave
          frequencies unused (``filter_spectra_``): over every pattern they use few, over
          sampled patterns, which confine each filter to its pattern's cone, often most.
          Exact for ``n_layers=3``; for ``n_layers >= 4`` the program is only a relaxation
          (``is_exact_`` false): ``objective_``, a network's objective (polished by
          L-BFGS), is an upper bound on the deep network's optimum, and ``lower_bound_``,
          the relaxation's, a lower one with ``n_patterns="exact"``.
        - ``"three_layer"``: per-branch convolution filters of unit norm, global average
          pooling, a scalar layer ``w1`` with penalty ``||w1_j||_1^2``, a second ReLU, output
          weights (§8). Its program grows with ``2^n_samples`` second-layer patterns: for
          small data only (``n_patterns="exact"`` is refused with a ValueError beyond
          20,000 pattern pairs: from 15 samples on, if not sooner).

        Read more in the User Guide,
        :ref:`Parameters in detail: architecture <guide-architecture>`.

    n_layers : int or None, default=None
        Depth ``L >= 3`` of a circular CNN (``L - 1`` circular layers plus the output layer);
        ``None`` means 3. Only for ``architecture="circular"``. Very deep networks are refused
        (at most 499 layers, fewer on long rows), and certificates stop well before that.
        Read more in the User Guide, :ref:`Parameters in detail: n_layers <guide-n-layers>`.

    activation : {"relu", "linear"}, default="relu"
        ``"linear"`` drops the ReLU where that gives a cheap exact program (§9, §5.1). With
        ``architecture="two_layer"`` it supports two settings, and refuses the others:
        ``pooling="average"`` with ``pool_size=None`` and ``readout="sum"``, a group lasso
        (one neuron per output); and ``pooling="none"`` (every patch read out, whatever
        ``readout``; a ``pool_size`` is ignored with a warning), with weight decay on the
        per-patch output weights a nuclear-norm program (solved by Clarabel or SCS, not ECOS).
        With ``architecture="circular"`` the weighted spectral l1 is exact for every
        ``n_layers``. Read more in the User Guide,
        :ref:`Parameters in detail: architecture <guide-architecture>`.

    pooling : {"average", "max", "none"}, default="average"
        Pooling of the ReLU map before the output layer: ``"average"`` is the mean over each
        pool (over all patches by default: the paper's main result, doc/formulations.md §2),
        ``"max"`` its maximum (§6.1). ``"none"`` gives every patch its own output weight, a
        locally connected layer (§5.3); ``readout`` does not apply to it, and a ``pool_size``
        is ignored with a warning. Every combination is an exact convex program; see
        ``readout`` for the regularizer.

    pool_size : int, tuple of int or None, default=None
        Extent of each pool on the patch grid, in patches (one entry per spatial axis, or an
        int for all): pools do not overlap, and the last pool along an axis is smaller when the
        grid does not divide evenly. ``None`` pools the whole grid (global pooling), as does a
        size larger than the grid along every axis (along one axis: the whole axis). On 8x8
        images with 3x3 filters the grid is 6x6, and ``pool_size=3`` gives 2x2 regions; at
        ``stride=2`` it is 3x3, and ``pool_size=2`` does (``geometry_.grid_shape`` after a fit).

    readout : {"sum", "dense"}, default="sum"
        How the pooled values reach the output. ``"sum"``: the pooled values are summed and
        each neuron has one output weight, with weight decay ``beta/2 * (||u_j||^2 + w_j^2)``.
        ``"dense"``: every pool (region) has its own output weight, as in a small CNN whose
        pooled map feeds a fully connected layer, with the penalty
        ``beta/2 * (||u_j||^2 + ||w_j||_1^2)``: a squared l1 norm, not weight decay, which is
        what makes the convex program exact. On images ``pool_size=<half the grid>,
        readout="dense"`` is the more accurate choice, at several times the fit time.
        ``pooling="none"`` always reads out densely. Read more in the User Guide,
        :ref:`Parameters in detail: readout <guide-readout>`.

    n_patterns : int or "exact", default=64
        An int is the number of random Gaussian filters whose activation patterns define the
        convex program; duplicates are dropped (``n_patterns_``). The fit is the global
        optimum over networks whose neurons use these patterns. More patterns usually give a
        lower objective and always a larger, slower program; 16 to 256 are typical.
        ``"exact"`` enumerates every pattern, which makes the fit the global optimum of the
        non-convex problem itself; it is refused with a ValueError where Cover's bound on
        their number exceeds 100,000: use it for small filters (``patch_size`` up to 3 or 4)
        and few samples. Linear CNNs (``activation="linear"``) have no patterns: another
        value warns that it is ignored. Read more in the User Guide,
        :ref:`Choosing n_patterns <guide-n-patterns>`.

    patterns : {"sampled", "generated"}, default="sampled"
        How the program's patterns are chosen. ``"sampled"`` solves the program over the
        ``n_patterns`` sampled patterns. ``"generated"`` starts from the same patterns (so its
        objective is never higher), adds those of a short gradient run and of data patches,
        then, by column generation, those of filters that violate the dual constraint of the
        non-convex problem (at most ``n_patterns`` more). ``dual_check_`` is the final check;
        a ConvergenceWarning says when it failed (raise ``n_patterns``); where every pattern
        can be enumerated the check is exact and ``is_certified_`` says the fit is the global
        optimum. Two-layer ReLU CNNs with ``readout="sum"`` and ``pooling="average"`` or
        ``"max"`` only. Use it when the objective matters more than the time: it costs many
        times a sampled fit. Read more in the User Guide,
        :ref:`Parameters in detail: patterns <guide-patterns>`.

    prune : bool, default=True
        Whether to prune the solution to a minimal network (doc/formulations.md §2.4): at most
        ``n_samples + 1`` neurons *per output*, at the same objective (checked with real ReLUs;
        the unpruned network is kept if pruning would cost more than ``1e-7`` relative).
        Interior-point solvers otherwise return many more neurons than needed. Solver residue
        is dropped either way. Only two-layer ReLU CNNs are pruned: elsewhere ``prune=False``
        is ignored with a warning. Read more in the User Guide,
        :ref:`Parameters in detail: prune <guide-prune>`.

    solver : {"auto", "native", "clarabel", "ecos", "scs"}, default="auto"
        Which solver solves the convex program:

        - ``"auto"``: ``"native"`` for two-layer ReLU CNNs and linear CNNs with average
          pooling, handing a solve that fails or stalls to CVXPY; for the others the first
          installed of Clarabel, ECOS and SCS through CVXPY, each failure handing over to the
          next, and a circular or three-layer program to the native solver where CVXPY fails
          or its point is not certified (each hand-over a ``verbose`` line; Clarabel and ECOS
          solve those to ``min(tol, 1e-9)``). The right choice unless you are comparing
          solvers.
        - ``"native"``: the package's working-set solver, certified to ``tol``; tens to
          hundreds of times faster than CVXPY on two-layer programs, slower on circular and
          often on three-layer ones. Not for linear CNNs without pooling.
        - ``"clarabel"``, ``"ecos"``, ``"scs"``: the whole program handed to a conic solver
          through CVXPY, certified to about ``1e-7`` to ``1e-4``: the reference the native
          solver is tested against, and the solvers of linear CNNs without pooling.

        Read more in the User Guide, :ref:`Choosing solver <guide-solver>`.

    fit_intercept : bool, default=True
        Whether to fit an unregularized output bias. With the squared loss the targets are
        then centred before the solve (the bias absorbs their mean), so an offset of ``y``
        costs the solvers no accuracy, short of one so large that the targets' spread is
        within 1,000 ulps of it, where float64 rounds the outputs (a UserWarning).

    max_iter : int, default=500
        Maximum number of solver iterations. Interior-point solvers need tens; SCS needs
        thousands; the native solver counts working-set iterations (a handful to a few dozen).
        CVXPY's three-layer cutting planes give each round's solve ``max_iter`` and stop
        after the first round it cuts short. With ``solver="auto"`` it bounds each solver
        that a program goes to (a circular or three-layer program whose conic solve stops at
        ``max_iter`` short of ``1e-9``, tighter than ``tol``, goes on to the native solver).
        Where a solve stops short, the fit raises one
        ``ConvergenceWarning`` that names every output (class) whose program did not
        converge, with its duality gap.

    tol : float, default=1e-7
        Relative duality-gap (and feasibility) tolerance of the solver, below 1. The native
        solver stops once its certified duality gap is at most ``tol * objective_``; CVXPY's
        solvers certify less tightly (``duality_gap_`` says how far). At ``tol`` near 1 the
        constant model already qualifies. Read more in the User Guide,
        :ref:`Parameters in detail: tol <guide-tol>`.

    warm_start : bool, default=False
        Whether to start the next ``fit`` from this fit's solution: its patterns are kept and,
        with the native solver, its neurons form the first working set, so refitting with
        another ``beta`` takes fewer iterations. The result is the optimum over the kept
        patterns. Applies where only ``beta``, ``loss``, ``fit_intercept``, ``tol``,
        ``max_iter``, ``solver``, ``prune``, ``verbose`` or ``n_jobs`` changed (with the same
        patch geometry and number of outputs, and, with ``readout="dense"``,
        ``pooling="none"`` or ``architecture="three_layer"``, the same ``X``), with
        ``patterns="sampled"`` and an int ``n_patterns``; otherwise the fit starts cold.
        :class:`~sklearn.model_selection.GridSearchCV` clones the estimator, so it always
        starts cold; for a path of ``beta`` values see :func:`convex_cnn_path` (two-layer ReLU
        CNNs; for the other networks, lower ``beta`` with ``set_params`` between warm fits).
        Read more in the User Guide, :ref:`Parameters in detail: warm_start
        <guide-warm-start>`.

    n_jobs : int, default=None
        Number of processes solving the outputs' programs (one per class in one-vs-rest, one
        per target column) at the same time. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` means all processors. Every process
        that solves uses one BLAS thread. The network does not depend on ``n_jobs``. With
        ``patterns="generated"`` the outputs are solved one after another. Read more in the
        User Guide, :ref:`Parallel fits and clusters <guide-parallel>`.

    random_state : int, RandomState instance or None, default=None
        Seeds every random choice of a fit: the random filters that sample the activation
        patterns, the searches of ``patterns="generated"`` and the sampled second-layer
        patterns of three-layer CNNs. Pass an int for reproducible fits (on another CPU,
        rounding can still change which of several optimal networks is returned). Read more
        in the User Guide, :ref:`Parameters in detail: random_state <guide-random-state>`.

    verbose : int, default=0
        ``0`` is silent. ``1`` prints the fit's progress: the program's size, the native
        solver's iterations (objective, certified gap, working set), one line per solved
        output and a last line with the fit's neurons, objective, certified gap and time;
        with several outputs each output's lines start with it (``[output 3]``; for a
        classifier ``[output 3 (class cat)]``).
        :meth:`certify` prints what it checks. ``2`` also prints each output's BLAS threads
        and the CVXPY solvers' logs. Read more in the User Guide,
        :ref:`Parameters in detail: verbose <guide-verbose>`."""

_ATTRIBUTES = """\
    filters_ : ndarray of shape (n_neurons, patch_size)
        First-layer filters ``u_j`` of the recovered network, each flattened like a patch,
        that is ``(*kernel_size, n_channels)`` in row-major order.

    output_weights_ : ndarray of shape (n_neurons, n_outputs) or (n_neurons, Q, n_outputs)
        Output weights ``w_j``; every neuron serves exactly one output. For
        ``architecture="three_layer"`` the shape is ``(n_branches, n_outputs)``: one weight per
        branch, after its second ReLU (``branches_`` maps filters to branches). With
        ``readout="dense"`` or ``pooling="none"``, ``output_weights_[j, l, o]`` weighs region
        ``l`` of ``Q`` (pools in row-major order over the patch grid; patches for
        ``"none"``), and with ReLUs every neuron reads out exactly one region (a linear CNN
        without pooling, ``activation="linear"``, reads out every patch).

    intercept_ : ndarray of shape (n_outputs,)
        Output bias (zeros when ``fit_intercept=False``).

    network_ : Network
        The recovered non-convex network, with real ReLUs; :meth:`regularized_objective`
        evaluates its training objective on ``X, y``. A ``TwoLayerCNN``; ``RegionalCNN`` for
        ``readout="dense"`` or ``pooling="none"``; ``CircularCNN``, ``ThreeLayerCNN`` and
        ``LinearCNN`` for the other architectures and ``activation="linear"``. Its arrays are
        read-only views of the fitted attributes of the same names: assigning a new array to
        ``intercept_`` or ``output_weights_`` changes the predictions, not ``objective_`` or
        ``duality_gap_``. The attributes are read-only too, so ``intercept_ += 1`` raises
        NumPy's "output array is read-only": assign ``intercept_ = intercept_ + 1``. Read
        more in the User Guide, :ref:`Parameters in detail: network_ <guide-network>`.

    objective_ : float
        Optimal value of the convex program, summed over outputs. The recovered network attains
        it: see :meth:`regularized_objective`. Where the program is only a relaxation
        (``is_exact_`` false) or a solve did not converge (a ConvergenceWarning), it is the
        recovered network's objective (a relaxation's network polished by L-BFGS); so too
        for a three-layer CNN whose network misses the program's value by more than ``1e-6``
        of it (user guide, :ref:`Choosing solver <guide-solver>`).

    lower_bound_ : float
        Certified lower bound on the convex program's optimum: its value at the solution minus
        ``duality_gap_`` (a negative gap, rounding, counts as zero; ``-inf`` where a solve
        stopped short without a gap). It bounds the training objective of every network whose
        neurons use the program's patterns (of every network at all with
        ``n_patterns="exact"``); where the solves converged that optimum lies in
        ``[lower_bound_, objective_]``, except for a relaxation over sampled patterns, whose
        network, polished by L-BFGS, can leave them and cost less.

    is_exact_ : bool
        Whether the recovered network attains the convex program's value (a three-layer CNN's,
        to the accuracy of its solver's point: ``objective_``): false only for circular ReLU
        CNNs with ``n_layers >= 4`` (doc/formulations.md §7.3). It says nothing
        about the patterns: a fit over sampled ones is optimal among the networks whose
        neurons use them, which more patterns can beat (``n_patterns="exact"`` enumerates
        them all; :meth:`certify` tells the two apart, in its ``exact`` field).

    layer_filters_ : ndarray of shape (n_layers - 1, n_neurons, n_features)
        Circular CNNs only: ``layer_filters_[l, j]`` is neuron ``j``'s filter in circular layer
        ``l + 1``; ``filters_`` holds their circular convolutions ``q_j``.

    filter_spectra_ : ndarray of shape (n_neurons, n_features // 2 + 1)
        Circular CNNs only: ``|DFT(q_j)|`` at the real frequencies ``0 .. n_features // 2``;
        ``network_.frequencies_used()`` lists the frequencies each neuron uses. Frequencies of
        the row as the convolutions see it: for images (convolved as flattened rows) those of
        the flattened, channel-interleaved row, not two-dimensional ones.

    middle_weights_ : ndarray of shape (n_neurons,)
        Three-layer CNNs only: weight ``w1`` of each first-layer filter in its branch.

    branches_ : ndarray of int, shape (n_neurons,)
        Three-layer CNNs only: the branch (row of ``output_weights_``) of each filter.

    n_patterns_ : int
        Number of distinct activation patterns in the convex program (on the data that drew
        them: a warm start on other data keeps the previous fit's, of which some may share a
        pattern there); with
        ``patterns="generated"``, those of its last program (patterns unused by every output
        are dropped before each re-solve, so some may be unused at the end). For
        ``architecture="three_layer"``, those of the first ReLU layer: the program pairs each
        with every second-layer pattern (``verbose=1`` gives their number and the pairs').

    gates_ : ndarray of shape (patch_size, `n_patterns_`)
        One filter inside each pattern's cell; ``1[X_k g >= 0]`` recomputes the patterns.

    geometry_ : PatchGeometry
        The resolved input shape, kernel size and stride: fields ``spatial_shape``
        (``(L,)`` or ``(H, W)``), ``n_channels``, ``kernel_size`` and ``stride`` (tuples
        with one entry per spatial axis), and the property ``grid_shape``, the patch
        positions per axis.

    n_iter_ : int
        Largest number of solver iterations over the outputs (working-set iterations for the
        native solver); with ``patterns="generated"``, those of the last, warm-started solve.
        Where ``solver="auto"`` hands a program on (``max_iter`` bounds each solver), those
        of the last solver it went to: a native polish of a CVXPY point counts its own.

    duality_gap_ : float
        Certified duality gap of the returned point, summed over outputs: the program's value
        there minus a lower bound on the optimum from a feasible dual point (``objective_ -
        lower_bound_`` where a three-layer network misses that value). The native solver
        stops when it is at most ``tol * objective_`` (or what rounding lets it certify, where
        that is more). CVXPY's solvers certify circular, three-layer and linear CNNs from
        their own dual point, to about ``1e-7`` to ``1e-4`` of the objective, with a
        ConvergenceWarning above ``1e-3``. It certifies the program over the fitted patterns;
        :meth:`certify` checks every pattern. It can be slightly negative by rounding, and is
        ``nan`` where a solve stopped short without a gap. Read more in the User Guide,
        :ref:`Parameters in detail: duality_gap_ <guide-duality-gap>`.

    n_generated_ : int
        Patterns added to the sampled ones by ``patterns="generated"`` (gradient-run and data
        seeds, then the dual oracle's); 0 for ``"sampled"``.

    dual_check_ : float
        ``max_{||u|| <= 1} |v^T g(u)|`` at the end of ``patterns="generated"``, maximized over
        outputs; the fit is optimal over *all* patterns iff it is at most ``beta`` (the check
        passes up to ``1e-6`` of ``beta``, the solver's accuracy). Exact when the patterns
        could be enumerated, else the best the search found (a lower bound on the true
        maximum). ``nan`` for ``"sampled"``, which runs no check.

    is_certified_ : bool
        Whether the final check of ``patterns="generated"`` priced every pattern and passed,
        at the points of solves that converged: the network is then a global optimum of the
        non-convex training problem (to the solver's tolerance). Always ``False`` for
        ``patterns="sampled"``, which runs no check, even with ``n_patterns="exact"`` (whose
        fit is that global optimum): :meth:`certify` proves it for any fit.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names."""

_REFERENCES = """\
    References
    ----------
    T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN Architectures: Convex
    Optimization of Two- and Three-Layer Networks in Polynomial Time", ICLR 2021.
    https://arxiv.org/abs/2006.14798"""


class ConvexCNNRegressor(RegressorMixin, _BaseConvexCNN):
    __doc__ = f"""ReLU CNN regressor trained to global optimality by convex optimization.

    The network ``f(x) = sum_j w_j * mean_k((x_k . u_j)_+) + b`` is fitted by solving the
    equivalent convex program of Ergen & Pilanci (2021), a group lasso over activation patterns
    with cone constraints, and recovering the optimal weights from its solution. The optimum is
    over the activation patterns of ``n_patterns`` sampled filters: the global optimum once they
    include the optimum's, and outright with ``n_patterns="exact"`` (every pattern; small data
    and filters only). :meth:`certify` bounds every network's objective from below.

    Parameters
    ----------
    loss : {{"squared"}}, default="squared"
        ``0.5 * sum_i ||f(x_i) - y_i||^2``, summed over samples and outputs.

{_PARAMETERS}

    Attributes
    ----------
{_ATTRIBUTES}

    See Also
    --------
    ConvexCNNClassifier : The same network for classification.
    sklearn.neural_network.MLPRegressor : A fully connected network trained by gradient descent.

{_REFERENCES}

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_convexcnn import ConvexCNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 10))
    >>> y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    >>> reg = ConvexCNNRegressor(beta=0.1, kernel_size=3, random_state=0).fit(X, y)
    >>> bool(np.isclose(reg.regularized_objective(X, y), reg.objective_, rtol=1e-6))
    True
    """

    _parameter_constraints = {
        **_BaseConvexCNN._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }

    def _validate_params(self):
        # (scikit-learn's message names the allowed values only: a user who asked for the
        # logistic loss wants the classifier)
        loss = loss_named_by_scikit_learn(self.loss)
        if loss == "logistic":
            named = (
                "the logistic loss fits"
                if self.loss == "logistic"
                else "scikit-learn's name for the logistic loss, which fits"
            )
            _refuse_loss(self, f"{named} class labels, use ConvexCNNClassifier(loss='logistic')")
        if loss is not None and loss != self.loss:
            _refuse_loss(self, f"scikit-learn's name for the {loss} loss; pass loss={loss!r}")
        super()._validate_params()

    def _validated(self, X, y, *, reset):
        # object and string targets converted here: validate_data's own conversion raised
        # numpy's message, which names neither y nor the fix (a pandas Series of strings),
        # and a None among them became a NaN that its check missed (a crash in pruning)
        # (validate_data accepts it; a TypeError, as the classifier's and convex_cnn_path's)
        if sparse.issparse(y):
            raise TypeError(
                f"{type(self).__name__} takes dense targets, but y is a sparse "
                f"{type(y).__name__}; pass y.toarray()."
            )

        # (pandas' NA as a NaN that validate_data names: otherwise pd.NA in a column of
        # dtype object is called "not numbers", sent to the classifier)
        def refuse(values):
            index, value = first_not_a_number(values)
            at = f" at sample {index[0]}" if index else ""  # (none in a 0-d y)
            return ValueError(
                f"{type(self).__name__} needs numeric targets, but y holds values that are "
                f"not numbers (dtype {values.dtype}), such as {value!r}{at}; for class "
                "labels use ConvexCNNClassifier."
            )

        converted = numeric_targets(y, refuse)
        if converted is not y:  # (missing objects as NaN: named, with a fix for y as given)
            check_finite_targets(converted, given=y)
        return super()._validated(X, converted, reset=reset)

    def _encode_targets(self, y, reset=True):
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(len(y), -1)
        return Y, ({"_y_ndim": y.ndim} if reset else {})

    def predict(self, X):
        """Predict with the recovered network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The network's outputs, 1-D when ``y`` was 1-D in ``fit``.
        """
        f = self._decision(X)
        return f.ravel() if self._y_ndim == 1 else f

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class ConvexCNNClassifier(ClassifierMixin, _BaseConvexCNN):
    __doc__ = f"""ReLU CNN classifier trained to global optimality by convex optimization.

    Binary targets are encoded as ±1. With more classes the network has one output per class
    (one-vs-rest), and a neuron pays the l1 norm of its output weights across classes (see
    ``beta``): then a neuron serving one class costs what it costs in a binary problem, and the
    convex program splits into one program per class. See :class:`ConvexCNNRegressor` for the
    network and the program.

    Parameters
    ----------
    loss : {{"squared", "logistic"}}, default="squared"
        ``"squared"`` is ``0.5 * sum (f - y)^2`` on ±1 targets: a second-order cone program,
        the fastest and most robust to solve through CVXPY. ``"logistic"`` is
        ``sum log(1 + exp(-y f))`` and enables :meth:`predict_proba`, which scikit-learn's
        probability scorers (``scoring="neg_log_loss"``, ``"roc_auc_ovr"``,
        ``"neg_brier_score"``), ``cross_val_predict(method="predict_proba")`` and soft voting
        need: with ``"squared"``, a search with such a scorer scores NaN, and one with several
        scorers, or ``cross_validate`` with several, raises an AttributeError if any of them
        is such a scorer. Through CVXPY the logistic loss needs exponential cones and is
        slower and less reliable; the native solver (``"auto"`` for two-layer ReLU CNNs)
        certifies both losses to ``tol``. Read more in the User Guide,
        :ref:`Parameters in detail: loss <guide-loss>`.

{_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

{_ATTRIBUTES}

    See Also
    --------
    ConvexCNNRegressor : The same network for regression.
    sklearn.neural_network.MLPClassifier : A fully connected network trained by gradient
        descent.

{_REFERENCES}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_convexcnn import ConvexCNNClassifier
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> clf = ConvexCNNClassifier(beta=0.1, input_shape=(8, 8), stride=2, n_patterns=16,
    ...                           random_state=0)
    >>> clf.fit(X[:100] / 16, y[:100]).score(X[100:200] / 16, y[100:200]) > 0.9
    True
    """

    _parameter_constraints = {
        **_BaseConvexCNN._parameter_constraints,
        "loss": [StrOptions({"squared", "logistic"})],
    }

    def _validate_params(self):
        loss = loss_named_by_scikit_learn(self.loss)
        if loss is not None and loss != self.loss:
            _refuse_loss(self, f"scikit-learn's name for the {loss} loss; pass loss={loss!r}")
        super()._validate_params()

    def _validated(self, X, y, *, reset):
        # missing labels before validate_data, whose check of object arrays says "Input
        # contains NaN", without naming y, and misses None: that one would be called a label
        # that does not sort with strings, and a type of its own
        try:
            missing = np.flatnonzero(missing_entries(np.asarray(y))) if y is not None else []
        except ValueError:  # (ragged: left to validate_data)
            missing = []
        shape = target_shape(y)
        # (scikit-learn's "y should be a 1d array" names no way to fit such targets; a row
        # vector, shape (1, n), is a transposed y rather than labels of one sample: left to it)
        if shape is not None and len(shape) == 2 and shape[1] > 1 and shape[0] != 1:
            name = type(self).__name__
            # (MultiOutputClassifier passes a sparse y's columns on sparse, which fit refuses)
            dense = " on y.toarray()" if sparse.issparse(y) else ""
            raise ValueError(
                f"{name} takes one class label per sample, y of shape (n_samples,), but y has "
                f"shape {shape}. For several labels per sample "
                "(multilabel or multioutput targets), fit one classifier per column: "
                f"sklearn.multioutput.MultiOutputClassifier({name}(...)){dense}."
            )
        if len(missing):
            shown = ", ".join(map(str, missing[:5]))
            if len(missing) > 5:
                shown += f" and {len(missing) - 5} more"
            raise ValueError(
                f"{type(self).__name__} needs a class label for every sample, but y has none "
                f"(None, NaN, pandas' NA or NaT) for {len(missing)} sample(s): {shown}. Drop those "
                "samples, or, where a missing label is a class of its own, give it a name "
                "(e.g. y.fillna('missing') on a pandas Series)."
            )
        return super()._validated(X, y, reset=reset)

    def _encode_targets(self, y, reset=True):
        classes = self._classes_of(y) if reset else self._check_fitted_labels(y)
        columns = classes[1:] if len(classes) == 2 else classes
        # (40,000 sample ids passed as labels ask for 11.9 GiB of targets here, to be
        # solved as 40,000 programs)
        check_memory(
            9 * len(columns) * np.size(y),  # (the comparison's booleans, then the floats)
            f"The one-vs-rest targets of {np.size(y)} samples and {len(columns)} classes",
            f"{type(self).__name__} solves a program per class: pass class labels in y "
            "(for numeric targets use ConvexCNNRegressor), or merge rare classes.",
        )
        Y = np.where(np.asarray(y).reshape(-1, 1) == columns, 1.0, -1.0)
        return Y, ({"classes_": classes} if reset else {})

    def _classes_of(self, y):
        """The sorted classes of ``y`` at ``fit``, refusing labels that scikit-learn's
        classifiers and metrics would misread."""
        # numbers held as objects (a pandas column of dtype object): scikit-learn's
        # type_of_target calls them "unknown", and so would its metrics, after the fit
        if fix := _numeric_dtype_of(y):
            raise ValueError(
                "Unknown label type: unknown. y holds numbers as Python objects "
                "(dtype=object, as in a pandas column of dtype object), which scikit-"
                f"learn's classifiers and metrics refuse; pass y.astype({fix})."
            )
        # labels that do not sort together: numpy's "'<' not supported", or scikit-learn's
        # "Unknown label type: unknown ... continuous values" (an int among str)
        mixed = _mixed_label_types(y)
        if not mixed:
            try:
                check_classification_targets(y)
                classes = np.unique(y)
            except TypeError as exc:
                if not _is_unsortable(exc):  # (scikit-learn's own, on bytes, names the fix)
                    raise
                mixed = sorted({type(label).__name__ for label in np.ravel(y)})
        if mixed:
            raise ValueError(
                f"{type(self).__name__} needs class labels that sort together, but y "
                f"mixes labels of types {', '.join(mixed)}. Pass labels of one type (e.g. "
                "all strings: y.astype(str))."
            )
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, but the "
                f"data contains only one class: {classes[0]}. Pass samples of every class."
            )
        return classes

    def _check_fitted_labels(self, y):
        """``classes_``, where ``y`` holds no label that ``fit`` did not see."""
        # (by membership: labels that do not sort against classes_, None among str,
        # made np.setdiff1d raise "'<' not supported")
        fitted = set(self.classes_.tolist())
        unseen = [label for label in dict.fromkeys(np.ravel(y).tolist()) if label not in fitted]
        if unseen:
            raise ValueError(
                f"y contains labels that fit did not see: {unseen[:5]}; the "
                f"classes are {self.classes_.tolist()}. Pass labels of the fitted classes."
            )
        return self.classes_

    def decision_function(self, X):
        """Output of the recovered network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, positive scores favour ``classes_[1]``.
        """
        f = self._decision(X)
        return f.ravel() if f.shape[1] == 1 else f

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class with the largest output (the sign of the output for two classes).
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def _has_logistic_loss(self):
        # the loss of the fitted network, once there is one: set_params(loss=...) after fit
        # does not change what its outputs mean
        fitted = getattr(self, "_fitted_program", None)
        loss = self.loss if fitted is None else fitted.loss
        if loss != "logistic":
            # (hasattr is False; a call's traceback shows this as the cause of scikit-learn's
            # "has no attribute", which names no reason)
            raise AttributeError(
                f"Probabilities need loss='logistic', but this {type(self).__name__} "
                f"{'was fitted with' if fitted is not None else 'has'} loss={loss!r}, whose "
                "scores are not probabilities. Fit with loss='logistic', or use "
                "decision_function."
            )
        return True

    @available_if(_has_logistic_loss)
    def predict_proba(self, X):
        """Class probabilities under the logistic loss (one-vs-rest, normalized).

        Available where the fitted network's loss is logistic (before a fit, where
        ``loss="logistic"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; each row sums to 1. Classes whose
            scores all exceed about 37 (far from the training data) share their probability
            equally, as their one-vs-rest probabilities round to 1: :meth:`predict` compares
            the scores themselves, so that there the most probable class can differ from the
            predicted one.
        """
        return logistic_proba(self.decision_function(X))

    @available_if(_has_logistic_loss)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One flattened signal or image per row, laid out as ``input_shape`` says.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        return logistic_log_proba(self.decision_function(X))


def _refuse_loss(estimator, hint):
    """Raise scikit-learn's error for an invalid ``loss`` of ``estimator``, with ``hint``."""
    options = estimator._parameter_constraints["loss"][0].options
    raise InvalidParameterError(
        f"The 'loss' parameter of {type(estimator).__name__} must be a str among "
        f"{{{', '.join(map(repr, sorted(options)))}}}. Got {estimator.loss!r} instead: {hint}."
    )


def _is_unsortable(exc):
    """Whether a TypeError is Python's on comparing labels of types that do not sort."""
    return "not supported between instances of" in str(exc)


def _numeric_dtype_of(y):
    """The dtype, ``"bool"``, ``"int"`` or ``"float"``, that holds ``y``'s labels where they are
    numbers held as objects, and whole (integers within int64), else ``None``."""
    if getattr(getattr(y, "dtype", None), "kind", None) != "O" or np.size(y) == 0:
        return None
    kinds = {_number_kind(label) for label in np.ravel(y)}
    if kinds == {"bool"}:
        return "bool"
    if not kinds <= {"int", "float"}:
        return None
    try:
        values = np.asarray(y, dtype=float if "float" in kinds else np.int64)
    except OverflowError:
        return None
    if not np.all(values == np.round(values)):  # (continuous targets, as scikit-learn says)
        return None
    return "float" if "float" in kinds else "int"


def _number_kind(label):
    if isinstance(label, bool | np.bool_):
        return "bool"
    if isinstance(label, Integral):
        return "int"
    return "float" if isinstance(label, Real) else None


def _mixed_label_types(y):
    """The types of ``y``'s labels, sorted, where it holds strings and other labels together
    (numbers), else an empty list. Subclasses of ``str`` count as ``str``: ``numpy.str_``
    sorts with it (pandas 3 keeps the ``numpy.str_`` labels put in a column of strings,
    which would otherwise be refused as another type)."""
    if getattr(getattr(y, "dtype", None), "kind", None) != "O":
        return []
    types = {str if isinstance(label, str) else type(label) for label in np.ravel(y)}
    if len(types) > 1 and str in types:
        return sorted(kind.__name__ for kind in types)
    return []
