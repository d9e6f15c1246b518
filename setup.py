import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "sklearn_convexcnn" / "__init__.py").read_text(), re.M
).group(1)

# the sphinx site and its gallery; matplotlib also enables sklearn_convexcnn.plotting
DOC = [
    "sphinx>=7",
    # 1.11: 1.6 to 1.10 flag GL01 on every summary that starts on the line of its quotes
    "numpydoc>=1.11",
    # 0.16: 0.15 takes within_subsection_order only as a class, not the string doc/conf.py gives
    "sphinx-gallery>=0.16",
    "pydata-sphinx-theme>=0.15",
    # 3.8: the plotting tests call Figure.get_suptitle, new in 3.8
    "matplotlib>=3.8",
]

setup(
    name="sklearn-convexcnn",
    version=VERSION,
    description=(
        "scikit-learn estimators that train ReLU CNNs to global optimality by convex "
        "optimization (Ergen & Pilanci, ICLR 2021)"
    ),
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    packages=find_packages(include=["sklearn_convexcnn", "sklearn_convexcnn.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        # not 1.12 to 1.15, whose NNLS (every cone projection is one) was rewritten: 1.15's
        # returns points that are not the minimum without an error (scipy/scipy#25389; 447 of
        # 20,000 small cone projections, tests/test_optimality.py), and 1.12 to 1.14's stops at
        # its iteration limit or on systems it calls singular, and is slower (1.10, 1.11, 1.16,
        # 1.17 and 1.18 passed); pip would pick 1.15 on Python 3.10, and now picks 1.11 there
        "scipy>=1.10,!=1.12.*,!=1.13.*,!=1.14.*,!=1.15.*",
        "scikit-learn>=1.6",
        "cvxpy>=1.5",
        # 0.11: 0.9 and 0.10 stop further from the optimum on three-layer programs (the fits
        # then hand them to the native solver, or warn) and fail three tests that 0.11 passes
        "clarabel>=0.11",
        # 2.0.14: the first ECOS built for NumPy 2 (2.0.13 fails to import there)
        "ecos>=2.0.14",
        # the workers of n_jobs (sklearn_convexcnn/_parallel.py): joblib's own copy of loky
        # makes every worker process and its resource tracker import joblib
        "loky>=3.6",
        # (loky's own pickler, which _parallel.call_size measures calls with; loky requires it)
        "cloudpickle>=2.0",
        # imported directly (n_jobs, BLAS threads). joblib 1.3, not scikit-learn's floor of
        # 1.2: the n_jobs docs and the user guide name joblib.parallel_config, new in 1.3
        # (at 1.2 it fails to import, as did tests/test_parallel.py)
        "joblib>=1.3",
        # scikit-learn's own floor
        "threadpoolctl>=3.1",
    ],
    extras_require={
        # torch is pinned to the wheel that the project's machines carry; it is only the
        # gradient-training baseline of the exactness tests, never a runtime dependency.
        # The doc extra: the tests validate the docstrings and build the site (test_docs).
        # pytest 8: a nested pytest.warns re-emits the warnings it does not match (the outer
        # one of test_solver_failures saw none under 7.x); 7.0 cannot import the tests' package.
        # pytest-xdist: the README's test command runs the modules in parallel (half the time
        # on two cores). ruff: test_style holds the code to pyproject.toml's lint rules and
        # format; a minor release can add rules to the selected families, hence the range.
        "test": [
            "pytest>=8",
            "pytest-xdist>=3",
            "ruff>=0.17,<0.18",
            "hypothesis>=6",
            "pandas",
            "distributed",
            "torch==2.13.0",
            *DOC,
        ],
        "doc": DOC,
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: BSD License",
    ],
)
