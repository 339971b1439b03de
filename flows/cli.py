"""Command-line options of `python -m flows.corpus`, turned into a `CorpusConfig`."""

from __future__ import annotations

import argparse
from typing import get_args

from pydantic import ValidationError

from agents.llm.config import EMBEDDED_MODEL, ROLES, LLMConfig, default_cache_dir
from flows.config import (
    STAGES,
    CorpusConfig,
    ExecutionSettings,
    PartSettings,
    SeedSelection,
    VerificationSettings,
)
from schemas.dialog import DialogType
from schemas.pool import OPERATORS
from tasks.pool.plan import PoolSettings
from tasks.simulation import SimulationSettings
from tasks.toolset import ToolsetSettings


def _role_model(text: str) -> tuple[str, str]:
    role, sep, model = text.partition("=")
    if not sep or not model or role not in ROLES:
        raise argparse.ArgumentTypeError(
            f"expected ROLE=MODEL with ROLE one of {', '.join(ROLES)}, got {text!r}"
        )
    return role, model


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


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
  1  an unexpected error (a bug): its traceback is in the log file.
Prefect's own messages (warnings, failed tasks with their tracebacks, its server's) go to the log
file (--log-file, default <out>/toolforge.log), never to the terminal.
"""


POOL_DESCRIPTION = (
    "ToolForge's API pool (ToolACE's self-evolution): a taxonomy of domains grown by the LLM from the "
    "seed list's categories, APIs written for its parts and evolved by diversity operators, "
    "deduplicated, through the toolset step. Prints the run directory last."
)


def build_parser(pool_only: bool = False) -> argparse.ArgumentParser:
    """The corpus command's options; with `pool_only`, `python -m flows.pool`'s (the pool's size is
    `--size`, and only the pool's APIs become tools)."""
    p = argparse.ArgumentParser(
        prog="python -m flows.pool" if pool_only else "python -m flows.corpus",
        description=POOL_DESCRIPTION
        if pool_only
        else "ToolForge: turn a list of APIs into a tool-use corpus. Prints the run directory last.",
        epilog=FAILURES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(pool_only=pool_only)
    seeds = p.add_argument_group("seeds")
    seeds.add_argument(
        "--seeds",
        metavar="PATH|URL",
        help="seed list (public-apis README, JSON, CSV, Parquet); default: the built-in list",
    )
    seeds.add_argument("--seeds-format", choices=["markdown", "json", "csv", "parquet"])
    seeds.add_argument(
        "--seeds-encoding",
        metavar="ENCODING",
        help="text encoding of the seed list (e.g. latin-1, cp1252); default: UTF-8, else detected",
    )
    seeds.add_argument("--limit", type=_positive, help="use the first N selected seeds")
    seeds.add_argument("--categories", help="comma-separated category names")
    seeds.add_argument(
        "--sample", type=_positive, metavar="N", help="stratified sample of N seeds by category"
    )
    seeds.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of --sample (default 0)")

    llm = p.add_argument_group("models")
    llm.add_argument(
        "--model",
        default=EMBEDDED_MODEL,
        help=f"litellm model for every role (default {EMBEDDED_MODEL}, the embedded model; "
        "local/PATH.gguf runs another GGUF file)",
    )
    llm.add_argument(
        "--role-model",
        action="append",
        type=_role_model,
        default=[],
        metavar="ROLE=MODEL",
        help=f"model for one role ({', '.join(ROLES)}); repeatable",
    )
    llm.add_argument(
        "--api-base",
        help="OpenAI-compatible server URL (vLLM, llama.cpp server, Ollama); a user:password in it "
        "is used for requests and written nowhere",
    )
    llm.add_argument("--concurrency", type=_positive, default=8, help="LLM calls in flight (default 8)")
    llm.add_argument("--temperature", type=float, default=0.3)
    llm.add_argument("--max-tokens", type=_positive, default=1024)
    llm.add_argument("--llm-seed", type=int, default=0, help="sampling seed passed to the model")
    llm.add_argument("--timeout", type=float, default=120.0, help="seconds per LLM request")
    llm.add_argument("--max-attempts", type=_positive, default=6, help="tries per call on transient errors")
    llm.add_argument(
        "--stop-after-failures",
        type=int,
        default=8,
        metavar="N",
        help="stop the run when N calls in a row to one model fail the same way, each after its retries "
        "(default 8; 0 never stops)",
    )
    llm.add_argument(
        "--structured-output", choices=["auto", "json_schema", "json_object", "instructions"], default="auto"
    )
    llm.add_argument(
        "--no-cache", action="store_true", help="ignore and do not write the LLM and task caches"
    )
    llm.add_argument("--cache-dir", default=None, help=f"cache folder (default {default_cache_dir()})")

    build = p.add_argument_group("stages")
    if not pool_only:
        build.add_argument(
            "--stages",
            default=",".join(STAGES),
            help=f"comma-separated subset of {','.join(STAGES)} (default: all)",
        )
        build.add_argument(
            "--from-run", metavar="RUN_ID", help="reuse an earlier run's toolset (or 'latest')"
        )
    build.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue a run that did not complete, in place, with the command that started it "
        "('latest': the newest such run); what its parts hold is not done again",
    )
    build.add_argument("--max-functions", type=_positive, default=3, help="functions documented per tool")
    add_pool_options(p, pool_only)
    if pool_only:  # the pool's run has no dialogues: their settings keep their defaults, unoffered
        dialogue_defaults = argparse.ArgumentParser(add_help=False)
        add_dialogue_options(dialogue_defaults)
        p.set_defaults(from_run=None, **vars(dialogue_defaults.parse_args([])))
    else:
        add_dialogue_options(p)
    p.add_argument("--out", default="out", help="run store: local path or fsspec URL (default ./out)")
    p.add_argument(
        "--part-rows",
        type=_positive,
        default=1000,
        metavar="N",
        help="write an artifact's finished records every N records (default 1000) ...",
    )
    p.add_argument(
        "--part-seconds",
        type=float,
        default=10.0,
        metavar="S",
        help="... or every S seconds, whichever comes first (default 10)",
    )
    run = p.add_argument_group("execution")
    run.add_argument(
        "--task-runner",
        choices=["threads", "dask"],
        default="threads",
        help="where task runs execute: threads of this process (default), or Dask worker processes",
    )
    run.add_argument(
        "--dask-address",
        metavar="ADDRESS",
        help="a running Dask cluster's scheduler (tcp://host:8786); default: a local cluster",
    )
    run.add_argument(
        "--dask-workers",
        type=_positive,
        default=2,
        metavar="N",
        help="worker processes of the local Dask cluster (default 2)",
    )
    p.add_argument(
        "--log-file",
        metavar="PATH",
        help="where Prefect's own messages go instead of the terminal (default <out>/toolforge.log)",
    )
    return p


def add_dialogue_options(p: argparse.ArgumentParser) -> None:
    """The options of the steps after the toolset (instructions, dialogues, their checks): the corpus
    command's, not the pool's."""
    build = p.add_argument_group("dialogues")
    build.add_argument(
        "--instructions-per-tool",
        type=_positive,
        default=10,
        help="instructions the user agent writes per tool (default 10)",
    )
    build.add_argument(
        "--dialog-mix",
        type=_dialog_mix,
        default=None,
        metavar="TYPE=SHARE,...",
        help="the share of each dialogue type among a tool's instructions: single (a request one call "
        "serves), parallel (several calls in one message), dependent (a call taking a value from an "
        "earlier result), non_tool (a request answered without a call) and multi_turn (2 to 4 "
        "follow-ups); default single=0.3,parallel=0.2,dependent=0.2,non_tool=0.1,multi_turn=0.2; "
        "single=1 makes ToolAlpaca's dialogues only",
    )
    build.add_argument(
        "--complexity",
        choices=["easy", "medium", "hard", "mixed"],
        default="mixed",
        help="steer instructions towards a complexity band: the user agent's prompt, the follow-ups of "
        "multi_turn dialogues (2, 3, 4) and the tools offered (1, --tools-per-dialog, at least 3); "
        "mixed (default) steers none; every dialogue records its score and band",
    )
    build.add_argument(
        "--tools-per-dialog",
        type=_positive,
        default=1,
        help="tools whose functions each dialogue offers: the one its request was written for and others "
        "of its category, so the assistant must choose (default 1; at most 5)",
    )
    build.add_argument(
        "--assistant-calls",
        choices=["structured", "native"],
        default="structured",
        help="how the assistant calls functions: structured (schema-constrained JSON, every model, the "
        "embedded one included; default) or native (the model's own function calling, tools= through "
        "litellm, for models that have it)",
    )
    build.add_argument(
        "--max-steps",
        type=_positive,
        default=5,
        help="actions allowed per user request before the dialogue is rejected (default 5)",
    )
    verify = p.add_argument_group("verification")
    verify.add_argument(
        "--judge",
        choices=["off", "flag", "filter"],
        default=None,
        help="the judge model's verdicts on each dialogue the rules accept (one call each): filter "
        "rejects what it fails, flag records its verdicts and keeps the dialogue, off asks nothing "
        "(default: flag with the embedded model, whose verdicts are noise; filter with any other)",
    )
    verify.add_argument(
        "--dedup-threshold",
        type=float,
        default=0.8,
        metavar="J",
        help="requests sharing this share of their words are near-duplicates: the first by id is kept "
        "(default 0.8)",
    )


def add_pool_options(p: argparse.ArgumentParser, pool_only: bool) -> None:
    pool = p.add_argument_group("API pool (ToolACE's self-evolution)")
    if pool_only:
        pool.add_argument(
            "--size", dest="evolve", type=_positive, default=5, help="APIs the pool keeps (default 5)"
        )
    else:
        pool.add_argument(
            "--evolve", type=int, default=0, metavar="N",
            help="grow N synthesized APIs (as python -m flows.pool does) and build their tools beside "
            "the seeds' (default 0)",
        )  # fmt: skip
    pool.add_argument(
        "--domain", action="append", default=[], metavar="NAME",
        help="a domain to grow the taxonomy from (repeat; default: the seed list's categories)",
    )  # fmt: skip
    pool.add_argument(
        "--domains", type=_positive, default=30, metavar="N", help="domains at least (default 30)"
    )
    pool.add_argument("--coarse", type=_positive, default=4, help="coarse functions per domain (default 4)")
    pool.add_argument(
        "--fine", type=_positive, default=4, help="fine functions per coarse function (default 4)"
    )
    pool.add_argument(
        "--operators", default=",".join(OPERATORS),
        help=f"diversity operators to draw from (default: all of {','.join(OPERATORS)})",
    )  # fmt: skip
    pool.add_argument(
        "--operators-per-api", type=int, default=2, metavar="N", help="operators applied per API (default 2)"
    )
    pool.add_argument(
        "--pool-examples", type=int, default=2, metavar="N", help="earlier APIs shown to each (default 2)"
    )
    pool.add_argument(
        "--pool-dedup-threshold", type=float, default=0.7, metavar="J",
        help="APIs sharing this share of name and description words are one (default 0.7)",
    )  # fmt: skip
    pool.add_argument(
        "--pool-seed", type=int, default=0, metavar="S", help="seed of the pool's plans (default 0)"
    )


def pool_settings(args: argparse.Namespace) -> PoolSettings:
    operators = [o.strip() for o in args.operators.split(",") if o.strip()]
    unknown = [o for o in operators if o not in OPERATORS]
    if unknown:
        raise ValueError(f"unknown operator(s) {unknown}; operators are {list(OPERATORS)}")
    return PoolSettings(
        size=args.evolve,
        domains=args.domain,
        breadth=args.domains,
        coarse=args.coarse,
        fine=args.fine,
        operators=operators,  # type: ignore[arg-type]
        operators_per_api=min(args.operators_per_api, len(operators)),
        examples=args.pool_examples,
        max_functions=args.max_functions,
        dedup_threshold=args.pool_dedup_threshold,
        seed=args.pool_seed,
        only=args.pool_only,
    )


def config_from_args(args: argparse.Namespace) -> CorpusConfig:
    llm = LLMConfig(
        model=args.model,
        role_models=dict(args.role_model),
        api_base=args.api_base,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.llm_seed,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        stop_after_failures=args.stop_after_failures,
        structured_output=args.structured_output,
        use_cache=not args.no_cache,
        **({"cache_dir": args.cache_dir} if args.cache_dir else {}),
    )
    selection = SeedSelection(
        source=args.seeds,
        format=args.seeds_format,
        encoding=args.seeds_encoding,
        limit=args.limit,
        categories=[c.strip() for c in (args.categories or "").split(",") if c.strip()],
        sample=args.sample,
        sample_seed=args.seed,
    )
    stages = ["toolset"] if args.pool_only else [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages are {list(STAGES)}")
    return CorpusConfig(
        seeds=selection,
        llm=llm,
        toolset=ToolsetSettings(max_functions=args.max_functions),
        pool=pool_settings(args),
        simulation=SimulationSettings(
            instructions_per_tool=args.instructions_per_tool,
            max_steps=args.max_steps,
            assistant_calls=args.assistant_calls,
            tools_per_dialog=args.tools_per_dialog,
            complexity=args.complexity,
            **({"dialog_mix": args.dialog_mix} if args.dialog_mix is not None else {}),
        ),
        stages=stages,
        from_run=args.from_run,
        out=args.out,
        parts=PartSettings(rows=args.part_rows, seconds=args.part_seconds),
        execution=ExecutionSettings(
            task_runner=args.task_runner, dask_address=args.dask_address, dask_workers=args.dask_workers
        ),
        verification=VerificationSettings(judge=args.judge, dedup_threshold=args.dedup_threshold),
    )


def _dialog_mix(text: str) -> dict[str, float]:
    """`single=0.3,parallel=0.2,...` as {type: share}."""
    known = list(get_args(DialogType))
    mix: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, equals, share = item.partition("=")
        name = name.strip()
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown dialogue type {name!r}; types are {known}")
        try:
            mix[name] = float(share) if equals else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: a share is a number, as in single=0.9") from None
    if not mix:
        raise argparse.ArgumentTypeError("name at least one dialogue type, as in single=1")
    return mix


def parse_command_line(
    argv: list[str] | None = None, pool_only: bool = False
) -> tuple[CorpusConfig, argparse.Namespace]:
    """The run's configuration and the options of the command line itself (`--log-file`); a usage
    error exits with status 2 and one line."""
    parser = build_parser(pool_only)
    args = parser.parse_args(argv)
    try:
        return config_from_args(args), args
    except ValidationError as exc:  # one line: each field and what is wrong with it
        parser.error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        raise
    except ValueError as exc:
        parser.error(str(exc))
        raise


def parse_config(argv: list[str] | None = None) -> CorpusConfig:
    return parse_command_line(argv)[0]


def run_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The parser of a command over one finished run (audit, report, export): RUN and `--out-dir`."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("run", metavar="RUN", help="a run id, latest, or a run folder (<out>/runs/<run id>)")
    p.add_argument(
        "--out-dir", default="out", metavar="DIR", help="run store: local path or fsspec URL (default ./out)"
    )
    return p
