"""Write the intersphinx inventories that the documentation links against, without a network.

Intersphinx normally downloads each project's ``objects.inv`` at build time, but the documentation
is built offline (CI reaches package registries only). This script writes those inventories
instead, one per project, into this folder: every public name of the *installed* package (Python's
standard library, NumPy, SciPy's sparse module, pandas, scikit-learn, PyTorch, joblib) and the page
where that project's documentation puts it, following the URL scheme its API reference uses (for
instance ``modules/generated/sklearn.pipeline.Pipeline.html#sklearn.pipeline.Pipeline``). The
files are committed; ``doc/conf.py`` points ``intersphinx_mapping`` at them.

Run it again after upgrading one of these packages when the documentation starts to link a name
that is new in it (the nitpicky docs build names such a reference)::

    python doc/inventories/make_inventories.py

The links go to each project's *stable* documentation. The URL scheme is each project's general
rule; a name that a project documents on an unusual page is listed in the ``*_PAGES`` tables below.
"""

import builtins
import importlib
import inspect
import sys
import warnings
import zlib
from importlib.metadata import version as dist_version
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Base URLs: also used by doc/conf.py, so that a link and its inventory cannot disagree.
BASE_URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "pandas": "https://pandas.pydata.org/docs/",
    "sklearn": "https://scikit-learn.org/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "joblib": "https://joblib.readthedocs.io/en/stable/",
}


def _public(names):
    return sorted(n for n in names if not n.startswith("_"))


def _methods(cls):
    """Public methods and properties of ``cls``, inherited ones included."""
    out = []
    for name in _public(dir(cls)):
        try:
            attr = inspect.getattr_static(cls, name)
            # Descriptors such as scikit-learn's available_if give a function on the class.
            bound = getattr(cls, name)
        except AttributeError:
            continue
        if isinstance(attr, (staticmethod, classmethod, property)) or callable(bound):
            out.append(name)
    return out


def _generated(prefix, name, page_dir="generated/", role=None, obj=None):
    """Entries for ``prefix.name`` on its own page ``page_dir + prefix.name.html``."""
    full = f"{prefix}.{name}"
    page = f"{page_dir}{full}.html"
    if role is None:
        role = "py:class" if inspect.isclass(obj) else "py:function"
    entries = [(full, role, f"{page}#{full}")]
    if role == "py:class" and issubclass(obj, BaseException):
        entries.append((full, "py:exception", f"{page}#{full}"))
    return entries


# ------------------------------------------------------------------------------------------------
# Python

# Built-in classes documented with the built-in types rather than with the built-in functions.
PY_STDTYPES = {"bytearray", "bytes", "dict", "frozenset", "list", "memoryview", "range", "set", "str", "tuple"}
PY_CONSTANTS = ["Ellipsis", "False", "None", "NotImplemented", "True"]
# Modules whose members the documentation may link; library/<module>.html#<module>.<name>.
PY_MODULES = [
    "abc", "collections", "collections.abc", "contextlib", "copy", "dataclasses", "functools",
    "inspect", "io", "itertools", "json", "logging", "math", "numbers", "os", "os.path",
    "pathlib", "pickle", "random", "re", "shutil", "sys", "tempfile", "time", "typing",
    "warnings", "weakref",
]  # fmt: skip
PY_TERMS = ["array-like", "callable", "generator", "iterable", "iterator", "mapping", "sequence"]


def python_entries():
    entries = []
    for name in _public(dir(builtins)):
        obj = getattr(builtins, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            entries.append((name, "py:exception", f"library/exceptions.html#{name}"))
        elif inspect.isclass(obj):
            page = "stdtypes" if name in PY_STDTYPES else "functions"
            entries.append((name, "py:class", f"library/{page}.html#{name}"))
        elif callable(obj):
            entries.append((name, "py:function", f"library/functions.html#{name}"))
    entries += [(name, "py:data", f"library/constants.html#{name}") for name in PY_CONSTANTS]
    for modname in PY_MODULES:
        module = importlib.import_module(modname)
        page = f"library/{modname}.html"
        entries.append((modname, "py:module", f"{page}#module-{modname}"))
        declared = getattr(module, "__all__", None)
        for name in _public(declared or vars(module)):
            obj = getattr(module, name, None)
            if inspect.ismodule(obj) or obj is None:
                continue
            # Without __all__, skip what the module merely imported (``re.enum`` ...).
            origin = getattr(obj, "__module__", None) or modname
            if not declared and origin.lstrip("_").split(".")[0] != modname.split(".")[0]:
                continue
            full = f"{modname}.{name}"
            if inspect.isclass(obj):
                role = "py:exception" if issubclass(obj, BaseException) else "py:class"
                entries.append((full, role, f"{page}#{full}"))
                entries += [(f"{full}.{m}", "py:method", f"{page}#{full}.{m}") for m in _methods(obj)]
            elif callable(obj):
                entries.append((full, "py:function", f"{page}#{full}"))
    entries += [(term, "std:term", f"glossary.html#term-{term}") for term in PY_TERMS]
    return entries


# ------------------------------------------------------------------------------------------------
# NumPy

NUMPY_PAGES = {
    "numpy.random.RandomState": "reference/random/legacy.html",
    "numpy.random.Generator": "reference/random/generator.html",
    "numpy.random.default_rng": "reference/random/generator.html",
}


def numpy_entries():
    import numpy as np

    entries = [("numpy", "py:module", "reference/index.html#module-numpy")]
    for name in _public(np.__all__):
        obj = getattr(np, name, None)
        full = f"numpy.{name}"
        if inspect.ismodule(obj) or obj is None:
            continue
        if inspect.isclass(obj) and issubclass(obj, np.generic):
            entries.append((full, "py:class", f"reference/arrays.scalars.html#{full}"))
        elif isinstance(obj, float) or obj is np.newaxis:
            entries.append((full, "py:data", f"reference/constants.html#{full}"))
        elif inspect.isclass(obj) or callable(obj):
            entries += _generated("numpy", name, "reference/generated/", obj=obj)
    for cls in ("ndarray", "dtype"):
        for m in _methods(getattr(np, cls)):
            full = f"numpy.{cls}.{m}"
            entries.append((full, "py:method", f"reference/generated/{full}.html#{full}"))
    entries.append(("numpy.random", "py:module", "reference/random/index.html#module-numpy.random"))
    for name in ("RandomState", "Generator", "default_rng"):
        full = f"numpy.random.{name}"
        obj = getattr(np.random, name)
        entries.append((full, "py:class" if inspect.isclass(obj) else "py:function", f"{NUMPY_PAGES[full]}#{full}"))
        if inspect.isclass(obj):
            for m in _methods(obj):
                entries.append((f"{full}.{m}", "py:method", f"reference/random/generated/{full}.{m}.html#{full}.{m}"))
    entries.append(("array_like", "std:term", "glossary.html#term-array_like"))
    return entries


# ------------------------------------------------------------------------------------------------
# SciPy (the sparse module: sparse matrices are valid input everywhere in skae)


def scipy_entries():
    import scipy.sparse

    entries = [("scipy.sparse", "py:module", "reference/sparse.html#module-scipy.sparse")]
    for name in _public(scipy.sparse.__all__):
        obj = getattr(scipy.sparse, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            entries += _generated("scipy.sparse", name, "reference/generated/", obj=obj)
    return entries


# ------------------------------------------------------------------------------------------------
# pandas


def pandas_entries():
    import pandas as pd

    entries = []
    for name in _public(pd.__all__):
        obj = getattr(pd, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            entries += _generated("pandas", name, "reference/api/", obj=obj)
    for cls in ("DataFrame", "Series"):
        for m in _methods(getattr(pd, cls)):
            full = f"pandas.{cls}.{m}"
            entries.append((full, "py:method", f"reference/api/{full}.html#{full}"))
    return entries


# ------------------------------------------------------------------------------------------------
# scikit-learn: one page per public object, modules/generated/<full name>.html, methods on the
# class's page; one page per module, api/<module>.html


def _sklearn_module_entries(modname, names):
    module = importlib.import_module(modname)
    entries = []
    for name in _public(names):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        full = f"{modname}.{name}"
        page = f"modules/generated/{full}.html"
        entries += _generated(modname, name, "modules/generated/", obj=obj)
        if inspect.isclass(obj):
            entries += [(f"{full}.{m}", "py:method", f"{page}#{full}.{m}") for m in _methods(obj)]
    return entries


# sklearn.utils documents these submodules, each as a section of the sklearn.utils page.
SKLEARN_UTILS_SUBMODULES = [
    "class_weight", "discovery", "estimator_checks", "extmath", "graph", "metadata_routing",
    "metaestimators", "multiclass", "parallel", "random", "sparsefuncs", "validation",
]  # fmt: skip


def sklearn_entries():
    import sklearn
    from sklearn.experimental import enable_halving_search_cv, enable_iterative_imputer  # noqa: F401

    entries = [("sklearn", "py:module", "api/sklearn.html#module-sklearn")]
    top = [n for n in sklearn.__all__ if not inspect.ismodule(getattr(sklearn, n, None))]
    entries += _sklearn_module_entries("sklearn", top)
    submodules = [n for n in sklearn.__all__ if n not in top and n not in ("externals", "experimental")]
    for sub in sorted(submodules + ["utils"]):
        modname = f"sklearn.{sub}"
        module = importlib.import_module(modname)
        entries.append((modname, "py:module", f"api/{modname}.html#module-{modname}"))
        entries += _sklearn_module_entries(modname, getattr(module, "__all__", []))
    for sub in SKLEARN_UTILS_SUBMODULES:
        modname = f"sklearn.utils.{sub}"
        module = importlib.import_module(modname)
        entries.append((modname, "py:module", f"api/sklearn.utils.html#module-{modname}"))
        # Without __all__: what the module defines or re-exports from scikit-learn's private
        # modules (metadata_routing's classes live in sklearn.utils._metadata_requests).
        names = getattr(module, "__all__", None) or [
            n
            for n, obj in vars(module).items()
            if (getattr(obj, "__module__", None) or "").startswith("sklearn.")
        ]
        entries += _sklearn_module_entries(modname, names)
    return entries


# ------------------------------------------------------------------------------------------------
# PyTorch: generated/<full name>.html for most objects, a few on topic pages

TORCH_PAGES = {
    "torch.Tensor": "tensors.html",
    "torch.device": "tensor_attributes.html",
    "torch.dtype": "tensor_attributes.html",
    "torch.layout": "tensor_attributes.html",
    "torch.memory_format": "tensor_attributes.html",
    "torch.autocast": "amp.html",
    "torch.Size": "size.html",
}
TORCH_MODULES = {
    "torch": "torch.html",
    "torch.nn": "nn.html",
    "torch.nn.functional": "nn.functional.html",
    "torch.optim": "optim.html",
    "torch.cuda": "cuda.html",
}


def torch_entries():
    import torch
    import torch.func
    import torch.nn.functional

    entries = [(mod, "py:module", f"{page}#module-{mod}") for mod, page in TORCH_MODULES.items()]

    def add(modname, names, predicate):
        module = importlib.import_module(modname)
        for name in _public(names):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or not predicate(obj):
                continue
            full = f"{modname}.{name}"
            if full in TORCH_PAGES:
                role = "py:class" if inspect.isclass(obj) else "py:function"
                entries.append((full, role, f"{TORCH_PAGES[full]}#{full}"))
            else:
                entries.extend(_generated(modname, name, obj=obj))

    add("torch", torch.__all__, callable)
    add("torch.nn", dir(torch.nn), inspect.isclass)
    add("torch.nn.functional", dir(torch.nn.functional), inspect.isfunction)
    add("torch.optim", torch.optim.__all__, inspect.isclass)
    add("torch.func", torch.func.__all__, callable)
    add("torch.cuda", getattr(torch.cuda, "__all__", dir(torch.cuda)), inspect.isfunction)
    for m in _methods(torch.Tensor):
        full = f"torch.Tensor.{m}"
        entries.append((full, "py:method", f"generated/{full}.html#{full}"))
    for m in _methods(torch.nn.Module):
        full = f"torch.nn.Module.{m}"
        entries.append((full, "py:method", f"generated/torch.nn.Module.html#{full}"))
    return entries


# ------------------------------------------------------------------------------------------------
# joblib


def joblib_entries():
    import joblib

    entries = []
    for name in _public(joblib.__all__):
        entries += _generated("joblib", name, obj=getattr(joblib, name))
    return entries


PROJECTS = {
    # key: (project name in the inventory, distribution whose version is recorded, entries)
    "python": ("Python", None, python_entries),
    "numpy": ("NumPy", "numpy", numpy_entries),
    "scipy": ("SciPy", "scipy", scipy_entries),
    "pandas": ("pandas", "pandas", pandas_entries),
    "sklearn": ("scikit-learn", "scikit-learn", sklearn_entries),
    "torch": ("PyTorch", "torch", torch_entries),
    "joblib": ("joblib", "joblib", joblib_entries),
}


def write_inventory(path, project, version, entries):
    """Write a version-2 Sphinx inventory (the ``objects.inv`` format)."""
    lines = []
    for name, role, uri in sorted(set(entries)):
        if uri.endswith("#" + name):  # the format's shorthand: "$" stands for the name
            uri = uri[: -len(name)] + "$"
        lines.append(f"{name} {role} 1 {uri} -")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"), 9)
    path.write_bytes(header.encode("utf-8") + body)
    return len(lines)


def main():
    # Walking the packages imports many submodules; keep their warnings off the terminal.
    warnings.simplefilter("ignore")
    for key, (project, dist, make) in PROJECTS.items():
        version = dist_version(dist) if dist else ".".join(map(str, sys.version_info[:2]))
        n = write_inventory(HERE / f"{key}.inv", project, version, make())
        print(f"{key}.inv: {project} {version}, {n} entries")


if __name__ == "__main__":
    main()
