"""The shape of a `train.optimizer` declaration: the class it builds, the
settings it takes from the experiment file, and what it asks of a run.

Each optimizer is one `OptimizerChoice` in `choices.OPTIMIZERS`; the
`[train]` keys of its settings (with their checks and docs), the
arguments `optimizers.build_optimizer` passes, and the checks of a
configuration that uses it are derived from that entry. Light on purpose
(no Keras): a declaration names its class by import path, so that a
configuration is checked without loading Keras.
"""

import dataclasses
import math

from kerastune_lab.errors import ConfigError
from kerastune_lab.fields import option


@dataclasses.dataclass(frozen=True)
class OptimizerSetting:
    """A number an optimizer's constructor takes, and its `[train]` key.

    Optimizers that take the same setting share the object; the `[train]`
    key of the same name, its check and doc follow from it.

    Args:
        name: The constructor's keyword, and the key of `[train]`.
        default: The key's default.
        doc: What it does (field docs, `finetune --help`).
        minimum, maximum: Inclusive bounds (None: unbounded).
        unset: The key's value that passes nothing, so that the class
            keeps its own default (epsilon 0: Keras's); None: every value
            is passed.

    Example:

    >>> epsilon = OptimizerSetting("epsilon", 0.0, "epsilon", 0.0, unset=0.0)
    >>> epsilon.argument(1e-6), epsilon.argument(0.0)
    (1e-06, None)
    """

    name: str
    default: float
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    unset: float | None = None

    def check(self, value):
        """The value as a float, or ValueError naming it and its range."""
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        ):
            low = "-inf" if self.minimum is None else self.minimum
            high = "inf" if self.maximum is None else self.maximum
            raise ValueError(
                f"`{self.name}` must be a number in [{low}, {high}]. "
                f"Received: {self.name}={value!r}"
            )
        return float(value)

    def argument(self, value):
        """The constructor's argument for a value of the key; None for
        `unset` (and None), which passes nothing."""
        if value is None or value == self.unset:
            return None
        return self.check(value)

    def config_field(self, optimizers=()):
        """(name, type, dataclasses.field) of the `[train]` key; the doc
        names `optimizers`, the `train.optimizer` values that take it."""
        doc = self.doc
        if optimizers:
            doc += f" (train.optimizer {', '.join(optimizers)})"
        field = option(
            float(self.default),
            minimum=self.minimum,
            maximum=self.maximum,
            doc=doc,
        )
        return self.name, float, field


@dataclasses.dataclass(frozen=True)
class OptimizerChoice:
    """What a `train.optimizer` name builds, and what it asks of a run.

    Args:
        name: The `train.optimizer` value.
        class_path: Import path of the optimizer class, e.g.
            "keras.optimizers.SGD".
        settings: Its `OptimizerSetting`s, each a `[train]` key of its own.
        reads: Keys ("section.key") that other parts of the experiment
            declare and the constructor takes under the key's name:
            "train.warmup_steps" (the optimizer warms up itself, the
            schedule does not) or "lr_adapt.f_star" (a lower bound of the
            loss).
        defaults: Constructor arguments where this package's default
            differs from the class's (passed unless a setting gives one).
        reads_loss: Its update reads each batch's loss, which the loss
            probe feeds it (kerastune_lab.lr_adapt); lr_adapt.mode stays
            none.
        schedule_free: It replaces the decay schedule by averaging its
            iterates: schedule constant, and evaluated at the average its
            `evaluation_values()` gives, so restoring an earlier epoch's
            weights alone (restore_best_weights) would be wrong.

    Example:

    >>> momentum = OptimizerSetting("momentum", 0.9, "momentum", 0.0, 1.0)
    >>> sgd = OptimizerChoice("sgd", "keras.optimizers.SGD", (momentum,))
    >>> sgd.arguments({"epsilon": 1e-3})
    {'momentum': 0.9}
    """

    name: str
    class_path: str
    settings: tuple = ()
    reads: tuple = ()
    defaults: dict = dataclasses.field(default_factory=dict)
    reads_loss: bool = False
    schedule_free: bool = False

    def __post_init__(self):
        if any(key.count(".") != 1 for key in self.reads):
            raise ValueError(
                "`reads` takes experiment keys as 'section.key'. Received: "
                f"reads={self.reads!r}"
            )

    @property
    def value_names(self):
        """The names `arguments` reads: its settings', then its read keys'."""
        return tuple(s.name for s in self.settings) + tuple(
            key.partition(".")[2] for key in self.reads
        )

    @property
    def warms_up_itself(self):
        """train.warmup_steps goes to the optimizer, not the schedule."""
        return "train.warmup_steps" in self.reads

    def arguments(self, values):
        """The constructor's keyword arguments (beyond the rate and clip).

        Args:
            values: {name: value} of settings and read keys (by the key's
                name); a setting missing takes its default, a read key
                missing passes nothing; names this optimizer does not
                take are ignored.
        """
        arguments = dict(self.defaults)
        for setting in self.settings:
            value = setting.argument(values.get(setting.name, setting.default))
            if value is not None:
                arguments[setting.name] = value
        for key in self.reads:
            name = key.partition(".")[2]
            if values.get(name) is not None:
                arguments[name] = values[name]
        return arguments

    def config_values(self, config):
        """{name: value} of its settings and read keys in `config` (an
        `ExperimentConfig`), for `arguments` / `build_optimizer`."""
        sections = ["train"] * len(self.settings) + [
            key.partition(".")[0] for key in self.reads
        ]
        return {
            name: getattr(getattr(config, section), name)
            for section, name in zip(sections, self.value_names)
        }

    def check(self, train, lr_adapt):
        """ConfigError for a `[train]` / `[lr_adapt]` pair this optimizer
        cannot train with."""
        if self.schedule_free:
            _check_schedule_free(train)
        if self.reads_loss and lr_adapt.mode != "none":
            bound = (
                " (its lower bound is lr_adapt.f_star)"
                if "lr_adapt.f_star" in self.reads
                else ""
            )
            raise ConfigError(
                f"train.optimizer = {self.name!r} sets each step's rate "
                f"from the loss itself; lr_adapt.mode = {lr_adapt.mode!r} "
                "would rescale its cap. Use lr_adapt.mode = 'none' with "
                f"it{bound}."
            )


def _check_schedule_free(train):
    """A schedule-free optimizer is its own schedule and is evaluated at
    its average."""
    if train.early_stopping and train.restore_best_weights:
        raise ConfigError(
            f"train.optimizer = {train.optimizer!r} with early stopping "
            "and restore_best_weights: restoring an earlier epoch's weights "
            "without its averaging state gives a wrong evaluation point; "
            "set train.restore_best_weights = false."
        )
    if train.schedule != "constant":
        raise ConfigError(
            f"train.optimizer = {train.optimizer!r} with train.schedule = "
            f"{train.schedule!r}: schedule-free training replaces the decay "
            "schedule; use schedule = 'constant' (warmup_steps still "
            "applies: the optimizer warms up itself)."
        )
