"""[analysis]: the question a study answers, and its checks."""

import dataclasses

from kerastune_lab.errors import ConfigError
from kerastune_lab.fields import option
from kerastune_lab.figures import (
    DIRECTIONS,
    MAX,
    STUDY_FIGURES,
    is_study_figure,
    objective_direction,
)
from kerastune_lab.study.parse_contrast import parse_contrast
from kerastune_lab.study.study_levels import matched_level, study_levels
from kerastune_lab.toml_literal import toml_literal


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
        figure: The per-run figure tested: one of the registry's
            (`kerastune_lab.figures`), or `final_eval_<metric>` /
            `test_<metric>` of a metric the runs log (e.g.
            final_eval_accuracy).
        direction: "min" or "max": which way `figure` is better; "":
            from the registry or its name (`figures.objective_direction`).
            It decides the worst value a diverged run counts as, and the
            words.
        alpha: The family-wise error rate of the primary family.
        equivalence_margin: > 0: a primary contrast whose baseline is a
            matched-rate control also gets an equivalence test (TOST)
            against +-margin, in the figure's units. 0: no equivalence
            claim can be made.
        pilot_sd: The SD of per-seed differences from a pilot, for the
            power statement; 0: the study's own pooled SD is used.
        seeds: Seeds per cell when `compare` gets no --seeds; 0: 3.

    Example:

    >>> AnalysisConfig(figure="final_eval_accuracy").higher_is_better
    True
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


def _check_figure(analysis):
    """The figure is one `compare` computes, and its direction is known."""
    figure = analysis.figure
    if not is_study_figure(figure):
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


def check_analysis(analysis, grid, controls):
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
