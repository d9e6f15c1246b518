"""Two- and three-layer ReLU CNNs trained to global optimality by convex optimization.

Implements the convex programs of T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN
Architectures", ICLR 2021, as scikit-learn estimators.
"""

import importlib

__version__ = "0.1.0.dev0"

__all__ = [
    "Certificate",
    "ConvexCNNClassifier",
    "ConvexCNNRegressor",
    "__version__",
    "convex_cnn_path",
]

# The public names are imported on first use (PEP 562): the worker processes of ``n_jobs``
# import this package to run its solvers, and importing the estimators would import
# scikit-learn there too, a second of each fit's start (:mod:`._outputs`).
_LAZY = {
    "Certificate": "._certificate",
    "ConvexCNNClassifier": "._classes",
    "ConvexCNNRegressor": "._classes",
    "convex_cnn_path": "._path",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
