"""The recovered non-convex network: forward pass and regularized training objective.

This is the model the estimators predict with. It evaluates real ReLUs; the activation patterns
of the convex program play no part here, which is what makes the exactness tests meaningful.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from ._losses import loss_value, target_means

# Values of the ReLU map evaluated at once by ``Network.forward`` (16 MB of float64).
_CHUNK_VALUES = 2**21


class Network:
    """What the recovered networks share: the output ``f = readout + intercept`` and the
    regularized objective. A subclass defines ``_readout(patches)``, ``penalty()`` and
    ``n_neurons``, the width of its ReLU map at each patch (which sizes :meth:`forward`'s
    chunks), and not ``forward``, which :meth:`objective` does not call for the squared
    loss."""

    def __post_init__(self):
        """The arrays as read-only copies: the fitted attributes are views of them, and an edit
        in place, through those or through ``network_``, would skip the checks of an
        assignment (NaN filters, a shallow copy's ``+=`` that moves the original's
        predictions). An assignment builds a new network (``dataclasses.replace``)."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                value = np.array(value)
                value.flags.writeable = False
                setattr(self, field.name, value)

    def __setstate__(self, state):
        # (unpickled arrays are writable again)
        self.__dict__.update(state)
        self.__post_init__()

    def forward(self, patches):
        """Network output for patches of shape (n_samples, n_patches, patch_size).

        Evaluated in chunks of samples whose ReLU maps take a few MB: a map of all samples at
        once (1347 digits x 36 patches x 300 neurons, 120 MB) costs more in fresh memory than
        in arithmetic, and predicting on many samples would need it all at once.

        Returns
        -------
        f : ndarray of shape (n_samples, n_outputs)
        """
        return self._readouts(patches) + self.intercept

    def _readouts(self, patches):
        """:meth:`forward` without the intercept, in its chunks."""
        n_samples, n_patches = patches.shape[:2]
        width = max(1, n_patches * self.n_neurons)
        chunk = max(1, _CHUNK_VALUES // width)
        if n_samples <= chunk:
            return self._readout(patches)
        return np.concatenate(
            [self._readout(patches[s : s + chunk]) for s in range(0, n_samples, chunk)]
        )

    def __repr__(self):
        """The class, width and arrays' shapes: the dataclasses' own repr printed every
        array whole (80 lines for 39 neurons in a notebook)."""
        parts = [f"n_neurons={self.n_neurons}"]
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                parts.append(f"{field.name}=<array of shape {value.shape}>")
            elif value is None or isinstance(value, (int, float, str)):
                parts.append(f"{field.name}={value!r}")
            else:
                parts.append(f"{field.name}=<{type(value).__name__}>")
        return f"{type(self).__name__}({', '.join(parts)})"

    def check_assigned(self, field, value):
        """Refuse a new value of array ``field`` that breaks what :meth:`penalty` assumes
        (ValueError naming the estimator's attribute and the fix). Any value of the same
        shape does, unless a subclass constrains its weights."""

    def objective(self, patches, Y, beta, loss):
        """Regularized training objective ``loss(f(X), Y) + beta * penalty``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        Y : ndarray of shape (n_samples, n_outputs)
            Regression targets, or ±1 per class for classification.
        beta : float
        loss : {"squared", "logistic"}

        The squared loss's residuals are of targets and outputs both shifted by the targets'
        means, which the intercept's share of the outputs cancels exactly where they are
        close: uncentred, targets near 1e12 round each residual to ``eps |y|``, 2e-3 of
        the objective.
        """
        if loss != "squared":
            return loss_value(loss, self.forward(patches), Y) + beta * self.penalty()
        offsets = target_means(Y)
        f = self._readouts(patches) + (self.intercept - offsets)
        return loss_value(loss, f, Y - offsets) + beta * self.penalty()


def relu_map(patches, filters):
    """``(x_k . u_j)_+`` of shape (n, K, m): one matrix product, the ReLU in place."""
    n_samples, n_patches, patch_size = patches.shape
    activations = np.reshape(patches, (-1, patch_size)) @ filters.T
    np.maximum(activations, 0.0, out=activations)
    return activations.reshape(n_samples, n_patches, len(filters))  # (-1 fails on no samples)


def neuron_penalty(filters, output_weights):
    """``0.5 * sum_j (||u_j||^2 + ||w_j||_1^2)``: ``u_j`` row ``j`` of ``filters``, ``w_j`` row
    ``j`` of ``output_weights`` (shape (n_neurons, n_outputs)), neuron ``j``'s weight in each
    output (or the norm of its weights there).

    With one output this is weight decay. With several, a neuron pays the squared l1 norm of its
    weights across outputs: at the balanced scale it costs ``||u_j|| * sum_o |w_jo|``, what one
    neuron per output with its filter costs, so training decouples into one program per output
    (the argument of doc/formulations.md §5.3 for regions), which is what the estimators solve.
    Under weight decay ``||w_j||_2^2`` a neuron shared by outputs would cost less, and for ReLU
    networks no exact program of polynomial size is known for it (§5.2). Every recovered
    neuron serves one output, where the two penalties agree.
    """
    output_l1 = np.abs(output_weights).sum(axis=-1)
    return 0.5 * float(np.sum(filters**2) + np.sum(output_l1**2))


@dataclass(repr=False)  # (Network.__repr__)
class TwoLayerCNN(Network):
    """``f(x) = sum_j output_weights[j] * pool_k((x_k . filters[j])_+) + intercept``.

    Parameters
    ----------
    filters : ndarray of shape (n_neurons, patch_size)
        First-layer filters ``u_j``, flattened as the patches are.
    output_weights : ndarray of shape (n_neurons, n_outputs)
        Output weights ``w_j``.
    intercept : ndarray of shape (n_outputs,)
    pooling : object
        Pooling of the ReLU map; its ``pool(activations)`` maps ``(n, K, m)`` to ``(n, m)``.
    """

    filters: np.ndarray
    output_weights: np.ndarray
    intercept: np.ndarray
    pooling: object

    @property
    def n_neurons(self):
        return self.filters.shape[0]

    def _readout(self, patches):
        return self.pooling.pool(relu_map(patches, self.filters)) @ self.output_weights

    def penalty(self):
        """Weight decay ``0.5 * sum_j (||u_j||^2 + ||w_j||^2)``, with ``||w_j||_1`` across outputs
        (:func:`neuron_penalty`); the intercept is free."""
        return neuron_penalty(self.filters, self.output_weights)

    def penalty_by_output(self):
        """:meth:`penalty` split among the outputs, shape (n_outputs,): each neuron's term in
        the shares of its output weights' l1 norm (equal shares where it has none).

        An output's share is at least what its neurons cost in its own convex program,
        ``||u_j|| * ||w_jo||_1`` (their term is at least ``||u_j|| * ||w_j||_1``), so its
        objective is at least that program's optimum: what lets a certificate check the
        outputs one by one.
        """
        weights = np.abs(self.output_weights)
        if weights.ndim == 3:  # (a regional network's: its regions' weights summed)
            weights = weights.sum(axis=1)
        totals = weights.sum(axis=1)
        shares = np.full_like(weights, 1.0 / weights.shape[1])
        np.divide(weights, totals[:, np.newaxis], out=shares, where=totals[:, np.newaxis] > 0)
        return 0.5 * (np.sum(self.filters**2, axis=1) + totals**2) @ shares


@dataclass(repr=False)  # (Network.__repr__)
class RegionalCNN(TwoLayerCNN):
    """``f(x) = sum_j sum_l output_weights[j, l] * region_l((x_k . filters[j])_+) + intercept``.

    The ReLU map is pooled into regions (``pooling.regions`` maps ``(n, K, m)`` to
    ``(n, Q, m)``) and every region has its own output weight, as in a classic small CNN whose
    pooled map feeds a fully connected layer (doc/formulations.md §6.3; §5.3 when every patch is its
    own region). The penalty is ``||w_j||_1^2``, not weight decay: see :meth:`penalty`.

    Parameters
    ----------
    filters : ndarray of shape (n_neurons, patch_size)
        First-layer filters ``u_j``, flattened as the patches are.
    output_weights : ndarray of shape (n_neurons, n_regions, n_outputs)
        ``output_weights[j, l, o]`` weighs region ``l`` of neuron ``j`` in output ``o``.
    intercept : ndarray of shape (n_outputs,)
    pooling : object
        Its ``regions(activations)`` maps ``(n, K, m)`` to ``(n, Q, m)``.
    """

    def _readout(self, patches):
        regions = self.pooling.regions(relu_map(patches, self.filters))
        return np.tensordot(regions, self.output_weights, axes=([1, 2], [1, 0]))

    def penalty(self):
        """``0.5 * sum_j (||u_j||_2^2 + ||W_j||_1^2)``, ``W_j`` all output weights of neuron j.

        The squared l1 norm makes a neuron cost ``||u_j|| * sum |W_j|`` at the balanced scale,
        the cost of one neuron per region (and output): the convex program decouples over
        regions (doc/formulations.md §5.3). Plain weight decay ``||W_j||_2^2`` does not decouple
        and has no known exact program of polynomial size (§5.2). The intercept is free.
        """
        return neuron_penalty(self.filters, np.abs(self.output_weights).sum(axis=1))
