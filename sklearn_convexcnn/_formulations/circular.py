"""Multi-layer circular CNN with one ReLU layer: l1 in the spectral domain (doc/formulations.md §7).

Each neuron applies ``n_layers - 1`` full-length circular convolutions and one ReLU::

    f(x) = sum_j w_j (x . q_j)_+ ,    q_j = u_{1j} * u_{2j} * ... * u_{(L-1)j}   (circular *)

with ``||u_{lj}||_2 <= 1`` for the inner layers ``l <= L-2`` and weight decay
``beta/2 (||u_{(L-1)j}||^2 + w_j^2)`` on the last two. The neuron is linear in ``q`` on the
cells of the arrangement ``1[X q >= 0]`` (full-length filters, so one "patch" per sample), and
the cheapest factorization of ``q`` costs

* ``||F q||_1 / d`` for ``L = 3`` (exact: the program is the training problem);
* ``||z||_{2/(L-1)}`` with ``z = F q / d^((L-1)/2)`` for ``L >= 4``, a quasi-norm whose convex
  envelope is the *weighted* spectral l1 norm ``d^(-(L-1)/2) sum_k w_k |(F q)_k|`` with
  ``w_k = 2^((L-3)/2)`` off the DC and Nyquist frequencies (doc/formulations.md §7.3). The program
  with that norm is a lower bound only; realizing its solution gives an upper bound.

``F`` is the unnormalized DFT. The norm is computed in real arithmetic: one 2-row block
``(Re F_k, Im F_k)`` per real frequency ``k = 0 .. d//2``, the pair ``(k, d-k)`` counted once
with twice the weight, so conjugate symmetry never has to be imposed.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear, minimize

from .._losses import dual_vector, loss_value, target_means
from .._network import Network, neuron_penalty
from .._patches import PatchGeometry, resolve_geometry
from .._patterns import check_sampled_bound, enumerate_gates, sample_gates
from .._resources import check_program_memory
from .._validation import MIN_DATA_SCALE
from ._program import GroupNorm, GroupProgram
from .two_layer import average_blocks

# The deepest circular CNN that rows of 2 features allow (:func:`check_depth`), the longest
# rows' limit being lower; a bound for rows of one feature too, whose norm never underflows
# but whose network holds a layer per depth (2**70 layers overflowed NumPy).
MAX_LAYERS = 499
# L-BFGS iterations of a deep network's polish (:func:`polished`), per output, at most. It
# converges slowly (one 4-layer fit: 199 after 200 iterations, 40 after 800, 28 after 1,600,
# 24.5 after 6,400) and its own stops never apply at a ReLU network's kinks, so it runs until
# a round of _POLISH_ROUND iterations takes less than _POLISH_RTOL of the objective off
# (:class:`_Slowed`). Against a fixed 200 iterations, objective_ fell in 73 of 80 random
# 4-layer fits (median 8.6 %, at most 99.5 %), for 3.7 times their CPU time, 0.4 -> 1.4 s a
# fit (benchmarks/README.md, "Random programs").
POLISH_MAX_ITER = 2000
_POLISH_ROUND = 200
_POLISH_RTOL = 1e-3
# Pre-activations within this fraction of their neuron's largest sit at the ReLU's kink, where
# the polish steps along the least-norm generalized gradient (:func:`_off_the_kinks`): a
# program's network has neurons on its cones' faces, and on an exact program's (n_patterns=
# "exact", 12 samples of rank 3) every neuron had a sample within 1e-11 of it, L-BFGS's
# gradient pointing uphill.
_KINK_RTOL = 1e-9
# Steps off the kinks in a polish, at most: each takes a gradient per sample at a kink
# (unbounded, a polish of 15 signals at 2,000 iterations took 43 s, and 1.3 s without them).
_KINK_STEPS = 10


def check_depth(length, n_layers):
    """ValueError, naming the fix, where the spectral norm's scale ``length^(-(L-1)/2)`` (the
    DC block's) falls below ``MIN_DATA_SCALE``, as data of that scale is refused: the blocks
    underflow (at ``n_layers=1000`` on rows of 8 features every block is zero, and a fit has
    no neuron and a lower bound of 20.8 where deeper networks reach 0.05)."""
    half = (n_layers - 1) / 2
    if length > 1 and half * np.log10(length) > -np.log10(MIN_DATA_SCALE):
        deepest = int(1 + 2 * -np.log10(MIN_DATA_SCALE) / np.log10(length))
        # (the scale itself may underflow: shown from its log, the mantissa rounded first)
        exponent = -half * np.log10(length)
        mantissa, power = float(f"{10 ** (exponent % 1):.1f}"), int(np.floor(exponent))
        if mantissa >= 10:
            mantissa, power = mantissa / 10, power + 1
        scale = f"{mantissa:.1f}e{power}"
        raise ValueError(
            f"n_layers={n_layers} on rows of {length} features scales the spectral norm by "
            f"{length}^-{half:g} = {scale}, below the "
            f"{MIN_DATA_SCALE:.0e} that float64 computes the program with; use n_layers of at "
            f"most {deepest} for rows of {length} features."
        )


def spectral_blocks(length, n_layers):
    """Norm blocks of the (weighted) spectral l1 norm, for :class:`GroupProgram`.

    ``sum_b ||T_b c||_2 = d^(-(L-1)/2) sum_{k=0}^{d-1} w_k |(F c)_k|`` for real ``c``.

    Parameters
    ----------
    length : int
        ``d``, the filter (and signal) length.
    n_layers : int
        ``L >= 3``.

    Returns
    -------
    blocks : ndarray of shape (length // 2 + 1, 2, length)
    """
    frequencies = np.arange(length // 2 + 1)
    angles = 2 * np.pi * np.outer(frequencies, np.arange(length)) / length
    # a real frequency occupies the DFT pair (k, d - k), except DC and Nyquist
    single = (frequencies == 0) | (2 * frequencies == length)
    # (no pair below 3 features: nothing to overflow at any depth there)
    pair = 2.0 * 2.0 ** ((n_layers - 3) / 2) if length > 2 else 1.0
    weight = np.where(single, 1.0, pair)
    scale = weight * length ** (-(n_layers - 1) / 2)
    blocks = np.stack([np.cos(angles), -np.sin(angles)], axis=1) * scale[:, None, None]
    blocks[single, 1] = 0.0  # exactly: sin(pi t) rounds to 1e-16 t
    return blocks


def factorize(q, n_layers, rtol=1e-12):
    """The cheapest factorization of a filter ``q`` into ``n_layers - 1`` circular filters.

    Inner filters have unit norm and spectra ``|F u_l| ∝ |F q|^(1/(L-1))`` (real and even, so the
    filters are real); the last filter takes the rest of the spectrum. The last filter's norm,
    the cost of ``q``, is then ``||F q||_1 / d`` for ``L = 3`` (doc/formulations.md §7.2) and the
    quasi-norm ``||z||_{2/(L-1)}`` for ``L >= 4`` (Hölder's equality case, §7.3).

    Parameters
    ----------
    q : ndarray of shape (d,)
    n_layers : int
    rtol : float
        Spectral coefficients below ``rtol`` times the largest are treated as zero.

    Returns
    -------
    inner : ndarray of shape (n_layers - 2, d)
        Unit-norm inner filters.
    last : ndarray of shape (d,)
        Last filter; ``inner[0] * ... * inner[-1] * last == q`` (circular convolutions).
    """
    length = q.shape[0]
    spectrum = np.fft.fft(q)
    magnitude = np.abs(spectrum)
    support = magnitude > rtol * magnitude.max(initial=0.0)
    root = np.where(support, magnitude, 0.0) ** (1.0 / (n_layers - 1))
    root_norm = np.linalg.norm(root)
    if root_norm == 0:
        return np.zeros((n_layers - 2, length)), np.zeros(length)
    inner_spectrum = np.sqrt(length) * root / root_norm
    rest = np.divide(
        spectrum,
        inner_spectrum ** (n_layers - 2),
        out=np.zeros_like(spectrum),
        where=support,
    )
    inner = np.tile(np.fft.ifft(inner_spectrum).real, (n_layers - 2, 1))
    return inner, np.fft.ifft(rest).real


def circular_convolve(filters):
    """Circular convolution of the rows of ``filters`` (shape (n_factors, ..., d)) along the
    last axis, through the DFT."""
    return np.fft.ifft(np.prod(np.fft.fft(filters, axis=-1), axis=0), axis=-1).real


def circular_geometry(input_shape, n_features):
    """One full-length "patch" per sample: circular filters see the whole (flattened) row.

    ``input_shape`` is only checked against ``n_features``; images are convolved as their
    flattened rows.
    """
    resolve_geometry(input_shape, 1, 1, n_features)
    return PatchGeometry((n_features,), 1, (n_features,), (1,))


@dataclass(repr=False)  # (Network.__repr__)
class CircularCNN(Network):
    """``f(x) = sum_j w_j act(x . q_j) + b`` with ``q_j`` the circular convolution of the
    layer filters ``u_{1j}, ..., u_{(L-1)j}``.

    Parameters
    ----------
    layer_filters : ndarray of shape (n_layers - 1, n_neurons, d)
        ``layer_filters[l, j]`` is ``u_{(l+1)j}``; all but the last layer have norm at most 1.
    output_weights : ndarray of shape (n_neurons, n_outputs)
    intercept : ndarray of shape (n_outputs,)
    activation : {"relu", "linear"}
    """

    layer_filters: np.ndarray
    output_weights: np.ndarray
    intercept: np.ndarray
    activation: str = "relu"

    @property
    def n_layers(self):
        """``L``: the circular layers plus the output layer."""
        return self.layer_filters.shape[0] + 1

    @property
    def n_neurons(self):
        return self.layer_filters.shape[1]

    @property
    def filters(self):
        """End-to-end filters ``q_j``, shape (n_neurons, d): read-only, as computed from
        ``layer_filters`` (an edit in place would change no prediction)."""
        return _read_only(circular_convolve(self.layer_filters))

    def _readout(self, patches):
        # patches of shape (n_samples, 1, d): the whole rows
        pre = patches[:, 0, :] @ self.filters.T
        hidden = np.maximum(pre, 0.0) if self.activation == "relu" else pre
        return hidden @ self.output_weights

    def check_assigned(self, field, value):
        """Inner filters of norm at most 1 (the penalty counts the last layer's only)."""
        if field == "layer_filters" and len(value) > 1:
            largest = float(np.linalg.norm(value[:-1], axis=-1).max(initial=0.0))
            if largest > 1.0 + 1e-6:
                raise ValueError(
                    "layer_filters_ of a circular CNN have norm at most 1 in every layer but "
                    f"the last (its penalty counts the last only), got a norm of {largest:.7g}: "
                    "divide an inner filter by its norm and multiply the neuron's last filter "
                    "by it."
                )

    def penalty(self):
        """``0.5 * sum_j (||u_{(L-1)j}||^2 + ||w_j||^2)``, with ``||w_j||_1`` across outputs
        (:func:`~.._network.neuron_penalty`); inner filters are norm-constrained."""
        return neuron_penalty(self.layer_filters[-1], self.output_weights)

    def spectra(self):
        """Magnitudes of the real DFT of the end-to-end filters, shape (n_neurons, d // 2 + 1).

        Column ``k`` is the frequency ``k`` cycles per signal length; it stands for the DFT pair
        ``(k, d - k)`` of a real filter.
        """
        return _read_only(np.abs(np.fft.rfft(self.filters, axis=1)))

    def frequencies_used(self, rtol=1e-6):
        """The real frequencies each neuron uses: the spectral sparsity the l1 norm promotes.

        Parameters
        ----------
        rtol : float, default=1e-6
            Magnitudes below ``rtol`` times the neuron's largest one count as unused.

        Returns
        -------
        frequencies : list of ndarray of int
            One array of frequencies in ``0 .. d // 2`` per neuron.
        """
        spectra = self.spectra()
        return [np.flatnonzero(row > rtol * row.max(initial=0.0)) for row in spectra]


# What shortens a circular CNN's patches, in the exact enumeration's refusal (kernel_size does
# not: its patch is the whole row)
_FEWER_FEATURES = "architecture='circular': fewer features"


class CircularFormulation:
    """Convex program and recovery of an ``n_layers``-layer circular CNN.

    Parameters
    ----------
    n_layers : int
        ``L >= 3``: ``L - 1`` circular layers and the output layer.
    activation : {"relu", "linear"}
        ``"linear"`` drops the ReLU (doc/formulations.md §9): no patterns, one piece, and the
        weighted spectral l1 is exact for every ``L`` because each frequency becomes its own
        neuron.
    """

    region_sizes = None  # (no read-out per region: see check_program_memory)
    prunable = False  # (only two-layer ReLU CNNs: doc/formulations.md §2.4)
    certifiable = False
    groups_from_samples = False

    def __init__(self, n_layers=3, activation="relu"):
        self.n_layers = n_layers
        self.activation = activation

    @property
    def _spectral_rtol(self):
        """Spectral coefficients of a group below this times its largest are not realized
        (:func:`factorize`). For ``n_layers >= 4`` a coefficient ``eps`` of the largest costs
        about ``eps^(2 / (L - 1))`` of the neuron's quasi-norm for ``eps`` of its fit: the
        solvers' leftovers of 1e-10 to 1e-8 put objectives 2e-4 apart (native, Clarabel and
        ECOS on the same program, whose values agree to 1e-7), where below 1e-6
        they cost at least 1e-4 of it for at most 1e-6 of the fit."""
        return 1e-12 if self.is_exact else 1e-6

    @property
    def is_exact(self):
        """Whether the recovered network attains the program's value (``L = 3`` or linear)."""
        return self.n_layers == 3 or self.activation == "linear"

    def finishing(self, patches, gates, *, prune):
        """How each output's solution is finished after its solve: the fields of
        :class:`~.._outputs.Finishing` (``prune`` does not apply). A duality gap certified
        from the point's own dual point, ``loose`` for CVXPY's (warned about only above
        ``_convergence.LOOSE_GAP``): a tight re-solve, as for two layers, takes several times
        CVXPY's solve (benchmarks/README.md, "Circular programs: native versus Clarabel").
        The solver's residue dropped; no polish."""
        return {
            "formulation": self, "patches": patches, "gates": gates, "certify": True,
            "polish": False, "residue": "clean", "loose": True,
        }  # fmt: skip

    def check_program_memory(self, patches_shape, n_patterns, *, solver, exact, at_once):
        """MemoryError, naming the fix, where the program would not fit in memory
        (:func:`~.._resources.check_program_memory`), as
        :meth:`.two_layer.PooledSumFormulation.check_program_memory`: held as the native
        solver's arrays for ``solver="native"``, else as CVXPY's program (``"auto"`` solves
        by CVXPY first)."""
        kind = "circular_native" if solver == "native" else "circular"
        if self.activation == "linear":  # (no patterns: one piece, whatever n_patterns)
            n_patterns = 1
        check_program_memory(
            *patches_shape, n_patterns, kind=kind, solver=solver, exact=exact, at_once=at_once,
            regions=self.region_sizes,
        )  # fmt: skip

    def sample_gates(self, patches, n_patterns, random_state):
        """Gates ``q`` of the sampled patterns ``1[X q >= 0]`` (none when linear: no patterns)."""
        if self.activation == "linear":
            return np.zeros((patches.shape[2], 0))
        return sample_gates(patches, n_patterns, random_state)

    def check_enumeration(self, rows_at, n_samples, n_rows):
        """Refuse ``n_patterns='exact'`` from a spread sample of the rows (``rows_at(indices)``)
        before the patches are cut, as :meth:`enumerate_gates` would refuse all ``n_rows``."""
        if self.activation != "linear":
            check_sampled_bound(rows_at, n_rows, shorter=_FEWER_FEATURES)

    def enumerate_gates(self, patches):
        """Gates of every pattern ``1[X q >= 0]``: the cells of the arrangement of the ``n``
        sample hyperplanes in ``R^d``, at most ``2 sum_{l < r} C(n - 1, l)`` for data of rank
        ``r`` (doc/formulations.md §7.2). Raises ValueError beyond the enumeration limit."""
        if self.activation == "linear":
            return np.zeros((patches.shape[2], 0))
        return enumerate_gates(patches, shorter=_FEWER_FEATURES)

    def program(self, patches, gates):
        """The :class:`GroupProgram` with the (weighted) spectral l1 norm.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, 1, d)
        gates : ndarray of shape (d, n_patterns)
        """
        X = patches[:, 0, :]
        length = X.shape[1]
        blocks = spectral_blocks(length, self.n_layers)
        if self.activation == "linear":
            # no ReLU: one piece and an empty (all-zero) cone row
            return GroupProgram(X[None], np.zeros((1, 1, length)), blocks)
        _, pieces, cones = average_blocks(patches, gates, 1.0)
        return GroupProgram(pieces, cones, blocks)

    def _groups(self, coef):
        # every nonzero group: the solver's residue is gone already (Finishing, by each
        # group's fit, not its norm: a group of norm 1e-7 of the largest carried a fit of 4 on
        # inputs whose scales differ by 1e7, and a relative norm test dropped it)
        if self.activation == "linear":
            # one group and no cone: c and c' are interchangeable, keep their difference
            coef = np.stack([coef[0] - coef[1], np.zeros_like(coef[1])])
        blocks = spectral_blocks(coef.shape[2], self.n_layers)
        keep = GroupNorm(blocks)(coef) > 0
        signs, _ = np.nonzero(keep)
        groups = coef[keep]
        if self.activation == "linear" and self.n_layers > 3:
            # each real frequency its own neuron: the weighted l1 is then attained exactly
            spectra = np.fft.rfft(groups, axis=1)
            parts, part_signs = [], []
            for group_spectrum, sign in zip(spectra, signs, strict=True):
                magnitude = np.abs(group_spectrum)
                for k in np.flatnonzero(magnitude > 1e-12 * magnitude.max()):
                    single = np.zeros_like(group_spectrum)
                    single[k] = group_spectrum[k]
                    parts.append(np.fft.irfft(single, n=coef.shape[2]))
                    part_signs.append(sign)
            groups = np.array(parts).reshape(-1, coef.shape[2])
            signs = np.array(part_signs, dtype=int)
        return groups, signs

    def network(self, solutions, patches, gates):
        """The recovered circular network, one group of neurons per output.

        Each group ``c`` becomes the factorization of :func:`factorize`, balanced so that the
        last filter and the output weight share its cost ``rho``:
        ``u_{L-1} = u' / sqrt(rho)``, ``w = ±sqrt(rho)``.

        Parameters
        ----------
        solutions : list of Solution
            One solved program per output.
        patches, gates : ndarray
            The program's patches and gates (unused here: the groups say all).

        Returns
        -------
        network : CircularCNN
        """
        n_outputs = len(solutions)
        length = solutions[0].coef.shape[2]
        layers, weights = [], []
        for output, solution in enumerate(solutions):
            groups, signs = self._groups(solution.coef)
            for group, sign in zip(groups, signs, strict=True):
                inner, last = factorize(group, self.n_layers, rtol=self._spectral_rtol)
                cost = np.linalg.norm(last)
                if cost == 0:
                    continue
                layers.append(np.vstack([inner, last[None] / np.sqrt(cost)]))
                column = np.zeros(n_outputs)
                column[output] = np.sqrt(cost) if sign == 0 else -np.sqrt(cost)
                weights.append(column)
        if layers:
            layer_filters = np.stack(layers, axis=1)
        else:
            layer_filters = np.zeros((self.n_layers - 1, 0, length))
        return CircularCNN(
            layer_filters=layer_filters,
            output_weights=np.array(weights).reshape(-1, n_outputs),
            intercept=np.array([solution.intercept for solution in solutions]),
            activation=self.activation,
        )

    def refit_output_weights(self, network, patches, solve):
        """``network`` with the output weights of its neurons refit, for ``n_layers >= 4``
        (a relaxation, whose realized network is only an upper bound: doc/formulations.md
        §7.3).

        With the neurons' filters fixed up to scale (inner filters of unit norm, the last
        one's direction), a neuron of weight ``a`` (the product of its output weight and its
        last filter's norm, balanced) adds ``a act(X q)`` to the fit, ``q`` of unit last
        filter, and costs ``beta |a|``: the output layer is a lasso over the neurons, a group
        program of groups of size 1 and no cone. The realized network is one of its points, so
        its optimum is at most that network's objective, and at most the network without
        neurons' (at 40 layers a realized network costs 8.1 where the 3-layer network
        of the same data, padded with identity filters, costs 2.9, and the empty one 13.9;
        refit, 3.7). Returns ``network`` itself where there is nothing to refit.

        Parameters
        ----------
        network : CircularCNN
        patches : ndarray of shape (n_samples, 1, d)
        solve : callable
            ``solve(program, output, coef_init, intercept_init)``, a :class:`Solution` of the
            :class:`GroupProgram` for the targets of ``output``.
        """
        layer_filters = np.array(network.layer_filters)
        lasts = np.linalg.norm(layer_filters[-1], axis=1)
        if not len(lasts):
            return network
        layer_filters[-1] /= lasts[:, None]  # (every neuron's last filter is nonzero)
        pre = patches[:, 0, :] @ circular_convolve(layer_filters).T
        features = np.maximum(pre, 0.0) if self.activation == "relu" else pre
        weights = np.asarray(network.output_weights) * lasts[:, None]  # the a of each output
        intercept = np.array(network.intercept, dtype=float)
        for output in range(weights.shape[1]):
            neurons = np.flatnonzero(weights[:, output])
            if not len(neurons):
                continue
            program = GroupProgram(
                features[:, neurons].T[:, :, None], np.zeros((len(neurons), 1, 1))
            )
            a = weights[neurons, output]
            start = np.stack([np.maximum(a, 0.0), np.maximum(-a, 0.0)])[:, :, None]
            solution = solve(program, output, start, intercept[output])
            weights[neurons, output] = solution.coef[0, :, 0] - solution.coef[1, :, 0]
            intercept[output] = solution.intercept
        # each neuron balanced again: last filter and output weight share its cost |a|
        scale = np.sqrt(np.abs(weights).sum(axis=1))
        kept = scale > 0
        layer_filters[-1] *= scale[:, None]
        return CircularCNN(
            layer_filters=layer_filters[:, kept],
            output_weights=np.sign(weights[kept]) * np.sqrt(np.abs(weights[kept])),
            intercept=intercept,
            activation=self.activation,
        )

    def shallow(self):
        """The exact 3-layer formulation of the same activation, whose networks
        :meth:`padded` makes ``n_layers`` deep: for ``n_layers >= 4`` its optimum is an upper
        bound on this architecture's, where this relaxation's realized network can lie above
        it (doc/formulations.md §7.3)."""
        return CircularFormulation(3, self.activation)

    def polished(self, network, patches, Y, beta, loss, fit_intercept):
        """:func:`polished`: ``network`` moved by L-BFGS to a lower objective where it can,
        for ``n_layers >= 4`` (a relaxation, whose network is that of no training problem's
        minimum: doc/formulations.md §7.3)."""
        return polished(network, patches, Y, beta, loss, fit_intercept)

    def padded(self, network):
        """``network``, a shallower circular CNN, with identity filters (unit impulses)
        inserted before its last layer: the same function and penalty with ``n_layers``
        layers, as inner filters of norm 1 cost nothing."""
        inner, last = network.layer_filters[:-1], network.layer_filters[-1:]
        identity = np.zeros((self.n_layers - network.n_layers, *last.shape[1:]))
        identity[..., 0] = 1.0
        return dataclasses.replace(network, layer_filters=np.concatenate([inner, identity, last]))


def cheapest_by_output(networks, patches, Y, beta, loss):
    """One circular CNN that takes each output's neurons and intercept from whichever of
    ``networks`` (of the same outputs and depth) fits that output at the least cost, with
    the index of the network each output came from.

    A recovered circular network's neurons each serve one output, so its objective is the sum
    of the outputs' costs, each that output's loss and the penalty of its neurons: the choice
    can be made output by output. Ties go to the first network. Where a neuron serves several
    outputs, the whole network of least objective is returned, every output from it.
    """
    serving = [np.asarray(network.output_weights) != 0 for network in networks]
    if any((serves.sum(axis=1) > 1).any() for serves in serving):
        costs = [network.objective(patches, Y, beta, loss) for network in networks]
        chosen = int(np.argmin(costs))
        return networks[chosen], np.full(Y.shape[1], chosen)
    costs = np.array(
        [
            [
                _output_network(network, serves[:, c], c).objective(patches, Y[:, [c]], beta, loss)
                for c in range(Y.shape[1])
            ]
            for network, serves in zip(networks, serving, strict=True)
        ]
    )
    chosen = np.argmin(costs, axis=0)
    layers, weights = [], []
    for k, (network, serves) in enumerate(zip(networks, serving, strict=True)):
        neurons = serves[:, chosen == k].any(axis=1)
        layers.append(network.layer_filters[:, neurons])
        weights.append(np.asarray(network.output_weights)[neurons])
    kept = dataclasses.replace(
        networks[0],
        layer_filters=np.concatenate(layers, axis=1),
        output_weights=np.concatenate(weights),
        intercept=np.array([networks[k].intercept[c] for c, k in enumerate(chosen)]),
    )
    return kept, chosen


def _output_network(network, neurons, output):
    """The part of ``network`` that computes ``output``: its ``neurons`` and intercept."""
    return dataclasses.replace(
        network,
        layer_filters=network.layer_filters[:, neurons],
        output_weights=np.asarray(network.output_weights)[neurons][:, [output]],
        intercept=np.asarray(network.intercept)[[output]],
    )


def objective_and_gradient(network, patches, Y, beta, loss):
    """``network.objective(patches, Y, beta, loss)`` and its gradient with respect to the
    network's ``layer_filters``, ``output_weights`` and ``intercept``.

    The inner filters' norms are taken as they are (the polish keeps them at 1). At an
    output weight of zero the penalty's ``||w_j||_1^2`` contributes ``0``, the middle of its
    subdifferential.

    Returns
    -------
    value : float
    gradients : tuple of ndarray
        Of the shapes of ``layer_filters``, ``output_weights`` and ``intercept``.
    """
    return _value_and_gradient(
        np.asarray(network.layer_filters), np.asarray(network.output_weights),
        np.asarray(network.intercept, dtype=float), patches[:, 0, :], Y, beta, loss,
        network.activation == "relu",
    )  # fmt: skip


def _value_and_gradient(layers, weights, intercept, X, Y, beta, loss, relu, active=None):
    """:func:`objective_and_gradient` of the arrays of a circular CNN on rows ``X``; the
    ReLUs' derivatives are 1 where ``active`` (shape (n_samples, n_neurons)) says, where not
    ``None``, instead of where their pre-activations are positive."""
    spectra = np.fft.fft(layers, axis=-1)
    pre = X @ np.fft.ifft(np.prod(spectra, axis=0), axis=-1).real.T
    hidden = np.maximum(pre, 0.0) if relu else pre
    # (the squared loss's residuals of centred targets, as Network.objective takes them)
    offsets = target_means(Y) if loss == "squared" else np.zeros(Y.shape[1])
    f = hidden @ weights + (intercept - offsets)
    targets = Y - offsets
    value = loss_value(loss, f, targets) + beta * neuron_penalty(layers[-1], weights)
    g_f = -dual_vector(loss, f, targets)
    totals = np.abs(weights).sum(axis=1, keepdims=True)
    g_weights = hidden.T @ g_f + beta * totals * np.sign(weights)
    g_pre = g_f @ weights.T
    if relu:
        g_pre *= pre > 0 if active is None else active
    g_spectrum = np.fft.fft(g_pre.T @ X, axis=-1)  # (of the end-to-end filters)
    g_layers = np.empty_like(layers)
    for layer in range(len(layers)):
        # a circular convolution's adjoint is the correlation with the other factors
        others = np.prod(np.delete(spectra, layer, axis=0), axis=0)
        g_layers[layer] = np.fft.ifft(g_spectrum * np.conj(others), axis=-1).real
    g_layers[-1] += beta * layers[-1]
    return value, (g_layers, g_weights, g_f.sum(axis=0))


def polished(network, patches, Y, beta, loss, fit_intercept, max_iter=POLISH_MAX_ITER):
    """``network``, a deep circular CNN, with each output's neurons and intercept moved by
    L-BFGS (:func:`scipy.optimize.minimize`) on its regularized objective, where that lowers
    the output's cost: a relaxation's network (doc/formulations.md §7.3) lies short of even a
    local minimum of the training problem.

    Inner filters stay on the unit sphere (they may have norm at most 1, and a shorter one
    costs more in the last filter); each neuron keeps its output, its last filter and output
    weight free. At the end each neuron is balanced (its last filter's norm and output
    weight's magnitude equal, their cost least), and neurons that fit nothing on ``patches``
    are dropped. The outputs' costs are separate (each neuron serves one), so each output is
    polished alone, until ``_POLISH_ROUND`` iterations take less than ``_POLISH_RTOL`` of its
    cost off or ``max_iter`` have run, and kept only where its cost is lower.
    Returns ``network`` itself where no output's is, or a neuron serves several outputs.

    Parameters
    ----------
    network : CircularCNN
    patches : ndarray of shape (n_samples, 1, d)
    Y : ndarray of shape (n_samples, n_outputs)
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
        Whether the intercept moves too.
    max_iter : int, default=POLISH_MAX_ITER

    Returns
    -------
    network : CircularCNN
    """
    serving = np.asarray(network.output_weights) != 0
    if (serving.sum(axis=1) > 1).any():
        return network
    layers, weights, intercept = [], [], np.array(network.intercept, dtype=float)
    changed = False
    for output in range(Y.shape[1]):
        part = _output_network(network, serving[:, output], output)
        if part.n_neurons:
            before = part.objective(patches, Y[:, [output]], beta, loss)
            moved = _polished_output(
                part, patches, Y[:, [output]], beta, loss, fit_intercept, max_iter
            )
            after = moved.objective(patches, Y[:, [output]], beta, loss)
            if after < before:  # (False where NaN)
                part, changed = moved, True
        layers.append(part.layer_filters)
        column = np.zeros((part.n_neurons, Y.shape[1]))
        column[:, output] = part.output_weights[:, 0]
        weights.append(column)
        intercept[output] = part.intercept[0]
    if not changed:
        return network
    return dataclasses.replace(
        network,
        layer_filters=np.concatenate(layers, axis=1),
        output_weights=np.concatenate(weights),
        intercept=intercept,
    )


def _polished_output(part, patches, Y, beta, loss, fit_intercept, max_iter):
    """:func:`polished` of a network of one output."""
    layers = np.array(part.layer_filters)
    # inner norms into the last filter: the same function at no more cost
    norms = np.linalg.norm(layers[:-1], axis=-1)
    alive = (norms > 0).all(axis=0)
    layers, norms = layers[:, alive], norms[:, alive]
    layers[:-1] /= norms[..., None]
    layers[-1] *= np.prod(norms, axis=0)[:, None]
    X, relu = patches[:, 0, :], part.activation == "relu"
    # in units where the rows and the (centred) targets are of size one, so that L-BFGS's
    # absolute tolerances and first step mean the same at every scale: rows times s and
    # targets times t are the same problem at beta s t, the last filters and output weights
    # times sqrt(t / s) (balanced neurons stay balanced), the intercept times t (polished as
    # given, the objective_ of one fit at 7 such scales spread by 20 %, and at 1e-20 no
    # iteration ran)
    s = float(np.abs(X).max(initial=0.0))
    t = float(np.abs(Y - target_means(Y)).max(initial=0.0)) if loss == "squared" else 1.0
    if not (np.isfinite(s) and s > 0.0):
        return part
    t = t if np.isfinite(t) and t > 0.0 else 1.0
    X, Y, beta, unit = X / s, Y / t, beta / (s * t), np.sqrt(s / t)
    layers[-1] *= unit
    intercept = None if fit_intercept else np.array(part.intercept, dtype=float) / t
    start = [layers.ravel(), np.asarray(part.output_weights)[alive, 0] * unit]
    theta = np.concatenate(start + ([np.asarray(part.intercept) / t] if fit_intercept else []))
    args = (layers.shape, X, Y, beta, loss, relu, intercept)
    iterations = 0
    for _ in range(_KINK_STEPS + 1):
        slowed = _Slowed(_sphere_value_and_gradient(theta, *args)[0])
        result = minimize(
            _sphere_value_and_gradient,
            theta,
            args=args,
            jac=True,
            method="L-BFGS-B",
            callback=slowed,
            options={"maxiter": max_iter - iterations, "gtol": 1e-12, "ftol": 1e-15},
        )
        if not np.isfinite(result.x).all():
            return part
        theta, iterations = result.x, iterations + result.nit
        # (stopped by a line search that failed, or by steps too short to count, at a kink:
        # L-BFGS's stops say nothing of a ReLU network's stationarity)
        if not relu or iterations >= max_iter or slowed.stopped:
            break
        theta = _off_the_kinks(theta, *args)
        if theta is None:
            theta = result.x
            break
    filters, _, weights, intercept = _unpacked(theta, layers.shape, intercept)
    # balanced: the last filter's norm and the output weight's magnitude equal
    lasts = np.linalg.norm(filters[-1], axis=-1)
    pre = X @ circular_convolve(filters).T
    fits = np.any((np.maximum(pre, 0.0) if relu else pre) != 0, axis=0)
    kept = (weights[:, 0] != 0) & (lasts > 0) & fits
    scale = np.sqrt(np.abs(weights[kept, 0]) / lasts[kept])
    filters = filters[:, kept]
    filters[-1] *= scale[:, None] / unit  # (and back to the data's units)
    return dataclasses.replace(
        part,
        layer_filters=filters,
        output_weights=weights[kept] / (scale[:, None] * unit),
        intercept=t * np.array(intercept, dtype=float),
    )


class _Slowed:
    """An L-BFGS callback that stops it (:func:`scipy.optimize.minimize`'s ``StopIteration``)
    after a round of ``_POLISH_ROUND`` iterations that took less than ``_POLISH_RTOL`` of the
    objective off, from ``value`` at the start; ``stopped`` says whether it did."""

    def __init__(self, value):
        self.value, self.iterations, self.stopped = value, 0, False

    def __call__(self, intermediate_result):
        self.iterations += 1
        if self.iterations % _POLISH_ROUND == 0:
            value = intermediate_result.fun
            if not self.value - value > _POLISH_RTOL * abs(value):
                self.stopped = True
                raise StopIteration
            self.value = value


def _unpacked(theta, shape, intercept):
    """The layer filters (inner ones normalized), the inner filters' norms, the output weights
    (one column) and the intercept (``intercept`` where not ``None``) of a polish's point."""
    size, n_neurons = int(np.prod(shape)), shape[1]
    filters = theta[:size].reshape(shape)
    inner_norms = np.linalg.norm(filters[:-1], axis=-1, keepdims=True)
    filters = np.concatenate([filters[:-1] / inner_norms, filters[-1:]])
    weights = theta[size : size + n_neurons, None]
    return (
        filters,
        inner_norms,
        weights,
        theta[size + n_neurons :] if intercept is None else intercept,
    )


def _off_the_kinks(theta, shape, X, Y, beta, loss, relu, intercept):
    """A point of lower objective than ``theta`` along the least-norm element of the
    generalized gradient there, ``None`` where none is found.

    At a pre-activation on the ReLU's kink the derivative is any ``s`` in ``[0, 1]``; the
    least-norm combination (a bounded least-squares problem) is a descent direction where the
    gradient of either side is not (its slope is at most minus its squared norm)."""
    args = (shape, X, Y, beta, loss, relu, intercept)
    pre = X @ circular_convolve(_unpacked(theta, shape, intercept)[0]).T
    kinks = np.abs(pre) <= _KINK_RTOL * np.abs(pre).max(axis=0, initial=0.0)
    smooth = (pre > 0) & ~kinks
    value, base = _sphere_value_and_gradient(theta, *args, active=smooth)
    columns = []
    for sample, neuron in zip(*np.nonzero(kinks), strict=True):
        active = smooth.copy()
        active[sample, neuron] = True
        columns.append(_sphere_value_and_gradient(theta, *args, active=active)[1] - base)
    direction = base
    if columns:
        columns = np.column_stack(columns)
        direction = base + columns @ lsq_linear(columns, -base, bounds=(0.0, 1.0)).x
    slope, step = direction @ direction, 1.0
    for _ in range(40):  # (Armijo's backtracking, down to 1e-12 of the first step)
        moved = theta - step * direction
        if _sphere_value_and_gradient(moved, *args)[0] <= value - 1e-4 * step * slope:
            return moved
        step /= 2
    return None


def _sphere_value_and_gradient(theta, shape, X, Y, beta, loss, relu, intercept, active=None):
    """The objective of one output's network at the point ``theta`` of a polish (layer
    filters of ``shape``, the inner ones divided by their norms; output weights; intercept,
    unless fixed at ``intercept``) and its gradient (``active``: see
    :func:`_value_and_gradient`)."""
    filters, inner_norms, weights, b = _unpacked(theta, shape, intercept)
    value, (g_layers, g_weights, g_intercept) = _value_and_gradient(
        filters, weights, b, X, Y, beta, loss, relu, active
    )
    # through the normalization: the tangent part, over the norm
    inner, g_inner = filters[:-1], g_layers[:-1]
    radial = np.sum(g_inner * inner, axis=-1, keepdims=True)
    g_layers[:-1] = (g_inner - radial * inner) / inner_norms
    parts = [g_layers.ravel(), g_weights[:, 0]] + ([g_intercept] if intercept is None else [])
    return value, np.concatenate(parts)


def _read_only(array):
    array.flags.writeable = False
    return array
