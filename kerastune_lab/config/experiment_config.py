"""Experiment files: TOML, validated into typed dataclasses."""

import contextlib
import copy
import dataclasses
import pathlib
import re
import tomllib
from typing import Any

from kerastune_lab.analysis.objective_direction import (
    DIRECTIONS,
    MAX,
    objective_direction,
)
from kerastune_lab.choices import (
    GAMMA_SOURCES,
    OPTIMIZERS,
    SCHEDULES,
    optimizer_config_fields,
)
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.fields import build_dataclass, closest, option
from kerastune_lab.lr_adapt import registry as rules
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.toml_literal import toml_literal

# Every data.name some family reads, in registry order: its DataKind.
DATA_KINDS = {
    kind.name: kind
    for family in FAMILIES.values()
    for kind in family.data_kinds
}
DATA_NAMES = tuple(DATA_KINDS)


@dataclasses.dataclass
class DataConfig:
    name: str = option(
        DATA_NAMES[0],
        choices=DATA_NAMES,
        doc="; ".join(f"{k.name}: {k.doc}" for k in DATA_KINDS.values()),
    )
    path: str = option(
        "",
        doc="CSV file (name = 'csv'); .txt file or folder ('text'); "
        "folder with one sub-folder per class ('images')",
    )
    text_column: str = option("text", doc="CSV column holding the text")
    label_column: str = option("label", doc="CSV column holding the label")
    val_split: float = option(
        0.15, minimum=0.0, maximum=0.5, exclusive_minimum=True
    )
    test_split: float = option(0.15, minimum=0.0, maximum=0.5)
    split_seed: int = option(
        -1,
        minimum=-1,
        doc="seed of the data split, the synthetic data and the fixed eval "
        "masks; -1: train.seed, so each seed of a study or of improve "
        "draws its own split and split-to-split variance is inside every "
        "interval. Fix it only to evaluate every seed on one split (the "
        "claims then hold for that split)",
    )
    max_tokens: int = option(
        20000, minimum=2, doc="vocabulary size of the text vectoriser"
    )
    sequence_length: int = option(
        64, minimum=1, doc="tokens kept per text (padded, masked)"
    )
    num_samples: int = option(
        3000, minimum=10, doc="synthetic: number of sequences"
    )
    difficulty: float = option(
        0.5, minimum=0.0, maximum=1.0, doc="synthetic: 0 easy .. 1 pure noise"
    )
    num_classes: int = option(2, minimum=2, doc="synthetic: classes")
    chunk_size: int = option(
        128, minimum=8, doc="masked LM: tokens per training chunk"
    )
    mask_rate: float = option(
        0.15,
        minimum=0.0,
        maximum=0.5,
        exclusive_minimum=True,
        doc="masked LM: fraction of tokens predicted",
    )
    max_chunks: int = option(
        0, minimum=0, doc="masked LM: use at most this many chunks (0: all)"
    )
    augment: bool = option(
        False,
        doc="images: random flips, rotations and zooms of the "
        "training batches",
    )

    def data_seed(self, train_seed):
        """The seed of everything that defines the examples themselves."""
        return train_seed if self.split_seed < 0 else self.split_seed


@dataclasses.dataclass
class ModelConfig:
    """[model]: the family's name and its own keys, typed: `params` is an
    instance of the family's params dataclass (`ModelFamily.params`,
    e.g. `GRUParams`), so `config.model.params.gru_units` is checked."""

    name: str = option(next(iter(FAMILIES)), choices=tuple(FAMILIES))
    params: Any = None


@dataclasses.dataclass
class _TrainKeys:
    """[train] without the optimizers' settings (see TrainConfig)."""

    optimizer: str = option("adam", choices=tuple(OPTIMIZERS))
    learning_rate: float = option(1e-3, minimum=0.0, exclusive_minimum=True)
    schedule: str = option("constant", choices=SCHEDULES)
    warmup_steps: int = option(0, minimum=0)
    batch_size: int = option(64, minimum=1)
    epochs: int = option(20, minimum=1)
    early_stopping: bool = option(True)
    patience: int = option(5, minimum=0)
    min_delta: float = option(0.0, minimum=0.0)
    restore_best_weights: bool = option(True)
    monitor: str = option("val_loss")
    seed: int = option(42, minimum=0)
    stop_on_nonfinite: str = option(
        "epoch",
        choices=("epoch", "batch"),
        doc="when a NaN/inf batch loss stops the run: at the end of its "
        "epoch (no host sync; the bad steps are skipped in-graph) or "
        "right after the batch (Keras TerminateOnNaN: one host sync per "
        "step)",
    )
    deterministic: bool = option(
        True, doc="TensorFlow op determinism (see training/determinism.py)"
    )
    tensorboard: bool = option(
        False,
        doc="TensorBoard logs under run_dir/tensorboard: per-epoch "
        "and per-step scalars (loss, lr, G, SD factor) and the "
        "run's hyperparameters",
    )
    clipnorm: float = option(0.0, minimum=0.0, doc="global norm clip; 0 off")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    steps_per_execution: int = option(1, minimum=1)
    dtype_policy: str = option(
        "float32",
        choices=("float32", "mixed_bfloat16"),
    )
    data_parallel: bool = option(
        False,
        doc="split every batch over all local devices (JAX: "
        "keras.distribution.DataParallel, several hosts too; "
        "TensorFlow: MirroredStrategy on one host)",
    )
    head_epochs: int = option(
        0,
        minimum=0,
        doc="transfer: train the head alone (base frozen) for this many "
        "epochs, then unfreeze model.unfreeze layers and train the rest "
        "of train.epochs at train.fine_tune_learning_rate (0: one phase)",
    )
    fine_tune_learning_rate: float = option(
        0.0,
        minimum=0.0,
        doc="rate of the second phase; 0: train.learning_rate / 10",
    )


# The keys of the optimizers' settings come from their declarations.
TrainConfig = dataclasses.make_dataclass(
    "TrainConfig", optimizer_config_fields(), bases=(_TrainKeys,)
)
# Importable under its own name: planned runs are pickled to workers.
TrainConfig.__module__ = __name__

# The keys of the rules' settings come from the rules themselves.
LrAdaptConfig = dataclasses.make_dataclass(
    "LrAdaptConfig",
    [
        (
            "mode",
            str,
            option(
                "none",
                choices=tuple(rules.RATE_RULES),
                doc="the loss-adaptive rate rule (README: the rules table)",
            ),
        ),
        ("source", str, option("loss", choices=GAMMA_SOURCES)),
        *(setting.config_field() for setting in rules.all_settings()),
        (
            "semantic_model",
            str,
            option(
                "auto",
                choices=("auto", "encoder", "minilm"),
                doc="semantic source: profiles from the pretrained "
                "encoder's token embeddings (encoder), all-MiniLM-L6-v2 "
                "(minilm), or the encoder when model.preset is set and "
                "MiniLM otherwise (auto)",
            ),
        ),
    ],
)
# Importable under its own name: planned runs are pickled to workers.
LrAdaptConfig.__module__ = __name__


@dataclasses.dataclass
class ControlsConfig:
    """Cells that `compare` adds to a study's [grid] on its own."""

    matched_rate: list = option(
        [],
        doc="lr_adapt modes (any but none) that get a matched-rate control: "
        "per value of the other axes, a mode-none cell whose base "
        "rate is scaled by the mean factor that mode's runs used "
        "(run after them, as a second stage)",
    )
    schedule_free: bool = option(
        False,
        doc="add a train.schedule level 'schedule_free': "
        "ScheduleFreeAdamW, lr_adapt.mode none, at the base rate times "
        "schedule_free_rate_factor",
    )
    schedule_free_rate_factor: float = option(
        1.0,
        minimum=0.0,
        exclusive_minimum=True,
        doc="the schedule-free cell's rate over the base rate (its authors "
        "advise AdamW rates 1-10x those of scheduled AdamW); declare it "
        "before the study, never tune it on the study's seeds",
    )


# The figures `compare` computes per run (comparison/summarize.py):
# what [analysis] figure may name, besides `final_eval_<metric>` (the
# last epoch's val_<metric>) and `test_<metric>` (metrics.json) of any
# metric the runs log.
STUDY_FIGURES = (
    "final_eval_loss",
    "best_eval_loss",
    "final_eval_perplexity",
    "final_train_loss",
    "train_eval_gap",
    "test_loss",
    "test_accuracy",
)
LOGGED_FIGURE = re.compile(r"(final_eval|test)_\w+")
# The axes the controls add levels to, and the names of those levels.
SCHEDULE_AXIS = "train.schedule"
MODE_AXIS = "lr_adapt.mode"
SCHEDULE_FREE = "schedule_free"


def matched_level(mode):
    """The mode-axis level of the control matched to `mode`'s rate."""
    return f"none_at_{mode}_rate"


@dataclasses.dataclass
class AnalysisConfig:
    """The question a study answers: what `compare` tests and how.

    A study section like [grid]: `run` ignores it, `compare` reads it.
    Without `primary` every comparison of the study is primary (one Holm
    family over all of them, as a small user study wants).

    Attributes:
        primary: Contrasts "axis: level vs baseline", e.g.
            "lr_adapt.mode: sd2 vs none"; the difference is level -
            baseline. Holm runs over these only; every other pair of
            levels is exploratory (an estimate with an unadjusted
            interval, no verdict). The axis is a [grid] axis, or
            lr_adapt.mode / train.schedule with the levels [controls]
            adds (none_at_<mode>_rate, schedule_free).
        pool_over: [grid] axes a primary contrast is pooled over: per
            seed, the mean of the differences over those axes' levels
            where both cells exist. The seed stays the unit of
            replication (n = seeds). Without it, a primary contrast is
            tested once per combination of the other axes.
        figure: The per-run figure tested: one of STUDY_FIGURES, or
            `final_eval_<metric>` / `test_<metric>` of a metric the runs
            log (e.g. final_eval_accuracy).
        direction: "min" or "max": which way `figure` is better; "":
            from its name (analysis.objective_direction). It decides the
            worst value a diverged run counts as, and the words.
        alpha: The family-wise error rate of the primary family.
        equivalence_margin: > 0: a primary contrast whose baseline is a
            matched-rate control also gets an equivalence test (TOST)
            against +-margin, in the figure's units. 0: no equivalence
            claim can be made.
        pilot_sd: The SD of per-seed differences from a pilot, for the
            power statement; 0: the study's own pooled SD is used.
        seeds: Seeds per cell when `compare` gets no --seeds; 0: 3.
    """

    primary: list = option(
        [],
        doc='contrasts "axis: level vs baseline" (difference level - '
        "baseline); Holm runs over these only, every other pair is "
        "exploratory; empty: every comparison is primary",
    )
    pool_over: list = option(
        [],
        doc="[grid] axes a primary contrast is pooled over (per seed, the "
        "mean difference over their levels; n = seeds)",
    )
    figure: str = option(
        "final_eval_loss",
        doc="the per-run figure tested: "
        + ", ".join(STUDY_FIGURES)
        + ", or final_eval_<metric> / test_<metric> of a logged metric",
    )
    direction: str = option(
        "",
        choices=("", *DIRECTIONS),
        doc="which way the figure is better (min or max); empty: from its "
        "name (loss, error, perplexity: min; accuracy, auc, precision, "
        "recall, f1: max)",
    )
    alpha: float = option(
        0.05,
        minimum=0.0,
        maximum=0.5,
        exclusive_minimum=True,
        doc="family-wise error rate of the primary comparisons",
    )
    equivalence_margin: float = option(
        0.0,
        minimum=0.0,
        doc="> 0: equivalence test (TOST) against +-margin of the primary "
        "contrasts whose baseline is a matched-rate control; 0: none",
    )
    pilot_sd: float = option(
        0.0,
        minimum=0.0,
        doc="SD of per-seed differences from a pilot, for the power "
        "statement; 0: the study's own",
    )
    seeds: int = option(
        0,
        minimum=0,
        doc="seeds per cell that `compare` trains when --seeds is not "
        "given (the number the power statement was planned for); 0: 3",
    )

    def __post_init__(self):
        _check_figure(self)

    @property
    def higher_is_better(self) -> bool:
        return objective_direction(self.figure, self.direction) == MAX


# Sections that describe a study for `compare`; `run` ignores them.
STUDY_SECTIONS = ("grid", "levels", "controls", "analysis")

SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "lr_adapt": LrAdaptConfig,
}


@dataclasses.dataclass
class ExperimentConfig:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    lr_adapt: LrAdaptConfig = dataclasses.field(default_factory=LrAdaptConfig)
    grid: dict = dataclasses.field(default_factory=dict)
    # {axis: {level: {"section.key": value}}}: settings a grid level stands
    # for beyond its axis key (a level "polyak" that also trains with SGD).
    levels: dict = dataclasses.field(default_factory=dict)
    controls: ControlsConfig = dataclasses.field(
        default_factory=ControlsConfig
    )
    analysis: AnalysisConfig = dataclasses.field(
        default_factory=AnalysisConfig
    )
    name: str = "experiment"
    source: str | None = None
    # The TOML layout it was validated from (file and --set overrides):
    # a study derives each run's config from it (`with_settings`), so a
    # cell that changes the model family gets that family's defaults.
    raw: dict = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def to_dict(self):
        """The resolved configuration as plain TOML-compatible values."""
        out = {}
        for section in SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            if section == "model":
                params = values.pop("params") or {}
                values.update(params)
            out[section] = values
        if self.grid:
            out["grid"] = copy.deepcopy(self.grid)
        if self.levels:
            out["levels"] = copy.deepcopy(self.levels)
        if self.controls != ControlsConfig():
            out["controls"] = dataclasses.asdict(self.controls)
        if self.analysis != AnalysisConfig():
            out["analysis"] = dataclasses.asdict(self.analysis)
        return out


def parse_override(text):
    """'section.key=value' -> ('section', 'key', value parsed as TOML).

    Everything after the first dot is the key, so a [grid] key needs no
    quotes (`grid.train.schedule=["constant"]`); quoted, it may be written
    as in the TOML file (`grid."train.schedule"=["constant"]`).
    """
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        # A malformed quoted key keeps its quotes and is reported below.
        with contextlib.suppress(tomllib.TOMLDecodeError):
            name = tomllib.loads(f"v = {name}")["v"]
    if not sep or not dot or not section or not name or '"' in name:
        raise ConfigError(
            f"--set {text!r}: expected SECTION.KEY=VALUE, for example "
            '--set train.learning_rate=1e-4 or --set data.path="x.csv".'
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        # The shell ate the quotes of a string: take the text as it is.
        value = raw
    return section, name, value


def _sections_hint(section):
    known = [*SECTIONS, *STUDY_SECTIONS]
    near = closest(section, known)
    if near:
        return f" Did you mean [{near}]?"
    return f" Sections: {', '.join(known)}."


def merge_overrides(raw, overrides):
    """Applies --set overrides to the raw TOML dict (a deep copy)."""
    merged = copy.deepcopy(raw)
    for text in overrides:
        section, name, value = parse_override(text)
        if section in STUDY_SECTIONS:
            merged.setdefault(section, {})[name] = value
            continue
        if section not in SECTIONS:
            raise ConfigError(
                f"--set {text!r}: unknown section [{section}]."
                + _sections_hint(section)
            )
        merged.setdefault(section, {})[name] = value
    return merged


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
    """Validates a raw dict (TOML layout) into an ExperimentConfig."""
    unknown = sorted(set(raw) - set(SECTIONS) - set(STUDY_SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section [{unknown[0]}]." + _sections_hint(unknown[0])
        )
    sections = _run_sections(raw)
    grid = raw.get("grid", {})
    _check_grid(grid)
    levels = raw.get("levels", {})
    _check_levels(levels, grid)
    controls = build_dataclass(
        ControlsConfig, raw.get("controls", {}), "controls"
    )
    _check_controls(controls, grid)
    analysis = build_dataclass(
        AnalysisConfig, raw.get("analysis", {}), "analysis"
    )
    _check_analysis(analysis, grid, controls)
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
    _check_consistency(config)
    _check_level_settings(config)
    return config


def _check_grid(grid):
    if not isinstance(grid, dict):
        raise ConfigError(
            f"[grid] must be a table, received {toml_literal(grid)}."
        )
    for key, values in grid.items():
        section, dot, _name = key.partition(".")
        if not dot or section not in SECTIONS:
            raise ConfigError(
                f"grid key {toml_literal(key)}: expected "
                '"section.key" with a section among '
                f"{', '.join(SECTIONS)}."
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"grid.{key} = {toml_literal(values)}: expected a non-empty "
                "list of values to try."
            )


def _check_levels(levels, grid):
    """[levels]: each a grid axis's level mapped to a table of settings."""
    example = '[levels."lr_adapt.mode".polyak] with "train.optimizer" = "sgd"'
    if not isinstance(levels, dict):
        raise ConfigError(f"[levels] must be a table, e.g. {example}.")
    for axis, by_level in levels.items():
        if axis not in grid:
            raise ConfigError(
                f"levels.{toml_literal(axis)}: not an axis of [grid] (its "
                f"axes: {', '.join(map(toml_literal, grid)) or 'none'}); "
                f"e.g. {example}."
            )
        names = [str(level) for level in grid[axis]]
        for level, settings in (
            by_level.items() if isinstance(by_level, dict) else [(None, 0)]
        ):
            if level not in names or not isinstance(settings, dict):
                raise ConfigError(
                    f"levels.{toml_literal(axis)}.{toml_literal(level)}: "
                    f"expected a level of grid.{toml_literal(axis)} "
                    f"({', '.join(names)}) holding a table of "
                    f'"section.key" = value settings; e.g. {example}.'
                )
            _check_grid({key: [value] for key, value in settings.items()})


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


def _check_controls(controls, grid):
    modes = grid.get("lr_adapt.mode", [])
    allowed = rules.matched_rate_modes()
    for mode in controls.matched_rate:
        if mode not in allowed or mode not in modes or "none" not in modes:
            raise ConfigError(
                "controls.matched_rate = "
                f"{toml_literal(controls.matched_rate)}: each entry must be "
                f"one of {', '.join(map(toml_literal, allowed))} and, with "
                '"none", a level of the grid\'s "lr_adapt.mode" axis '
                f"(received levels {toml_literal(modes)})."
            )
    if controls.schedule_free and "train.schedule" not in grid:
        raise ConfigError(
            "controls.schedule_free adds a level to the grid's "
            '"train.schedule" axis; add that axis to [grid].'
        )


def study_levels(grid, controls):
    """{axis: [levels]}: the grid's, plus the levels the controls add."""
    axes = {key: list(values) for key, values in grid.items()}
    if controls.schedule_free:
        axes[SCHEDULE_AXIS].append(SCHEDULE_FREE)
    for mode in controls.matched_rate:
        axes[MODE_AXIS].append(matched_level(mode))
    return axes


_CONTRAST = re.compile(r"^\s*([^:\s]+)\s*:\s*(\S+)\s+vs\s+(\S+)\s*$")


def parse_contrast(text):
    """'axis: level vs baseline' -> (axis, level, baseline), as text."""
    match = _CONTRAST.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"analysis.primary entry {toml_literal(text)}: expected the "
            "text "
            '"axis: level vs baseline", e.g. "lr_adapt.mode: sd2 vs none".'
        )
    return match.groups()


def _check_contrast(text, axes):
    """One primary contrast names an axis and two of its levels; returns
    the axis."""
    axis, level, baseline = parse_contrast(text)
    if axis not in axes:
        raise ConfigError(
            f"analysis.primary entry {toml_literal(text)}: axis "
            f"{toml_literal(axis)} is not an axis of the study; use one "
            f"of {', '.join(axes)}."
        )
    names = [str(v) for v in axes[axis]]
    for name in (level, baseline):
        if name not in names:
            raise ConfigError(
                f"analysis.primary entry {toml_literal(text)}: "
                f"{toml_literal(name)} is not a level of "
                f"{toml_literal(axis)}; its levels are {toml_literal(names)} "
                "(a control's level exists when [controls] asks for it)."
            )
    if level == baseline:
        raise ConfigError(
            f"analysis.primary entry {toml_literal(text)} compares a "
            "level with itself; name two different levels."
        )
    return axis


def _check_figure(analysis):
    """The figure is one `compare` computes, and its direction is known."""
    figure = analysis.figure
    if figure not in STUDY_FIGURES and not LOGGED_FIGURE.fullmatch(figure):
        raise ConfigError(
            f"analysis.figure = {toml_literal(figure)}: expected one of "
            f"{', '.join(STUDY_FIGURES)}, or final_eval_<metric> / "
            "test_<metric> of a metric the runs log (e.g. "
            "final_eval_accuracy)."
        )
    if objective_direction(figure, analysis.direction) is None:
        raise ConfigError(
            f"analysis.figure = {toml_literal(figure)}: its name does not "
            "say whether lower or higher is better; set "
            'analysis.direction = "min" or "max".'
        )


def _check_analysis(analysis, grid, controls):
    """Every primary contrast names an axis and two of its levels; the
    pooled axes are grid axes other than the contrasts' own."""
    if analysis.primary and not grid:
        raise ConfigError(
            f"analysis.primary = {toml_literal(analysis.primary)} names "
            "levels of [grid] axes, but the study has no [grid]: add one."
        )
    axes = study_levels(grid, controls)
    contrast_axes = {_check_contrast(text, axes) for text in analysis.primary}
    if len(set(map(parse_contrast, analysis.primary))) < len(analysis.primary):
        raise ConfigError(
            f"analysis.primary = {toml_literal(analysis.primary)} lists a "
            "contrast twice; keep one (each is tested once)."
        )
    if analysis.pool_over and not analysis.primary:
        raise ConfigError(
            f"analysis.pool_over = {toml_literal(analysis.pool_over)} pools "
            "the primary contrasts, but analysis.primary is empty: declare "
            "them."
        )
    for axis in analysis.pool_over:
        if axis not in grid or axis in contrast_axes:
            raise ConfigError(
                f"analysis.pool_over = {toml_literal(analysis.pool_over)}: "
                f"{toml_literal(axis)} must be a [grid] axis other than the "
                f"primary contrasts' own ({', '.join(sorted(contrast_axes))})"
                "; [grid] axes: "
                f"{', '.join(grid)}."
            )
    controls_compared = [
        text
        for text in analysis.primary
        if parse_contrast(text)[2]
        in {matched_level(m) for m in controls.matched_rate}
    ]
    if analysis.equivalence_margin and not controls_compared:
        raise ConfigError(
            f"analysis.equivalence_margin = {analysis.equivalence_margin} "
            "applies to primary contrasts whose baseline is a matched-rate "
            'control (e.g. "lr_adapt.mode: sd2 vs none_at_sd2_rate"); '
            "analysis.primary has none: add one or set the margin to 0."
        )


def _check_consistency(config):
    data = config.data
    family = FAMILIES[config.model.name]
    if data.name not in family.data_names:
        raise ConfigError(
            f"data.name = {toml_literal(data.name)} does not fit "
            f"model.name = {toml_literal(config.model.name)}; use one of "
            f"{', '.join(family.data_names)}."
        )
    adapt = config.lr_adapt
    if adapt.source == "semantic" and not family.semantic_gamma:
        fits = [f.name for f in FAMILIES.values() if f.semantic_gamma]
        raise ConfigError(
            'lr_adapt.source = "semantic" scores masked-token predictions '
            f"and needs model.name among {toml_literal(fits)}; use source "
            f'= "loss" for {toml_literal(config.model.name)}.'
        )
    kind = DATA_KINDS[data.name]
    if kind.needs_path and not data.path:
        raise ConfigError(
            f"data.name = {toml_literal(data.name)} needs data.path "
            f"({kind.doc}): add "
            f'path = "{kind.path_example}" to [data] or pass --set '
            f'data.path="{kind.path_example}".'
        )
    train = config.train
    if train.head_epochs:
        if not family.two_phase:
            fits = [f.name for f in FAMILIES.values() if f.two_phase]
            raise ConfigError(
                "train.head_epochs trains a new head before unfreezing a "
                f"pretrained base and needs model.name among {fits}."
            )
        if train.head_epochs >= train.epochs:
            raise ConfigError(
                f"train.head_epochs = {train.head_epochs} leaves no epoch "
                f"of fine-tuning within train.epochs = {train.epochs}: set "
                "it below train.epochs."
            )
    if family.check is not None:
        family.check(config)
    if data.val_split + data.test_split >= 0.9:
        raise ConfigError(
            f"data.val_split + data.test_split = "
            f"{data.val_split + data.test_split:g}: leave at least 10% of "
            "the data for training."
        )
    OPTIMIZERS[train.optimizer].check(train, config.lr_adapt)
    rules.check_config(config.lr_adapt)


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
    return from_dict(run.read_record()["config"], name=run.name)


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
