"""The one importer of ``"module:attribute"`` paths a user writes in a spec.

A builder (``hypermodel.name: my_models:build_model``) and a data loader
(``data.loader: my_data:load``) are both found this way: the working directory importable
while the module loads, as ``python -m`` would make it (and ``sys.path`` put back after),
and every failure one line that says which part was missing, with a "did you mean"::

    build = import_object("my_models:build_model")    # ImportFailure("no module ...") if not
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
from typing import Any

from sweeps.errors import one_line
from sweeps.runtime import cwd_importable

__all__ = ["ImportFailure", "import_object", "module_findable", "cwd_importable"]


class ImportFailure(Exception):
    """What went wrong importing a user's path, in one line (the caller adds where)."""


def module_findable(module: str) -> bool:
    """Whether ``module`` can be imported (from the working directory or the installed
    packages), without importing it."""
    with cwd_importable():
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package that is missing or broken
            return False


def import_object(path: str, form: str = "module:attribute") -> Any:
    """The object ``"module:attr.sub"`` names. Raises :class:`ImportFailure`; ``form`` is
    what a path must look like, as the error says it (``module:function`` for a loader)."""
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise ImportFailure(f"expected {form!r}, got {path!r}")
    with cwd_importable():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):
                raise ImportFailure(f"no module {exc.name!r} in the working directory "
                                    f"({os.getcwd()}) or the installed packages") from None
            raise ImportFailure(f"importing module {module_name!r} raised "
                                f"ModuleNotFoundError: {one_line(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a broken user module: any error at import
            raise ImportFailure(f"importing module {module_name!r} raised "
                                f"{type(exc).__name__}: {one_line(exc)}") from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            public = [n for n in dir(found) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            origin = getattr(module, "__file__", module_name)
            raise ImportFailure(f"module {module_name!r} ({origin}) has no attribute "
                                f"{part!r}{hint}")
        found = getattr(found, part)
    return found
