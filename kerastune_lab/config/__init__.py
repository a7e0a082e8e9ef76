"""Experiment configuration: TOML files validated into dataclasses.

- `run_sections`: the schema of [data], [model], [train], [lr_adapt];
- `experiment_config`: `ExperimentConfig`, the validated file (its study
  sections, [controls] and [analysis], are `kerastune_lab.study`'s);
- `merge_overrides`: `--set SECTION.KEY=VALUE`;
- `load_config`: `load_experiment`, `from_dict`, `load_run_config`,
  `with_settings`, with the checks of `check_grid` and
  `check_consistency`;
- `check_inputs`: the user's files a run reads; `key_reference`: the
  keys as the docs list them.

Imports no Keras: the CLI and a study's planning process check
configurations without a backend.
"""

from kerastune_lab.config.experiment_config import ExperimentConfig
from kerastune_lab.config.load_config import (
    from_dict,
    load_experiment,
    load_run_config,
    with_settings,
)

__all__ = [
    "ExperimentConfig",
    "from_dict",
    "load_experiment",
    "load_run_config",
    "with_settings",
]
