"""The checks of a study's [grid] and [levels] sections."""

from kerastune_lab.config.run_sections import SECTIONS
from kerastune_lab.errors import ConfigError
from kerastune_lab.toml_literal import toml_literal


def check_grid(grid):
    """[grid]: each key a "section.key" of a run section, mapped to a
    non-empty list of values."""
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


def check_levels(levels, grid):
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
            check_grid({key: [value] for key, value in settings.items()})
