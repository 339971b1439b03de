"""Command-line flags derived from a settings model (`flows/options.py`): one definition per option."""

from __future__ import annotations

import argparse
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from flows.options import add_model_options, model_from_args


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
