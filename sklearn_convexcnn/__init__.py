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


# Public submodules, imported on first use as scikit-learn's are (``sklearn_convexcnn.plotting``
# after ``import sklearn_convexcnn``).
_SUBMODULES = {"plotting"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted({*__all__, *_SUBMODULES})
