"""`ExperimentConfig`: an experiment file, validated (see
`load_experiment`): its run sections and the study sections `compare`
reads."""

import copy
import dataclasses

from kerastune_lab.config.run_sections import (
    SECTIONS,
    DataConfig,
    LrAdaptConfig,
    ModelConfig,
    TrainConfig,
)
from kerastune_lab.fields import closest
from kerastune_lab.study.analysis_config import AnalysisConfig
from kerastune_lab.study.controls_config import ControlsConfig

# Sections that describe a study for `compare`; `run` ignores them.
STUDY_SECTIONS = ("grid", "levels", "controls", "analysis")


@dataclasses.dataclass
class ExperimentConfig:
    """An experiment file, validated: the run sections (typed), the study
    sections ([grid], [levels], [controls], [analysis]), its name and
    where it came from."""

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


def sections_hint(section):
    """What ends a message about the unknown section `section`: the
    nearest known one, or the list of them."""
    known = [*SECTIONS, *STUDY_SECTIONS]
    near = closest(section, known)
    if near:
        return f" Did you mean [{near}]?"
    return f" Sections: {', '.join(known)}."
