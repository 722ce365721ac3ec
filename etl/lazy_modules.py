"""Modules GX imports but csc-pipeline's suites never use, loaded only if used.

Importing ``great_expectations`` imports SciPy's statistics for one
expectation (KL divergence) and two metrics that no suite here has: about
0.8 s of a 2.3 s import, paid by every ingest, every Airflow task that
validates, and before a hub's workers fork.  Registered as a lazy module
(:class:`importlib.util.LazyLoader`), it is found now and executed on first
use, so an expectation that does use it still works.

Altair, imported by the same expectation, cannot be deferred so: GX imports
it by name (``import altair``), and the import system then reads the lazy
module's ``__spec__``, which loads it.  SciPy's is imported from its
package (``from scipy import stats``), which does not.
"""

from __future__ import annotations

import importlib.util
import sys

#: Imported by GX at import time, used only by expectations not in our suites.
UNUSED_BY_SUITES: tuple[str, ...] = ("scipy.stats",)


def defer(names: tuple[str, ...] = UNUSED_BY_SUITES) -> None:
    """Make each module of ``names`` lazy, unless it is imported already or absent."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:
            # As an import binds a submodule to its package.
            setattr(sys.modules[parent], child, module)
