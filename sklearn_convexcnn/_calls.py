"""Wrong calls of the public functions and methods, told as Python tells them, but naming what
the user called and, where one is known, the fix.

Nothing here imports scikit-learn.
"""


def check_call(signature, args, kwargs, called, hint):
    """Bind ``args`` and ``kwargs`` to ``signature``, or raise Python's TypeError naming
    ``called`` (``"convex_cnn_path"``, ``"ConvexCNNClassifier.fit"``: what the user called,
    not the function that defines it) and ending in ``hint(name)``, where ``name`` is the
    unexpected keyword that Python's message names, or None."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        # (Python names the first keyword that is not a parameter)
        name = next((name for name in kwargs if name not in signature.parameters), None)
        if name is not None and repr(name) not in str(exc):
            name = None  # (the error is another: a missing or repeated argument)
        raise TypeError(f"{called}() {exc}{hint(name)}") from None
