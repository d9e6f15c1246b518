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
    "numpydoc>=1.6",
    "sphinx-gallery>=0.15",
    "pydata-sphinx-theme>=0.15",
    "matplotlib>=3.7",
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
        "scipy>=1.10",
        "scikit-learn>=1.6",
        "cvxpy>=1.5",
        "clarabel>=0.9",
        "ecos>=2.0.12",
        # the workers of n_jobs (sklearn_convexcnn/_parallel.py): joblib's own copy of loky
        # makes every worker process and its resource tracker import joblib
        "loky>=3.6",
        # (loky's own pickler, which _parallel.call_size measures calls with; loky requires it)
        "cloudpickle>=2.0",
    ],
    extras_require={
        # torch is pinned to the wheel that the project's machines carry; it is only the
        # gradient-training baseline of the exactness tests, never a runtime dependency.
        # The doc extra: the tests validate the docstrings and build the site (test_docs).
        "test": ["pytest>=7", "hypothesis>=6", "pandas", "distributed", "torch==2.13.0", *DOC],
        "doc": DOC,
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: BSD License",
    ],
)
