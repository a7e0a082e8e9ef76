"""Errors that are the user's to fix: the CLI prints them and exits 2."""


class UserError(Exception):
    """A bad input: the message says what was wrong and how to fix it."""


class ConfigError(UserError, ValueError):
    """An experiment file or --set override that does not validate."""
