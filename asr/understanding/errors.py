"""Errors raised by transcript understanding."""


class UnderstandingConfigError(Exception):
    """The understanding TOML is broken; the message names the file and the entry."""
