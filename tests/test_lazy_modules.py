"""What importing GX costs a process: SciPy deferred until used, GX frozen out of the GC."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from etl import lazy_modules
lazy_modules.defer()
import great_expectations
# Imported by GX, not yet executed: SciPy's statistics code is not loaded.
print("scipy.stats._stats_py" in sys.modules)
from scipy import stats
print(round(float(stats.entropy([0.5, 0.5], [0.9, 0.1])), 6))
"""


def test_gx_imports_without_scipy_stats_which_loads_on_first_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split("\n")[:2] == ["False", "0.510826"]


def test_a_module_already_imported_is_left_as_it_is() -> None:
    probe = (
        "import sys, scipy.stats; from etl import lazy_modules; lazy_modules.defer(); "
        "print(type(sys.modules['scipy.stats']).__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "module"


def test_gx_is_frozen_out_of_the_collector_once_a_process() -> None:
    """After GX's context is built, its objects are never traversed again (etl.validation)."""
    probe = (
        "import gc; from etl.validation import prepare_gx, _freeze_imports; prepare_gx(); "
        "first = gc.get_freeze_count(); _freeze_imports(); prepare_gx(); "
        "print(first > 100_000, gc.get_freeze_count() == first)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "True True"
