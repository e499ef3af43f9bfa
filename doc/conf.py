"""Sphinx configuration for the skae documentation.

Build with ``tox -e docs`` or, from this folder,
``sphinx-build -E -W --keep-going -b html . _build/html``. The API reference (``api.rst``) is
written here, at every build, from ``skae.__all__``: an estimator that is exported by the package
appears in the reference without anyone editing the docs.
"""

import inspect
import os
import shutil
import sys
import warnings
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Document the checkout being built, not whatever copy of skae happens to be installed; the
# extension with this site's checks and docstring fixes lives in _ext/.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE / "inventories"))

from make_inventories import BASE_URLS  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402

import skae  # noqa: E402
import skae.modules  # noqa: E402

# -- Project ---------------------------------------------------------------------------------------

project = "skae"
author = "The skae developers"
copyright = "2026, The skae developers"
release = skae.__version__
version = ".".join(release.split(".")[:2])

# Where the source code and the issue tracker live. No public address is recorded anywhere yet
# (pyproject.toml has no [project.urls], the repository no remote), so this is a placeholder in the
# reserved .invalid domain: set the real address here, once, when the repository is published.
repository_url = "https://example.invalid/skae"
issues_url = f"{repository_url}/issues"

# -- General ---------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skae_docs",  # _ext/skae_docs.py: docstring fixes and this site's checks
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "inventories"]
default_role = "literal"
pygments_style = "sphinx"
rst_epilog = f"""
.. _source repository: {repository_url}
.. _issue tracker: {issues_url}
"""

# Every cross-reference must resolve: a broken link is a build error (with -W), not a silent plain
# word. Nothing is exempt today; a reference that cannot resolve (say, in a third-party docstring
# of an inherited method) goes into nitpick_ignore, one by one, with the reason.
nitpicky = True
nitpick_ignore = []

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

# numpydoc renders the docstrings; the methods are listed by the class template (autoclass
# :members:), so numpydoc's own member tables (which would need a stub page per method) are switched
# off.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Types in parameter lists link to their documentation, but only the names listed here: "all"
# leaves any other word of a type ("instance", "default", scikit-learn's own class names) as text.
# An alias whose target equals its name must be written as a role, or numpydoc leaves it unlinked.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    "bool": ":class:`python:bool`",
    "boolean": ":class:`bool <python:bool>`",
    "object": "object",  # not a link: "self : object" says nothing a link would add
    "ndarray": "numpy.ndarray",
    "array-like": ":term:`array-like <numpy:array_like>`",
    "sparse matrix": "scipy.sparse",
    "RandomState": "numpy.random.RandomState",
    "scalar": "scalar",  # numpydoc's default points at a label of NumPy's user guide
    "DataFrame": "pandas.DataFrame",
    "Tensor": "torch.Tensor",
    "torch.nn.Module": ":class:`torch.nn.Module`",
    "torch.device": ":class:`torch.device`",
}

# -- Links to other projects' documentation, offline -----------------------------------------------

# CI builds without network access, so each project's inventory (objects.inv) is read from
# inventories/, written from the installed packages by inventories/make_inventories.py (run it
# again when the build reports a reference that is new in an upgraded dependency).
intersphinx_mapping = {
    name: (url, str(HERE / "inventories" / f"{name}.inv")) for name, url in BASE_URLS.items()
}

# -- Math, offline ---------------------------------------------------------------------------------

# MathJax is served from the built site, not from a CDN: a copy ships with the
# sphinx-mathjax-offline package (the `doc` extra). Only what the TeX-to-HTML component loads is
# copied (see _copy_mathjax below): its single-file build with every TeX extension, and the fonts.
mathjax_path = "mathjax/tex-chtml-full.js"
MATHJAX_FILES = ["tex-chtml-full.js", "output/chtml", "ui", "a11y", "input/tex/extensions"]
MATHJAX_NOTICE = (
    "MathJax 3 (https://www.mathjax.org), Copyright (c) 2009-2022 The MathJax Consortium,\n"
    "licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0).\n"
)


def _mathjax_source():
    try:
        dist = distribution("sphinx-mathjax-offline")
    except PackageNotFoundError as exc:
        raise RuntimeError(
            "MathJax is served from the built site: pip install sphinx-mathjax-offline "
            "(it is in skae's `doc` extra)"
        ) from exc
    return Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))


MATHJAX_SOURCE = _mathjax_source()  # fail at once, not after the gallery has run


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = MATHJAX_SOURCE, Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    (target / "NOTICE.txt").write_text(MATHJAX_NOTICE)
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source / name, target / name)


# -- API reference, generated from skae.__all__ ----------------------------------------------------


def _public_names():
    """Split ``skae.__all__`` into concrete estimators, abstract base classes, other classes (such
    as HammingIndex) and the rest."""
    estimators, bases, classes, others = [], [], [], []
    for name in skae.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(skae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            (bases if inspect.isabstract(obj) or name.startswith("Base") else estimators).append(
                name
            )
        elif inspect.isclass(obj):
            classes.append(name)
        else:
            others.append(name)
    return estimators, bases, classes, others


def _write_api_page():
    estimators, bases, classes, others = _public_names()
    lines = [
        ".. This file is generated by conf.py from skae.__all__ at every build: do not edit it.",
        "",
        ".. _api:",
        "",
        "=============",
        "API reference",
        "=============",
        "",
        ".. module:: skae",
        "",
        "Every public name of :mod:`skae`, taken from ``skae.__all__``. The estimators share one",
        "training engine (``skae._base.BaseAutoencoder``), and with it most of their parameters and",
        "methods (listed in the user guide, :ref:`shared`); each page documents all of them. See",
        "the :ref:`user guide <user_guide>` for what each estimator optimizes.",
        "",
    ]

    def section(title, names, template, intro=()):
        if not names:
            return
        lines.extend([title, "=" * len(title), "", *intro])
        lines.extend(
            [".. autosummary::", "   :toctree: generated/", f"   :template: {template}", ""]
        )
        lines.extend(f"   {name}" for name in names)
        lines.append("")

    # Template names are paths in templates_path: autosummary reads a bare "class.rst" as a file
    # of that name, finds none, and falls back to its own template without the mini-gallery.
    section("Estimators", estimators, "autosummary/class.rst")
    section("Base classes", bases, "autosummary/base_class.rst")
    section("Other classes", classes, "autosummary/class.rst")
    section("Functions and other objects", others, "autosummary/function.rst")
    # The torch networks for the ``module`` parameter: their pages leave out the hundred methods they
    # inherit from torch.nn.Module.
    section(
        "Networks for the ``module`` parameter",
        skae.modules.__all__,
        "autosummary/torch_module.rst",
        # The module's docstring only: its classes get pages of their own (autodoc's default
        # members=True overrides :no-members:, so they are excluded by name).
        intro=[
            ".. automodule:: skae.modules",
            f"   :exclude-members: {', '.join(skae.modules.__all__)}",
            "",
            ".. currentmodule:: skae.modules",
            "",
        ],
    )
    text = "\n".join(lines)
    return estimators, text


# The estimators whose API pages must carry a mini-gallery (checked by _ext/skae_docs.py).
skae_estimators, _api_text = _write_api_page()
_api_path = HERE / "api.rst"
# Rewrite only on change, so that incremental builds do not re-read an unchanged page.
if not _api_path.exists() or _api_path.read_text() != _api_text:
    _api_path.write_text(_api_text)


def setup(app):
    app.connect("build-finished", _copy_mathjax)


# -- HTML ------------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_static_path = ["_static"]
html_css_files = ["skae.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    # Gallery pages give their width to the code (wrapped at 79 columns, which the article column
    # shows on a 1280-pixel screen only without the right sidebar).
    "secondary_sidebar_items": {
        "**": ["page-toc", "sourcelink"],
        "auto_examples/index": [],
        **{f"auto_examples/{p.stem}": [] for p in (HERE.parent / "examples").glob("plot_*.py")},
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "icon_links": [
        {"name": "Source repository", "url": repository_url, "icon": "fa-solid fa-code-branch"},
        {"name": "Issue tracker", "url": issues_url, "icon": "fa-solid fa-bug"},
    ],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = True

# -- sphinx-gallery --------------------------------------------------------------------------------

# Every examples/plot_*.py runs at every build; an example that raises fails the build
# (only_warn_on_example_error stays False, and sphinx-gallery reports all failures at the end).
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"(__init__|_common)\.py",
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "doc_module": ("skae",),
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    # Each figure also at twice the resolution, for HiDPI screens (srcset).
    "image_srcset": ["2x"],
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    # The computation-times page loads its table styling from CDNs, which an offline site lacks.
    "write_computation_times": False,
    # From first steps to advanced topics: _ext/skae_docs.py:GALLERY_ORDER.
    "within_subsection_order": "skae_docs.GalleryOrder",
}

# Examples run in this process: keep matplotlib headless whatever the environment says.
os.environ["MPLBACKEND"] = "Agg"

# Training an autoencoder for a few dozen epochs in an example legitimately stops before
# convergence; the example output is not the place for that warning.
warnings.filterwarnings("ignore", message="Stochastic Optimizer: Maximum iterations")
