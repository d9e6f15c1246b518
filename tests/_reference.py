"""Independent, loop-based reference implementations used as test oracles.

Written without the library's patch extraction or network code, so that agreement means the
library computes what the paper's objective says, not that it agrees with itself.
"""

import numpy as np


def naive_conv_relu_average(x, filters, input_shape, kernel, stride):
    """Global average over patches of ``relu(patch . u)`` for one sample, by explicit loops.

    Returns an array of shape (n_filters,).
    """
    if len(input_shape) == 1:
        (length,) = input_shape
        (k,), (s,) = kernel, stride
        windows = [x[start : start + k] for start in range(0, length - k + 1, s)]
    else:
        height, width = input_shape[:2]
        channels = input_shape[2] if len(input_shape) == 3 else 1
        image = x.reshape(height, width, channels)
        windows = []
        for top in range(0, height - kernel[0] + 1, stride[0]):
            for left in range(0, width - kernel[1] + 1, stride[1]):
                window = []
                for i in range(kernel[0]):
                    for j in range(kernel[1]):
                        for c in range(channels):
                            window.append(image[top + i, left + j, c])
                windows.append(np.array(window))
    pooled = np.zeros(len(filters))
    for j, u in enumerate(filters):
        total = 0.0
        for window in windows:
            total += max(float(np.dot(window, u)), 0.0)
        pooled[j] = total / len(windows)
    return pooled


def naive_objective(
    X, Y, filters, output_weights, intercept, beta, loss, input_shape, kernel, stride
):
    """``loss(f(X), Y) + beta/2 * sum_j (||u_j||^2 + ||w_j||_1^2)`` by explicit loops, ``w_j``
    neuron ``j``'s output weights across outputs (weight decay with one output)."""
    value = 0.0
    for x, targets in zip(X, Y, strict=True):
        pooled = naive_conv_relu_average(x, filters, input_shape, kernel, stride)
        for output, target in enumerate(targets):
            f = intercept[output] + sum(
                pooled[j] * output_weights[j, output] for j in range(len(filters))
            )
            if loss == "squared":
                value += 0.5 * (f - target) ** 2
            else:
                value += np.log1p(np.exp(-target * f))
    penalty = sum(float(u @ u) for u in filters)
    penalty += sum(float(np.sum(np.abs(w))) ** 2 for w in output_weights)
    return value + 0.5 * beta * penalty


def planted_targets(rng, n_samples, n_features, n_filters, scale, width=3):
    """Signals ``scale * N(0, 1)`` and noise-free targets of a planted ReLU CNN (``n_filters``
    filters of ``width``, average pooling over patches, Gaussian weights), scaled to a largest
    target of one. Its optimum nearly interpolates the targets at a small ``beta``: the case
    where a restricted QP's accuracy and the dual vector ``y - f`` are most delicate."""
    X = scale * rng.standard_normal((n_samples, n_features))
    filters, weights = rng.standard_normal((n_filters, width)), rng.standard_normal(n_filters)
    patches = np.stack([X[:, p : p + width] for p in range(n_features - width + 1)], axis=1)
    y = np.maximum(patches @ filters.T, 0.0).mean(axis=1) @ weights
    return X, y / np.abs(y).max()
