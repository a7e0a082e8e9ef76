"""The [analysis] study section and the matched-rate controls' levels."""

import pytest

from kerastune_lab.comparison.study_controls import control_cells
from kerastune_lab.config import from_dict
from kerastune_lab.errors import ConfigError
from kerastune_lab.study.analysis_config import AnalysisConfig
from kerastune_lab.study.grid import Cell
from kerastune_lab.study.parse_contrast import parse_contrast
from kerastune_lab.study.study_levels import study_axes

GRID = {
    "train.schedule": ["constant", "cosine"],
    "lr_adapt.mode": ["none", "sd", "sd2"],
}
CONTROLS = {"matched_rate": ["sd", "sd2"], "schedule_free": True}


def study(**analysis):
    return from_dict(
        {"grid": GRID, "controls": CONTROLS, "analysis": analysis}
    )


def test_a_declared_question_is_kept_and_written_back():
    config = study(
        primary=[
            "lr_adapt.mode: sd2 vs none",
            "lr_adapt.mode: sd2 vs none_at_sd2_rate",
            "train.schedule: schedule_free vs constant",
        ],
        equivalence_margin=0.05,
        pilot_sd=0.03,
        alpha=0.1,
    )
    assert config.analysis.alpha == 0.1
    again = from_dict(config.to_dict())
    assert again.analysis == config.analysis
    # Without [analysis] the section stays out of the resolved config,
    # so existing studies keep their comparison folders.
    assert "analysis" not in from_dict({"grid": GRID}).to_dict()
    assert from_dict({"grid": GRID}).analysis == AnalysisConfig()


def test_parse_contrast_reads_axis_level_and_baseline():
    assert parse_contrast(" lr_adapt.mode:sd2  vs none ") == (
        "lr_adapt.mode",
        "sd2",
        "none",
    )


@pytest.mark.parametrize(
    "analysis, fragments",
    [
        (
            {"primary": ["sd2 vs none"]},
            ["analysis.primary", '"sd2 vs none"', "axis: level vs baseline"],
        ),
        (
            {"primary": ["train.optimizer: sgd vs adam"]},
            ['"train.optimizer"', "lr_adapt.mode"],
        ),
        (
            {"primary": ["lr_adapt.mode: sd3 vs none"]},
            ['"sd3"', '"none_at_sd2_rate"'],
        ),
        (
            {"primary": ["lr_adapt.mode: sd vs sd"]},
            ["with itself"],
        ),
        (
            {"primary": ["lr_adapt.mode: sd vs none"] * 2},
            ["twice"],
        ),
        (
            {
                "primary": ["lr_adapt.mode: sd vs none"],
                "pool_over": ["lr_adapt.mode"],
            },
            ["analysis.pool_over", '"lr_adapt.mode"', "other than"],
        ),
        (
            {
                "primary": ["lr_adapt.mode: sd vs none"],
                "pool_over": ["train.seed"],
            },
            ['"train.seed"', "[grid] axes: train.schedule"],
        ),
        (
            {"pool_over": ["train.schedule"]},
            ["analysis.primary is empty"],
        ),
        (
            {
                "primary": ["lr_adapt.mode: sd vs none"],
                "equivalence_margin": 0.1,
            },
            ["analysis.equivalence_margin", "0.1", "matched-rate control"],
        ),
        ({"alpha": 0.0}, ["analysis.alpha", "> 0 and"]),
        ({"alpha": 0.7}, ["analysis.alpha", "<= 0.5"]),
        ({"equivalence_margin": -1.0}, ["analysis.equivalence_margin"]),
        ({"pilot_sd": -0.1}, ["analysis.pilot_sd", ">= 0."]),
        ({"figure": "accuracy"}, ["analysis.figure", "final_eval_loss"]),
        (
            {"figure": "final_eval_score"},
            ["analysis.figure", "lower or higher", "analysis.direction"],
        ),
        ({"direction": "up"}, ["analysis.direction", '"max"']),
        ({"primary": "lr_adapt.mode: sd vs none"}, ["a list"]),
        ({"question": []}, ["Unknown key analysis.question", "primary"]),
    ],
)
def test_bad_analysis_names_key_value_and_fix(analysis, fragments):
    with pytest.raises(ConfigError) as info:
        study(**analysis)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_primary_needs_a_grid():
    with pytest.raises(ConfigError, match=r"no \[grid\]"):
        from_dict({"analysis": {"primary": ["lr_adapt.mode: sd vs none"]}})


def test_matched_rate_controls_for_sd_and_sd2():
    """Each mode gets its control per schedule, at the base rate times
    the mean factor that mode's runs used."""
    config = from_dict(
        {"grid": GRID, "controls": {"matched_rate": ["sd", "sd2"]}}
    )
    assert study_axes(config)["lr_adapt.mode"] == [
        "none",
        "sd",
        "sd2",
        "none_at_sd_rate",
        "none_at_sd2_rate",
    ]
    factors = {"sd": (0.7, 0.9), "sd2": (1.5, 1.9)}
    runs = {
        Cell((("train.schedule", s), ("lr_adapt.mode", mode))): {
            seed: {
                "learning_rate": 1e-3,
                "steps": {"lr": [1e-3 * f] * 4, "factor": [f] * 4},
            }
            for seed, f in zip((42, 43), factors[mode])
        }
        for s in GRID["train.schedule"]
        for mode in ("sd", "sd2")
    }
    cells, rates = control_cells(config, runs)
    assert sorted(rates) == sorted(
        f"{s}-none_at_{m}_rate"
        for s in ("constant", "cosine")
        for m in factors
    )
    assert rates["cosine-none_at_sd_rate"] == pytest.approx(0.8e-3)
    assert rates["constant-none_at_sd2_rate"] == pytest.approx(1.7e-3)
    settings = dict(cells[0].settings)
    assert settings["lr_adapt.mode"] == "none"
