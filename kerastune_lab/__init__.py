"""kerastune-lab: run, compare and diagnose Keras hyperparameter experiments.

Heavy modules (Keras, TensorFlow, pandas) load only when a submodule that
needs them is imported, so `kerastune-lab --help` and config validation
stay fast. `load_runs` and `load_study` (DataFrames of finished runs) are
imported on first use.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load_runs": "kerastune_lab.run_table",
    "load_study": "kerastune_lab.comparison.load_study",
}
__all__ = ["load_runs", "load_study"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
