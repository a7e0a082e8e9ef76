"""Experiment configuration: TOML files validated into dataclasses."""

from kerastune_lab.config.experiment_config import (
    ExperimentConfig,
    apply_overrides,
    from_dict,
    load_experiment,
    load_run_config,
)

__all__ = [
    "ExperimentConfig",
    "apply_overrides",
    "from_dict",
    "load_experiment",
    "load_run_config",
]
