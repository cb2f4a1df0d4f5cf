"""Lazy package surfaces: a stage package's ``__init__`` names its public names and the module each lives in,
and a name is imported on first use (PEP 562), so importing one module of a package never loads its siblings
(the extractors, torch, the tokenizers) as a side effect."""

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """``(__getattr__, __all__)`` for ``package``: ``names`` maps each public name to its module in the package."""

    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(names)
