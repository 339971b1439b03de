"""The command lines of `python -m flows.corpus` and `python -m flows.pool`, made from the run's
settings (`CorpusConfig`) and the command's own (`CorpusCommand`) by `flows/options.py`; and the
arguments of the commands over one finished run (`RunCommand`: audit, report, export)."""

from __future__ import annotations

import argparse
from typing import Annotated

from pydantic import BaseModel, Field

from flows.config import STAGES_GROUP, CorpusConfig
from flows.options import BadOption, CommandLine, ModelOptions
from flows.progress import HEARTBEAT_S
from schemas.option import Option
from tasks.pool.plan import PoolSettings

FAILURES = """\
exit status, and what each failure looks like:
  0  the run completed: its directory is the last line on stdout.
  2  bad input or configuration, found before any work (no run folder is made). One line names
     the record and the cause, e.g.
       error: seed list not found: apis.md does not exist (--seeds takes a file or URL)
       error: apis.csv:2:4: the seed list is not UTF-8 (byte 0xe8) and its encoding cannot be
              detected reliably (...); name it with --seeds-encoding ENCODING
       error: roles toolsmith, user, assistant, executor: model gpt-4o-mini: missing
              credentials: set OPENAI_API_KEY in the environment
       error: role toolsmith: model hosted_vllm/m at http://localhost:8000/v1: cannot connect
     Fix what it names and run again. A seed file in another encoding is read when the encoding
     is detected without doubt (a notice says which); --seeds-encoding names it otherwise.
  3  the run stopped midway: --stop-after-failures calls in a row to one model failed the same
     way (a server that went away, a key revoked). What it finished is in its run folder
     (manifest status "failed", the reason in its notes); run again when the model answers:
     answers already paid for come from the cache.
  4  the run reached its budget (--max-cost, --max-calls): it started no more work, finished what
     was in flight, and ended with manifest status "stopped" (the reason and the spend in it). One
     line says so, beginning "stopped:"; --resume RUN_ID with a higher budget carries on.
  1  an unexpected error (a bug): its traceback is in the log file.
Prefect's own messages (warnings, failed tasks with their tracebacks, its server's) go to the log
file (--log-file, default <out>/toolforge.log), never to the terminal.
"""


POOL_DESCRIPTION = (
    "ToolForge's API pool (ToolACE's self-evolution): a taxonomy of domains grown by the LLM from the "
    "seed list's categories, APIs written for its parts and evolved by diversity operators, "
    "deduplicated, through the toolset step. Prints the run directory last."
)


class CorpusCommand(BaseModel):
    """What the corpus command line says beside the run's settings."""

    resume: Annotated[str | None, Option(group=STAGES_GROUP, metavar="RUN_ID")] = Field(
        default=None,
        description="Continue a run that did not complete, in place, with the command that started it "
        "('latest': the newest such run); what its parts hold is not done again.",
    )
    log_file: Annotated[str | None, Option(metavar="PATH")] = Field(
        default=None,
        description="Where Prefect's own messages go instead of the terminal (default <out>/toolforge.log).",
    )
    progress_every: Annotated[float, Option(metavar="S")] = Field(
        default=HEARTBEAT_S,
        gt=0,
        description="Where stderr is not a terminal (a pipe, a file, CI, a worker's log): a progress line "
        "after S seconds without one, beside a line per stage change.",
    )


class RunCommand(BaseModel):
    """The arguments of a command over one finished run (audit, report, export)."""

    run: Annotated[str, Option(positional=True, metavar="RUN")] = Field(
        description="A run id, latest, or a run folder (<out>/runs/<run id>)."
    )
    out_dir: Annotated[str, Option(metavar="DIR")] = Field(
        default="out", description="The run store: a local path or an fsspec URL."
    )


POOL_RUN = CorpusConfig(stages=["toolset"], pool=PoolSettings(size=5, only=True))
"""`python -m flows.pool`'s run: a corpus run of the toolset stage over a pool of 5 APIs by default,
building the pool's tools only; the dialogues' settings keep their defaults, unoffered."""

CORPUS = CommandLine(
    "python -m flows.corpus",
    "ToolForge: turn a list of APIs into a tool-use corpus. Prints the run directory last.",
    (ModelOptions(CorpusConfig), ModelOptions(CorpusCommand)),
    epilog=FAILURES,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)
POOL = CommandLine(
    "python -m flows.pool",
    POOL_DESCRIPTION,
    (
        ModelOptions(
            CorpusConfig,
            only=("seeds", "llm", "toolset", "pool", "out", "parts", "execution"),
            flags={"pool.size": "size"},
            base=POOL_RUN,
        ),
        ModelOptions(CorpusCommand),
    ),
    epilog=FAILURES,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)


def build_parser(pool_only: bool = False) -> argparse.ArgumentParser:
    """The corpus command's options; with `pool_only`, `python -m flows.pool`'s."""
    return (POOL if pool_only else CORPUS).parser()


def config_from_args(args: argparse.Namespace, pool_only: bool = False) -> CorpusConfig:
    """The run's settings from `build_parser`'s arguments; BadOption (one line) for a bad value."""
    return (POOL if pool_only else CORPUS).models(args)[0]


def parse_command_line(
    argv: list[str] | None = None, pool_only: bool = False
) -> tuple[CorpusConfig, CorpusCommand]:
    """The run's configuration and the options of the command line itself (`--log-file`, `--resume`);
    a usage error or a bad value exits with status 2 and one line."""
    command = POOL if pool_only else CORPUS
    parser = command.parser()
    args = parser.parse_args(argv)
    try:
        config, options = command.models(args)
    except BadOption as exc:
        parser.error(str(exc))
    return config, options


def parse_config(argv: list[str] | None = None) -> CorpusConfig:
    return parse_command_line(argv)[0]
