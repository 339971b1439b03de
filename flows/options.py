"""Command-line options derived from a pydantic settings model: one flag per field, its type, default,
choices and help text taken from the field, so an option is defined once (in the model).

`add_model_options(parser, Model)` adds `--field-name` for each field of `Model` (a bool field that
defaults to False is a switch; a Literal one offers its values; a list of strings is given
comma-separated); `model_from_args(Model, args)` builds the model from the parsed flags, validated
by the model itself.
"""

from __future__ import annotations

import argparse
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _without_none(annotation: Any) -> Any:
    """`X | None` as X (a flag not given leaves the field at its default, None or not)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _default(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def add_model_options(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """A flag per field of `model` (see the module's note); every flag's default is left unset, so
    that only the flags given reach the model (whose defaults are the only defaults)."""
    for name, field in model.model_fields.items():
        annotation = _without_none(field.annotation)
        default = _default(field)
        text = (field.description or "").rstrip(".")
        shown = ",".join(default) if isinstance(default, list) else default
        help_text = text if default is None or default is False else f"{text} (default {shown})"
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        if annotation is bool:
            if default is not False:
                raise TypeError(f"{model.__name__}.{name}: a switch must default to False")
            parser.add_argument(flag(name), action="store_true", **kwargs)
        elif get_origin(annotation) is Literal:
            parser.add_argument(flag(name), choices=list(get_args(annotation)), **kwargs)
        elif get_origin(annotation) is list:
            parser.add_argument(flag(name), type=_comma_list, metavar="A,B", **kwargs)
        elif annotation in (int, float, str):
            parser.add_argument(flag(name), type=annotation, metavar=name.upper(), **kwargs)
        else:
            raise TypeError(f"{model.__name__}.{name}: no command-line form for {annotation!r}")


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def model_from_args(model: type[BaseModel], args: argparse.Namespace) -> Any:
    """`model` from the flags given (ValidationError for a bad value, located at the field)."""
    given = {name: getattr(args, name) for name in model.model_fields if hasattr(args, name)}
    return model.model_validate(given)
