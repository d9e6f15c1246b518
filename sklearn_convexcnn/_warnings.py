"""Warnings attributed to the user's line, not to the package's internals.

A ConvergenceWarning is raised several calls below ``fit`` (through scikit-learn's
``_fit_context``, the solvers, the worker hand-over), at a depth that depends on ``n_jobs`` and
``patterns``: a fixed ``stacklevel`` named a line of this package or of ``sklearn/base.py``.
Python 3.12's ``skip_file_prefixes`` does what :func:`warn` does; the package supports 3.10.

Nothing here imports scikit-learn (the solvers' worker processes use it).
"""

import importlib.util
import os
import sys
import warnings

# this package, and what runs its code in between: scikit-learn (fit's wrapper, a user's
# GridSearchCV) and joblib (a sequential n_jobs runs the solves inside joblib's Parallel)
_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (
        __file__,
        *(importlib.util.find_spec(name).origin for name in ("sklearn", "joblib")),
    )
)


def warn(message, category):
    """``warnings.warn`` attributed to the first caller outside this package, scikit-learn and
    joblib: the user's ``fit`` or ``convex_cnn_path`` line (in a worker thread, where there is
    none, the thread's first frame: ``multiprocessing/pool.py`` for joblib's threading
    backend)."""
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, skip_file_prefixes=_INTERNAL)
        return
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
