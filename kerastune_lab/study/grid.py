"""The cells of a comparison: every combination of the [grid] values."""

import dataclasses
import itertools
import re


@dataclasses.dataclass(frozen=True)
class Cell:
    """One combination of grid levels, trained once per seed.

    Attributes:
        values: ((axis key, level), ...) in grid order: what the cell is
            compared by.
        settings: ((key, value), ...) that configure its runs, when they
            differ from `values` (a control cell's level is a name, such as
            "none_at_sd2_rate", that stands for several settings).
    """

    values: tuple
    settings: tuple = ()

    @property
    def name(self):
        """Short folder-safe name, e.g. 'cosine-sd2'."""
        parts = [
            re.sub(r"[^A-Za-z0-9.+-]+", "_", str(v)) for _, v in self.values
        ]
        return "-".join(parts) or "base"

    @property
    def label(self):
        return ", ".join(f"{k}={v}" for k, v in self.values) or "base"

    @property
    def run_settings(self):
        """{"section.key": value} that turn the study's config into this
        cell's."""
        return dict(self.settings or self.values)


def expand_grid(grid, levels=None):
    """All cells of a {key: [values]} grid, in row-major order.

    Args:
        grid: {axis: [levels]}.
        levels: {axis: {str(level): {"section.key": value}}}: settings a
            level stands for beyond its own axis key ([levels]).
    """
    keys = list(grid)
    levels = levels or {}
    cells = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = tuple(zip(keys, combo))
        settings = dict(values)
        for key, level in values:
            settings.update(levels.get(key, {}).get(str(level), {}))
        extra = settings != dict(values)
        cells.append(Cell(values, tuple(settings.items()) if extra else ()))
    return cells


def seed_values(base_seed, seeds):
    """The seeds of a study: base, base + 1, ..."""
    return [base_seed + i for i in range(seeds)]
