"""When a solved point counts as certified, and what to say when it does not: the tolerances
of duality gaps (:func:`gap_tolerance`) and the text of the ConvergenceWarnings that a fit
and :func:`~.convex_cnn_path` issue (:func:`unconverged_message`,
:func:`uncertified_message`, :func:`remedy`). Pure NumPy, as :mod:`._outputs`, whose workers
import it.
"""

import numpy as np

from ._losses import centred_targets
from ._solvers._solution import CVXPY_ACCURACY, ITERATIONS_SPENT, certifiable_gap

# The relative duality gap above which a CVXPY point of a circular or three-layer program,
# certified from the solver's own dual point, is called uncertified (well solved: 1e-7 to
# 6e-4 of the objective; badly scaled inputs: 7.5e-3 to 0.58, which went unwarned).
LOOSE_GAP = 1e-3


def _relaxation(gap=True):
    """What a relaxation's point and duality gap (``gap``: where it has one) say, for circular
    CNNs with n_layers >= 4: its network does not attain the program's value (it can cost
    twice it), and the warning must not say it does; the fit keeps the padded 3-layer
    network where that costs less (``_BaseConvexCNN._no_worse_than_shallow``)."""
    bound = (
        "the duality gap bounds its point's distance to the relaxation's optimum, a lower "
        "bound on the network's; "
        if gap
        else ""
    )
    return (
        "the program is a relaxation (n_layers >= 4), the looser and the harder to solve the "
        f"deeper (its norm scales as d^(-(n_layers - 1)/2): fewer n_layers help): {bound}"
        "objective_, of its realized network or of the exact 3-layer one padded with identity "
        "filters where that costs less, polished by L-BFGS, is only an upper bound."
    )


def unconverged_message(solutions, outputs, options, *, relaxation=False):
    """What to warn about the solutions that did not converge, in one message, or ``None`` if
    all did; ``outputs`` names each solution's output; ``relaxation``, whether the program
    only relaxes the network's (whose objective the network does not attain).

    One message for all of them: ten one-vs-rest classes stopped at ``max_iter`` were ten
    warnings of 4,850 characters in all, each with the same advice.
    """
    stopped = [(output, s) for output, s in zip(outputs, solutions, strict=True) if not s.converged]
    if not stopped:
        return None
    settings = f"max_iter={options.max_iter}, tol={options.tol:.1e}"
    if options.tol_reason:
        settings += f", {options.tol_reason}"
    if len(stopped) == 1:
        ((output, solution),) = stopped
        gap = _gap(solution, options)
        return (
            f"The convex program for output {output} did not converge: {how_it_stopped(solution)} "
            f"({settings}{'' if gap is None else '; ' + gap}). {remedy(solution, options)}; "
            + (
                _relaxation(gap is not None)
                if relaxation
                else "the network attains the returned point's objective, "
                + (
                    "not the optimum."
                    if gap is None
                    else "at most the duality gap above the optimum."
                )
            )
            + _tried(solution)
        )
    stops = {how_it_stopped(solution) for _, solution in stopped}
    shared = stops.pop() if len(stops) == 1 else None  # (then said once)
    each = "; ".join(
        f"output {output}: "
        + ", ".join(
            ([] if shared else [how_it_stopped(solution)])
            + [_gap(solution, options) or "no duality gap"]
        )
        for output, solution in stopped
    )
    remedies = {}  # the outputs of each remedy, in the outputs' order
    for output, solution in stopped:
        remedies.setdefault(remedy(solution, options), []).append(str(output))
    advice = (
        next(iter(remedies))
        if len(remedies) == 1
        else "; ".join(
            f"output{'s' if len(named) > 1 else ''} {', '.join(named)}: {remedy}"
            for remedy, named in remedies.items()
        )
    )
    gapless = any(solution.duality_gap is None for _, solution in stopped)
    return (
        f"The convex programs for {len(stopped)} of {len(solutions)} outputs did not converge"
        + (f": {shared} ({settings}). " if shared else f" ({settings}). ")
        + f"{_capitalised(each)}. {_capitalised(advice)}. "
        + (
            _capitalised(_relaxation(not gapless))
            if relaxation
            else "Each network attains its returned point's objective, "
            + ("not the optimum." if gapless else "at most its duality gap above the optimum.")
        )
        + "".join(_tried(solution, f"output {output}'s point") for output, solution in stopped)
    )


def _capitalised(text):
    return text[:1].upper() + text[1:]


def how_it_stopped(solution):
    """How ``solution``'s solver stopped, for a warning."""
    plural = "" if solution.n_iter == 1 else "s"
    return (
        f"{solution.solver} stopped with status {solution.status!r} after {solution.n_iter} "
        f"iteration{plural}"
    )


def _gap(solution, options):
    """``solution``'s duality gap and the tolerance, for a warning, or ``None``."""
    if solution.duality_gap is None:
        return None
    return (
        f"Duality gap: {solution.duality_gap:.3e}, tolerance: "
        f"{options.tol * abs(solution.objective):.3e}"
    )


def _tried(solution, before="it"):
    """What solver="auto" tried before ``solution`` (``before``), for its warning ("" if
    nothing)."""
    if not solution.handovers:
        return ""
    return f" Before {before}, solver='auto' tried: " + "; ".join(solution.handovers) + "."


def gap_tolerance(solution, y, options, *, loose=False, tight=False):
    """The duality gap up to which ``solution`` counts as certified.

    It is ``tol``, but (unless ``tight``) at least ``CVXPY_ACCURACY`` relative to the
    objective, or ``LOOSE_GAP`` where the gap of a CVXPY point comes from the solver's own dual
    point (``loose``: circular, three-layer and linear programs), plus the rounding of the dual
    objective (:func:`~._solvers._solution.certifiable_gap` of ``y`` centred as the solver
    centred it, the gap to which the native solvers certify; an absolute floor of 1e-9 hid
    gaps of 3e-4 on small objectives), plus what the nearest float to the best intercept
    near the targets' offset costs, ``n (ulp / 2)^2 / 2`` of their mean at most. The
    :func:`~._solvers._solution.rounding_floor` of the uncentred ``y`` let a fit of targets
    ``1e12 + 1e-3 x`` stop without a warning 46 times above the optimum, and 2 ulps an
    SCS point 4.3 times above it.
    """
    centred, offset = centred_targets(y, options.loss, options.fit_intercept)
    intercept_rounding = len(y) * (np.spacing(abs(offset)) / 2) ** 2 / 2
    rounding = certifiable_gap(centred, solution.objective) + intercept_rounding
    relative = options.tol if tight else max(options.tol, LOOSE_GAP if loose else CVXPY_ACCURACY)
    return relative * abs(solution.objective) + rounding


def outside_its_program(solution, y, options):
    """Whether the duality gap is further below zero than a feasible point's can be
    (:func:`gap_tolerance` without ``loose``, whatever the gap's source): the point lies
    outside its program's constraints, its objective below the optimum (SCS's point of a
    three-layer program, -2.3e-4 of its objective, had a network 6.9e-4 above it)."""
    return solution.duality_gap < -gap_tolerance(solution, y, options)


def uncertified_message(solution, y, label, options, *, loose=False, relaxation=False):
    """What to warn about a solution that its solver called solved but whose certified
    duality gap is above :func:`gap_tolerance` (a CVXPY fallback on badly scaled data reported
    'optimal' with a gap of 12 % of its objective; Clarabel on a three-layer program of inputs
    of size 1e4, 58 %) or below zero beyond it (:func:`outside_its_program`), or ``None``.
    Unconverged solutions are :func:`unconverged_message`'s; ``relaxation`` as there.
    """
    messages = uncertified_messages([solution], y[:, None], [label], options, loose=loose,
                                    relaxation=relaxation)  # fmt: skip
    return messages[0] if messages else None


def uncertified_messages(solutions, Y, labels, options, *, loose=False, relaxation=False):
    """:func:`uncertified_message` of the outputs' ``solutions`` (targets the columns of
    ``Y``, named by ``labels``): at most two messages, one for the points below zero and one
    for those above tolerance, each naming all of its outputs (ten one-vs-rest classes of a
    CVXPY solver's points were ten warnings with the same advice)."""
    outside, above = [], []
    for label, solution, y in zip(labels, solutions, Y.T, strict=True):
        if not solution.converged or solution.duality_gap is None:
            continue
        if outside_its_program(solution, y, options):
            outside.append((label, solution, gap_tolerance(solution, y, options)))
            continue
        tolerance = gap_tolerance(solution, y, options, loose=loose)
        if solution.duality_gap > tolerance:
            above.append((label, solution, tolerance))
    messages = []
    if outside:
        messages.append(
            _about_outputs(
                outside,
                len(solutions),
                "has a certified duality gap of",
                "have certified duality gaps below zero",
                below_zero=True,
            )  # fmt: skip
            + (
                f"{outside[0][1].solver}'s point lies outside the program's constraints, its "
                "objective below the optimum, and the network does not attain it. "
                if len(outside) == 1
                else "their solvers' points lie outside the programs' constraints, their "
                "objectives below the optima, and the networks do not attain them. "
            )
            + _try_and_tried(outside, options)
        )
    if above:
        solvers = " and ".join(sorted({solution.solver for _, solution, _ in above}))
        messages.append(
            _about_outputs(
                above,
                len(solutions),
                "is certified only to a duality gap of",
                "are certified only to duality gaps above their tolerances",
            )  # fmt: skip
            + (
                f"although {solvers} reported "
                + ("it solved: " if len(above) == 1 else "them solved: ")
                + (
                    f"{_relaxation()[:-1]}, and may be that far further from the network's "
                    "optimum. "
                    if relaxation
                    else "the fit may be that far above the optimum. "
                )
            )
            + _try_and_tried(above, options)
        )
    return messages


def _about_outputs(found, n_outputs, singular, plural, *, below_zero=False):
    """The start of :func:`uncertified_messages`' message about the ``(label, solution,
    tolerance)`` of ``found``, what they are (``singular`` and ``plural``), and each output's
    gap, objective and tolerance."""
    end = ": " if below_zero else ", "
    if len(found) == 1:
        ((label, solution, tolerance),) = found
        return (
            f"The convex program for output {label} {singular} {solution.duality_gap:.3e}"
            + (", below zero" if below_zero else "")
            + f" (objective {solution.objective:.6g}, tolerance {tolerance:.3e}){end}"
        )
    each = "; ".join(
        f"output {label}, gap {solution.duality_gap:.3e} (objective {solution.objective:.6g}, "
        f"tolerance {tolerance:.3e})"
        for label, solution, tolerance in found
    )
    return f"The convex programs for {len(found)} of {n_outputs} outputs {plural} ({each}){end}"


def _try_and_tried(found, options):
    """The advice that ends :func:`uncertified_messages`' message, and what solver="auto"
    tried before each point."""
    untried = {_native_if_untried(solution, options) for _, solution, _ in found}
    native = untried.pop() if len(untried) == 1 else ""
    if len(found) == 1:
        return f"Try {native}standardized inputs or a larger beta." + _tried(found[0][1])
    return f"Try {native}standardized inputs or a larger beta." + "".join(
        _tried(solution, f"output {label}'s point") for label, solution, _ in found
    )


def _native_if_untried(solution, options):
    """The advice ``solver='native', `` where the native solver takes the program and has not
    had it: with "auto" it can have had it first and handed it over (:func:`_tried` says so),
    and a larger max_iter does not help a stall (the native solver's own warning would send
    the user back to CVXPY); it refuses linear CNNs without pooling (the advice would lead
    to that refusal)."""
    if not options.native_supported:
        return ""
    if solution.solver == "native" or "native" in solution.tried:
        return ""
    return "solver='native', "


def remedy(solution, options, cvxpy="use a CVXPY solver (e.g. solver='clarabel')"):
    """What a user can do about a solve that stopped short, by why it stopped; ``cvxpy``
    says how to reach a CVXPY solver where that may help. No advice says to loosen a tol
    that the fit fixes tighter than the user's (``options.tol_reason``), nor one that no tol
    below 1 could accept (a gap above the objective: ``beta=1e-300``)."""
    loosen = not options.tol_reason
    if solution.status == "stalled":
        relative = (
            np.inf
            if solution.duality_gap is None or not solution.objective
            else solution.duality_gap / abs(solution.objective)
        )
        # (a gap below zero is held to tol as well: _converged_if_certified; a tol from the
        # signed gap, 1e-16, did not accept a point at -5e-7 of the objective)
        relative = abs(relative)
        if relative <= CVXPY_ACCURACY:
            # (a CVXPY solver then ends further from the optimum: 8 % above it on four
            # inputs of size 1e6 where the native point was certified to 1e-6)
            # (a tiny beta on well-scaled inputs stalls there too: 1.1e-7 against 1e-7)
            return (
                "The restricted problems cannot be solved more accurately, and the point is "
                f"certified to {relative:.1e} of the objective, closer than CVXPY's solvers "
                "certify: "
                + (_loosened_tol(relative) if loosen else "")
                + "use a larger beta (a beta small against the targets' scale nears "
                "interpolation), or standardize "
                "the inputs if they are of a large scale"
            )
        # (not CVXPY where "auto" has handed the program to it already: that advice leads to
        # a worse point and a warning that sends the user back)
        tried_cvxpy = "cvxpy" in solution.tried
        return (
            "The restricted problems cannot be solved more accurately: "
            + (_loosened_tol(relative) if loosen else "")
            + "use a larger beta (a beta small against the targets' scale nears interpolation) "
            "or standardize the inputs" + ("" if tried_cvxpy else f", or {cvxpy}")
        )
    if solution.status in ITERATIONS_SPENT or (solution.n_iter >= options.max_iter):
        return "Increase max_iter" + (" or loosen tol" if loosen else "")
    # a conic solver that ended short of its tolerances before max_iter ('optimal_inaccurate'
    # on circular programs at the default tol): more iterations do not help
    relative = (
        None
        if solution.duality_gap is None or not solution.objective
        else solution.duality_gap / abs(solution.objective)
    )
    reached = (
        "" if relative is None else f" (its point is certified to {relative:.1e} of the objective)"
    )
    loosen = loosen and (relative is None or relative < 1)
    advice = "loosen tol" if loosen else "use a larger beta or standardize the inputs"
    return f"{solution.solver} cannot reach tol on this program{reached}: {advice}"


def _loosened_tol(relative):
    """The advice to loosen tol to the power of ten that accepts a point certified to
    ``relative`` of its objective, or ``""`` where none below 1 does."""
    enough = 10.0 ** np.ceil(np.log10(max(relative, 1e-16)))
    return f"loosen tol (tol={enough:.0e} accepts it), " if enough < 1 else ""
