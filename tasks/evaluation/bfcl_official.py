"""BFCL's official test set and checker, from the installed `bfcl-eval` package (`--eval bfcl:...`).

`bfcl:CATEGORY[,CATEGORY...]` names BFCL's single-turn AST categories by BFCL's own names;
`bfcl:ast` is all of them (`AST_CATEGORIES`). The questions come from BFCL's `load_dataset_entry`
(the functions with BFCL's language hint, as its generation shows them to a model) and the possible
answers from its `load_ground_truth_entry`. A model's calls are scored as BFCL's `eval_runner`
scores a decoded answer: an irrelevance category passes when the answer holds no call
(`is_empty_output`); any other must be calls (`is_function_calling_format_output`) that pass its
`ast_checker` for Python. The checker's `model_name` only decides whether a dot in a function's name
is read as an underscore: a BFCL function-calling model's config where the model answered in native
function calling (which offers names with underscores for dots, as BFCL's FC handlers do), a prompt
model's otherwise. The summaries are BFCL's leaderboard averages over the categories evaluated.

bfcl-eval is an optional install (`make bfcl`: the package without its model vendors' clients, and
the few packages its checker's imports need); without it, `--eval bfcl:...` is one clear error.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from importlib import metadata
from types import ModuleType
from typing import Any

from schemas.call_accuracy import Call, CallCheck
from schemas.errors import InputError
from tasks.evaluation.bfcl_set import BfclQuestion

PREFIX = "bfcl:"
PACKAGE = "bfcl-eval"
INSTALL = "make bfcl"
"""The command that installs bfcl-eval the way this project uses it (docs/evaluation.md)."""
NON_LIVE_AST = ("simple_python", "multiple", "parallel", "parallel_multiple")
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")
AST_CATEGORIES = (*NON_LIVE_AST, "irrelevance", *LIVE_AST, "live_irrelevance")
"""The single-turn categories BFCL scores with its AST checker (and irrelevance, with no call)."""
GROUPS = {"ast": AST_CATEGORIES}
DECODED = "Valid syntax. Successfully decode AST when it should not."
"""BFCL's error where an irrelevance question is answered with a call."""
NON_LIVE_SUMMARY = "non_live_ast_unweighted"
LIVE_SUMMARY = "live_ast_weighted"


def is_official(source: str) -> bool:
    """Whether `--eval` names BFCL's official test set (`bfcl:...`)."""
    return source.startswith(PREFIX)


def categories(source: str, flag: str = "--eval") -> list[str]:
    """The categories `bfcl:CATEGORY[,CATEGORY...]` names, each once, in the order given; an
    InputError naming `flag` and the first name that is not one."""
    found: list[str] = []
    for name in (part.strip() for part in source.removeprefix(PREFIX).split(",")):
        if name not in GROUPS and name not in AST_CATEGORIES:
            raise InputError(
                f"{flag} {source}: '{name}' is not a BFCL category this evaluates; give "
                f"{', '.join(AST_CATEGORIES)} or ast (all of them)"
            )
        found += GROUPS.get(name, (name,))
    return list(dict.fromkeys(found))


def _bfcl() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """BFCL's utils, AST checker, leaderboard helper and model configs; an InputError naming the
    install command when bfcl-eval (or a package its checker imports) is not installed."""
    try:
        from bfcl_eval import utils
        from bfcl_eval.constants import model_config
        from bfcl_eval.eval_checker import eval_runner_helper
        from bfcl_eval.eval_checker.ast_eval import ast_checker
    except ImportError as error:
        raise InputError(
            f"BFCL's test set and checker need the {PACKAGE} package ({error}): install it with `{INSTALL}`"
        ) from None
    return utils, ast_checker, eval_runner_helper, model_config


def version() -> str:
    """Which BFCL and which package: `BFCL_v4, bfcl-eval 2026.3.23`."""
    _bfcl()
    from bfcl_eval.constants.category_mapping import VERSION_PREFIX

    return f"{VERSION_PREFIX}, {PACKAGE} {metadata.version(PACKAGE)}"


def load_questions(names: Sequence[str], limit: int | None, answers: bool = True) -> list[BfclQuestion]:
    """The first `limit` questions (all without one) of each category, with their possible answers
    (unless `answers` is False: the questions alone), as BFCL's loaders read them from the installed
    package."""
    utils, *_ = _bfcl()
    questions: list[BfclQuestion] = []
    for category in names:
        entries = utils.load_dataset_entry(category)[:limit]
        truth = (
            {row["id"]: row["ground_truth"] for row in utils.load_ground_truth_entry(category)}
            if answers and category not in IRRELEVANCE
            else {}
        )
        for entry in entries:
            questions.append(
                BfclQuestion(
                    id=entry["id"],
                    category=category,
                    question=entry["question"][0],
                    functions=entry["function"],
                    ground_truth=truth.get(entry["id"], []),
                )
            )
    return questions


def offered(question: BfclQuestion, native: bool) -> BfclQuestion:
    """The question as the model sees it: in native function calling, a dot in a function's name is
    an underscore (as BFCL's function-calling handlers offer it); else as it is."""
    if not native:
        return question
    functions = [{**f, "name": f["name"].replace(".", "_")} for f in question.functions]
    return question.model_copy(update={"functions": functions})


CHECKER_MODELS = {True: "gpt-4.1-2025-04-14-FC", False: "gpt-4.1-2025-04-14"}
"""The BFCL model config the checker is told, by whether the model was asked in native function
calling. The checker reads one thing from it, `underscore_to_dot` (`ast_checker.convert_func_name`:
when true, a golden function name with a dot is matched as the name with an underscore, the name
`offered` gives a native model). BFCL's own OpenAI entries set it for their function-calling variant
alone (OpenAI refuses dots in function names), so these two say exactly how the model was asked.
Their names hold no `_`, which the checker would read back as `/`."""


def checker_model(native: bool) -> str:
    """The BFCL model config to score an answer with (`CHECKER_MODELS`); an InputError naming the
    install command when the installed bfcl-eval lacks it or sets `underscore_to_dot` otherwise."""
    *_, model_config = _bfcl()
    name = CHECKER_MODELS[native]
    config = model_config.MODEL_CONFIG_MAPPING.get(name)
    if config is None or config.underscore_to_dot != native:
        found = (
            "has no such entry" if config is None else f"sets underscore_to_dot={config.underscore_to_dot}"
        )
        raise InputError(
            f"{version()}: BFCL's model config {name!r}, the one the checker is told for "
            f"{'native' if native else 'prompted'} answers, {found}: install the supported one with "
            f"`{INSTALL}`"
        )
    return name


def check(question: BfclQuestion, calls: Sequence[Call], model: str) -> CallCheck:
    """BFCL's verdict on one decoded answer, with its error messages."""
    utils, checker, _, _ = _bfcl()
    result: list[dict[str, Any]] = [{name: copy.deepcopy(arguments)} for name, arguments in calls]
    if question.category in IRRELEVANCE:
        if utils.is_empty_output(result):
            return CallCheck(correct=True)
        return CallCheck(correct=False, problems=[DECODED])
    if not utils.is_function_calling_format_output(result):
        return CallCheck(correct=False, problems=["Did not output in the specified format."])
    verdict = checker.ast_checker(
        copy.deepcopy(question.functions),
        result,
        copy.deepcopy(question.ground_truth),
        checker.Language.PYTHON,
        question.category,
        model,
    )
    return CallCheck(correct=bool(verdict["valid"]), problems=[str(e) for e in verdict["error"]])


def summaries(results: dict[str, tuple[float, int]]) -> dict[str, float]:
    """BFCL's leaderboard averages over the categories evaluated ({category: (accuracy, count)}):
    non-live AST unweighted (BFCL's `calculate_unweighted_accuracy`; its Simple AST also averages
    Java and JavaScript, which are not evaluated here, so Python's simple stands for it), live AST
    weighted by count (`calculate_weighted_accuracy`)."""
    _, _, helper, _ = _bfcl()
    scores = {c: {"accuracy": a, "total_count": n, "display_accuracy": a} for c, (a, n) in results.items()}
    found: dict[str, float] = {}
    non_live = [scores[c] for c in NON_LIVE_AST if c in scores]
    if non_live:
        found[NON_LIVE_SUMMARY] = helper.calculate_unweighted_accuracy(non_live)["accuracy"]
    live = [scores[c] for c in LIVE_AST if c in scores]
    if live:
        found[LIVE_SUMMARY] = helper.calculate_weighted_accuracy(live)["accuracy"]
    return found
