"""Two- and three-layer ReLU CNNs trained to global optimality by convex optimization.

Implements the convex programs of T. Ergen and M. Pilanci, "Implicit Convex Regularizers of CNN
Architectures", ICLR 2021, as scikit-learn estimators.
"""

from ._classes import ConvexCNNClassifier, ConvexCNNRegressor
from ._path import convex_cnn_path

__version__ = "0.1.0.dev0"

__all__ = ["ConvexCNNClassifier", "ConvexCNNRegressor", "__version__", "convex_cnn_path"]
