"""Command-line options derived from pydantic settings models: an option is defined once, as a field
(its name, type, default, validation, and its description as the help text), and every entry
point's flags are made from its models.

A field is the flag named after it (`max_tokens` -> `--max-tokens`), in a form its type gives:
- a bool defaulting to False is a switch (`--full`); one defaulting to True is `--no-NAME`;
- a Literal offers its values as choices;
- an int, float or str (or `X | None`) takes one value;
- a list takes comma-separated values (`--stages toolset,instructions`);
- a dict takes comma-separated `KEY=VALUE` pairs (`--dialog-mix single=0.5,parallel=0.5`);
- a nested settings model is its own fields' flags, flattened (`CorpusConfig.llm.model` -> `--model`);
- a field without a default is a required flag.

What a field's name and type do not say, an `Option` (schemas/option.py) in its `Annotated` metadata
does: another flag name (`--timeout` for `timeout_s`), a metavar, the help's group, a list or dict
given by repeating the flag (`--role-model ROLE=MODEL`), a positional argument, a field no command
line offers (`cli=False`), and on a nested model's field which of its fields are offered there and
under which names (`only`, `flags`: the evaluation's `llm.model` is `--simulator-model`). Two
fields share one flag, which sets both, only when both name it (`--max-functions`: the toolset's
and the pool's).

`ModelOptions(Model)` is one model's options at one entry point (`only`, `flags` and a `base`
instance give an entry point its own view: `python -m flows.pool` is a corpus run with the pool's
size as `--size`, no dialogue options, and defaults of its own). Each option's default is the
model's: the field's, a nested model's field default's (the evaluation's simulators run 4 calls at
once, greedily), or the base's. The parser leaves every flag unset unless given, so only the flags
given reach the model, which validates them; a bad value is one line naming its flag
(`error_line`). `CommandLine` is an entry point: its parser, and its models from the arguments.
The options reference, docs/options.md, is made from the same (`flows/options_reference.py`).
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from schemas.option import Option

REQUIRED = object()
"""The default of a field that has none."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class BadOption(ValueError):
    """A value the model rejects: its message is one line naming the flag."""


@dataclass(frozen=True)
class Flag:
    """One command-line option: the field(s) it sets (dotted paths), and how."""

    name: str
    paths: tuple[str, ...]
    field: FieldInfo
    option: Option
    default: Any
    group: str | None
    explicit: bool

    @property
    def dest(self) -> str:
        return self.paths[0]

    @property
    def annotation(self) -> Any:
        return _without_none(self.field.annotation)

    @property
    def shown(self) -> str:
        """`--name` (a positional: its metavar)."""
        return self.metavar if self.option.positional else flag(self.name)

    @property
    def metavar(self) -> str:
        if self.option.metavar:
            return self.option.metavar
        origin = get_origin(self.annotation)
        if origin is list and not self.option.repeat:
            return "A,B"
        if origin is dict:
            return "KEY=VALUE" if self.option.repeat else "KEY=VALUE,..."
        return self.name.replace("-", "_").upper()

    @property
    def choices(self) -> list[Any] | None:
        item = get_args(self.annotation)[0] if get_origin(self.annotation) is list else self.annotation
        return _literal_values(item)

    def default_text(self) -> str:
        """The default as the help states it; empty for a switch, a required flag or nothing."""
        if self.option.default_text:
            return self.option.default_text
        value = self.default
        if value is REQUIRED or value is None or isinstance(value, bool):
            return ""
        if isinstance(value, list):
            return ",".join(map(str, value))
        if isinstance(value, dict):
            return ",".join(f"{k}={v}" for k, v in value.items())
        return str(value)

    def help(self) -> str:
        text = (self.field.description or "").rstrip(".")
        default = self.default_text()
        return (f"{text} (default {default})" if default else text).replace("%", "%%")

    def form(self) -> str:
        """What the option takes, in words (the options reference's column)."""
        annotation, repeat = self.annotation, "; repeatable" if self.option.repeat else ""
        if annotation is bool:
            return "switch"
        if self.choices is not None:
            listed = ", ".join(map(str, self.choices))
            return (
                f"comma list of {listed}"
                if get_origin(annotation) is list and not repeat
                else f"{listed}{repeat}"
            )
        if get_origin(annotation) in (list, dict):
            return f"{self.metavar}{repeat}"
        kind = {int: "integer", float: "number", str: "text"}[annotation]
        return ", ".join([kind, *_bounds(self.field)])


def _without_none(annotation: Any) -> Any:
    """`X | None` as X (a flag not given leaves the field at its default, None or not)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007 (a runtime union)
    return annotation


def _literal_values(annotation: Any) -> list[Any] | None:
    """The values of a Literal, or of a union of Literals; None for any other type."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        parts = [_literal_values(a) for a in get_args(annotation)]
        return None if any(p is None for p in parts) else [v for p in parts for v in p or []]
    return None


def _bounds(info: FieldInfo) -> list[str]:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    bounds = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)
    return [
        f"{signs[name]} {getattr(item, name)}"
        for item in info.metadata
        if isinstance(item, bounds)
        for name in signs
        if hasattr(item, name)
    ]


def _option(info: FieldInfo) -> Option:
    return next((item for item in info.metadata if isinstance(item, Option)), Option())


def _submodel(annotation: Any) -> type[BaseModel] | None:
    inner = _without_none(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _field_default(info: FieldInfo) -> Any:
    return REQUIRED if info.is_required() else info.get_default(call_default_factory=True)


def _flags(
    model: type[BaseModel],
    view: Option,
    instance: BaseModel | None,
    prefix: str = "",
    group: str | None = None,
) -> Iterator[Flag]:
    """Each offered field of `model` (a nested model's: flattened) as a flag; defaults from `instance`
    when given, else from the fields (a nested model's from its field's default)."""
    for name, info in model.model_fields.items():
        option = _option(info)
        if not option.cli or info.exclude or (view.only is not None and name not in view.only):
            continue
        default = getattr(instance, name) if instance is not None else _field_default(info)
        sub = _submodel(info.annotation)
        if sub is not None:
            renames = {
                k.removeprefix(name + "."): v for k, v in view.flags.items() if k.startswith(name + ".")
            }
            inner = Option(only=option.only, flags={**option.flags, **renames})
            base = default if isinstance(default, BaseModel) else None
            yield from _flags(sub, inner, base, f"{prefix}{name}.", option.group or group)
            continue
        explicit = view.flags.get(name) or option.flag
        if explicit is None and _without_none(info.annotation) is bool and default is True:
            explicit_name = "no-" + name.replace("_", "-")
        else:
            explicit_name = explicit or name.replace("_", "-")
        yield Flag(
            explicit_name,
            (prefix + name,),
            info,
            option,
            default,
            option.group or group,
            explicit is not None,
        )


def _merged(flags: list[Flag], model: type[BaseModel]) -> list[Flag]:
    """One flag per name: fields that both name one flag share it (it sets them all)."""
    by_name: dict[str, Flag] = {}
    for item in flags:
        first = by_name.get(item.name)
        if first is None:
            by_name[item.name] = item
            continue
        if not (first.explicit and item.explicit) or first.default != item.default:
            raise TypeError(
                f"{model.__name__}: {flag(item.name)} would set both {first.dest} and {item.dest}; "
                "fields share a flag only when both name it in their Option, with one default"
            )
        by_name[item.name] = Flag(
            first.name, first.paths + item.paths, first.field, first.option, first.default, first.group, True
        )
    return list(by_name.values())


@dataclass
class ModelOptions:
    """The options of `model` at one entry point (see the module's note)."""

    model: type[BaseModel]
    only: tuple[str, ...] | None = None
    flags: Mapping[str, str] = field(default_factory=dict)
    base: BaseModel | None = None
    options: list[Flag] = field(init=False)

    def __post_init__(self) -> None:
        view = Option(only=self.only, flags=self.flags)
        self.options = _merged(list(_flags(self.model, view, self.base)), self.model)

    def add_to(self, parser: argparse.ArgumentParser, groups: dict[str, Any] | None = None) -> None:
        """Each option as an argument of `parser` (in `groups`, by title, shared with other models)."""
        groups = {} if groups is None else groups
        for item in self.options:
            target: Any = parser
            if item.group is not None:
                if item.group not in groups:
                    groups[item.group] = parser.add_argument_group(item.group)
                target = groups[item.group]
            _add(target, item)

    def model_from(self, args: argparse.Namespace) -> Any:
        """The model from the options given (the model's or the base's defaults for the rest);
        ValidationError for a value it rejects (`error_line` says it in one line)."""
        tree: dict[str, Any] = {}
        for item in self.options:
            if not hasattr(args, item.dest):
                continue
            value = getattr(args, item.dest)
            if get_origin(item.annotation) is dict and item.option.repeat:
                value = dict(value)
            for path in item.paths:
                *parents, last = path.split(".")
                node = tree
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = value
        return self.model.model_validate(_filled(self.model, self.base, tree))

    def error_line(self, exc: ValidationError) -> str:
        """`--flag: what is wrong` for each error (its field's flag, else where it is)."""
        where = {path: item.shown for item in self.options for path in item.paths}
        parts = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            named = next(
                (where[p] for i in range(len(loc), 0, -1) if (p := ".".join(loc[:i])) in where), None
            )
            message = error["msg"].removeprefix("Value error, ")
            label = named or ".".join(loc)
            parts.append(f"{label}: {message}" if label else message)
        return "; ".join(dict.fromkeys(parts))


def _filled(model: type[BaseModel], base: BaseModel | None, tree: dict[str, Any]) -> dict[str, Any]:
    """The data to validate `model` from: what `base` set, then the options given (`tree`, by field);
    a nested model given some options keeps the rest of its default (or of the base's)."""
    data: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in base.model_fields_set}
    for name, value in tree.items():
        info = model.model_fields[name]
        sub = _submodel(info.annotation)
        if sub is None:
            data[name] = value
            continue
        inner = getattr(base, name) if base is not None else _field_default(info)
        data[name] = _filled(sub, inner if isinstance(inner, BaseModel) else None, value)
    return data


def _add(target: Any, item: Flag) -> None:
    annotation, option = item.annotation, item.option
    if option.positional:
        optional = {} if item.default is REQUIRED else {"nargs": "?", "default": argparse.SUPPRESS}
        target.add_argument(item.dest, metavar=item.metavar, help=item.help(), **optional)
        return
    kwargs: dict[str, Any] = {"dest": item.dest, "default": argparse.SUPPRESS, "help": item.help()}
    if item.default is REQUIRED:
        kwargs["required"] = True
    origin = get_origin(annotation)
    if annotation is bool:
        kwargs["action"] = "store_false" if item.default is True else "store_true"
    elif origin is list:
        if option.repeat:
            kwargs |= {"action": "append", "choices": item.choices, "metavar": _metavar(item)}
        else:
            kwargs |= {"type": _comma_list, "metavar": item.metavar}
    elif origin is dict:
        pair = _pair(item.metavar.removesuffix(",..."))
        if option.repeat:
            kwargs |= {"action": "append", "type": pair, "metavar": item.metavar}
        else:
            kwargs |= {"type": lambda text: dict(map(pair, _comma_list(text))), "metavar": item.metavar}
    elif item.choices is not None:
        kwargs |= {"choices": item.choices, "metavar": _metavar(item)}
    elif annotation in (int, float, str):
        kwargs |= {"type": annotation, "metavar": item.metavar}
    else:
        raise TypeError(f"{item.dest}: no command-line form for {annotation!r}")
    target.add_argument(flag(item.name), **kwargs)


def _metavar(item: Flag) -> str | None:
    """A flag with choices shows them, unless its Option names the value."""
    return item.option.metavar or (None if item.choices is not None else item.metavar)


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _pair(metavar: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        key, equals, value = text.partition("=")
        if not equals or not key.strip():
            raise argparse.ArgumentTypeError(f"expected {metavar}, got {text!r}")
        return key.strip(), value.strip()

    return parse


@dataclass
class CommandLine:
    """An entry point's command line: its parser, and its models from the arguments (in order)."""

    prog: str
    description: str
    options: tuple[ModelOptions, ...]
    epilog: str | None = None
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=self.prog,
            description=self.description,
            epilog=self.epilog,
            formatter_class=self.formatter_class,
        )
        groups: dict[str, Any] = {}
        for options in self.options:
            options.add_to(parser, groups)
        return parser

    def models(self, args: argparse.Namespace) -> list[Any]:
        """Each model from the parsed arguments; BadOption for a value one rejects."""
        models = []
        for options in self.options:
            try:
                models.append(options.model_from(args))
            except ValidationError as exc:
                raise BadOption(options.error_line(exc)) from None
        return models

    def parse(self, argv: list[str] | None = None) -> list[Any]:
        """The models of a command line (a usage error exits with status 2); BadOption for a bad value."""
        return self.models(self.parser().parse_args(argv))


def add_model_options(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """`model`'s options as arguments of `parser` (read back by `model_from_args`)."""
    ModelOptions(model).add_to(parser)


def model_from_args(model: type[BaseModel], args: argparse.Namespace) -> Any:
    """`model` from the options of `add_model_options` given (ValidationError for a bad value)."""
    return ModelOptions(model).model_from(args)
