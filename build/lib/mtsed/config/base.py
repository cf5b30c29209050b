"""What every configuration section shares: the error type and the checks that name keys."""

from __future__ import annotations


class ConfigError(ValueError):
    """A parameter file is malformed; ``key`` is the dotted path of the culprit."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"params: '{key}' {message}" if key else f"params: {message}")
        self.key = key
        self.message = message


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(key, message)


def _check_range(pair: tuple[float, float], key: str) -> None:
    _require(len(pair) == 2 and pair[0] <= pair[1], key, "must be [low, high] with low <= high")
