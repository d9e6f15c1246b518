"""The estimators' ``architecture`` / ``n_layers`` / ``activation`` parameters, resolved.

``architecture="two_layer"`` with ReLUs is :mod:`.two_layer` (every pooling and read-out); the
rest is here: circular CNNs (:mod:`.circular`), three-layer CNNs with two ReLU layers
(:mod:`.three_layer`) and linear CNNs (:mod:`.linear`).
"""

import math

from .circular import CircularFormulation
from .linear import LinearFormulation
from .three_layer import ThreeLayerFormulation
from .two_layer import warn_pool_size_ignored

ARCHITECTURES = ("two_layer", "circular", "three_layer")
ACTIVATIONS = ("relu", "linear")
# Relative excess of a three-layer network's objective over its program's value beyond which
# objective_ is the network's (CVXPY's points: 2e-8 at the median of 18 small fits, up to 6e-7).
ATTAINED_TOL = 1e-6


def make_architecture(architecture, n_layers, activation, pooling, pool_size, readout, solver):
    """The formulation for the parameters, or ``None`` for a two-layer ReLU CNN.

    Raises
    ------
    ValueError
        For combinations that have no convex program here; the message names the parameters.
    """
    if n_layers is not None and architecture != "circular":
        raise ValueError(
            f"n_layers={n_layers!r} applies to architecture='circular' only, but "
            f"architecture={architecture!r}; leave n_layers=None (in a grid search over "
            "architectures, give n_layers in a grid of architecture='circular' only: a list "
            "of grids)."
        )
    if architecture == "two_layer" and activation == "relu":
        return None
    # (before the native solver's refusal, whose advice, another solver, would end here)
    if architecture == "three_layer" and activation != "relu":
        raise ValueError(
            f"architecture='three_layer' has no convex program with activation="
            f"{activation!r} here; use activation='relu'."
        )
    if solver == "native" and architecture == "two_layer" and pooling == "none":
        # (a linear CNN without pooling: its nuclear norm is no group norm over cones)
        raise ValueError(
            "solver='native' solves group-norm programs, not the nuclear-norm program of "
            "activation='linear' with pooling='none'; use solver='auto' or a CVXPY solver, "
            "or pooling='average'."
        )
    if architecture != "two_layer" and (
        pooling != "average" or pool_size is not None or readout != "sum"
    ):
        # (a circular CNN's one neuron reads the whole row: it has nothing to pool)
        circular = architecture == "circular"
        raise ValueError(
            f"architecture={architecture!r} "
            + ("has no pooling (each neuron reads the whole row)" if circular else "pools by "
               "a global average only")
            + f", but got pooling={pooling!r}, pool_size={pool_size!r}, readout={readout!r}; "
            + ("leave them at their defaults, " if circular else "use ")
            + "pooling='average', pool_size=None, readout='sum'."
        )  # fmt: skip
    if architecture == "circular":
        # (int: a numpy unsigned depth would wrap around in the norm's exponent)
        return CircularFormulation(3 if n_layers is None else int(n_layers), activation)
    if architecture == "three_layer":
        return ThreeLayerFormulation()
    # (pooling='none' reads out every patch with its own weight, whatever the read-out and
    # pool size: as for ReLUs, readout='dense' is accepted there and pool_size ignored)
    if pooling not in ("average", "none") or (
        pooling == "average" and (pool_size is not None or readout != "sum")
    ):
        raise ValueError(
            f"activation='linear' supports pooling='average' with pool_size=None and "
            f"readout='sum', and pooling='none', not pooling={pooling!r}, "
            f"pool_size={pool_size!r}, readout={readout!r}."
        )
    if pooling == "none":
        warn_pool_size_ignored(pool_size)
    if pooling == "none" and solver == "ecos":
        raise ValueError(
            "activation='linear' with pooling='none' is a nuclear-norm program, which "
            "solver='ecos' cannot solve; use solver='auto', 'clarabel' or 'scs'."
        )
    return LinearFormulation(pooling)


def fitted_bounds(formulation, network, patches, Y, beta, loss, solutions):
    """``objective_``, ``lower_bound_`` and ``is_exact_`` of a fit.

    ``objective_`` is the convex program's value at the solution, which the network attains
    where the formulation is exact and every solve converged; otherwise the realized
    network's objective: a relaxation's value (circular CNNs with ``n_layers >= 4``) is only
    an upper bound, and a point a solver did not finish may lie outside the program's cones,
    its value below anything a network attains. A three-layer CNN's network attains a CVXPY
    point's value only as closely as the point satisfies the second ReLU layer's cone rows
    (to the solver's accuracy: 27 % above it at ``tol=0.5``, 0.1 % below it with SCS at
    ``tol=0.1``): beyond ``ATTAINED_TOL`` of it, ``objective_`` is the network's too.
    ``lower_bound_`` is the certified bound on the program's optimum, the value minus the
    duality gap; ``-inf`` where a gap is unknown (a point outside its cones: nothing is
    certified). ``duality_gap_`` is the outputs' gaps summed (``nan`` where one is unknown),
    but ``objective_ - lower_bound_`` where ``objective_`` is a three-layer network's: the
    program's gap bounds the program's value, not the network's (a Clarabel fit at
    ``tol=1e-3`` was 3.5e-4 above the optimum with a gap of 3.4e-4).
    """
    convex = sum(solution.objective for solution in solutions)
    gaps = [solution.duality_gap for solution in solutions]
    gap = sum(math.nan if gap is None else gap for gap in gaps)
    converged = all(solution.converged for solution in solutions)
    if all(gap is not None and math.isfinite(gap) for gap in gaps):
        lower = convex - sum(max(gap, 0.0) for gap in gaps)
    else:
        lower = -math.inf
    is_exact = formulation.is_exact
    attained = is_exact and converged
    objective = convex if attained else network.objective(patches, Y, beta, loss)
    if attained and isinstance(formulation, ThreeLayerFormulation):
        realized = network.objective(patches, Y, beta, loss)
        if abs(realized - convex) > ATTAINED_TOL * abs(convex):  # (below too: SCS's points)
            objective = realized
            if math.isfinite(lower):
                gap = objective - lower
    return {
        "objective_": objective,
        "lower_bound_": lower,
        "is_exact_": is_exact,
        "duality_gap_": gap,
    }
