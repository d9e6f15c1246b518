"""A certificate of global optimality for a fitted two-layer ReLU CNN (doc/formulations.md §2.3).

For one output, any dual vector ``v`` (``sum(v) = 0`` with a free intercept) that satisfies

    max_{||u|| <= 1} | v^T g(u) | <= beta,        g(u) = the neuron's output on the data,

gives the lower bound ``-L*(-v)`` on the regularized training objective of *every* network of
*any* width (weak duality of the semi-infinite dual, via Lemma A). ``g`` is linear on each cell
of the arrangement, so the left side is ``max_i ||Proj_{C_i}(+-A_i^T v)||`` over the patterns:
exact when every pattern is enumerated, only a lower estimate over a sample of them. The dual
vector of the network's own fit, scaled into the constraint, gives the bound; the gap between
the network's objective and the bound certifies how far from the global optimum it can be.

The cone projections, dual vectors and dual objectives are those of :mod:`._optimality`.
Nothing here imports scikit-learn.
"""

import time
from dataclasses import dataclass, fields, replace

import numpy as np

from ._formulations._operator import as_operator, fit_values
from ._formulations.linear import NuclearProgram
from ._losses import loss_value, target_means
from ._optimality import dual_bound, dual_point, scaled_dual_objective
from ._solvers._solution import certifiable_gap


@dataclass(frozen=True, repr=False)
class Certificate:
    """Result of an estimator's ``certify`` method.

    Returned by :meth:`~sklearn_convexcnn.ConvexCNNRegressor.certify` and
    :meth:`~sklearn_convexcnn.ConvexCNNClassifier.certify`: a record of how far a fitted
    network is from the optimum of its convex program, and, when ``exact``, from the global
    optimum of the non-convex training problem (Ergen & Pilanci, 2021). The fields are its
    parameters and attributes; ``certify`` builds it.

    Parameters
    ----------
    objective : float
        Regularized training objective of the fitted network on the given data, with real
        ReLUs, summed over outputs.
    lower_bound : float
        Dual value of the scaled dual point, summed over outputs. When ``exact``, a lower bound
        on the objective of every network of any width (with several outputs, under the l1
        norm across outputs that the networks pay: doc/formulations.md §5.4); otherwise only on
        networks whose neurons use the checked patterns.
    gap : float
        ``objective - lower_bound`` (at least 0 up to rounding).
    relative_gap : float
        ``gap / max(|objective|, tiny)``.
    exact : bool
        Whether every activation pattern of the data was enumerated and checked, which makes
        ``lower_bound`` a bound on the global optimum of the non-convex problem (patches below
        ``1e-12`` of the largest in norm count as zero).
    n_patterns_checked : int
        Number of distinct patterns whose dual constraint was evaluated.
    dual_constraint : float
        ``max_{||u|| <= 1} |v^T g(u)|`` over the checked patterns, largest over the outputs,
        for the unscaled dual vector ``v`` that gave the bound (an upper bound; exact above
        ``beta`` where its projections converged). The network is optimal when it is at most
        ``beta`` and the gap vanishes.
    beta : float
        The regularization strength of the fit.
    tol : float
        Relative gap below which :attr:`is_optimal` holds.
    rounding_gap : float, default=0.0
        The largest gap that rounding alone can leave, summed over outputs (each output's
        is in ``output_rounding_gaps``).
    output_objectives : tuple of float, default=()
        Each output's objective: its loss and its share of the penalty (each neuron's term
        split in the shares of its output weights). They sum to ``objective``.
    output_gaps : tuple of float, default=()
        Each output's objective less its lower bound: each at least 0 up to rounding, they
        sum to ``gap``.
    output_rounding_gaps : tuple of float, default=()
        The largest gap that rounding alone can leave in each output: for its targets ``y``
        (centred on their mean with the squared loss and an intercept, as the network's
        intercept then is: an offset of 1e12 rounded the residuals to ``eps |y|``),
        ``16 eps y.y`` (the dual objective's rounding) but at most ``1e-5`` of the output's
        loss, plus ``16 (eps ||y||)^2``, all that an exact fit (targets equal up to an ulp,
        an objective of about ``1e-32``) leaves, and what the intercept's distance ``d`` to the
        best one for the network's read-out costs, ``n d^2 / 2``, up to ``d`` of half the
        intercept's ulp (the nearest float to the optimum's is that far from it): amounts
        no relative ``tol`` reaches. :attr:`is_optimal` allows them, output by output, as
        ``fit`` does (which allows ``n (ulp / 2)^2 / 2`` for the intercept).

    Attributes
    ----------
    is_optimal : bool
        Whether the patterns were enumerated and the gap is at most ``tol * objective``, or
        each output's gap at most ``tol`` times its objective plus its rounding gap.

    References
    ----------
    T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN Architectures: Convex
    Optimization of Two- and Three-Layer Networks in Polynomial Time", ICLR 2021.
    https://arxiv.org/abs/2006.14798

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_convexcnn import ConvexCNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((12, 4)), rng.standard_normal(12)
    >>> reg = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact").fit(X, y)
    >>> certificate = reg.certify(X, y)
    >>> certificate.exact, certificate.is_optimal
    (True, True)
    """

    objective: float
    lower_bound: float
    gap: float
    relative_gap: float
    exact: bool
    n_patterns_checked: int
    dual_constraint: float
    beta: float
    tol: float
    rounding_gap: float = 0.0
    output_objectives: tuple = ()
    output_gaps: tuple = ()
    output_rounding_gaps: tuple = ()

    def __repr__(self):
        # the verdict first: the fields alone left a reader to redo is_optimal's test
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"Certificate(is_optimal={self.is_optimal!r}, {values})"

    @property
    def is_optimal(self):
        """Whether the network is a global optimum of the non-convex problem up to ``tol``.

        True when the patterns were enumerated (``exact``) and either ``relative_gap <= tol``
        or every output's gap is at most ``tol`` times its objective plus its own rounding
        gap (summed, the rounding of a column of constant targets near 1e12 covered another
        output 7 % above its optimum): never for a certificate over sampled patterns,
        whatever its gap.
        """
        # (a certificate built without the outputs' values: its totals, as one output's)
        objectives, gaps, roundings = (
            per_output if len(per_output) else (total,)
            for per_output, total in [
                (self.output_objectives, self.objective),
                (self.output_gaps, self.gap),
                (self.output_rounding_gaps, self.rounding_gap),
            ]
        )
        allowed = self.tol * np.abs(objectives) + np.asarray(roundings)
        within_rounding = bool(np.all(np.asarray(gaps) <= allowed))
        return bool(self.exact and (self.relative_gap <= self.tol or within_rounding))


def _polished_fit(formulation, patches, gates, y, *, beta, loss, fit_intercept, groups=None):
    """The optimal fit over the patterns of ``gates``, solved tightly (a better dual point).

    The dual vector of the network's own fit is first-order sensitive to its residue: a fit
    off by 1e-6 can leave the dual constraint violated by 1e-4. Re-solving the small program
    over the gates of the network's groups recovers the fit that the optimum's dual vector
    needs. With a read-out per region, ``groups`` (``(regions, gate_index)``, sorted by
    region) are the network's own: over every region, the program had up to ``Q`` times as
    many groups as the fit, and took most of ``certify``'s time. Returns ``None`` when the
    solve fails.
    """
    from ._solvers import SolverFailed
    from ._solvers._native import solve_native

    if (gates.shape[1] if groups is None else len(groups[1])) == 0:
        return None
    # (two-layer formulations only; only regional ones take groups)
    extra = {} if groups is None else {"groups": groups}
    program = formulation.operator(patches, gates, **extra)
    try:
        solution = solve_native(
            program,
            y,
            beta=beta,
            loss=loss,
            fit_intercept=fit_intercept,
            tol=1e-11,
            max_iter=200,
        )
    # (ValueError: SciPy's linear algebra refuses non-finite input, where a solve diverged;
    # our solver code raises none. Without this dual point the bound is looser, still valid.)
    except (SolverFailed, np.linalg.LinAlgError, ValueError):
        return None
    return fit_values(program, solution.coef, solution.intercept)


def certify_network(
    network,
    formulation,
    patches,
    Y,
    gates,
    neuron_gates,
    *,
    beta,
    loss,
    fit_intercept,
    exact,
    tol=1e-6,
    log=None,
):
    """Certificate of ``network`` on ``(patches, Y)`` against the patterns of ``gates``.

    Two dual vectors are tried per output, each scaled into the constraints over every
    pattern of ``gates``: that of the network's fit, and that of the optimal fit over the
    patterns of the network's groups (:func:`_polished_fit`). Any feasible dual vector gives
    a valid bound; the larger one is kept.

    Parameters
    ----------
    network : TwoLayerCNN or RegionalCNN
        Its ``forward`` and ``objective`` are evaluated with real ReLUs.
    formulation : object
        A two-layer ReLU formulation: its ``operator`` builds the program over given gates.
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    Y : ndarray of shape (n_samples, n_outputs)
    gates : ndarray of shape (patch_size, n_patterns)
        The patterns to check.
    neuron_gates : ndarray of shape (n_neurons, patch_size)
        The gate of each neuron's group in the fit (``neuron_gates`` of the formulation):
        interior points of the neurons' cells, where the neurons' own filters may lie on
        their boundaries, and their patterns change with rounding.
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
        Adds ``sum(v) = 0`` to the dual (the dual points are made to satisfy it).
    exact : bool
        Whether ``gates`` holds every pattern.
    tol : float, default=1e-6
    log : callable, default=None
        Called with a line of progress after each output (its lower bound, how many groups
        were re-solved, its time): ``verbose`` output. Silent where ``None``.

    Returns
    -------
    certificate : Certificate
    """
    operator = formulation.operator(patches, gates)
    if loss == "squared" and fit_intercept:
        # in coordinates centred on the targets' means, which the intercept's offset cancels
        # exactly: y - f, both near an offset of 1e12, is rounded to eps |y| a sample, and an
        # allowance for that lets a network 5e-4 above the optimum pass
        offsets = target_means(Y)
        Y = Y - offsets
        network = replace(network, intercept=network.intercept - offsets)
    f = network.forward(patches)
    if loss == "squared" and fit_intercept:
        # what a float intercept near the offset does not avoid: off the best one for its
        # network's read-out (the residuals' mean away) by up to half its ulp, which costs
        # exactly n d^2 / 2. Only that is allowed: a flat n (2 ulp)^2 / 2 lets a network 0.2 %
        # above the optimum pass, and 2 ulps an intercept moved by one, 4.1 times the fitted
        # network's objective
        half_ulps = np.spacing(np.abs(network.intercept + offsets)) / 2
        off_best = np.minimum(np.abs(target_means(Y - f)), half_ulps)
        floors = len(Y) * off_best**2 / 2
    else:
        floors = np.zeros(Y.shape[1])
    objective = float(network.objective(patches, Y, beta, loss))
    weights = network.output_weights  # (n_neurons, [Q,] n_outputs): Q regions, or none
    regional = weights.ndim == 3
    if not regional:
        weights = weights[:, np.newaxis, :]
    options = {"beta": beta, "loss": loss, "fit_intercept": fit_intercept}
    penalties = network.penalty_by_output()
    lower, worst, objectives, gaps, roundings = 0.0, 0.0, [], [], []
    for output in range(Y.shape[1]):
        start = time.perf_counter()
        y = Y[:, output]
        fits = [f[:, output]]
        loss_of_output = loss_value(loss, f[:, output], y)
        # (capped by the output's own loss: a share of the whole objective lets an exact
        # output's rounding cover another's gap; of y centred: uncentred, y + 1e5 calls a
        # network 3e-6 above the optimum optimal at tol=1e-9)
        roundings.append(certifiable_gap(y, loss_of_output) + floors[output])
        mine = np.abs(weights[:, :, output]).max(axis=1, initial=0.0) > 0
        if regional:  # (a neuron reads out in one region: its group's)
            regions = np.abs(weights[mine, :, output]).argmax(axis=1)
            pairs = np.unique(np.column_stack([regions, neuron_gates[mine]]), axis=0)
            groups = (pairs[:, 0].astype(int), np.arange(len(pairs)))  # (sorted by region)
            polished = _polished_fit(
                formulation, patches, pairs[:, 1:].T, y, groups=groups, **options
            )
            n_groups = len(pairs)
        else:
            own = np.unique(neuron_gates[mine], axis=0)
            polished = _polished_fit(formulation, patches, own.T, y, **options)
            n_groups = len(own)
        if polished is not None:
            fits.append(polished)
        best, best_top = _best_dual(operator, fits, y, **options)
        objectives.append(float(loss_of_output + beta * penalties[output]))
        gaps.append(objectives[-1] - float(best))
        lower += best
        worst = max(worst, best_top)
        if log is not None:
            counted = f"its network's {n_groups} {'group' if n_groups == 1 else 'groups'}"
            if n_groups == 0:
                resolved = "no neuron, nothing re-solved"
            elif polished is None:
                resolved = f"the re-solve over {counted} failed"
            else:
                resolved = f"{counted} re-solved"
            log(
                f"output {output}: lower bound {best:.10g}, {resolved}, "
                f"{time.perf_counter() - start:.2f} s"
            )
    gap = objective - lower
    return Certificate(
        objective=objective,
        lower_bound=float(lower),
        gap=float(gap),
        relative_gap=float(gap / max(abs(objective), np.finfo(float).tiny)),
        exact=bool(exact),
        n_patterns_checked=int(gates.shape[1]),
        dual_constraint=worst,
        beta=float(beta),
        tol=float(tol),
        rounding_gap=float(sum(roundings)),
        output_objectives=tuple(objectives),
        output_gaps=tuple(gaps),
        output_rounding_gaps=tuple(float(rounding) for rounding in roundings),
    )


def solution_with_gap(
    formulation, patches, gates, program, solution, y, *, beta, loss, fit_intercept, polish=True
):
    """``solution`` with a certified duality gap in the convex program over ``gates``.

    For solvers that report none (the CVXPY back-end). The primal value is recomputed for the
    returned point; the dual bound is the better of the scaled dual vectors of its fit and, with
    ``polish``, of the tightly re-solved fit over its active patterns (:func:`_polished_fit`),
    each scaled into every constraint of ``program`` (:mod:`._optimality`).

    Parameters
    ----------
    formulation : object
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    gates : ndarray of shape (patch_size, n_patterns)
    program : GroupProgram, operator or NuclearProgram
        The program over ``gates`` that ``solution`` solves; a linear CNN's without pooling
        (a nuclear-norm program, whose dual norm is the spectral norm: never polished).
    solution : Solution
    y : ndarray of shape (n_samples,)
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    polish : bool, default=True
        Without it the bound is only as tight as the solution's own dual point: about
        ``1e-6`` to ``1e-4`` of the objective for CVXPY's points, whose dual points are
        first-order sensitive to their accuracy.

    Returns
    -------
    solution : Solution
        A copy with ``objective`` recomputed and ``duality_gap`` set.
    """
    import dataclasses

    if isinstance(program, NuclearProgram):  # (no pattern: the dual norm is spectral)
        f = program.fit_values(solution.coef) + solution.intercept
        primal = loss_value(loss, f, y) + beta * program.regularizer(solution.coef)
        v = dual_point(loss, f, y, fit_intercept)
        top = program.dual_norm(v)
        dual = scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top)
        return dataclasses.replace(
            solution, objective=float(primal), duality_gap=float(primal - dual)
        )
    operator = as_operator(program)
    coef = solution.coef
    active = np.flatnonzero(np.abs(coef).max(axis=(0, 2)) > 0)
    f = fit_values(operator, coef, solution.intercept)
    primal = loss_value(loss, f, y) + beta * float(operator.norm(coef).sum())
    fits = [f]
    options = {"beta": beta, "loss": loss, "fit_intercept": fit_intercept}
    if polish:
        if hasattr(formulation, "groups"):  # groups are (region, pattern) pairs, not gates
            regions, index = formulation.groups(patches, gates)
            groups = (regions[active], index[active])  # (in program order: by region)
            polished = _polished_fit(formulation, patches, gates, y, groups=groups, **options)
        else:
            polished = _polished_fit(formulation, patches, gates[:, active], y, **options)
        if polished is not None:
            fits.append(polished)
    dual, _ = _best_dual(operator, fits, y, **options)
    # the objective of the point, recomputed, with the gap: the solver's own value (off by its
    # accuracy) with this gap would have implied a lower bound that is not the dual's
    return dataclasses.replace(solution, objective=float(primal), duality_gap=float(primal - dual))


def _best_dual(operator, fits, y, *, beta, loss, fit_intercept):
    """The best dual bound of the dual vectors of ``fits``, each scaled into every constraint
    of ``operator``; returns it and its vector's largest price."""
    best, best_top = -np.inf, np.inf
    for fit in fits:
        value, top = dual_bound(operator, loss, fit, y, beta=beta, fit_intercept=fit_intercept)
        if value > best:
            best, best_top = value, top
    return best, best_top
