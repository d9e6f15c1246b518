"""Documentation checks: the examples run and draw, the site builds, the docstrings validate.

The examples run as scripts with ``MPLBACKEND=Agg``, one after another in one process as
sphinx-gallery runs them (marked slow); each must raise nothing, warn of no non-convergence
and leave labelled, non-empty figures whose legends name each entry once. The sphinx site is
built with warnings as errors but without running the examples (``-D plot_gallery=0``, marked
slow; the full build, see doc/building_docs.rst, takes about a minute more).
``numpydoc.validate`` must find no errors in the public docstrings beyond the short,
documented ignore list below.
"""

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import sklearn_convexcnn
import sklearn_convexcnn.plotting
from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

# Runs every example as __main__ in one process, as sphinx-gallery does (each in a process of
# its own spent 2 s of its 3-9 s importing), then saves each example's figures and describes
# them, its warnings and its error as JSON.
_RUNNER = """
import json, runpy, sys, traceback, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


# the labels that a legend of fig lists more than once (one entry per plotted line)
def repeated_legend_labels(fig):
    repeated = []
    for legend in [ax.get_legend() for ax in fig.axes] + fig.legends:
        texts = [text.get_text() for text in legend.get_texts()] if legend else []
        repeated += sorted({text for text in texts if texts.count(text) > 1})
    return repeated


results = {}
for number, example in enumerate(sys.argv[2:]):
    plt.close("all")
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            runpy.run_path(example, run_name="__main__")
        except BaseException:
            error = traceback.format_exc()
    figures = []
    for figure_number in plt.get_fignums():
        fig = plt.figure(figure_number)
        path = f"{sys.argv[1]}/example_{number}_figure_{figure_number}.png"
        fig.savefig(path)
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        figures.append({
            "path": path,
            "n_axes": len(axes),
            "n_artists": sum(len(ax.lines) + len(ax.collections) + len(ax.images) for ax in axes),
            "labelled": any(
                ax.get_title() or ax.get_xlabel() or ax.get_ylabel() for ax in axes
            ) or bool(fig._suptitle and fig._suptitle.get_text()),
            "repeated_legend_labels": repeated_legend_labels(fig),
        })
    results[example] = {
        "error": error,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        "figures": figures,
    }
print("RESULTS" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """Every example's figures, warnings and error (:data:`_RUNNER`), by its path."""
    directory = tmp_path_factory.mktemp("gallery")
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(directory), *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=directory,
        timeout=1200,
    )
    assert result.returncode == 0 and "RESULTS" in result.stdout, result.stderr[-3000:]
    return json.loads(result.stdout.rsplit("RESULTS", 1)[1])


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_and_draws(example, gallery):
    run = gallery[str(example)]
    assert run["error"] is None, run["error"][-3000:]
    converging = [w for w in run["warnings"] if w.startswith("ConvergenceWarning")]
    assert not converging, converging
    figures = run["figures"]
    assert figures, f"{example.name} drew no figure"
    for figure in figures:
        assert figure["n_axes"] > 0 and figure["n_artists"] > 0, figure
        assert figure["labelled"], f"{example.name}: a figure without title or axis labels"
        # (a legend that names every line of a class again, once per line, reads as noise)
        assert not figure["repeated_legend_labels"], (example.name, figure)
        assert Path(figure["path"]).stat().st_size > 5_000, figure


def test_examples_exist():
    assert len(EXAMPLES) >= 3, [path.name for path in EXAMPLES]


# numpydoc checks that the project does not hold its docstrings to, as scikit-learn does not:
_IGNORED = {
    "RT02": "returns are named (``self : object``), as in scikit-learn",
    "SA01": "See Also sections only where they help (the classes have one)",
}
# methods and functions: the Examples section lives on the class (doctested), not every
# method; one-line methods (predict, decision_function) need no extended summary
_IGNORED_FOR_METHODS = {"EX01", "ES01"}
# the estimators: loss is documented first, per class (its options differ), then the shared ones
_IGNORED_FOR_ESTIMATORS = {"PR03"}


def _public_names():
    names = []
    public = [getattr(sklearn_convexcnn, name) for name in sklearn_convexcnn.__all__]
    # public functions of the package (a path, helpers): validated like methods
    names += [
        (f"sklearn_convexcnn.{obj.__name__}", True) for obj in public if inspect.isfunction(obj)
    ]
    for cls in [obj for obj in public if inspect.isclass(obj)]:
        names.append((f"sklearn_convexcnn.{cls.__name__}", False))
        for name, member in inspect.getmembers(cls):
            function = getattr(member, "__func__", member)
            defined_here = (getattr(function, "__module__", None) or "").startswith(
                "sklearn_convexcnn"
            )
            if not name.startswith("_") and callable(member) and defined_here:
                names.append((f"sklearn_convexcnn.{cls.__name__}.{name}", True))
    names += [
        (f"sklearn_convexcnn.plotting.{name}", True) for name in sklearn_convexcnn.plotting.__all__
    ]
    return names


@pytest.mark.parametrize("name, is_method", _public_names(), ids=lambda v: str(v))
def test_docstring_is_valid(name, is_method):
    from numpydoc.validate import validate  # (the test extra brings the doc extra)

    ignored = set(_IGNORED) | (_IGNORED_FOR_METHODS if is_method else set())
    if name in {"sklearn_convexcnn.ConvexCNNClassifier", "sklearn_convexcnn.ConvexCNNRegressor"}:
        ignored |= _IGNORED_FOR_ESTIMATORS
    errors = [(code, message) for code, message in validate(name)["errors"] if code not in ignored]
    assert not errors, "\n".join(f"{name} {code}: {message}" for code, message in errors)


@pytest.mark.parametrize("Estimator", [ConvexCNNClassifier, ConvexCNNRegressor])
def test_documented_defaults_are_the_constructors(Estimator):
    # numpydoc checks that every parameter is documented, not that its "default=" is true
    documented = dict(re.findall(r"^    (\w+) : .*, default=(.+)$", Estimator.__doc__, re.M))
    params = Estimator().get_params()
    assert documented.keys() == params.keys()
    for name, value in documented.items():
        assert ast.literal_eval(value) == params[name], name


def test_public_api_is_validated():
    names = {name for name, _ in _public_names()}
    assert {
        "sklearn_convexcnn.ConvexCNNClassifier.fit",
        "sklearn_convexcnn.ConvexCNNRegressor.predict",
        "sklearn_convexcnn.plotting.plot_filters",
    } <= names
    assert set(sklearn_convexcnn.__all__) - {"__version__"} <= {
        name.rsplit(".", 1)[1] for name in names
    }
    assert {ConvexCNNClassifier, ConvexCNNRegressor} <= {
        getattr(sklearn_convexcnn, name) for name in sklearn_convexcnn.__all__
    }


def test_api_reference_lists_every_public_name():
    api = (ROOT / "doc" / "api.rst").read_text()
    listed = {line.strip() for line in api.splitlines() if line.startswith("   ")}
    missing = set(sklearn_convexcnn.__all__) - {"__version__"} - listed
    missing |= set(sklearn_convexcnn.plotting.__all__) - listed
    assert not missing, f"add {sorted(missing)} to doc/api.rst"


# repository paths as the docs cite them (``doc/formulations.md``), not globs or build outputs
_CITED_PATH = re.compile(r"(?<![\w/])((?:doc|benchmarks|examples|tests)/[\w./-]*\w)(?![\w*])")


def _python_blocks(path):
    """The ``.. code-block:: python`` blocks of a reST file, dedented."""
    blocks = re.findall(
        r"^\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", path.read_text(), re.M
    )
    return [re.sub(r"^ {4}", "", block, flags=re.M) for block in blocks]


_DOC_BLOCKS = [
    pytest.param(block, id=f"{path.name}-{i}")
    for path in [ROOT / "README.rst", *sorted((ROOT / "doc").glob("*.rst"))]
    for i, block in enumerate(_python_blocks(path))
]


def test_the_docs_have_python_blocks_to_run():
    # (the regex must keep finding them: the README's, the index's and the quick start's)
    assert {param.id for param in _DOC_BLOCKS} >= {
        "README.rst-0",
        "index.rst-0",
        "user_guide.rst-0",
    }


@pytest.mark.parametrize("block", _DOC_BLOCKS)
def test_the_docs_python_blocks_run_without_warnings(block, tmp_path):
    # what a reader copies must run against this checkout, warning-free (a renamed parameter
    # or attribute fails here before a reader meets it)
    env = {
        **os.environ,
        # (prepended, as for the examples: a PYTHONPATH that brings the dependencies stays)
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        # (the package's warnings fail it; a dependency's deprecations are not the reader's)
        "PYTHONWARNINGS": "error,default::DeprecationWarning,default::PendingDeprecationWarning",
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout, "a block that prints nothing shows the reader nothing"


def test_the_user_guides_beta_max_snippets_give_beta_max():
    # (the snippets are literal blocks that need X and y: the block test above cannot run
    # them, and they missed input_shape, which moves beta_max on images, a review found)
    guide = (ROOT / "doc" / "user_guide.rst").read_text()
    blocks = re.findall(r"::\n\n((?:(?: {8}.*)?\n)+)", guide)
    snippets = [
        re.sub(r"^ {8}", "", block, flags=re.M) for block in blocks if "beta_max =" in block
    ]
    assert len(snippets) == 2
    X, y = load_digits(n_class=2, return_X_y=True)
    settings = dict(input_shape=(8, 8), kernel_size=3, random_state=0)
    namespace = {"X": X / 16, "y": y}  # (one session: the second uses the first's import)
    for snippet, Estimator in zip(snippets, [ConvexCNNRegressor, ConvexCNNClassifier], strict=True):
        exec(snippet, namespace)
        beta_max = namespace["beta_max"]
        widths = [
            Estimator(beta=factor * beta_max, **settings).fit(X / 16, y).filters_.shape[0]
            for factor in (1.001, 0.999)
        ]
        assert widths[0] == 0 and widths[1] > 0, (Estimator.__name__, beta_max, widths)


def test_the_user_guides_bound_on_a_circular_networks_rounding_holds():
    # the guide said "at most 7.8e-16 relative in 96 small circular fits": an audit's 144
    # such fits reached 1.5e-12 (36 above 7.8e-16; 4e-14 with the native solver), as here
    guide = " ".join((ROOT / "doc" / "user_guide.rst").read_text().split())
    said = re.search(r"to rounding for two-layer and circular CNNs \((.*?)\)", guide)[1]
    bounds = [float(value) for value in re.findall(r"at most ``([0-9.e+-]+)``", said)]
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 8))
    y = (X[:, 0] + 0.3 * rng.standard_normal(30) > 0).astype(int)
    clf = ConvexCNNClassifier(architecture="circular", beta=0.1, n_patterns=8, random_state=0)
    clf.fit(X, y)  # (2.3e-13 apart)
    relative = abs(clf.regularized_objective(X, y) - clf.objective_) / clf.objective_
    assert relative <= min(bounds), (relative, said)


def test_ci_runs_exactly_the_readmes_test_command():
    # the README promises two commands; CI must run the second one verbatim, so a change to
    # either shows here
    blocks = re.findall(
        r"^\.\. code-block:: bash\n\n {4}(.+)$", (ROOT / "README.rst").read_text(), re.M
    )
    assert len(blocks) == 2, blocks
    install_and_demo, install_and_test = blocks
    assert install_and_demo == "pip install . && python -m sklearn_convexcnn.demo"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == install_and_test, (ci[-1], install_and_test)


def test_docs_cite_files_of_the_repository():
    """What the docs point a reader to is in the checkout, not in a workspace beside it."""
    docs = [ROOT / "README.rst", ROOT / "doc" / "README.md", *(ROOT / "doc").glob("*.rst")]
    docs += [*EXAMPLES, ROOT / "sklearn_convexcnn" / "plotting.py"]
    missing = []
    for doc in docs:
        text = doc.read_text()
        cited = {path for path in _CITED_PATH.findall(text) if "_build" not in path}
        missing += [f"{doc.name}: {path}" for path in sorted(cited) if not (ROOT / path).exists()]
        if "shared/" in text:
            missing.append(f"{doc.name}: a path under shared/, outside the repository")
    assert not missing, missing
    assert (ROOT / "doc" / "formulations.md").read_text().count("\n## ") >= 10


def test_plotting_is_reached_from_the_package_as_scikit_learns_submodules_are():
    # ``sklearn_convexcnn.plotting`` after ``import sklearn_convexcnn`` raised AttributeError,
    # and dir() did not list it (a fresh interpreter: this module imports it itself)
    script = (
        "import sklearn_convexcnn as s; print('plotting' in dir(s), "
        "s.plotting.plot_filters.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "sklearn_convexcnn.plotting"], done.stderr


def test_plotting_says_how_to_install_matplotlib_when_it_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"needs matplotlib.*`pip install matplotlib`"):
        sklearn_convexcnn.plotting.plot_objectives([1.0, 2.0], 0.5)


def test_plotting_refuses_an_unfitted_estimator():
    pytest.importorskip("matplotlib")
    with pytest.raises(NotFittedError, match="has no attribute 'filters_'.*call fit first"):
        sklearn_convexcnn.plotting.plot_filters(ConvexCNNClassifier())
    with pytest.raises(NotFittedError, match="no attribute 'filter_spectra_'.*call fit first"):
        sklearn_convexcnn.plotting.plot_filter_spectra(ConvexCNNClassifier())


def test_plotting_names_the_step_of_a_fitted_pipeline_or_search():
    # a review: a fitted Pipeline was refused as "not fitted ... call fit first"
    pytest.importorskip("matplotlib")
    X, y = load_digits(n_class=2, return_X_y=True)
    cnn = ConvexCNNClassifier(input_shape=(8, 8), kernel_size=3, stride=3, n_patterns=4)
    pipeline = make_pipeline(MinMaxScaler(), cnn).fit(X[:40], y[:40])
    with pytest.raises(TypeError, match=r"got a Pipeline\. .*pass its last step: pipeline\[-1\]"):
        sklearn_convexcnn.plotting.plot_filters(pipeline)
    search = GridSearchCV(pipeline, {"convexcnnclassifier__beta": [1.0]}, cv=2)
    with pytest.raises(TypeError, match=r"GridSearchCV\. For a search, fit it \(with refit=True"):
        sklearn_convexcnn.plotting.plot_filters(search)  # (a review: no hint before the fit)
    with pytest.raises(TypeError, match=r"got a GridSearchCV\. For a search, pass its best_"):
        sklearn_convexcnn.plotting.plot_filter_spectra(search.fit(X[:40], y[:40]))
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close(sklearn_convexcnn.plotting.plot_filters(pipeline[-1]))


@pytest.mark.parametrize(
    "plot, params, message",
    [
        (
            "plot_filters",
            dict(max_filters=-1),
            r"^max_filters must be a positive int or None \(all filters\), got max_filters=-1\.$",
        ),
        ("plot_filters", dict(max_filters=0), r"got max_filters=0\."),
        ("plot_filter_spectra", dict(max_filters=2.5), r"got max_filters=2\.5\."),
        ("plot_filter_spectra", dict(floor=0.0), r"floor must be in \(0, 1\).*got floor=0\.0"),
        ("plot_filter_spectra", dict(floor=2), r"got floor=2\."),
        # (not "'<' not supported between instances of 'int' and 'str'")
        (
            "plot_filter_spectra",
            dict(floor="0.1"),
            r"floor must be in \(0, 1\).*got floor='0\.1'\.",
        ),
        # n_cols=-1 failed in matplotlib ("figure size must be positive finite")
        (
            "plot_filters",
            dict(n_cols=-1),
            r"^n_cols must be a positive int or None \(about the square root of the panels\), "
            r"got n_cols=-1\.$",
        ),
        ("plot_filters", dict(n_cols=2.5), r"got n_cols=2\.5\."),
    ],
)
def test_plotting_parameters_are_checked_by_name(plot, params, message):
    # a review: max_filters=-1 dropped the last filter, floor=0 failed in matplotlib
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=message):
        getattr(sklearn_convexcnn.plotting, plot)(ConvexCNNClassifier(), **params)


def test_plot_filters_names_a_wrong_order_and_the_two_it_takes():
    # (an error-message audit: the only plotting refusal that no test pinned)
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=r"^order must be 'norm' or 'fitted', got order='size'\.$"):
        sklearn_convexcnn.plotting.plot_filters(ConvexCNNClassifier(), order="size")


def test_plotting_refuses_what_is_no_convex_cnn_by_its_type():
    # (an error-message audit: only the Pipeline's and the search's hints were pinned, not
    # the refusal itself, which names the parameter and the type received)
    pytest.importorskip("matplotlib")
    from sklearn.linear_model import Ridge

    with pytest.raises(
        TypeError,
        match=r"^estimator must be a ConvexCNNClassifier or ConvexCNNRegressor, got a Ridge\.$",
    ):
        sklearn_convexcnn.plotting.plot_filters(Ridge())


def test_an_unknown_name_of_the_package_is_pythons_attribute_error():
    # (an error-message audit: the package's lazy __getattr__ must still refuse a misspelled
    # name in Python's own words for modules, naming it, which hasattr and tools rely on)
    with pytest.raises(
        AttributeError, match=r"^module 'sklearn_convexcnn' has no attribute 'ConvexCNN'$"
    ):
        _ = sklearn_convexcnn.ConvexCNN
    assert not hasattr(sklearn_convexcnn, "ConvexCNN")


def test_spectra_of_a_two_layer_network_name_the_architecture_they_need():
    # a fitted two-layer model was told to 'call fit first'
    pytest.importorskip("matplotlib")
    X = np.random.default_rng(0).standard_normal((20, 8))
    reg = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(X, X[:, 0])
    # the fitted architecture, not the parameter as set since (the message contradicted itself)
    for fitted in [reg, clone(reg).fit(X, X[:, 0]).set_params(architecture="circular")]:
        with pytest.raises(
            ValueError,
            match=r"has no 'filter_spectra_': it was fitted with architecture='two_layer'; "
            r"this plot needs architecture='circular' \(refit with it\)\.",
        ):
            sklearn_convexcnn.plotting.plot_filter_spectra(fitted)


def test_plot_filters_orders_three_layer_filters_by_their_middle_weights():
    # its filters have unit norm: ordered by rounding, the largest four were residue
    plt = pytest.importorskip("matplotlib.pyplot")
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = ConvexCNNClassifier(
        architecture="three_layer", input_shape=(8, 8), stride=2, n_patterns=4, beta=0.3,
        random_state=0,
    ).fit(X[:50] / 16, y[:50])  # fmt: skip
    shown = []
    fig = sklearn_convexcnn.plotting.plot_filters(
        clf, max_filters=4, label=lambda j: (shown.append(j), str(j))[1]
    )
    largest = np.argsort(-np.abs(clf.middle_weights_), kind="stable")[:4]
    np.testing.assert_array_equal(shown, largest)
    plt.close(fig)


def test_plot_filters_draws_one_panel_per_filter():
    pytest.importorskip("matplotlib")
    X, y = load_digits(n_class=2, return_X_y=True)
    clf = ConvexCNNClassifier(
        beta=0.1, input_shape=(8, 8), stride=2, n_patterns=8, random_state=0
    ).fit(X[:60] / 16, y[:60])
    fig = sklearn_convexcnn.plotting.plot_filters(clf, label=str)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == clf.filters_.shape[0]
    # every panel, in the order of the filters' Euclidean norms (not their l1 norms), largest first
    order = np.argsort(-np.linalg.norm(clf.filters_, axis=1), kind="stable")
    np.testing.assert_allclose(images, clf.filters_[order].reshape(-1, 3, 3))
    # (a review: a list of titles failed inside the drawing, "'list' object is not callable")
    with pytest.raises(TypeError, match=r"label must be a function .* got a list\. .*__getitem__"):
        sklearn_convexcnn.plotting.plot_filters(clf, label=["a", "b"])
    # (no more columns than panels: n_cols=200 drew 201 axes, a figure 261 inches wide; a fuzz)
    wide = sklearn_convexcnn.plotting.plot_filters(clf, n_cols=200)
    assert len(wide.axes) == clf.filters_.shape[0] + 1  # (and the colorbar)


@pytest.mark.parametrize(
    "input_shape, kernel_size", [((6, 4, 3), (3, 1)), ((6, 4, 2), 2), ((8,), 3)],
    ids=["3-channels", "2-channels", "signal"],
)  # fmt: skip
def test_plot_filters_separates_the_channels(input_shape, kernel_size):
    # a review: a (3, 1) filter of 3 channels, drawn side by side, looked like a 3x3 filter
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((30, int(np.prod(input_shape))))
    reg = ConvexCNNRegressor(
        beta=0.1, input_shape=input_shape, kernel_size=kernel_size, n_patterns=4, random_state=0
    ).fit(X, X[:, 0])
    fig = sklearn_convexcnn.plotting.plot_filters(reg, order="fitted", max_filters=1)
    (image,) = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    # (the blank columns are no weight: the colour scale still reaches the largest weight)
    limit = np.abs(reg.filters_[0]).max()
    assert [ax.images[0].get_clim() for ax in fig.axes if ax.images] == [(-limit, limit)]
    # each channel's filter as an image (a signal's as one row), a blank column after each
    *rows, width, channels = (1, *reg.geometry_.filter_shape)[-3:]
    filter_ = reg.filters_[0].reshape(*rows, width, channels)
    expected = np.full((*rows, channels * (width + 1) - 1), np.nan)
    for c in range(channels):
        expected[:, c * (width + 1) : c * (width + 1) + width] = filter_[..., c]
    np.testing.assert_array_equal(image, expected)
    plt.close(fig)


def test_plot_filters_draws_a_circular_filter_as_the_input_it_weighs():
    # q_j spans the whole (flattened) input: an audit found images of 8 x 8 pixels drawn as
    # strips of 1 x 64, unreadable; of 2 channels, side by side as for the other architectures
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((20, 32))
    reg = ConvexCNNRegressor(
        architecture="circular", beta=0.1, input_shape=(4, 4, 2), n_patterns=4, random_state=0
    ).fit(X, X[:, 0])
    fig = sklearn_convexcnn.plotting.plot_filters(reg, order="fitted", max_filters=1)
    (image,) = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    filter_ = reg.filters_[0].reshape(4, 4, 2)
    expected = np.hstack([filter_[..., 0], np.full((4, 1), np.nan), filter_[..., 1]])
    np.testing.assert_array_equal(image, expected)
    plt.close(fig)


def test_plot_filters_keeps_the_strips_of_1d_filters_apart():
    # an audit: at the default padding, a row of a circular CNN's filters of 16 weights read as
    # one filter of 48, the blank between two strips as wide as one weight; and each strip,
    # one weight high, sat in a row as tall as a square panel's
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((20, 16))
    reg = ConvexCNNRegressor(architecture="circular", beta=0.1, n_patterns=8, random_state=0)
    reg.fit(X, X[:, 0] - X[:, 3] + np.maximum(X[:, 5], 0))
    assert reg.filters_.shape[0] >= 4 and reg.filters_.shape[1] == 16
    fig = sklearn_convexcnn.plotting.plot_filters(reg, max_filters=4, n_cols=2)
    fig.canvas.draw()
    first, second, third = [ax.get_window_extent() for ax in fig.axes if ax.images][:3]
    weight = first.width / 16
    assert second.x0 - first.x1 > 2 * weight, (second.x0 - first.x1, weight)
    assert first.y0 - third.y1 < 15 * first.height, (first.y0 - third.y1, first.height)
    plt.close(fig)


@pytest.mark.slow
def test_sphinx_site_builds_without_warnings(tmp_path):
    """The site builds with warnings as errors, every cross-reference resolved (nitpicky:
    scikit-learn's and joblib's names too, offline from doc/_inventories/); the examples are
    run by the test above."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-n",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "doc"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    api = tmp_path / "html" / "generated" / "sklearn_convexcnn.ConvexCNNClassifier.html"
    assert "certify" in api.read_text()
    guide = (tmp_path / "html" / "user_guide.html").read_text()
    assert "sklearn.model_selection.GridSearchCV.html#sklearn.model_selection.GridSearchCV" in guide


def test_plot_objectives_takes_groups_of_different_sizes():
    pytest.importorskip("matplotlib")
    ax = sklearn_convexcnn.plotting.plot_objectives([[1.0, 2.0, 3.0], [1.5, 2.5]], 0.5)
    assert [len(c.get_offsets()) for c in ax.collections] == [3, 2]
    one = sklearn_convexcnn.plotting.plot_objectives(np.array([1.0, 2.0]), 0.5)
    assert [len(c.get_offsets()) for c in one.collections] == [2]
    with pytest.raises(ValueError, match="objectives is empty"):
        sklearn_convexcnn.plotting.plot_objectives([], 0.5)
    with pytest.raises(ValueError, match="labels has 1 names for 2 groups"):
        sklearn_convexcnn.plotting.plot_objectives([[1.0], [2.0]], 0.5, labels=["adam"])
    with pytest.raises(ValueError, match="labels has 3 names for 2 groups"):
        sklearn_convexcnn.plotting.plot_objectives([[1.0], [2.0]], 0.5, labels=["a", "b", "c"])
    unsigned = sklearn_convexcnn.plotting.plot_objectives(np.array([3, 1], dtype=np.uint8), 0.5)
    assert [list(c.get_offsets()[:, 1]) for c in unsigned.collections] == [[3.0, 1.0]]
    for one_run in (1.0, np.array(1.0)):
        scalar = sklearn_convexcnn.plotting.plot_objectives(one_run, 0.5)
        assert [len(c.get_offsets()) for c in scalar.collections] == [1]
    with pytest.raises(ValueError, match="objectives mixes single runs and groups of runs"):
        sklearn_convexcnn.plotting.plot_objectives([1.0, [2.0, 3.0]], 0.5)
    # (a review: NumPy's "could not convert string to float", and an empty group drawn)
    for objectives in ("abc", [1.3, "x"]):
        with pytest.raises(ValueError, match=r"objectives must hold numbers, .* got "):
            sklearn_convexcnn.plotting.plot_objectives(objectives, 0.5)
    with pytest.raises(ValueError, match="objectives has a group without runs"):
        sklearn_convexcnn.plotting.plot_objectives([[1.0], []], 0.5)
    message = r"objectives has a group of shape \(2, 2\), .*objectives.reshape\(n_groups, -1\)"
    for deeper in (np.ones((2, 2, 2)), [np.ones((2, 2))], {"adam": np.ones((2, 2))}):
        with pytest.raises(ValueError, match=message):
            sklearn_convexcnn.plotting.plot_objectives(deeper, 0.5)
    # the optimum is one number (a review: "x" was drawn, [1, 2] failed on its truth value)
    for optimum in ("x", [1.0, 2.0], True, np.True_):
        with pytest.raises(ValueError, match=r"optimum must be a finite number, .* got optimum="):
            sklearn_convexcnn.plotting.plot_objectives([1.0], optimum)
    for optimum in (0.5, np.float64(0.5), np.array(0.5), 1):
        line = sklearn_convexcnn.plotting.plot_objectives([1.0], optimum).lines[0]
        assert line.get_ydata()[0] == optimum
    # a diverged run or optimum is refused, not left out of the plot (a review)
    with pytest.raises(ValueError, match=r"not finite in group 1: \[nan, inf\]"):
        sklearn_convexcnn.plotting.plot_objectives([[1.3, np.nan, np.inf], [1.2]], 0.5)
    with pytest.raises(ValueError, match=r"not finite in group 1: \[-inf\]"):  # (no NaN)
        sklearn_convexcnn.plotting.plot_objectives([1.3, -np.inf], 0.5)
    with pytest.raises(ValueError, match="optimum must be a finite number"):
        sklearn_convexcnn.plotting.plot_objectives([1.0], np.inf)


def test_plots_name_an_ax_or_labels_of_the_wrong_kind():
    # a review: an array of Axes failed in matplotlib, labels=3 on "no len()", a ragged group
    # on numpy's "inhomogeneous shape" before the message that names objectives
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((12, 8))
    reg = ConvexCNNRegressor(architecture="circular", n_patterns=4, random_state=0)
    reg.fit(X, X[:, 0])
    fig, axes = plt.subplots(1, 2)
    message = (
        r"^ax must be one matplotlib Axes or None, got a ndarray of shape \(2,\)\. .*axes\[0\]"
    )
    with pytest.raises(TypeError, match=message):
        sklearn_convexcnn.plotting.plot_filter_spectra(reg, ax=axes)
    with pytest.raises(TypeError, match=message):
        sklearn_convexcnn.plotting.plot_objectives([1.3, 1.2], 1.0, ax=axes)
    assert sklearn_convexcnn.plotting.plot_objectives([1.3], 1.0, ax=axes[1]) is axes[1]
    plt.close(fig)
    # (a set: "not subscriptable"; a str: one letter per group)
    for labels in (3, {"Adam", "SGD"}, {"Adam": 0, "SGD": 1}, "AS"):
        with pytest.raises(TypeError, match=r"^labels must be a list of str, .* got labels="):
            sklearn_convexcnn.plotting.plot_objectives([[1.3], [1.4]], 1.0, labels=labels)
    # None was drawn as a run that is not finite, and "1.5" as a number
    # (kinds sorted: a set of them is ordered by the str hash, different in each process)
    kinds = [(None, "O"), (["1.5", "2"], "U"), ([True], "b"), ([1 + 2j], "c")]
    for objectives, kind in [*kinds, ([[None], ["1"]], "OU")]:
        with pytest.raises(ValueError, match=rf"must hold numbers, .*dtype kind '{kind}'\)\.$"):
            sklearn_convexcnn.plotting.plot_objectives(objectives, 1.0)
    # (and NumPy's reason, in parentheses)
    with pytest.raises(
        ValueError, match=r"must hold numbers, .* got \[\[1\.3, \[1\.2\]\]\] \(.+\)\.$"
    ):
        sklearn_convexcnn.plotting.plot_objectives([[1.3, [1.2]]], 1.0)


def test_plot_objectives_takes_a_mapping_of_groups():
    # (a review: a DataFrame's column names were read as runs, "objectives must hold numbers")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    table = pd.DataFrame({"Adam": [1.3, 1.4, 1.35], "L-BFGS": [1.26, 1.27, 1.28]})
    for objectives in (table, {"Adam": [1.3, 1.4, 1.35], "L-BFGS": (1.26, 1.27, 1.28)}):
        ax = sklearn_convexcnn.plotting.plot_objectives(objectives, 1.25)
        assert [label.get_text() for label in ax.get_xticklabels()] == ["Adam", "L-BFGS"]
        assert [list(c.get_offsets()[:, 1]) for c in ax.collections] == [
            [1.3, 1.4, 1.35],
            [1.26, 1.27, 1.28],
        ]
    ax = sklearn_convexcnn.plotting.plot_objectives({"a": 1.3, "b": [1.2]}, 1.0, labels=["A", "B"])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["A", "B"]
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 1]
    series = sklearn_convexcnn.plotting.plot_objectives(pd.Series([1.3, 1.4]), 1.0)
    assert [len(c.get_offsets()) for c in series.collections] == [2]  # (one group, not two)


def test_plot_filter_spectra_ticks_whole_neurons_and_frequencies():
    # an audit: with two neurons, matplotlib ticked the neuron axis at -0.5, -0.25, 0, ...
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((12, 6))
    reg = ConvexCNNRegressor(architecture="circular", beta=1.0, n_patterns=4, random_state=0)
    reg.fit(X, X[:, 0])
    assert 1 <= reg.filters_.shape[0] <= 3
    ax = sklearn_convexcnn.plotting.plot_filter_spectra(reg)
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        assert len(ticks) and np.all(ticks == np.round(ticks)), ticks
    plt.close("all")


def test_plot_filter_spectra_draws_the_largest_spectra_first_each_row_scaled_to_its_largest():
    # the image drawn, read back: its order, max_filters and floor are what the figure shows
    # (the tests above check the axes around it)
    plt = pytest.importorskip("matplotlib.pyplot")
    X = np.random.default_rng(0).standard_normal((40, 8))
    reg = ConvexCNNRegressor(architecture="circular", beta=0.5, n_patterns=8, random_state=0)
    reg.fit(X, X[:, 0] - X[:, 3] + np.maximum(X[:, 1], 0))
    spectra = np.abs(reg.filter_spectra_).reshape(len(reg.filter_spectra_), -1)
    sums = spectra.sum(axis=1)
    assert len(spectra) >= 4 and np.argmax(sums) != 0  # (stored otherwise than drawn)
    raw = np.asarray(_image_of(sklearn_convexcnn.plotting.plot_filter_spectra(reg)))
    assert raw.shape == spectra.shape
    assert np.all(np.diff(raw.sum(axis=1)) <= 0)  # the largest spectrum first
    assert sorted(map(tuple, raw)) == sorted(map(tuple, spectra))  # (each neuron's own row)
    ax = sklearn_convexcnn.plotting.plot_filter_spectra(reg, max_filters=3, floor=1e-3)
    scaled = np.asarray(_image_of(ax))
    assert scaled.shape == (3, spectra.shape[1])
    largest = spectra[np.argsort(-sums, kind="stable")[:3]]
    expected = np.clip(largest / largest.max(axis=1, keepdims=True), 1e-3, None)
    np.testing.assert_allclose(scaled, expected, rtol=1e-12)
    np.testing.assert_allclose(scaled.max(axis=1), 1.0, rtol=1e-12)
    plt.close("all")


def test_plot_filter_spectra_labels_its_axes_and_colour_scale():
    # the colour bar says what a colour is: a raw magnitude on a linear scale or, with a floor,
    # one relative to the row's largest on a log scale from the floor to 1
    plt = pytest.importorskip("matplotlib.pyplot")
    from matplotlib.colors import LogNorm

    X = np.random.default_rng(0).standard_normal((40, 8))
    reg = ConvexCNNRegressor(architecture="circular", beta=0.5, random_state=0)
    reg.fit(X, X[:, 0] - X[:, 3])
    for floor, label in [
        (None, "|DFT coefficient|"),
        (1e-3, "|DFT coefficient| / largest of the row"),
    ]:
        ax = sklearn_convexcnn.plotting.plot_filter_spectra(reg, floor=floor)
        (image,) = ax.images
        assert image.colorbar is not None and image.colorbar.ax.get_ylabel() == label
        assert isinstance(image.norm, LogNorm) == (floor is not None)
        assert ax.get_xlabel() == "frequency index k"
        assert ax.get_ylabel() == "neuron (largest spectrum first)"
    assert (image.norm.vmin, image.norm.vmax) == (1e-3, 1.0)
    plt.close("all")


def _image_of(ax):
    """The array of the one image drawn on ``ax``."""
    (image,) = ax.images
    return image.get_array()


@pytest.mark.parametrize("architecture", ["two_layer", "circular"])
def test_plots_of_a_network_without_neurons(architecture):
    # a beta above the largest useful one leaves the intercept alone: not a reason to crash
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    X = np.random.default_rng(0).standard_normal((20, 8))
    reg = ConvexCNNRegressor(beta=100.0, n_patterns=4, architecture=architecture)
    reg.fit(X, X[:, 0])
    assert reg.filters_.shape[0] == 0
    fig = sklearn_convexcnn.plotting.plot_filters(reg)
    assert not any(ax.images for ax in fig.axes)
    assert fig.get_suptitle() == "no neurons: the network is its intercept"
    fig.canvas.draw()  # (the title once fell off a figure sized for one panel)
    (title,) = [text for text in fig.findobj(Text) if text.get_text() == fig.get_suptitle()]
    title = title.get_window_extent()
    assert 0 <= title.x0 and title.x1 <= fig.bbox.width
    if architecture == "circular":
        ax = sklearn_convexcnn.plotting.plot_filter_spectra(reg)
        assert ax.get_title() == "no neurons: the network is its intercept"
    plt.close("all")


class _Stop(Exception):
    """Raised by :class:`_Recorder` where the demo would start to fit."""


class _Recorder:
    """A stand-in for ConvexCNNClassifier that keeps its parameters and training data."""

    made = []

    def __init__(self, **params):
        self.params = params
        _Recorder.made.append(self)

    def fit(self, X, y):
        self.X, self.y = X, y
        raise _Stop


def _demo_classifier(monkeypatch, argv):
    """The classifier that ``demo.main(argv)`` builds, with what it would be fitted to."""
    from sklearn_convexcnn import demo

    monkeypatch.setattr(_Recorder, "made", [])
    monkeypatch.setattr(demo, "ConvexCNNClassifier", _Recorder)
    with pytest.raises(_Stop):
        demo.main(argv)
    (clf,) = _Recorder.made
    return clf


def test_the_demo_fits_the_model_the_readme_describes(monkeypatch, capsys):
    # the README's model with the documented defaults, on the digits' 75 % split (1347 of
    # 1797 images) scaled to [0, 1]: 2x2 regions of the 6x6 grid of 3x3 patches is pool_size=3
    clf = _demo_classifier(monkeypatch, [])
    assert clf.params == dict(
        beta=0.1, input_shape=(8, 8), kernel_size=3, pool_size=3, readout="dense",
        n_patterns=32, loss="logistic", solver="auto", n_jobs=-1, random_state=0,
    )  # fmt: skip
    assert clf.X.shape == (1347, 64) and clf.X.min() == 0.0 and clf.X.max() == 1.0
    # (stratified: each digit's share of the training images is its share of all of them)
    assert np.all(np.abs(np.bincount(clf.y) - 0.75 * np.bincount(load_digits().target)) <= 1)
    assert "digits: 1347 training and 450 test images of 8x8 pixels" in capsys.readouterr().out
    options = ["--n-train", "100", "--n-patterns", "5", "--beta", "0.5", "--n-jobs", "2"]
    options += ["--random-state", "4294967295", "--loss", "squared", "--solver", "native"]
    clf = _demo_classifier(monkeypatch, options)
    assert clf.X.shape == (100, 64)
    assert clf.params | dict(n_patterns=5, beta=0.5, n_jobs=2) == clf.params
    assert (clf.params["random_state"], clf.params["loss"], clf.params["solver"]) == (
        2**32 - 1, "squared", "native"
    )  # fmt: skip


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--beta", "inf", "inf is not a positive number"),
        ("--random-state", "4294967296", "4294967296 is not a seed in [0, 2**32 - 1]"),
        ("--n-patterns", "2.5", "2.5 is not a positive int"),
    ],
)
def test_the_demo_refuses_options_just_past_their_range(capsys, option, value, message):
    # (the bounds themselves: a seed of 2**32 fails in NumPy, beta=inf in the estimator)
    from sklearn_convexcnn import demo

    with pytest.raises(SystemExit):
        demo.main([option, value])
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_spectra_of_a_three_layer_network_name_the_architecture_they_need():
    # (the fitted architecture named, as for two-layer networks: not "two_layer")
    pytest.importorskip("matplotlib")
    X = np.random.default_rng(0).standard_normal((20, 8))
    reg = ConvexCNNRegressor(architecture="three_layer", n_patterns=4, random_state=0)
    reg.fit(X, X[:, 0])
    with pytest.raises(
        ValueError, match=r"it was fitted with architecture='three_layer'; this plot needs "
    ):
        sklearn_convexcnn.plotting.plot_filter_spectra(reg)


@pytest.mark.parametrize(
    "plot, params, message",
    [
        # (True is an Integral: it would mean 1 filter, or 1 column, silently)
        ("plot_filters", dict(max_filters=True), r"got max_filters=True\.$"),
        ("plot_filters", dict(n_cols=True), r"got n_cols=True\.$"),
        ("plot_filter_spectra", dict(max_filters=True), r"got max_filters=True\.$"),
        # (1 is no floor below the largest coefficient: an image of one colour)
        ("plot_filter_spectra", dict(floor=1.0), r"floor must be in \(0, 1\).*got floor=1\.0\.$"),
    ],
)
def test_plotting_refuses_the_bounds_and_bools(plot, params, message):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=message):
        getattr(sklearn_convexcnn.plotting, plot)(ConvexCNNClassifier(), **params)


def test_plotting_tells_a_search_without_refit_to_refit():
    # a search fitted with refit=False has best_params_ but no best_estimator_ to pass
    pytest.importorskip("matplotlib")
    from sklearn.linear_model import Ridge

    X = np.random.default_rng(0).standard_normal((8, 2))
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=2, refit=False).fit(X, X[:, 0])
    with pytest.raises(TypeError, match=r"GridSearchCV\. For a search, fit it \(with refit=True"):
        sklearn_convexcnn.plotting.plot_filters(search)


def _several_filters():
    """A regressor with more than 3 filters of 3 weights (checked)."""
    X = np.random.default_rng(0).standard_normal((20, 8))
    reg = ConvexCNNRegressor(beta=0.1, n_patterns=8, random_state=0)
    reg.fit(X, X[:, 0] - X[:, 3] + np.maximum(X[:, 1], 0))
    assert reg.filters_.shape[0] > 3 and reg.filters_.shape[1] == 3
    return reg


def test_plot_filters_lays_out_every_panel_on_one_symmetric_colour_scale():
    # 3 panels in 2 columns take 2 rows, every panel drawn; one colour scale, symmetric about
    # zero (white: a zero weight) and reaching the largest weight of the panels drawn
    plt = pytest.importorskip("matplotlib.pyplot")
    reg = _several_filters()
    fig = sklearn_convexcnn.plotting.plot_filters(reg, order="fitted", max_filters=3, n_cols=2)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3 and len(fig.axes) == 2 * 2 + 1  # (and the colour bar)
    limit = np.abs(reg.filters_[:3]).max()
    for image, filter_ in zip(images, reg.filters_[:3], strict=True):
        np.testing.assert_array_equal(image.get_array(), filter_[None])
        assert image.get_clim() == (-limit, limit)
        assert image.get_cmap().name == "RdBu_r"  # (red a positive weight, as documented)
    assert fig.axes[-1].get_ylabel() == "filter weight"
    assert not any(ax.axison for ax in fig.axes[:-1])  # (no frames or ticks, nor a spare panel)
    plt.close(fig)
    # n_cols=None: the square root of the number of panels, rounded up (3 panels: 2 columns)
    for max_filters, grid in [(3, (2, 2)), (4, (2, 2))]:
        fig = sklearn_convexcnn.plotting.plot_filters(reg, max_filters=max_filters)
        assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == grid
        plt.close(fig)
    one = sklearn_convexcnn.plotting.plot_filters(reg, order="fitted", max_filters=1)
    limit = np.abs(reg.filters_[0]).max()
    assert limit < np.abs(reg.filters_).max()  # (the panel drawn's largest, not all filters')
    assert [ax.images[0].get_clim() for ax in one.axes if ax.images] == [(-limit, limit)]
    plt.close(one)


def test_plot_objectives_names_jitters_and_labels_the_groups():
    # default names "group 1", ...; each group's dots within 0.15 of its tick, apart from the
    # next group's; the legend names every group and the optimum's line
    pytest.importorskip("matplotlib")
    ax = sklearn_convexcnn.plotting.plot_objectives(
        [[1.3, 1.4, 1.5, 1.6], [1.2, 1.25]], 1.0, optimum_label="global minimum"
    )
    assert [label.get_text() for label in ax.get_xticklabels()] == ["group 1", "group 2"]
    for i, dots in enumerate(ax.collections):
        assert np.all(np.abs(dots.get_offsets()[:, 0] - i) <= 0.15)
    first = ax.collections[0].get_offsets()[:, 0]
    assert first.min() < 0 < first.max()  # (the four jittered either way, not on the tick)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "group 1", "group 2", "global minimum"
    ]  # fmt: skip
    assert ax.get_xlim() == (-0.6, 1.6)  # (0.6 either side of the outer ticks)
    assert ax.get_ylabel() == "regularized training objective"


def test_plot_objectives_names_the_first_four_runs_that_are_not_finite():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=r"not finite in group 2: \[nan, inf, -inf, nan\]\. A "):
        sklearn_convexcnn.plotting.plot_objectives(
            [[1.0], [np.nan, 1.0, np.inf, -np.inf, np.nan, np.inf]], 0.5
        )
