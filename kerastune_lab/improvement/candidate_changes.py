"""The changes a round of `improve` tries: the diagnosis's advice, made
into validated settings, and the next step along an adopted knob.

Each advised change (`advice_for`: the training keys and the run's model
family's knobs, native values) becomes one `CandidateChange` on top of
the settings adopted so far. After a change along a knob is adopted
(dropout 0 -> 0.2, rate 1e-3 -> 3e-3), the next round also tries that
knob's next value on the same side (0.4, 1e-2: `next_step`), so `improve`
walks a direction while it pays, up to the end of the knob's range. A
change that would set a key to the value it already has is left out; one
that the experiment's checks refuse is left out with a line saying why.
"""

import dataclasses
import re
from collections.abc import Callable, Mapping

from kerastune_lab.analysis.diagnose_history import advice_for
from kerastune_lab.analysis.diagnosis import set_text
from kerastune_lab.analysis.diagnosis_advice import next_step
from kerastune_lab.config import with_settings
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.registry import knobs_for


@dataclasses.dataclass(frozen=True)
class CandidateChange:
    """One key set to one value, and why.

    Attributes:
        key: "section.name", e.g. "model.l2".
        value: The value as the configuration holds it (native).
        why: The advice's reason.
        direction: "up" or "down" where the change moves a knob one step
            (the next round may walk on), else "".

    Example:

    >>> change = CandidateChange("train.schedule", "cosine", "decay")
    >>> change.label, change.slug
    ('train.schedule="cosine"', 'train.schedule_cosine')
    """

    key: str
    value: object
    why: str = ""
    direction: str = ""

    @property
    def label(self) -> str:
        """The change as a `--set` argument: 'model.l2=0.0001'."""
        return set_text(self.key, self.value)

    @property
    def slug(self) -> str:
        """A folder-safe name: 'model.l2_0.0001'."""
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", self.label).strip("_")


def walk_change(config, settings: Mapping, adopted: CandidateChange):
    """The next step along the knob `adopted` moved, from the incumbent
    that adopted it (`settings` include it); None where the change is no
    step or the knob's range ends.

    Example:

    >>> from kerastune_lab.config import load_experiment
    >>> config = load_experiment(None, ['data.name="synthetic"'])
    >>> rate = CandidateChange("train.learning_rate", 3e-3, "", "up")
    >>> walk_change(config, {rate.key: rate.value}, rate).value
    0.01
    """
    incumbent = with_settings(config, settings).to_dict()
    value = next_step(
        incumbent,
        {"key": adopted.key, "direction": adopted.direction},
        knobs_for(incumbent),
    )
    if value is None:
        return None
    verb = "raise" if adopted.direction == "up" else "lower"
    return CandidateChange(
        adopted.key,
        value,
        f"{verb} it further: {adopted.label} was adopted",
        adopted.direction,
    )


def candidate_changes(
    config,
    settings: Mapping,
    verdict: str,
    flags=(),
    limit: int = 3,
    echo: Callable[[str], None] = print,
    walk: CandidateChange | None = None,
) -> list[CandidateChange]:
    """`walk` (where given) and the first `limit` advised changes of the
    incumbent configuration that change something and validate.

    Args:
        config: The experiment as the user gave it (`ExperimentConfig`).
        settings: {"section.key": value} adopted so far: the incumbent is
            `with_settings(config, settings)`.
        verdict: The incumbent's verdict (one of the diagnosis's
            `VERDICTS`).
        flags: Its flags (e.g. "still improving").
        limit: At most this many advised changes.
        echo: Prints the line of a change that was left out.
        walk: The next step along the knob adopted last (`walk_change`),
            tried first and on top of the `limit`; the advice for the same
            key is left out.

    Returns:
        `CandidateChange`s, most promising first (the advice's order).
    """
    incumbent = with_settings(config, settings).to_dict()
    advised = [
        CandidateChange(a["key"], a["value"], a["why"], a["direction"])
        for a in advice_for(verdict, incumbent, flags, knobs_for(incumbent))
        if walk is None or a["key"] != walk.key
    ]

    def valid(change):
        section, _, name = change.key.partition(".")
        if incumbent.get(section, {}).get(name) == change.value:
            return False
        try:
            with_settings(config, {**settings, change.key: change.value})
        except ConfigError as error:
            echo(f"left out --set {change.label}: {error}")
            return False
        return True

    changes = []
    for change in advised:
        if len(changes) == limit:
            break
        if valid(change):
            changes.append(change)
    return ([walk] if walk and valid(walk) else []) + changes
