"""The only module that imports private scikit-learn helpers, so an upgrade breaks in one place.

``_fit_context``, ``validate_params``, ``validate_parameter_constraints``, the
parameter-constraint classes and ``InvalidParameterError`` are what scikit-learn's own
estimators and functions use for declarative validation; they are private API, stable since
scikit-learn 1.3. One private hook is overridden elsewhere, for messages that name the fix:
``BaseEstimator._validate_params``, which ``_fit_context`` calls (``_classes.py``, the
``loss`` of each estimator).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_fit_context",
    "validate_parameter_constraints",
    "validate_params",
]
