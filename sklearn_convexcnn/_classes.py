"""The public estimators: thin wrappers that encode targets and read out predictions."""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ._base import _BaseConvexCNN, target_shape
from ._compat import InvalidParameterError, StrOptions
from ._losses import logistic_log_proba, logistic_proba
from ._patches import (
    check_finite_targets,
    first_not_a_number,
    missing_entries,
    numeric_targets,
)
from ._resources import check_memory

_PARAMETERS = """\
    beta : float, default=1.0
        Weight-decay strength: the network minimizes
        ``loss + beta/2 * sum_j (||u_j||^2 + ||w_j||^2)`` (the penalties of the other
        read-outs and architectures: :meth:`regularized_objective`). The loss is *summed*
        over samples (the paper's scaling), so a fixed ``beta`` regularizes less as the data
        grows. With several outputs (more than two classes, or target columns) ``||w_j||`` is
        the l1 norm of neuron ``j``'s output weights across outputs: the penalty under which
        one convex program per output is exact (under plain weight decay a ReLU neuron shared
        by outputs would cost less, and no exact program is known). Every recovered neuron
        serves one output, where the two agree. ``1.0`` keeps a few to a few dozen neurons on
        standardized data of a few hundred samples, often fewer than the best accuracy needs
        (on the full digits, pixels in [0, 1], 2x2 regions, squared loss: 0.982 test accuracy
        at ``beta=0.1`` against 0.960 at ``1.0``, doc/pooling_digits.rst); tune it with
        :class:`~sklearn.model_selection.GridSearchCV`. From a data-dependent value on
        (``beta_max``; for two-layer ReLU CNNs the first ``beta`` of :func:`convex_cnn_path`'s
        default path) the optimum
        has no neurons: ``filters_`` is empty and the model predicts a constant (with
        ``fit_intercept=True`` the mean target, or the majority class; without, 0, or
        ``classes_[0]``), as Lasso does above its largest useful ``alpha``;
        ``verbose=1`` says so. At the other extreme (on small random problems, ``beta``
        below about ``1e-6 ||X|| ||y|| / sqrt(n_samples)``) the fit nears interpolation and
        its duality gap often cannot be certified to ``tol`` in floating point: a
        ConvergenceWarning, with the near-interpolating network (on the regressor example's
        40 samples, whose constant model has an objective of 44: about 8e-8 at
        ``beta=1e-10`` and 2e-9 at ``1e-12``, stalled points that depend on rounding, after
        40-90 s, as ``solver="auto"`` hands the stalled native solve to CVXPY).

    kernel_size : int, tuple of int or None, default=None
        Filter size: an int for signals or square image filters, or one entry per spatial
        dimension. ``None`` is 3 along each spatial dimension (``3x3`` on images, the classic
        small-CNN choice), or the whole dimension where it is shorter: ``(3, 1)`` on signals
        with channels, ``(L, 1, C)``, and one patch (a fully connected first layer) on
        signals of one or two features. The size of the convex program grows quickly with the
        filter length.

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
        array (``np.array(images.shape[1:])``) reads as the tuple of its entries.
        Images need it: with ``None``, 8x8 digits are read as signals of length 64, whose
        patches cut across rows (0.68 test accuracy against 0.86 with ``(8, 8)``). Signals
        with ``C`` channels are ``(L, 1, C)`` images, whose filters are ``(k, 1)`` (the
        default's ``(3, 1)``): ``(L, C)`` is always an ``L x C`` image, which the default
        filters (3 along each axis, the whole axis where it is shorter) convolve in two
        dimensions. Arrays with the channels first (``(N, C, H, W)``,
        PyTorch's layout) are flattened after moving them last:
        ``np.moveaxis(X, 1, -1).reshape(len(X), -1)``.

    architecture : {"two_layer", "circular", "three_layer"}, default="two_layer"
        The network, hence the convex regularizer (doc/formulations.md §7-§8).

        - ``"two_layer"``: one convolution layer, ReLU, pooling, output weights (§2, §5, §6).
        - ``"circular"``: ``n_layers - 1`` full-length circular convolutions of each row
          (``kernel_size`` and ``stride`` do not apply, and warn when set; images are
          convolved as flattened rows), one ReLU, output weights: ``f = sum_j w_j (x . q_j)_+`` with
          ``q_j = u_1j * ... * u_(L-1)j``. Inner filters have norm at most 1, and weight decay
          acts on the last filter and ``w`` (§7.1). The regularizer is an l1 norm of the
          filters' DFT, so the filters use few frequencies (``filter_spectra_``). Exact for
          ``n_layers=3``; for ``n_layers >= 4`` the weighted spectral l1 program is only a
          relaxation, see ``lower_bound_``: its solution is realized as a network whose
          output weights are then refit (a lasso over its neurons), and the fit keeps that
          network or the exact 3-layer fit padded with identity filters (the same function
          and penalty, ``n_layers`` deep; its programs solved as the fit's own, up to about
          twice the fit's time), whichever costs less; ``objective_`` is the kept
          network's, an upper bound on the optimum, never above the 3-layer fit's (to the
          solvers' tolerance), which depends on the solver's point (``2e-3`` of it between
          solvers on doc/formulations.md §7.3's example, 4.8 % on a 4-layer logistic fit of
          20 signals: the user guide).
        - ``"three_layer"``: per-branch convolution filters of unit norm, global average
          pooling, a scalar layer ``w1`` with penalty ``||w1_j||_1^2``, a second ReLU, output
          weights (§8). Second-layer patterns are the sign patterns of ``n_patterns`` random
          branches, or all ``2^n_samples`` of them with ``n_patterns="exact"`` or when
          ``2^n_samples <= n_patterns``; global pooling here is the mean over patches. The
          program has
          ``4 * P1 * P2 * patch_size`` variables, so keep it to small data:
          ``n_patterns="exact"`` is refused with a ValueError where ``2^n_samples`` times
          the first-layer patterns exceeds 20,000 pattern pairs (80,000 groups; from 15
          samples on, whatever the first layer).

    n_layers : int, default=None
        Depth ``L >= 3`` of a circular CNN (``L - 1`` circular layers plus the output layer);
        ``None`` means 3. Only for ``architecture="circular"``. The program's norm is scaled
        by ``d^(-(L-1)/2)`` for rows of ``d`` features, and depths that take it below
        ``1e-75`` are refused (at most 158 layers for ``d = 9``, 52 for ``d = 784``; 499
        for any ``d``). Certificates stop well before that, by the data: on 10 Gaussian
        signals of 9 features (``beta=0.1``, five draws), fits of 16 to 20 layers were
        certified to between ``1e-8`` and ``3e-2`` (some with a ConvergenceWarning), and from
        24 or 28 layers on the solvers stopped at a lower bound near zero (a
        ConvergenceWarning each; the padded 3-layer network is kept where it costs less).

    activation : {"relu", "linear"}, default="relu"
        ``"linear"`` drops the ReLU where that gives a cheap exact program (§9, §5.1). With
        ``architecture="two_layer"`` it supports two settings, and refuses the others:
        ``pooling="average"`` with ``pool_size=None`` and ``readout="sum"``, a group lasso
        (one neuron per output); and ``pooling="none"`` (every patch read out, whatever
        ``readout``; a ``pool_size`` is ignored with a warning, as with ReLUs), with weight decay
        on the per-patch output weights a nuclear-norm program (solved by Clarabel or SCS, not
        ECOS).
        With ``architecture="circular"`` the weighted spectral l1 is exact for every
        ``n_layers`` (one neuron per frequency for ``n_layers >= 4``; with 3 layers one neuron
        per output).

    pooling : {"average", "max", "none"}, default="average"
        Pooling of the ReLU map before the output layer: ``"average"`` is the mean over each
        pool (over all patches by default: the paper's main result, doc/formulations.md §2),
        ``"max"`` its maximum (§6.1). ``"none"`` gives every patch its own output weight, a
        locally connected layer (§5.3); ``readout`` does not apply to it, and a ``pool_size``
        is ignored with a warning. Every combination is an exact convex program; see
        ``readout`` for the regularizer.

    pool_size : int or tuple of int, default=None
        Extent of each pool on the patch grid, in patches (one entry per spatial axis, or an
        int for all): pools do not overlap, and the last pool along an axis is smaller when the
        grid does not divide evenly. ``None`` pools the whole grid (global pooling), as does a
        size larger than the grid along every axis (along one axis: the whole axis). On 8x8
        images with 3x3 filters the grid is 6x6, and ``pool_size=3`` gives 2x2 regions; at
        ``stride=2`` it is 3x3, and ``pool_size=2`` does (``geometry_.grid_shape`` after a fit).

    readout : {"sum", "dense"}, default="sum"
        How the pooled values reach the output. On images, ``pool_size=<half the grid>,
        readout="dense"`` (2x2 regions, each with its own output weight) is the more accurate
        choice: on the full digits data 0.982 test accuracy against 0.924 for global pooling,
        both at ``beta=0.1`` (:doc:`/pooling_digits`). It is not the default because of its
        fit time: 2.3x global pooling's at ``beta=0.1`` and 3.9x at ``beta=0.01`` on 150
        digits, as more neurons become active (a grid search over ``beta``
        pays the slowest).

        ``"sum"``: the pooled values are summed and each neuron has one output weight, with
        weight decay ``beta/2 * (||u_j||^2 + w_j^2)`` (§6.1, §6.2).
        ``"dense"``: every pool (region) has its own output weight, as in a small CNN whose
        pooled map feeds a fully connected layer, with the penalty
        ``beta/2 * (||u_j||^2 + ||w_j||_1^2)`` over the neuron's weights ``w_j`` (§6.3). This
        squared l1 norm is *not* weight decay on the output layer: it is the penalty whose
        convex counterpart is exact, because it makes a neuron cost as much as one neuron per
        region, so the program is one group lasso whose groups each read out one region,
        with that region's own patterns. Weight decay
        ``||w_j||_2^2`` couples the regions and has no known exact program of polynomial size
        (§5.2). ``pooling="none"`` always reads out densely (one region per patch).

    n_patterns : int or "exact", default=64
        An int is the number of random Gaussian filters whose activation patterns define the
        convex program; duplicates are dropped (``n_patterns_`` tells how many remain). The fit
        is the global optimum over networks whose neurons use these patterns, so it is the
        global optimum of the non-convex problem once they include the optimum's patterns. More
        patterns usually give a lower objective and always a larger program; not always a
        lower one, as the patterns drawn for different ``n_patterns`` are not nested (the
        objective can rise from 8 to 16 patterns). ``"exact"`` enumerates every joint
        pattern of a filter, the cells of the arrangement of the ``n * K`` patch hyperplanes in
        ``R^patch_size`` (doc/formulations.md §3), which makes the fit the global optimum of the
        non-convex problem itself (patches below ``1e-12`` of the largest in norm count as zero:
        the patterns they alone tell apart differ by at most that much in a neuron's
        output). Their number grows like ``(n * K) ** patch_size``: exact
        enumeration is refused with a ValueError when Cover's bound
        ``2 * sum_{l < r} C(N - 1, l)`` (``N`` distinct patch hyperplanes of rank ``r``)
        exceeds 100,000, where patches are nearly parallel without being parallel (an
        offset common to all entries of ``X``: standardize it; or by chance, among hundreds of
        patches of size 2), or nearly dependent without being dependent (a patch within
        ``1e-8`` of the span of others), whose patterns are too thin to enumerate in float64
        (the enumeration checks its count of the patterns); use it for
        small filters (``patch_size`` up to 3 or 4) and few samples. A circular CNN's patch is
        the whole row: up to ``2 ** n_samples`` patterns where ``n_features >= n_samples``
        (32,768 for 15 samples of 20 features: unfinished after two minutes). With a
        read-out per region (``readout="dense"``, ``pooling="none"``) each region is
        enumerated over its own ``n * K_l`` patch rows and the limit applies to the regions'
        bounds summed: 8 images of 4x4 with 2x2 filters and no pooling have bounds summing
        to 1,152, where all 72 patch rows together would have 119,424 (those are
        enumerated instead where theirs is the smaller bound: binary images, whose regions
        share their few distinct patches).
        Sampled, 16 to 256 patterns are typical: the fit's time grows with the distinct
        patterns (200 digit images, four classes: 0.3 s at 16, 18 s at 5,000, 3.5 minutes a
        class at 100,000, at commit fa1b6d3 on 2 cores; ``verbose=1`` prints their number
        before the solves). Linear CNNs (``activation="linear"``) have no patterns: another
        value warns that it is ignored.

    patterns : {"sampled", "generated"}, default="sampled"
        How the program's patterns are chosen (names describe the patterns, as ``n_patterns``
        counts them). ``"sampled"`` solves the program over the ``n_patterns`` patterns as
        given. ``"generated"`` starts from the same patterns (so its objective is never higher),
        adds those of a short numpy gradient run of the same network and of 16 data patches,
        then repeats: from the dual vector ``v`` of the current optimum, search the filter ``u``
        maximizing ``|v^T g(u)|`` (the dual constraint of the non-convex problem,
        doc/formulations.md §2.3) by multi-start ascent, and add its pattern while the maximum
        exceeds ``beta``, at most ``n_patterns`` oracle patterns. ``dual_check_`` is the final
        maximum; a ConvergenceWarning says when the search stopped with it above ``beta`` (a
        better pattern exists: raise ``n_patterns``; on 60 Gaussian signals of length 10 with
        Gaussian targets, ``kernel_size=3``, ``beta=0.1`` and seeds 0-2 for the data and
        ``random_state``, the default 64 stopped at 1.07-1.43 ``beta`` and 256 passed). When every
        pattern can be enumerated (``n_patterns="exact"``, where generation runs over the
        enumeration with small programs; with an int, filters small enough for a Cover bound of
        at most 20,000 patterns, where ``n_patterns="exact"`` and :meth:`certify` take up to
        100,000) the check is exact and ``is_certified_`` says the fit is the global optimum
        of the non-convex problem. Its programs are solved to a ``tol`` of at most ``1e-7`` (a
        larger ``tol`` is tightened to ``1e-7``): the check prices the program's own patterns
        as well, which a looser solve leaves above ``beta``; so do CVXPY's points (Clarabel's
        up to ``5e-4`` above it, their fits optimal by :meth:`certify`: the warning then says
        so).
        Two-layer ReLU CNNs with one output weight per neuron only: ``readout="sum"`` with
        ``pooling="average"`` or ``"max"`` (``pooling="none"`` is refused whatever
        ``readout``). The default is ``"sampled"`` because of cost
        (``benchmarks/bench_patterns.py``, ``n_patterns=128``): ``"generated"`` reached
        objectives 16-22 % lower than ``"sampled"`` and below the best of 10 Adam restarts of
        the same network on all three problems (by 0.02-0.40 %), in 0.07-0.18 times the
        restarts' wall time, but 17-34 times the time of ``"sampled"``; use it when the
        objective matters more than the time.

    prune : bool, default=True
        Whether to prune the solution to a minimal network (doc/formulations.md §2.4): group
        magnitudes are moved along null directions of the fit and the regularizer
        (Carathéodory) until at most ``n_samples + 1`` neurons remain *per output* (outputs,
        one per class in one-vs-rest, are separate programs). The objective does not change,
        and each output's result is checked with real ReLUs (its unpruned network is kept if
        pruning would cost more than ``1e-7`` relative). Interior-point solvers otherwise
        return many more neurons than needed. With or without pruning, solver residue
        (groups whose norm *and* fit are both below ``1e-6`` times the largest) is dropped
        and the other groups are put exactly in their cones; where dropping it would raise the
        objective by more than a certified gap's tolerance (fits that cancel on columns of
        very different scales), the residue is kept and put in its cones too, and ``verbose``
        says so. Only two-layer ReLU CNNs are
        pruned: elsewhere ``prune=False`` is ignored with a warning.

    solver : {"auto", "native", "clarabel", "ecos", "scs"}, default="auto"
        Which solver solves the convex program:

        - ``"auto"``: ``"native"`` for two-layer ReLU CNNs and linear CNNs with average
          pooling (handing a solve that stops short to CVXPY); for the others (circular,
          three-layer and linear CNNs without pooling) the first installed of Clarabel, ECOS
          and SCS through CVXPY, each failure handing over to the next, and a circular or
          three-layer program to the native solver where CVXPY fails on it or its point is not
          certified. The right choice unless you are comparing solvers.
        - ``"native"``: the package's working-set solver, certified to ``tol``; tens to
          hundreds of times faster than CVXPY on two-layer programs, with memory that grows
          like ``n * K * h``. It also solves circular and three-layer programs (not the
          nuclear-norm program of a linear CNN without pooling).
        - ``"clarabel"``, ``"ecos"``, ``"scs"``: the whole program handed to a conic solver
          through CVXPY, certified to about ``1e-7`` to ``1e-4``: the reference the native
          solver is tested against, and the solvers of linear CNNs without pooling.

        In more detail: the native solver keeps only the few groups and cone rows the optimum
        uses, solves that small program exactly (Newton's method over its faces, an interior
        point where they do not settle), prices every other pattern by its KKT test and stops
        when the certified duality gap is at most ``tol`` times the objective. It reaches the
        same optimum as Clarabel (``1e-6`` relative or better; Clarabel's own point is often
        ``1e-6`` to ``1e-5`` above it with the logistic loss, and with max pooling on images:
        ``7.6e-6`` seen; up to ``4e-4`` with Clarabel's ConvergenceWarning; ``duality_gap_``
        says how far). The CVXPY solvers are skipped where the network without neurons
        passes that KKT test (or, for circular and three-layer CNNs, a bound on it): it is
        then the certified optimum. ``"auto"`` runs the native solver matrix-free for average
        pooling and no pooling, from the dense program for max pooling. The native solver is
        3-11x slower than CVXPY on circular programs; on three-layer programs (by column
        generation with the second layer's multipliers) it takes 0.46-2.3x CVXPY's time with
        the squared loss and 1.1-8.3x with the logistic loss on 100-300 signals
        (``benchmarks/three_layer_rows.py``), and 2.8-11x on tiny programs of every pattern,
        where it prices hundreds of groups into its set (the user guide, ``solver``). The
        network of a CVXPY point of a three-layer program attains ``objective_`` only as
        accurately as the point satisfies the second ReLU layer's constraints (``1e-7`` to
        ``6e-7`` relative in our examples);
        the native solver's networks attain their objective (to about ``1e-9``).

        Hand-overs of ``"auto"``: where the native solver fails, or stalls with a gap above
        ``1e-5`` times the objective (what the conic solvers certify at best), it also solves
        the whole program through CVXPY and keeps the better of the two points (each in its
        cones; not with ``patterns="generated"``, whose programs change every round); where
        the native solver stops at ``max_iter``, ``"auto"`` returns its last point with a
        ConvergenceWarning, as ``"native"`` does. Where CVXPY fails on a circular or
        three-layer program, or returns a point its certificate rejects (Clarabel and ECOS
        fail on some logistic circular programs, and SCS stopped 10 % above the optimum),
        ``"auto"`` solves it with the native solver; not where CVXPY stopped at ``max_iter``.
        Each hand-over is a ``verbose`` line; it is no warning unless the point that
        ``"auto"`` ends at does not converge, whose ConvergenceWarning then lists them.

    fit_intercept : bool, default=True
        Whether to fit an unregularized output bias. With the squared loss the targets are
        then centred before the solve (the bias absorbs their mean), so an offset of ``y``
        costs the solvers no accuracy.

    max_iter : int, default=500
        Maximum number of solver iterations. Interior-point solvers need tens; SCS needs
        thousands; the native solver counts working-set iterations (a handful to a few dozen).
        CVXPY's three-layer cutting planes give each round's solve ``max_iter`` and stop
        after the first round it cuts short. Where a solve stops short, the fit raises one
        ``ConvergenceWarning`` that names every output (class) whose program did not
        converge, with its duality gap.

    tol : float, default=1e-7
        Feasibility and duality-gap tolerance of the solver. ``1e-7`` keeps the recovered
        network's objective equal to the convex optimum to well below ``1e-6`` relative with
        the native solver; CVXPY's interior-point solvers often stall just short of ``1e-8``
        on these programs, and some of their points (``solver`` above) are up to ``1e-5``
        above the optimum, within the warning's threshold (``duality_gap_`` says so). The
        native solver stops once its certified duality gap is at most ``tol * objective_``
        (or the rounding of its dual bound, where that is larger: ``duality_gap_``).
        A relative gap, so below 1: at ``tol`` near 1 the constant model already qualifies
        (``verbose`` says so when it is fitted).

    warm_start : bool, default=False
        Whether to start the next ``fit`` from this fit's solution (the convex program's, not
        arrays assigned since): its patterns (gates) are
        kept and, with the native solver, its neurons form the first working set, so refitting
        with another ``beta`` (or a few more samples) takes fewer iterations. The result is
        the optimum over the kept patterns, as a cold fit with those patterns would give
        (patterns that the earlier samples could not tell apart stay merged: a warm refit
        on 40 samples after 3 kept 26 of 32 patterns, 4 % above a cold fit's objective).
        Applies when the program keeps its shape and its patterns: the same patch geometry,
        number of outputs and parameters but ``beta``, ``loss``, ``fit_intercept``, ``tol``,
        ``max_iter``, ``solver``, ``prune``, ``verbose`` and ``n_jobs``, compared by value
        (with ``random_state=None`` a warm refit keeps the previous patterns rather than
        drawing new ones), and
        ``patterns="sampled"`` with an int ``n_patterns``; with ``readout="dense"``,
        ``pooling="none"`` or ``architecture="three_layer"``, whose groups are built from the
        samples, also the same ``X``. Otherwise the fit starts cold. For a whole path of
        ``beta`` values see :func:`convex_cnn_path`;
        :class:`~sklearn.model_selection.GridSearchCV` clones the estimator for every
        candidate, so it always starts cold.

    n_jobs : int, default=None
        Number of processes solving the outputs' programs (one per class in one-vs-rest, one per
        target column) at the same time. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` means all processors. With joblib's
        default backend these are the fitting process itself and ``n_jobs - 1`` worker
        processes (one worker fewer to start than joblib would), each taking the next output
        when free, those that the samples explain least linearly first (as a rule the longest
        solves, so that the processes end close together). With another backend, inside
        joblib's own workers, for programs solved by CVXPY or for calls that send more than
        8 MiB, joblib's workers solve them. Every process that solves uses one BLAS thread
        (NumPy's and SciPy's BLAS otherwise spin against each other; user guide, "Parallel
        fits and clusters"), and warnings raised in workers are issued again by ``fit``. The
        network does not depend on ``n_jobs``; with a CVXPY solver ``duality_gap_`` and
        ``lower_bound_`` may differ in their last digits (the certificate's rounding, where
        workers compute it). With ``patterns="generated"`` the outputs are solved
        one after another. The first parallel fit of a process starts the
        workers, which import NumPy and SciPy (about half a second on two cores, 771ebb7);
        later fits reuse them while they have been idle for less than 300 s (joblib's timeout).

    random_state : int, RandomState instance or None, default=None
        Seeds every random choice of a fit: the random filters that sample the activation
        patterns, the searches of ``patterns="generated"`` and the sampled second-layer
        patterns of three-layer CNNs. Pass an int for reproducible fits. On another CPU the
        BLAS kernels round otherwise, which can change the solver's path and, where the optimum
        is not unique, which optimal network it returns (the README demo's network agreed to
        3e-12 under two OpenBLAS kernels).

    verbose : int, default=0
        ``1`` prints the fit's progress: the program's size, the native solver's working-set
        iterations (objective, certified gap, groups and rows kept; a point that satisfies only
        the cone rows kept so far has no gap yet, "on the kept cone rows"), one line per
        solved output and a last line with the fit's neurons, objective, certified gap and
        time. Where there are several outputs, each output's lines start with it, as
        warnings name it: ``[output 3]``, or for a classifier ``[output 3 (class cat)]``
        (numbered from 0, as ``classes_`` is;
        with ``n_jobs``, the outputs' lines interleave, and a worker process prints to the
        standard output it was started with: in a Jupyter notebook, the terminal that runs
        the kernel, not the notebook). :meth:`certify` prints what it checks, each output's
        lower bound and the gap. ``2`` also
        prints each output's BLAS threads and the CVXPY solvers' logs (their "optimal value" is
        that of the program as solved, rescaled to unit size: not the ``objective_`` of the
        fit). The solvers' logs go to the standard output, prefixed as above; the lines of
        CVXPY's own ``logging`` ("(CVXPY) ...": the problem's size, compilation, timings) go
        to the standard error, unprefixed."""

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
        evaluates its training objective (with its own penalty) on ``X, y``. A ``TwoLayerCNN``;
        ``RegionalCNN`` for ``readout="dense"`` and ``pooling="none"``; ``CircularCNN``,
        ``ThreeLayerCNN`` and ``LinearCNN`` for the other architectures and
        ``activation="linear"``. Its arrays are the fitted attributes of the same names
        without the trailing underscore (``output_weights``, ``intercept``, ...), as
        read-only views: assigning ``intercept_`` (finite numbers of the same shape, e.g.
        ``est.intercept_ = est.intercept_ + 1``; an edit in place raises NumPy's "read-only"
        error) changes the predictions, though not ``objective_`` or ``duality_gap_``, which
        describe the fit. An assignment keeps the weights that the penalty assumes (a
        three-layer CNN's ``filters_`` of unit norm, a circular CNN's inner
        ``layer_filters_`` of norm at most 1); a circular CNN's ``filters_`` and
        ``filter_spectra_`` are computed from ``layer_filters_``, and read-only. Its
        ``forward(patches)`` and ``objective(patches, Y, beta, loss)`` take patches cut by
        ``geometry_``, not ``X``: use the estimator's methods on ``X``.

    objective_ : float
        Optimal value of the convex program, summed over outputs. The recovered network attains
        it: see :meth:`regularized_objective`. Where the program is only a relaxation
        (``is_exact_`` false), or a solve did not converge (a ConvergenceWarning; a CVXPY
        point may then lie outside the program's cones), it is the recovered network's
        objective; so too for a three-layer CNN whose network misses the program's value by
        more than ``1e-6`` of it (a CVXPY point that satisfies the second ReLU layer's
        constraints loosely, at a large ``tol``: a ConvergenceWarning where the network is
        then further than ``tol``, and ``1e-3``, of it from ``lower_bound_``).

    lower_bound_ : float
        Certified lower bound on the convex program's optimum: its value at the solution minus
        ``duality_gap_`` (a negative gap, rounding, counts as zero; ``-inf`` where a solve
        stopped short without a gap, outside its program's cones). It is a lower bound on the
        training objective of every network whose neurons use the program's patterns (of every
        network at all with ``n_patterns="exact"``), and where the solves converged that
        optimum lies in ``[lower_bound_, objective_]``; for an exact program the two then
        differ by the gap (at most ``tol * objective_`` for the native solver's points, or the
        rounding of the dual bound where that is larger: ``duality_gap_``).

    is_exact_ : bool
        Whether the recovered network attains the convex program's value: false only for
        circular ReLU CNNs with ``n_layers >= 4`` (doc/formulations.md §7.3). It says nothing
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
        are dropped before each re-solve, so some may be unused at the end).

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

    duality_gap_ : float
        Certified duality gap of the returned point, summed over outputs: the program's value
        there minus a lower bound on the optimum from a feasible dual point (the value is
        ``objective_`` unless ``is_exact_`` is false, the solve stopped short, or a three-layer
        network misses it by more than ``1e-6`` of it; ``objective_`` is then the network's,
        above it). The native solver stops when it is at most ``tol * objective_``, or at most
        what rounding lets it certify where that is more (``16 eps ||y||^2``, at most ``1e-5``
        of the objective, on near-interpolating fits at tiny ``beta``). For the CVXPY solvers
        it is computed after the solve; for circular, three-layer and linear CNNs from the solver's
        own dual point, to about ``1e-7`` to ``1e-4`` of the objective (up to ``7e-4`` seen with the
        logistic loss, on a three-layer classifier of 5 signals; a ConvergenceWarning above
        ``1e-3``, whether the solver called its point optimal or inaccurate, as Clarabel does on
        circular programs at the default ``tol``). With ``solver="auto"`` such a point of a
        circular or three-layer CNN certified worse than ``tol`` (at least ``1e-5``) is
        polished by the native solver, which certifies it to ``tol``. It certifies the convex
        program over the fitted patterns; :meth:`certify` checks every pattern. At the optimum
        it can be negative by rounding (about ``1e-16 * objective_``), and for three-layer CNNs
        by their points' feasibility tolerance: they satisfy the second ReLU layer's
        constraints to about ``1e-8``, and a gap of ``-1.8e-8 * objective_`` has been seen.
        ``nan`` where a solve stopped short without a gap (a CVXPY solve of a three-layer
        program at a small ``max_iter``, with a ConvergenceWarning; ``lower_bound_`` is then
        ``-inf``).

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
        if isinstance(self.loss, str) and self.loss == "logistic":
            raise InvalidParameterError(
                f"The 'loss' parameter of {type(self).__name__} must be a str among "
                "{'squared'}. Got 'logistic' instead: the logistic loss fits class labels, "
                "use ConvexCNNClassifier(loss='logistic')."
            )
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
        need. With the default ``"squared"``, a search with such a scorer scores NaN with a
        warning that says only that the estimator "has none of the following attributes:
        predict_proba"; the others raise an AttributeError whose chained message names
        ``loss="logistic"``. ``"roc_auc"`` uses :meth:`decision_function`. Through CVXPY it needs
        exponential cones and is slower and less reliable: on 300 small random programs
        (``benchmarks/cvxpy_logistic.py``) ECOS failed on 133; Clarabel failed on 5 and
        warned of an inaccurate point on 36, and a fifth of its other points lay 1e-6 to 1e-5
        above the optimum (it needs ``tol=1e-9`` for ``1e-6``). On images it
        fails more often: on 80 digits of 3 classes (``stride=2``, 8 patterns, six seeds,
        ``beta`` 0.1 and 1) 6 of 12 fits with ``solver="clarabel"`` raised. The native
        solver (``"auto"`` for two-layer ReLU CNNs) certifies both losses to ``tol``, and there
        the logistic programs can be the cheaper ones: on the full digits (2x2 regions,
        ``beta=0.1``) they keep 227 neurons against 873 and fit in a quarter to half the time
        (README.rst, doc/pooling_digits.rst), at 0.984 test accuracy against 0.982.

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
        if reset:
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
            try:
                if not mixed:
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
        else:
            classes = self.classes_
            # (by membership: labels that do not sort against classes_, None among str,
            # made np.setdiff1d raise "'<' not supported")
            fitted = set(classes.tolist())
            unseen = [label for label in dict.fromkeys(np.ravel(y).tolist()) if label not in fitted]
            if unseen:
                raise ValueError(
                    f"y contains labels that fit did not see: {unseen[:5]}; the "
                    f"classes are {classes.tolist()}. Pass labels of the fitted classes."
                )
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
