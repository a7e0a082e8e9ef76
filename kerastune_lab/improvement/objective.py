"""What `improve` decides on: a validation figure the runs log, the way it
is better, and its counterpart on the test split."""

import dataclasses
import math

from kerastune_lab.errors import UserError
from kerastune_lab.figures import (
    DIRECTIONS,
    MAX,
    objective_direction,
)

VALIDATION = "val_"


@dataclasses.dataclass(frozen=True)
class Objective:
    """A validation figure of history.csv, and which way is better.

    Decisions read it at each run's kept epoch; the confirmation reads its
    test counterpart from metrics.json (val_accuracy -> test_accuracy),
    which no decision saw.

    Attributes:
        name: A history.csv column of the validation split, e.g.
            "val_loss", "val_accuracy".
        direction: "min" or "max".

    Example:

    >>> objective = Objective.create("val_accuracy")
    >>> objective.direction, objective.test_name, objective.words
    ('max', 'test_accuracy', 'validation accuracy')
    >>> objective.cost(0.8), objective.worst
    (-0.8, -inf)
    """

    name: str
    direction: str

    @classmethod
    def create(cls, name: str, direction: str = "") -> "Objective":
        """The objective `name`, its direction from the name unless
        `direction` says; a `UserError` (exit 2) for a name that is no
        validation figure or whose direction is unknown."""
        if not name.startswith(VALIDATION) or name == VALIDATION:
            raise UserError(
                f"--objective {name}: expected a figure of the validation "
                "split, named as history.csv names it: val_loss, "
                "val_accuracy or val_<metric> of a metric the runs log. "
                "Decisions on the training split reward memorising, and the "
                "test split is kept for the confirmation."
            )
        if direction and direction not in DIRECTIONS:
            raise UserError(f"--direction {direction}: expected min or max.")
        resolved = objective_direction(name, direction)
        if resolved is None:
            raise UserError(
                f"--objective {name}: its name does not say whether lower "
                "or higher is better; add --direction min or --direction "
                "max (or check the name for a typo)."
            )
        return cls(name, resolved)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == MAX

    @property
    def test_name(self) -> str:
        """The test split's figure in metrics.json: test_<metric>."""
        return "test_" + self.name.removeprefix(VALIDATION)

    @property
    def words(self) -> str:
        """'validation loss', 'validation accuracy'."""
        return "validation " + self.name.removeprefix(VALIDATION).replace(
            "_", " "
        )

    @property
    def test_words(self) -> str:
        return "test " + self.name.removeprefix(VALIDATION).replace("_", " ")

    @property
    def worst(self) -> float:
        """The figure a failed run counts as: never better."""
        return -math.inf if self.higher_is_better else math.inf

    def cost(self, value: float) -> float:
        """`value` turned so that lower is better."""
        return -value if self.higher_is_better else value

    def better_words(self) -> str:
        """'lower is better' or 'higher is better'."""
        return f"{'higher' if self.higher_is_better else 'lower'} is better"

    def check_run(self, history: dict, metrics: dict, where: str):
        """A `UserError` where a finished run has no such figure (history)
        or no test counterpart (metrics.json), naming those it has."""
        if self.name not in history:
            logged = [k for k in history if k.startswith(VALIDATION)]
            raise UserError(
                f"--objective {self.name}: {where} logs no such figure; it "
                f"logs {', '.join(logged) or 'no validation figure'}. Pass "
                "one of those."
            )
        if self.test_name not in metrics:
            tested = [k for k in metrics if k.startswith("test_")]
            raise UserError(
                f"--objective {self.name}: the test split gives no "
                f"{self.test_name} for the confirmation ({where} has "
                f"{', '.join(tested)}); pass an objective whose test "
                "counterpart exists, e.g. val_loss."
            )
