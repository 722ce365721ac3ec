"""Reading the report's YAML files into strict models, with faults as one sentence.

Every file the pack reads (its configuration, the England figures, the
measure catalogue) goes through :func:`read_model`, so a typo anywhere is a
:class:`~etl.errors.ConfigError` naming the file and the key, never a
traceback from deep inside pydantic.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from etl.errors import ConfigError

T = TypeVar("T")


def packaged(name: str) -> Path:
    """A file shipped in the ``etl.report`` package."""
    return Path(str(resources.files(__package__).joinpath(name)))


def read_model(path: Path, model: type[T] | Any, *, setting: str | None = None) -> T:
    """``path`` validated as ``model`` (a pydantic model or a type pydantic knows).

    ``setting`` names what chose the file (e.g. ``CSC_PACK_CONFIG``), so the
    sentence says which setting to correct.
    """
    named = f"{setting} file {path}" if setting else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {named}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{named} is not valid YAML: {_first_line(exc)}") from None
    try:
        result: T = TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        wrong = "is wrong" if setting else "is not a valid file of its kind"
        raise ConfigError(f"{named} {wrong}: {describe(exc)}") from None
    return result


def describe(error: ValidationError) -> str:
    """Pydantic's errors as ``key.path: message`` pairs, separated by semicolons.

    A key the model does not know reads "unknown key"; a check across the
    whole file says what is wrong without a key path.
    """
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "too_short":
            context = item.get("ctx", {})
            message = (
                f"must list at least {context.get('min_length')}, not "
                f"{context.get('actual_length')}"
            )
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
