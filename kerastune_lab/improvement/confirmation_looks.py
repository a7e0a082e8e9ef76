"""The looks at an improve directory's confirmation, and the alpha each
is tested at.

`--confirm-seeds` is not part of an improve directory's identity: the
same command with more fresh seeds reuses every round and the earlier
confirmation runs, and tests again. Each such test is a look. Testing
every look at alpha would let a configuration no better than the original
be confirmed at some look more often than alpha (looks at 5 then 8 fresh
seeds: 7.8% at alpha 0.05 in simulation; 5, 8, 12: 10.1%). So the looks
are recorded (confirmation.json: the fresh-seed counts tested so far, in
order) and, with k looks made, each is tested at alpha / k (Bonferroni
over the looks). That holds the looks made to alpha when their number is
fixed in advance. Where each look is made only because the one before
did not confirm, the chance of a false confirmation at some look is at
most alpha (1 + 1/2 + ... + 1/k): 7.5% over two looks, 9.2% over three
(simulated with 5, 8, 12 fresh seeds: 6.0% and 6.6%); the report says so.
"""

import dataclasses
import json
import pathlib

from kerastune_lab.run_directory import write_json_atomic
from kerastune_lab.statistics.paired_tests import ALPHA

LOOKS_FILE = "confirmation.json"


@dataclasses.dataclass(frozen=True)
class ConfirmationLooks:
    """The fresh-seed counts an improve directory's confirmation was
    tested with, in the order first tested.

    Args:
        counts: One fresh-seed count per look.
        alpha: The confirmation's level over all looks.

    Example:

    >>> looks = ConfirmationLooks((5,)).with_look(8)
    >>> looks.counts, looks.number(8), looks.level
    ((5, 8), 2, 0.025)
    >>> looks.with_look(5) == looks  # a re-run of look 1 adds no look
    True
    """

    counts: tuple = ()
    alpha: float = ALPHA

    def __post_init__(self):
        for count in self.counts:
            if not isinstance(count, int) or count < 1:
                raise ValueError(
                    "Each look's fresh-seed count must be an int >= 1. "
                    f"Received: counts={self.counts!r}"
                )

    @classmethod
    def read(cls, out) -> "ConfirmationLooks":
        """The looks recorded in improve directory `out` (none yet: no
        look)."""
        path = pathlib.Path(out) / LOOKS_FILE
        if not path.exists():
            return cls()
        return cls(tuple(json.loads(path.read_text())["looks"]))

    def write(self, out):
        write_json_atomic(
            pathlib.Path(out) / LOOKS_FILE,
            {
                "looks": list(self.counts),
                "alpha": self.alpha,
                "rule": "with k looks, each is tested at alpha / k "
                "(Bonferroni over the looks)",
            },
        )

    def with_look(self, count) -> "ConfirmationLooks":
        """These looks and one at `count` fresh seeds (itself where a
        look at `count` was made already)."""
        if count in self.counts:
            return self
        return dataclasses.replace(self, counts=(*self.counts, count))

    def number(self, count) -> int:
        """The look (1, 2, ...) made with `count` fresh seeds."""
        return self.counts.index(count) + 1

    @property
    def level(self) -> float:
        """The alpha every look is tested at: alpha / looks."""
        return self.alpha / max(len(self.counts), 1)

    @property
    def next_level(self) -> float:
        """The alpha of one more look: alpha / (looks + 1)."""
        return self.alpha / (len(self.counts) + 1)

    def false_confirmation_bound(self) -> float:
        """alpha (1 + 1/2 + ... + 1/k): the most a configuration no better
        than the original is confirmed at some look, where each look was
        made because the one before did not confirm."""
        return self.alpha * sum(1 / k for k in range(1, len(self.counts) + 1))
