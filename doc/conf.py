"""Sphinx configuration; build with ``sphinx-build -W -b html doc doc/_build/html``."""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# document and run the checkout, not whatever copy of the package is installed
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

import sklearn_convexcnn  # noqa: E402

project = "sklearn-convexcnn"
author = "the sklearn-convexcnn developers"
copyright = "2026, " + author
version = release = sklearn_convexcnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README*", "auto_examples/*.ipynb", "auto_examples/*.py"]

# Links to scikit-learn's and joblib's pages: their inventories where the network reaches them,
# else (offline, where a failed fetch would be a warning, an error in -W builds) the names that
# these pages cite, listed in doc/_inventories/ (Sphinx's plain-text inventory format)
intersphinx_mapping = {
    name: (url, (None, str(ROOT / "doc" / "_inventories" / f"{name}.txt")))
    for name, url in {
        "sklearn": "https://scikit-learn.org/stable/",
        "joblib": "https://joblib.readthedocs.io/en/stable/",
    }.items()
}
intersphinx_timeout = 10

autosummary_generate = True
# autosummary writes a stub per listed name and never removes one: a name listed no longer (a
# class moved to the package's top level) left its stub outside every toctree, a warning
for stub in (ROOT / "doc" / "generated").glob("*.rst"):
    stub.unlink()
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# only the numpydoc checks that the docstrings are held to (tests/test_docs.py holds them all)
numpydoc_validation_checks = set()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # the API pages list the examples that use each name ("minigallery")
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_convexcnn",),
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "show_memory": False,
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-convexcnn {version}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
}
html_static_path = []
html_show_sourcelink = False


_ROUTING = re.compile(r"^(get_metadata_routing|set_\w+_request)$")
# fitted attributes that are descriptors onto ``network_``: the classes' Attributes list them
_FITTED = re.compile(r"^[a-z]\w*_$")
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`]*>)?`")


def _skip_members(app, what, name, obj, skip, options):
    """Leave out scikit-learn's metadata-routing helpers, documented upstream, and fitted
    attributes, documented in the class's Attributes section."""
    return True if _ROUTING.match(name) or _FITTED.match(name) else None


def _plain_sklearn_refs(app, what, name, obj, options, lines):
    """Inherited scikit-learn docstrings cite labels of sklearn's own site: keep them as text."""
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn."):
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-skip-member", _skip_members)
    app.connect("autodoc-process-docstring", _plain_sklearn_refs)
