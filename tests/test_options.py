"""Command-line flags derived from a settings model (`flows/options.py`): one definition per option."""

from __future__ import annotations

import argparse
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from flows.cli import parse_command_line
from flows.options import BadOption, CommandLine, ModelOptions, add_model_options, model_from_args
from flows.options_reference import REFERENCE, commands, reference
from schemas.option import Option


class Settings(BaseModel):
    mode: Literal["fast", "slow"] = Field(default="fast", description="How to go.")
    steps: int | None = Field(default=None, ge=1, description="Steps to take.")
    rate: float = Field(default=0.5, gt=0, description="The rate.")
    full: bool = Field(default=False, description="Do it all.")
    names: list[str] = Field(default_factory=lambda: ["a"], description="Names.")


def parse(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_model_options(parser, Settings)
    return model_from_args(Settings, parser.parse_args(argv))


def test_no_flag_given_is_the_model_s_defaults():
    assert parse() == Settings()


def test_each_field_is_a_flag_of_its_type():
    given = parse("--mode", "slow", "--steps", "3", "--rate", "0.25", "--full", "--names", "x, y")
    assert given == Settings(mode="slow", steps=3, rate=0.25, full=True, names=["x", "y"])


def test_the_model_validates_and_argparse_checks_choices(capsys):
    with pytest.raises(ValidationError, match="greater than 0"):
        parse("--rate", "0")
    with pytest.raises(SystemExit):
        parse("--mode", "medium")
    assert "invalid choice: 'medium'" in capsys.readouterr().err


def test_help_carries_each_description_and_default():
    parser = argparse.ArgumentParser()
    add_model_options(parser, Settings)
    text = " ".join(parser.format_help().split())
    assert "How to go (default fast)" in text and "The rate (default 0.5)" in text
    assert "Steps to take" in text and "Names (default a)" in text


# -- nested settings, Option metadata, entry points --------------------------------------------------


class Inner(BaseModel):
    timeout_s: Annotated[float, Option(flag="timeout")] = Field(default=5.0, gt=0, description="Seconds.")
    seed: int = Field(default=0, description="Sampling seed.")
    use_cache: bool = Field(default=True, description="Use the cache.")
    roles: Annotated[dict[str, str], Option(flag="role", metavar="ROLE=MODEL", repeat=True)] = Field(
        default_factory=dict, description="A role's model."
    )
    mix: dict[str, float] = Field(default_factory=dict, description="Shares.")
    hidden: Annotated[int, Option(cli=False)] = Field(default=1, description="Set by the code.")


class Outer(BaseModel):
    run: Annotated[str, Option(positional=True, metavar="RUN")] = Field(description="The run.")
    inner: Annotated[Inner, Option(group="inner things", flags={"seed": "inner-seed"})] = Field(
        default_factory=lambda: Inner(timeout_s=9.0)
    )
    stages: Annotated[list[Literal["a", "b"]], Option(metavar="STAGE,...")] = Field(
        default_factory=lambda: ["a", "b"], description="Stages."
    )
    names: Annotated[list[str], Option(flag="name", repeat=True)] = Field(
        default_factory=list, description="A name."
    )


def command(**view: Any) -> CommandLine:
    return CommandLine("prog", "A command.", (ModelOptions(Outer, **view),))


def test_a_nested_model_is_its_fields_flags_flattened_under_their_own_names():
    (outer,) = command().parse(["r", "--timeout", "2", "--inner-seed", "3", "--no-use-cache"])
    assert outer.inner == Inner(timeout_s=2.0, seed=3, use_cache=False)
    assert outer.run == "r" and outer.stages == ["a", "b"]


def test_a_nested_model_given_some_options_keeps_the_rest_of_its_field_s_default():
    (outer,) = command().parse(["r", "--inner-seed", "3"])
    assert outer.inner.timeout_s == 9.0  # the default Outer gives, not Inner's own 5.0


def test_dicts_and_lists_take_pairs_commas_or_repeats():
    argv = ["r", "--role", "judge=m1", "--role", "user=m2", "--mix", "x=0.5, y=1", "--stages", "b"]
    (outer,) = command().parse([*argv, "--name", "p", "--name", "q"])
    assert outer.inner.roles == {"judge": "m1", "user": "m2"} and outer.inner.mix == {"x": 0.5, "y": 1.0}
    assert outer.stages == ["b"] and outer.names == ["p", "q"]


def test_a_pair_without_its_equals_sign_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        command().parse(["r", "--role", "judge"])
    assert "expected ROLE=MODEL, got 'judge'" in capsys.readouterr().err


def test_a_value_the_model_rejects_is_one_line_naming_its_flag():
    with pytest.raises(BadOption, match=r"^--timeout: Input should be greater than 0$"):
        command().parse(["r", "--timeout", "0"])
    with pytest.raises(BadOption, match=r"^--stages: Input should be 'a' or 'b'$"):
        command().parse(["r", "--stages", "a,c"])


def test_the_help_groups_a_nested_model_and_hides_what_no_command_line_offers():
    text = command().parser().format_help()
    assert "inner things:\n  --timeout TIMEOUT" in text and "--role ROLE=MODEL" in text
    assert "--hidden" not in text and "(default 9.0)" in text


def test_an_entry_point_offers_a_view_with_its_own_names_and_defaults():
    view = command(
        only=("run", "inner"), flags={"inner.timeout_s": "wait"}, base=Outer(run="x", stages=["b"])
    )
    (outer,) = view.parse(["--wait", "4"])
    assert outer == Outer(run="x", stages=["b"], inner=Inner(timeout_s=4.0))
    assert "--stages" not in view.parser().format_help()


def test_two_fields_share_a_flag_only_when_both_name_it():
    class Twice(BaseModel):
        a: Annotated[int, Option(flag="n")] = Field(default=1, description="A.")
        b: Annotated[int, Option(flag="n")] = Field(default=1, description="B.")
        c: Annotated[int, Option(flag="seed")] = Field(default=0, description="C.")
        seed: int = Field(default=0, description="Seed.")

    with pytest.raises(TypeError, match="--seed would set both c and seed"):
        ModelOptions(Twice)
    shared = ModelOptions(Twice, only=("a", "b"))
    parser = argparse.ArgumentParser()
    shared.add_to(parser)
    assert shared.model_from(parser.parse_args(["--n", "5"])) == Twice(a=5, b=5)


def test_every_option_of_every_entry_point_says_what_it_does():
    undescribed = [
        f"{command.prog} {item.shown}"
        for command in commands()
        for options in command.options
        for item in options.options
        if not item.field.description
    ]
    assert undescribed == []
    for command in commands():
        command.parser().format_help()  # each parser builds and formats


def test_the_pool_command_is_a_corpus_run_of_the_toolset_over_a_pool():
    pool, _ = parse_command_line(["--size", "2", "--max-functions", "2"], pool_only=True)
    assert pool.stages == ["toolset"] and pool.pool.only and pool.pool.size == 2
    assert pool.toolset.max_functions == pool.pool.max_functions == 2  # one flag, both settings
    with pytest.raises(SystemExit):
        parse_command_line(["--size", "0"], pool_only=True)


def test_the_committed_options_reference_is_what_the_models_give():
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert committed == reference(), (
        "docs/options.md is out of date with the settings models: regenerate it with "
        "`python -m flows.options_reference --write`"
    )
