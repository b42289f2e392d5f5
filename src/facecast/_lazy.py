"""Packages whose public names are imported on first use (PEP 562), as scikit-image does.

`facecast.analysis` brings mediapipe, SciPy's optimiser and matplotlib (0.86 s), and
`facecast.character` and `facecast.quality` much of the same; the command line imports each
package's ``commands`` module only to list its commands, so ``facecast --help`` or
``facecast verify`` would pay for all of it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for `package`: each name in `exports` is taken from the
    module it maps to when first asked for (a name that maps to ``package.name`` is that
    submodule), then kept in the package like an ordinary import."""

    def attribute(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(source)
        value = module if source == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return attribute, names
