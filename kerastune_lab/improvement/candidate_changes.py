"""The changes a round of `improve` tries: the diagnosis's advice, made
into validated settings.

Each advised `--set key=value` (`advice_for`: the training keys and the
run's model family's knobs) becomes one `CandidateChange` on top of the
settings adopted so far. A change that would set a key to the value it
already has is left out; one that the experiment's checks refuse is left
out with a line saying why.
"""

import dataclasses
import re
from collections.abc import Callable, Mapping

import tomli_w

from kerastune_lab.analysis.diagnose_history import advice_for
from kerastune_lab.config.experiment_config import (
    parse_override,
    with_settings,
)
from kerastune_lab.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class CandidateChange:
    """One key set to one value, and why the diagnosis advised it.

    Attributes:
        key: "section.name", e.g. "model.l2".
        value: The value as the configuration holds it (parsed from the
            advice's TOML literal).
        why: The advice's reason.

    Example:

    >>> change = CandidateChange("train.schedule", "cosine", "decay")
    >>> change.label, change.slug
    ('train.schedule="cosine"', 'train.schedule_cosine')
    """

    key: str
    value: object
    why: str = ""

    @property
    def label(self) -> str:
        """The change as a `--set` argument: 'model.l2=0.0001'."""
        literal = tomli_w.dumps({"v": self.value}).strip()
        return f"{self.key}={literal.removeprefix('v = ')}"

    @property
    def slug(self) -> str:
        """A folder-safe name: 'model.l2_0.0001'."""
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", self.label).strip("_")


def advised_value(key: str, value: object) -> object:
    """An advice's value as the configuration holds it: a string is a TOML
    literal, parsed as `--set` parses it ('"cosine"' -> 'cosine', 'true'
    -> True, '0.001' -> 0.001); anything else is already a value."""
    if not isinstance(value, str):
        return value
    return parse_override(f"{key}={value}")[2]


def candidate_changes(
    config,
    settings: Mapping,
    verdict: str,
    flags=(),
    limit: int = 3,
    echo: Callable[[str], None] = print,
) -> list[CandidateChange]:
    """The first `limit` advised changes of the incumbent configuration
    that change something and validate.

    Args:
        config: The experiment as the user gave it (`ExperimentConfig`).
        settings: {"section.key": value} adopted so far: the incumbent is
            `with_settings(config, settings)`.
        verdict: The incumbent's verdict (one of the diagnosis's
            `VERDICTS`).
        flags: Its flags (e.g. "still improving").
        limit: At most this many changes.
        echo: Prints the line of a change that was left out.

    Returns:
        `CandidateChange`s, most promising first (the advice's order).
    """
    incumbent = with_settings(config, settings).to_dict()
    changes = []
    for advice in advice_for(verdict, incumbent, flags):
        if len(changes) == limit:
            break
        key = advice["key"]
        section, _, name = key.partition(".")
        change = CandidateChange(
            key, advised_value(key, advice["value"]), advice["why"]
        )
        if incumbent.get(section, {}).get(name) == change.value:
            continue
        try:
            with_settings(config, {**settings, key: change.value})
        except ConfigError as error:
            echo(f"left out --set {change.label}: {error}")
            continue
        changes.append(change)
    return changes
