"""Experiment configuration: TOML files validated into dataclasses.

Loaded on first use (PEP 562), so importing a submodule stays light.
"""

import importlib

__all__ = [
    "ExperimentConfig",
    "from_dict",
    "load_experiment",
    "load_run_config",
    "with_settings",
]


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.experiment_config")
    return getattr(module, name)
