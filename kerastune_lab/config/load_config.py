"""Loading an experiment: a TOML file and `--set` overrides validated
into an `ExperimentConfig`, a run directory's recorded configuration,
and a study's runs derived from its file (`with_settings`)."""

import copy
import pathlib
import tomllib

from kerastune_lab.config.check_consistency import check_consistency
from kerastune_lab.config.check_grid import check_grid, check_levels
from kerastune_lab.config.experiment_config import (
    STUDY_SECTIONS,
    ExperimentConfig,
    sections_hint,
)
from kerastune_lab.config.merge_overrides import merge_overrides
from kerastune_lab.config.run_sections import SECTIONS, ModelConfig
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.fields import build_dataclass
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.study.analysis_config import (
    AnalysisConfig,
    check_analysis,
)
from kerastune_lab.study.controls_config import (
    ControlsConfig,
    check_controls,
)
from kerastune_lab.toml_literal import toml_literal


def _run_sections(raw):
    """[data], [model], [train] and [lr_adapt] of `raw`, validated."""
    model_section = raw.get("model", {})
    model_name = (
        model_section.get("name", ModelConfig.name)
        if isinstance(model_section, dict)
        else ModelConfig.name
    )
    # A family's customary set-up replaces the generic defaults (the
    # user's own keys still win); its data defaults to its first kind.
    family = FAMILIES.get(model_name)
    defaults = (
        {}
        if family is None
        else {
            "train": family.train_defaults,
            "data": {"name": family.data_names[0]},
        }
    )
    sections = {}
    for section, cls in SECTIONS.items():
        values = {**defaults.get(section, {}), **raw.get(section, {})}
        if section == "model":
            model_name = values.pop("name", ModelConfig.name)
            base = build_dataclass(ModelConfig, {"name": model_name}, section)
            base.params = build_dataclass(
                FAMILIES[base.name].params, values, section, ("name",)
            )
            sections[section] = base
        else:
            sections[section] = build_dataclass(cls, values, section)
    return sections


def from_dict(raw, name="experiment", source=None):
    """Validates a raw dict (TOML layout) into an ExperimentConfig.

    Example:

    >>> config = from_dict({"train": {"epochs": 3}}, name="tiny")
    >>> config.name, config.train.epochs, config.train.batch_size
    ('tiny', 3, 64)
    """
    unknown = sorted(set(raw) - set(SECTIONS) - set(STUDY_SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section [{unknown[0]}]." + sections_hint(unknown[0])
        )
    sections = _run_sections(raw)
    grid = raw.get("grid", {})
    check_grid(grid)
    levels = raw.get("levels", {})
    check_levels(levels, grid)
    controls = build_dataclass(
        ControlsConfig, raw.get("controls", {}), "controls"
    )
    check_controls(controls, grid)
    analysis = build_dataclass(
        AnalysisConfig, raw.get("analysis", {}), "analysis"
    )
    check_analysis(analysis, grid, controls)
    config = ExperimentConfig(
        **sections,
        grid=grid,
        levels=levels,
        controls=controls,
        analysis=analysis,
        name=name,
        source=source,
        raw=copy.deepcopy(raw),
    )
    check_consistency(config)
    _check_level_settings(config)
    return config


def _check_level_settings(config):
    """Every level's settings give a valid run (checked now, not when the
    study reaches that cell)."""
    for axis, by_level in config.levels.items():
        for level, settings in by_level.items():
            value = next(v for v in config.grid[axis] if str(v) == level)
            try:
                with_settings(config, {axis: value, **settings})
            except ConfigError as error:
                raise ConfigError(
                    f"levels.{toml_literal(axis)}.{toml_literal(level)}: "
                    f"{error}"
                ) from None


def load_experiment(path=None, overrides=()):
    """Reads, overrides and validates an experiment file.

    Args:
        path: TOML file, or None for all defaults.
        overrides: 'section.key=value' strings (values parsed as TOML).
    """
    raw = {}
    name = "experiment"
    if path is not None:
        path = pathlib.Path(path)
        if not path.is_file():
            raise ConfigError(
                f"Experiment file {str(path)!r} does not exist. Pass the path"
                " of a TOML file (`kerastune-lab examples` lists ready ones)."
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{path} is not valid TOML: {error}. Fix the file "
                "(`kerastune-lab examples` lists working ones)."
            ) from None
        name = path.stem
    raw = merge_overrides(raw, overrides)
    return from_dict(
        raw, name=name, source=None if path is None else str(path)
    )


def load_run_config(run_dir):
    """The resolved config a run directory's config.json recorded, named
    after the folder (what `run --resume` and a resumed trial train)."""
    run = RunDirectory(run_dir)
    return from_dict(run.read_config(), name=run.name)


def with_settings(config, settings):
    """One run of a study: `config`'s own file and overrides with
    `settings` ({"section.key": value}) applied and the study sections
    ([grid], [controls]) dropped, validated anew.

    Derived from the raw file rather than the resolved values, so a
    setting that changes the model family gets that family's keys and
    defaults, exactly as if the file had been written that way.
    """
    raw = {
        section: copy.deepcopy(values)
        for section, values in config.raw.items()
        if section not in STUDY_SECTIONS
    }
    for key, value in dict(settings).items():
        section, _, name = key.partition(".")
        raw.setdefault(section, {})[name] = value
    return from_dict(raw, name=config.name, source=config.source)
