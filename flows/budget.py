"""A run's budget: `--max-cost USD` and `--max-calls N`, kept between units of work.

The scheduler asks `Budget.admit` before it starts each task run of a step that calls a model (a
batch of items: seeds, tools, one tool's instructions, dialogues to judge). The batch is admitted
while what the run has spent, with what is in flight and the batch itself at their estimated cost,
stays within the budget: an item's estimate is the mean cost (dollars, calls) per item of its step's
task runs finished so far in this process. Until one of a step's task runs has finished, its cost is
not known: the step runs one task run at a time (the others wait). The first batch refused
closes the run to new work: what is in flight finishes and is filed, steps without a model (the rule
checks) still run, nothing else starts. The run then ends with status `stopped`, the reason and the
figures in its manifest (`BudgetFigures`); `--resume RUN` with a higher budget carries on, the
answers already paid for coming from the cache for free. The spend may pass the budget by what the
estimates missed (a unit dearer than its step's mean, a step's first task run); never by a task
run started once the budget was spent.

What a run has spent counts every model call its ledger holds: the earlier parts of a resumed run
and the models' check included, answers from the cache not (they are free). A model without a price
cannot be held to `--max-cost`: `refuse_unpriced` says so before the run, and how to give one
(`--price MODEL=IN/OUT`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.litellm_setup import has_price
from agents.llm.usage import UsageLedger
from schemas.errors import InputError
from schemas.manifest import BudgetFigures
from schemas.option import Option

if TYPE_CHECKING:
    from flows.scheduler import Admission


class BudgetSettings(BaseModel):
    """What a run may spend; it stops, to be resumed, when the next unit of work would cross it."""

    max_cost: Annotated[float | None, Option(metavar="USD")] = Field(
        default=None,
        gt=0,
        description="Stop taking new work when the next unit would take the run's spend past this many "
        "dollars (litellm's prices, or --price); what is in flight finishes, the run ends with status "
        "stopped and exit status 4, and --resume with a higher --max-cost carries on.",
    )
    max_calls: Annotated[int | None, Option(metavar="N")] = Field(
        default=None,
        ge=1,
        description="The same for model calls (answers from the cache are free and not counted).",
    )

    def limited(self) -> bool:
        return self.max_cost is not None or self.max_calls is not None


class Budget:
    """The budget of one run over its usage ledger; see the module's docstring."""

    def __init__(self, settings: BudgetSettings, usage: UsageLedger) -> None:
        self.settings, self.usage = settings, usage
        self.stopped: str | None = None
        self._baseline: dict[str, tuple[float, int]] | None = None

    def admit(self, stages: Sequence[Any], stage: Any, batch: list[Any]) -> Admission:
        """Whether `stage` may start a task run of `batch` now (`stages`: the run's steps, with the
        items each has in flight and has finished): "start", "wait" (its step's cost is not known
        yet, and a task run of it is in flight) or "stop" (the first refusal stops the run: `stopped`)."""
        if not self.settings.limited():
            return "start"
        if self.stopped is not None:
            return "stop"
        spent = self.usage.summary()
        if self._baseline is None:  # the means are of this process's work: not a resumed run's earlier parts
            self._baseline = self._by_stage()
        means = self._means(stages)
        coming = sum(stage.weight(item) for item in batch)
        pending = [means.get(s.name, (0.0, 0.0)) for s in stages]
        in_flight = [s.in_flight for s in stages]
        cost = sum(m[0] * n for m, n in zip(pending, in_flight, strict=True))
        calls = sum(m[1] * n for m, n in zip(pending, in_flight, strict=True))
        cost += means.get(stage.name, (0.0, 0.0))[0] * coming
        calls += means.get(stage.name, (0.0, 0.0))[1] * coming
        why = _crossed("--max-cost", spent.cost_usd, cost, self.settings.max_cost)
        why = why or _crossed("--max-calls", spent.calls, calls, self.settings.max_calls)
        if why is None:
            return "wait" if stage.name not in means and stage.in_flight else "start"
        self.stopped = (
            f"the budget is reached: {why} (${spent.cost_usd:.4f} spent in {spent.calls} model calls "
            f"when the next {stage.name} task run was due; it was not started)"
        )
        return "stop"

    def _by_stage(self) -> dict[str, tuple[float, int]]:
        totals: dict[str, tuple[float, int]] = {}
        for row in self.usage.rows():
            cost, calls = totals.get(row.stage, (0.0, 0))
            totals[row.stage] = (cost + row.cost_usd, calls + row.calls)
        return totals

    def _means(self, stages: Iterable[Any]) -> dict[str, tuple[float, float]]:
        """Dollars and calls per item of each step, over its task runs finished in this process."""
        assert self._baseline is not None
        now, means = self._by_stage(), {}
        for stage in stages:
            if stage.finished:
                cost, calls = now.get(stage.name, (0.0, 0))
                was_cost, was_calls = self._baseline.get(stage.name, (0.0, 0))
                means[stage.name] = ((cost - was_cost) / stage.finished, (calls - was_calls) / stage.finished)
        return means

    def figures(self) -> BudgetFigures | None:
        """The budget and the spend against it, for the manifest (None without a budget)."""
        if not self.settings.limited():
            return None
        spent = self.usage.summary()
        return BudgetFigures(
            max_cost_usd=self.settings.max_cost,
            max_calls=self.settings.max_calls,
            spent_usd=spent.cost_usd,
            calls=spent.calls,
            stopped=self.stopped,
        )

    def stop_line(self, run_id: str, run_dir: str) -> str:
        """The one line the command prints when the run stopped at its budget."""
        raise_it = "--max-cost" if self.settings.max_cost is not None else "--max-calls"
        spent = self.usage.summary()
        return (
            f"{self.stopped}. With the work that was in flight, the run spent ${spent.cost_usd:.4f} in "
            f"{spent.calls} model calls; what it finished is in {run_dir} (status stopped): "
            f"--resume {run_id} with a higher {raise_it} carries on"
        )


def _crossed(flag: str, spent: float, coming: float, limit: float | None) -> str | None:
    """Why `limit` refuses the next unit (it is spent, or the work in flight with the unit, at its
    estimate `coming`, would pass it), or None."""
    if limit is None:
        return None
    if spent >= limit:
        return f"{flag} {limit:g} is spent"
    if spent + coming > limit:
        return f"{flag} {limit:g} would be passed by the work in flight and the next unit"
    return None


def refuse_unpriced(llm: LLMConfig, settings: BudgetSettings, roles: Iterable[str]) -> None:
    """InputError when `--max-cost` is set and a model the run calls has no known price."""
    if settings.max_cost is None:
        return
    models = dict.fromkeys(llm.model_for(role) for role in roles)
    unpriced = [model for model in models if not has_price(model, llm.price_of(model))]
    if unpriced:
        raise InputError(
            f"--max-cost: litellm has no price for {', '.join(unpriced)}, so what its calls cost cannot "
            f"be counted: give one with --price {unpriced[0]}=IN/OUT (USD per million prompt and "
            "completion tokens, e.g. 0.15/0.6)"
        )
