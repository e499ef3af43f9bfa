"""Sphinx extension of the skae documentation: docstring fixes and the checks that keep the site honest.

Every check reports through Sphinx's logger, so that the ``-W`` build of CI fails on it:

- an enumerated list that is not numbered 1, 2, 3 (or any list inside a footnote or citation): in
  practice always a reference written "D. P. Kingma and ...", whose initial docutils takes for a
  list marker, dropping the initial and printing list markers over the citation number;
- an estimator's API page whose source has no "Gallery examples using ..." mini-gallery, or whose
  mini-gallery is empty because no example uses the estimator by name;
- a code line of a gallery example wider than the page shows without scrolling
  (``EXAMPLE_CODE_WIDTH`` columns);
- a gallery figure wider than ``FIGURE_MAX_WIDTH_PX`` pixels at 1x, which the page would scale down
  until its text is unreadable;
- an example of a method inherited from :class:`skae.BaseAutoencoder`, rewritten for the class whose
  page shows it (see ``_inherited_examples``), that no longer runs as written;
- a ``.. runblock::`` snippet (the landing page's) that raises.

It also draws the landing page's figure (``landing.py``) into ``generated/`` at every build.
"""

import contextlib
import doctest
import inspect
import io
import re
import traceback
from pathlib import Path

import landing
from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

DOC = Path(__file__).resolve().parent.parent
EXAMPLES = DOC.parent / "examples"

# The page's code column holds 81 characters on a 1280-pixel-wide screen (pydata theme, no right
# sidebar on gallery pages): PEP 8's 79 leaves a margin.
EXAMPLE_CODE_WIDTH = 79
# Examples under rewrite in other issues; remove a name once its file is wrapped.
EXAMPLE_WIDTH_PENDING: dict = {}
# The article column is about 750 pixels wide: a figure much wider than 10 inches at 100 dpi is
# shrunk until its 10-point text is unreadable.
FIGURE_MAX_WIDTH_PX = 1000

# Gallery order: from first steps to advanced topics. An example missing here comes last, by name.
GALLERY_ORDER = [
    "plot_reconstructions.py",
    "plot_2d_codes.py",
    "plot_neighbor_embedding.py",
    "plot_rbm_features.py",
    "plot_anomaly_detection.py",
    "plot_denoising.py",
    "plot_conv_denoising.py",
    "plot_sparse_filters.py",
    "plot_contractive_tangents.py",
    "plot_vae_latent_space.py",
    "plot_vae_manifold.py",
    "plot_vae_heteroscedastic.py",
    "plot_grid_search.py",
    "plot_semisupervised.py",
]


# Inherited examples that do not carry over to a class, and why: the page shows none for these.
INHERITED_EXAMPLE_SKIP = {
    ("SparseAutoencoder", "jacobian"): "its code units are ReLUs (L1, top-k): no constant Jacobian",
}


class GalleryOrder:
    """``within_subsection_order`` for sphinx-gallery: the order of ``GALLERY_ORDER``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        rank = GALLERY_ORDER.index(name) if name in GALLERY_ORDER else len(GALLERY_ORDER)
        return f"{rank:04d}{name}"


# ------------------------------------------------------------------------------------------------
# Docstrings

# The API pages show methods that skae estimators inherit from scikit-learn (set_output, get_params,
# ...). Their docstrings cross-reference labels and glossary terms of scikit-learn's own
# documentation, which do not exist here: keep the text, drop the link. A reference to one of
# scikit-learn's gallery examples becomes a link to that example on scikit-learn's site.
_SKLEARN = "https://scikit-learn.org/stable/"
_SKLEARN_EXAMPLE = re.compile(r":ref:`(sphx_glr_auto_examples_(\w+?)_(plot_\w+)\.py)`")
_FOREIGN_ROLE = re.compile(r":(?:ref|term|doc):`([^`<]*?)\s*(?:<[^`>]*>)?`")
# Version notes in scikit-learn's docstrings give scikit-learn's versions, not skae's.
_VERSION_NOTE = re.compile(r"^(\s*)\.\. (versionadded|versionchanged)::")
# numpydoc does not escape the type of a parameter or attribute, so a fitted attribute named in a
# shape, as in "ndarray of shape (n_features_in_,)", would read as an RST link target. Show it as
# code.
_SHAPE = re.compile(r"shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,) ]|$)")


def _is_ours(obj):
    module = getattr(obj, "__module__", None) or ""
    return module == "skae" or module.startswith("skae.")


def _drop_version_notes(lines):
    out, skip_indent = [], None
    for line in lines:
        if skip_indent is not None:
            if not line.strip() or len(line) - len(line.lstrip()) > skip_indent:
                continue
            skip_indent = None
        match = _VERSION_NOTE.match(line)
        if match:
            skip_indent = len(match.group(1))
            continue
        out.append(line)
    return out


def _foreign_line(line):
    line = _SKLEARN_EXAMPLE.sub(
        lambda m: f"`scikit-learn's {m.group(3)} example <{_SKLEARN}auto_examples/{m.group(2)}/{m.group(3)}.html>`__",
        line,
    )
    return _FOREIGN_ROLE.sub(lambda m: m.group(1).strip(), line)


def _section(lines, title):
    """``(start, stop)`` of numpydoc section ``title`` in ``lines`` (header included), or None."""
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            stop = len(lines)
            for j in range(i + 2, len(lines) - 1):
                if lines[j].strip() and set(lines[j + 1].strip()) == {"-"} and lines[j + 1].strip():
                    stop = j
                    break
            return i, stop
    return None


def _retarget_example(lines, old, new):
    """Replace class name ``old`` by ``new`` in doctest lines, re-aligning continuation lines."""
    out, shift = [], 0
    pattern = re.compile(rf"\b{old}\b")
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("... ") and shift:
            head = line[: len(line) - len(stripped) + 4]
            rest = line[len(head) :]
            pad = len(rest) - len(rest.lstrip())
            line = head + " " * max(pad + shift, 0) + rest.lstrip()
        elif stripped.startswith(">>> "):
            shift = 0
        new_line = pattern.sub(new, line)
        if new_line != line:
            shift = len(new_line) - len(line)
        out.append(new_line)
    return out


def _run_example(name, text):
    """Run doctest ``text``; returns the failure report, or None when it passes."""
    test = doctest.DocTestParser().get_doctest(text, {}, name, None, 0)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=report.write)
    return report.getvalue() if runner.failures else None


def _inherited_examples(name, obj, lines):
    """Rewrite the example of a method inherited from BaseAutoencoder for the class shown.

    The engine's methods (fit, transform, jacobian ...) carry examples written with
    :class:`skae.Autoencoder`. On the page of another estimator the example uses that estimator
    instead, and the rewritten example is run here so that the page never shows one that fails. The
    semi-supervised classifier is built differently (around an autoencoder): its page shows no
    example for these methods rather than a wrong one.
    """
    from sklearn.base import ClassifierMixin

    import skae

    owner = getattr(obj, "__qualname__", "").split(".")[0]
    parts = name.split(".")
    if owner != "BaseAutoencoder" or len(parts) != 3:
        return lines
    cls = getattr(skae, parts[1], None)
    if cls is None or parts[1] in ("Autoencoder", "BaseAutoencoder"):
        return lines
    span = _section(lines, "Examples")
    if span is None:
        return lines
    start, stop = span
    if issubclass(cls, ClassifierMixin) or (parts[1], parts[2]) in INHERITED_EXAMPLE_SKIP:
        return lines[:start] + lines[stop:]
    example = _retarget_example(lines[start + 2 : stop], "Autoencoder", parts[1])
    failure = _run_example(name, inspect.cleandoc("\n".join(example)))
    if failure:
        logger.warning(
            "%s: the example inherited from BaseAutoencoder, rewritten for %s, fails:\n%s",
            name,
            parts[1],
            failure,
            type="skae",
            subtype="inherited-example",
        )
    return lines[: start + 2] + example + lines[stop:]


def process_docstring(app, what, name, obj, options, lines):
    if not _is_ours(obj):
        lines[:] = [_foreign_line(line) for line in _drop_version_notes(lines)]
    elif what == "method":
        lines[:] = _inherited_examples(name, obj, lines)
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(lambda m: "shape (" + _TRAILING_UNDERSCORE.sub(r"``\1``", m.group(1)) + ")", line)


# ------------------------------------------------------------------------------------------------
# Checks


def check_lists(app, doctree):
    """Fail on lists that are references in disguise (see the module docstring)."""
    for node in doctree.findall(nodes.enumerated_list):
        in_note = any(isinstance(p, (nodes.footnote, nodes.citation)) for p in _ancestors(node))
        if node.get("enumtype") != "arabic" or in_note:
            logger.warning(
                "enumerated list with %s markers%s: a reference that starts with an initial "
                '("D. P. Kingma and ...") is read as a list; write the surname first '
                '("Kingma, D. P. and ...")',
                node.get("enumtype"),
                " inside a footnote" if in_note else "",
                location=node,
                type="skae",
                subtype="reference-list",
            )


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def check_api_sources(app, docname, source):
    """An estimator's API page must carry the mini-gallery of the examples that use it."""
    match = re.fullmatch(r"generated/skae\.(\w+)", docname)
    if not match or match.group(1) not in app.config.skae_estimators:
        return
    if ".. minigallery::" not in source[0]:
        logger.warning(
            "%s has no mini-gallery: the autosummary template was not found (see api.rst's :template:)",
            docname,
            location=docname,
            type="skae",
            subtype="minigallery",
        )


def check_minigalleries(app, exception):
    """Every estimator must be used by name in at least one example: else its mini-gallery is empty."""
    if exception is not None:
        return
    folder = Path(app.srcdir) / "generated" / "backreferences"
    if not folder.is_dir():  # a build without the gallery
        return
    for name in app.config.skae_estimators:
        path = folder / f"skae.{name}.examples"
        if not path.is_file() or not path.read_text().strip():
            logger.warning(
                "skae.%s is used by name in no gallery example: its API page's mini-gallery is empty",
                name,
                type="skae",
                subtype="minigallery",
            )


def check_example_width(app):
    from sphinx_gallery.py_source_parser import split_code_and_text_blocks

    for path in sorted(EXAMPLES.glob("plot_*.py")):
        if path.name in EXAMPLE_WIDTH_PENDING:
            continue
        _, blocks = split_code_and_text_blocks(str(path))
        for label, content, lineno in blocks:
            if label != "code":
                continue
            for offset, line in enumerate(content.splitlines()):
                if len(line) > EXAMPLE_CODE_WIDTH:
                    logger.warning(
                        "code line of %d characters: the page shows %d without scrolling",
                        len(line),
                        EXAMPLE_CODE_WIDTH,
                        location=f"{path}:{lineno + offset}",
                        type="skae",
                        subtype="example-width",
                    )


def check_figures(app, exception):
    if exception is not None or not app.config.sphinx_gallery_conf.get("plot_gallery"):
        return
    from PIL import Image

    images = Path(app.srcdir) / "auto_examples" / "images"
    for path in sorted(images.glob("sphx_glr_plot_*_[0-9][0-9][0-9].png")):
        with Image.open(path) as image:
            width = image.size[0]
        if width > FIGURE_MAX_WIDTH_PX:
            logger.warning(
                "%s is %d pixels wide: the page scales it down until its text is unreadable; "
                "make the figure at most %.0f inches wide",
                path.name,
                width,
                FIGURE_MAX_WIDTH_PX / 100,
                type="skae",
                subtype="figure-width",
            )


# ------------------------------------------------------------------------------------------------
# Runnable snippets


class RunBlock(SphinxDirective):
    """A Python code block that is run when the page is built, followed by what it printed.

    The output shown is always the current code's, and a snippet that raises fails the build.
    """

    has_content = True

    def run(self):
        code = "\n".join(self.content)
        block = nodes.literal_block(code, code, language="python")
        self.set_source_info(block)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"<{self.env.docname} runblock>", "exec"), {"__name__": "__main__"})
        except Exception:
            logger.warning(
                "this runblock raised:\n%s",
                traceback.format_exc(),
                location=block,
                type="skae",
                subtype="runblock",
            )
        output = printed.getvalue().rstrip("\n")
        label = nodes.paragraph("", "", nodes.emphasis(text="Output, computed when this page was built:"))
        return [block, label, nodes.literal_block(output, output, language="none", classes=["skae-output"])]


def draw_landing_figure(app):
    target = Path(app.srcdir) / "generated" / "why_skae.png"
    target.parent.mkdir(exist_ok=True)
    landing.draw(target)


def setup(app):
    app.add_directive("runblock", RunBlock)
    app.connect("builder-inited", draw_landing_figure)
    app.add_config_value("skae_estimators", [], "env")
    # Before numpydoc (priority 500), so that the raw numpydoc sections are rewritten.
    app.connect("autodoc-process-docstring", process_docstring, priority=400)
    app.connect("doctree-read", check_lists)
    app.connect("source-read", check_api_sources)
    app.connect("builder-inited", check_example_width)
    app.connect("build-finished", check_figures)
    app.connect("build-finished", check_minigalleries)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
