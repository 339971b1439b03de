"""The API pool (ToolACE's self-evolution): the taxonomy grown, APIs adapted to parts of it, each
diversity operator really changing the API's shape, the dedup, the accounting, and a pool run
through the toolset over HTTP against the fake server (resumed, and run again)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from agents.toolsmith.pool import draft_schema
from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import corpus
from flows.cli import build_parser, parse_command_line
from flows.config import CorpusConfig, SeedSelection
from schemas.arrow import from_table, to_table
from schemas.pool import (
    OPERATORS,
    APIDraft,
    APISketch,
    NewFunction,
    NewParameter,
    NodeDraft,
    PoolAPI,
    RejectedAPI,
    TaxonomyNode,
)
from schemas.tool import FunctionDoc, ParameterDoc, Tool
from storage.run_store import RunStore
from tasks.openapi import compile_openapi, spec_problems
from tasks.pool import operators as ops
from tasks.pool.plan import PoolSettings, Taxonomy, domains_in_use, plan_api, starting_domains
from tasks.pool.report import parameter_type, response_shape
from tasks.pool.synthesize import Growth, grow_node, synthesize_api
from tasks.toolset import as_seed, build_tool
from tests.support.cli_runs import kill_midway, run_to_end
from tests.support.fake_llm import ScriptedLLM
from tests.support.scripts import scripted

SEEDS = (
    "### Geo\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    "| [Atlas](https://atlas.example.org) | Records about places | No | Yes | Yes |\n"
    "### Weather\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    "| [Rainy](https://rainy.example.org) | Forecasts by city | No | Yes | Yes |\n"
)


def base_functions() -> list[FunctionDoc]:
    answer = responders.function_catalog({"messages": [{"content": "Name: Tide Cast"}]})
    return [FunctionDoc.model_validate(f) for f in answer["functions"]]


def grown_taxonomy(settings: PoolSettings) -> tuple[Taxonomy, list[TaxonomyNode]]:
    taxonomy = Taxonomy(starting_domains(settings, ["Geo", "Weather"]))
    for domain in taxonomy.domains():
        for coarse in taxonomy.grow(
            domain, [NodeDraft(name=f"{domain.name} lookups", description="Finding things.")]
        ):
            taxonomy.grow(
                coarse, [NodeDraft(name=n, description=f"{n} for a place.") for n in ("Search", "Detail")]
            )
    return taxonomy, domains_in_use(settings, taxonomy.domains())


# -- taxonomy ------------------------------------------------------------------------------------------


def test_the_taxonomy_grows_from_the_seed_lists_categories_level_by_level():
    settings = PoolSettings(size=4)
    taxonomy = Taxonomy(starting_domains(settings, ["Geo", "Weather", "Geo"]))
    assert [(d.node_id, d.name, d.origin) for d in taxonomy.domains()] == [
        ("d0", "Geo", "seed"),
        ("d1", "Weather", "seed"),
    ]
    geo = taxonomy.nodes["d0"]
    added = taxonomy.grow(geo, [NodeDraft(name="Maps", description="Maps of places."),
                                NodeDraft(name="maps", description="The same name again."),
                                NodeDraft(name="Routes", description="Ways between places.")])  # fmt: skip
    assert [(n.node_id, n.level, n.path) for n in added] == [
        ("d0.c0", "coarse", ["Geo", "Maps"]),
        ("d0.c1", "coarse", ["Geo", "Routes"]),
    ]
    (fine,) = taxonomy.grow(added[0], [NodeDraft(name="Tile lookup", description="A map tile by position.")])
    assert (fine.node_id, fine.level, fine.parent_id, fine.path) == (
        "d0.c0.f0",
        "fine",
        "d0.c0",
        ["Geo", "Maps", "Tile lookup"],
    )
    more = taxonomy.grow(None, [NodeDraft(name="Finance", description="Money and markets.")])
    assert [(n.node_id, n.level, n.origin) for n in more] == [("d2", "domain", "llm")]
    user = Taxonomy(starting_domains(PoolSettings(domains=["Health"]), ["Geo"])).domains()
    assert [(d.name, d.origin) for d in user] == [("Health", "user")]


def test_growing_a_node_asks_for_new_names_and_refuses_repeated_ones(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig
):
    answers = iter([
        {"children": [{"name": "Maps", "description": "Maps of places."}]},  # exists already: told back
        {"children": [{"name": "Routes", "description": "Ways between places."}]},
    ])  # fmt: skip
    scripted(scripted_llm, TaxonomyGrowth=lambda request: next(answers))
    geo = TaxonomyNode(node_id="d0", level="domain", name="Geo", path=["Geo"], origin="seed")
    drafts = grow_node(Growth(parent=geo, count=1, existing=["Maps"]), LLMGateway(llm_config))
    assert [d.name for d in drafts] == ["Routes"]
    first, second = scripted_llm.requests
    assert "coarse functions of APIs in the Geo domain" in first["messages"][1]["content"]
    assert "exist already or are repeated: maps" in second["messages"][-1]["content"]


def test_plans_are_drawn_from_the_seed_and_position_not_from_timing():
    settings = PoolSettings(size=6, examples=1)
    taxonomy, domains = grown_taxonomy(settings)
    earlier = [APISketch(api_id="pool-000000", name="Tide", description="Tides.", functions=["getTide"])]
    plans = [plan_api(settings, taxonomy, domains, i, 1, earlier) for i in range(4)]
    again = [plan_api(settings, taxonomy, domains, i, 1, earlier) for i in range(4)]
    assert plans == again
    assert all(p is not None for p in plans)
    assert {p.domain.name for p in plans if p} == {"Geo", "Weather"}  # domains in turn
    assert all(p and 1 <= len(p.fine) <= 2 and p.examples == earlier for p in plans)
    assert all(p and sorted(p.operators) == sorted(OPERATORS) and p.operators_wanted == 2 for p in plans)


# -- adaptation and evolution --------------------------------------------------------------------------


def test_adaptation_writes_an_api_for_the_plans_part_of_the_taxonomy_unlike_its_examples(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig
):
    settings = PoolSettings(size=2, operators_per_api=0)
    taxonomy, domains = grown_taxonomy(settings)
    earlier = [APISketch(api_id="pool-000007", name="Old Tide", description="Tides.", functions=["getTide"])]
    plan = plan_api(settings, taxonomy, domains, 0, 1, earlier)
    assert plan is not None
    scripted(scripted_llm)
    api = synthesize_api(plan, LLMGateway(llm_config))
    assert isinstance(api, PoolAPI)
    assert (api.api_id, api.domain, api.taxonomy_path[0], api.examples) == (
        "pool-000000",
        plan.domain.name,
        plan.domain.name,
        ["pool-000007"],
    )
    assert api.covers == [node.node_id for node in plan.fine]
    prompt = scripted_llm.requests[0]["messages"][1]["content"]
    assert all(node.name in prompt for node in plan.fine)
    assert "- Old Tide: Tides. Functions: getTide." in prompt


def evolved(operator: str, change: dict[str, Any], functions: list[FunctionDoc]) -> list[FunctionDoc]:
    spec = ops.OPERATORS[operator]  # type: ignore[index]
    after = spec.apply(functions, spec.change.model_validate(change))
    assert spec.shows(functions, after)
    problems = spec_problems(compile_openapi(as_seed(pool_api(after)), "An API.", after))
    assert problems == []
    return after


def pool_api(functions: list[FunctionDoc], name: str = "Tide Cast") -> PoolAPI:
    return PoolAPI(
        api_id="pool-000001", index=1, generation=0, name=name, description="Tides and currents by harbor.",
        domain="Weather", taxonomy_path=["Weather", "Sea"], covers=["d1.c0.f0"], operators=[], examples=[],
        functions=functions, model="scripted/test",
    )  # fmt: skip


def test_add_function_and_add_parameter_grow_the_api():
    before = base_functions()
    function = {**before[0].model_dump(), "name": "listTides", "path": "/tides"}
    after = evolved("add_function", {"function": function}, before)
    assert [f.name for f in after] == [*(f.name for f in before), "listTides"]
    parameter = {"name": "units", "location": "query", "type": "string", "description": "Metric or imperial"}
    after = evolved("add_parameter", {"function": "searchTideCast", "parameter": parameter}, before)
    assert [p.name for p in after[0].parameters] == ["query", "limit", "units"]
    with pytest.raises(ValueError, match="cannot go in the path"):
        ops.add_parameter(
            before, ops.NewParameter(function="searchTideCast", parameter={**parameter, "location": "path"})
        )
    with pytest.raises(ValueError, match="has no function 'nowhere'"):
        ops.add_parameter(before, ops.NewParameter(function="nowhere", parameter=parameter))


def test_add_constraint_gives_a_parameter_an_enum_a_range_or_a_format():
    before = base_functions()
    ranged = evolved(
        "add_constraint",
        {"function": "searchTideCast", "parameter": "limit", "minimum": 1, "maximum": 50},
        before,
    )
    limit = ranged[0].parameters[1]
    assert (limit.minimum, limit.maximum) == (1, 50)
    spec = compile_openapi(as_seed(pool_api(ranged)), "An API.", ranged)
    schema = spec["paths"]["/records"]["get"]["parameters"][1]["schema"]
    assert (schema["minimum"], schema["maximum"]) == (1, 50)
    dated = evolved(
        "add_constraint", {"function": "searchTideCast", "parameter": "query", "format": "date"}, before
    )
    assert dated[0].parameters[0].format == "date"
    listed = evolved(
        "add_constraint",
        {"function": "getTideCastRecord", "parameter": "recordId", "enum": ["a1", "b2"]},
        before,
    )
    assert listed[1].parameters[0].enum == ["a1", "b2"]
    with pytest.raises(ValueError):  # a range on a string: the parameter's own validation refuses it
        ops.add_constraint(before, ops.Constraint(function="searchTideCast", parameter="query", minimum=1))
    with pytest.raises(ValueError, match="give allowed values"):
        ops.add_constraint(before, ops.Constraint(function="searchTideCast", parameter="query"))
    with pytest.raises(ValueError, match="constrained already"):
        ops.add_constraint(ranged, ops.Constraint(function="searchTideCast", parameter="limit", maximum=9))


@pytest.mark.parametrize("container", ["object", "array"])
def test_nest_parameter_adds_an_object_or_an_array_of_objects_with_properties(container: str):
    before = base_functions()
    change = {
        "function": "searchTideCast", "name": "window", "description": "The time window",
        "container": container,
        "properties": [{"name": "start", "type": "string", "description": "Start time", "required": True},
                       {"name": "hours", "type": "integer", "description": "Length in hours"}],
    }  # fmt: skip
    after = evolved("nest_parameter", change, before)
    window = after[0].parameters[-1]
    assert parameter_type(window) == (
        "object with properties" if container == "object" else "array of objects"
    )
    assert window.location == "query"  # a GET function: no body
    spec = compile_openapi(as_seed(pool_api(after)), "An API.", after)
    schema = spec["paths"]["/records"]["get"]["parameters"][-1]["schema"]
    nested = schema if container == "object" else schema["items"]
    assert nested["properties"]["hours"]["type"] == "integer" and nested["required"] == ["start"]


@pytest.mark.parametrize("container", ["object", "array"])
def test_change_return_makes_a_function_return_a_nested_field(container: str):
    before = base_functions()
    change = {
        "function": "getTideCastRecord", "response_description": "The record and its readings",
        "nested": {"name": "readings", "container": container,
                   "fields": [{"name": "at", "type": "string"}, {"name": "height", "type": "number"}]},
        "fields": [{"name": "id", "type": "string", "description": "Record id"}],
    }  # fmt: skip
    after = evolved("change_return", change, before)
    assert response_shape(before[1]) == "flat"
    assert response_shape(after[1]) == ("nested object" if container == "object" else "array of objects")
    spec = compile_openapi(as_seed(pool_api(after)), "An API.", after)
    body = spec["paths"]["/records/{recordId}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    readings = body["properties"]["readings"]
    assert (readings.get("items") or readings)["properties"]["height"]["type"] == "number"


def test_an_operators_decoding_schema_names_only_the_apis_own_functions_and_open_parameters():
    functions = base_functions()
    schema = ops.decoding_schema(ops.OPERATORS["add_constraint"], functions)
    assert schema["properties"]["function"]["enum"] == ["getTideCastRecord", "searchTideCast"]
    assert schema["properties"]["parameter"]["enum"] == ["limit", "query", "recordId"]
    assert (
        "enum" not in ops.decoding_schema(ops.OPERATORS["add_function"], functions)["properties"]["function"]
    )


def test_an_operator_the_llm_cannot_apply_rejects_the_api_naming_it(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig
):
    settings = PoolSettings(size=1, operators=["add_constraint"], operators_per_api=1)
    taxonomy, domains = grown_taxonomy(settings)
    plan = plan_api(settings, taxonomy, domains, 0, 0, [])
    assert plan is not None
    scripted(scripted_llm, Constraint=lambda request: {"function": "searchTideCast", "parameter": "query"})
    rejected = synthesize_api(plan, LLMGateway(llm_config))
    assert isinstance(rejected, RejectedAPI)
    assert rejected.rule == "operator_not_applied" and rejected.reason.startswith("add_constraint:")


def test_every_operator_applies_through_the_llm_and_is_recorded(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig
):
    settings = PoolSettings(size=1, operators_per_api=len(OPERATORS))
    taxonomy, domains = grown_taxonomy(settings)
    plan = plan_api(settings, taxonomy, domains, 0, 0, [])
    assert plan is not None
    scripted(scripted_llm)
    api = synthesize_api(plan, LLMGateway(llm_config))
    assert isinstance(api, PoolAPI), api
    assert api.operators == plan.operators and sorted(api.operators) == sorted(OPERATORS)
    params = [p for f in api.functions for p in f.parameters]
    assert len(api.functions) == 3
    assert any(parameter_type(p) in {"object with properties", "array of objects"} for p in params)
    assert any(p.minimum is not None or p.format for p in params)
    assert any(response_shape(f) != "flat" for f in api.functions)
    tool = build_tool(api, LLMGateway(llm_config))
    assert isinstance(tool, Tool), tool
    assert (tool.tool_id, tool.origin, tool.operators) == (api.api_id, "pool", api.operators)
    assert tool.functions == api.functions


def test_a_pool_parameter_survives_parquet():
    hours = {"name": "hours", "type": "integer", "description": "Length in hours"}
    param = ParameterDoc(name="window", type="object", description="The window", properties=[hours])
    function = base_functions()[0]
    api = pool_api([function.model_copy(update={"parameters": [*function.parameters, param]})])
    assert from_table(PoolAPI, to_table(PoolAPI, [api])) == [api]


# -- the run ------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.0) as fake:
        yield fake


def pool_config(server: FakeLLMServer, tmp_path: Path, size: int, **pool: Any) -> CorpusConfig:
    seeds = tmp_path / "apis.md"
    seeds.write_text(SEEDS, encoding="utf-8")
    return CorpusConfig(
        seeds=SeedSelection(source=str(seeds)),
        llm=LLMConfig(model="openai/fake-model", api_base=server.base_url, cache_dir=str(tmp_path)),
        pool=PoolSettings(size=size, breadth=3, coarse=2, fine=2, only=True, **pool),
        stages=["toolset"],
        out=str(tmp_path / "out"),
    )  # fmt: skip


@pytest.mark.usefixtures("prefect_server")
def test_a_pool_run_grows_the_taxonomy_and_its_apis_through_the_toolset(
    server: FakeLLMServer, tmp_path: Path
):
    config = pool_config(server, tmp_path, size=9)
    run_dir = Path(corpus.run(config))
    taxonomy = pd.read_parquet(run_dir / "taxonomy")
    assert sorted(taxonomy["level"].unique()) == ["coarse", "domain", "fine"]
    assert (taxonomy["level"] == "domain").sum() == 3  # Geo, Weather and one grown
    apis, rejected = pd.read_parquet(run_dir / "apis"), pd.read_parquet(run_dir / "rejected_apis")
    assert len(apis) == 9 and rejected.empty  # proposed = kept + rejected
    assert apis["generation"].max() >= 1  # a pool of 9 evolves over generations of 3
    later = apis[apis["generation"] > 0]
    assert all(len(examples) for examples in later["examples"])
    tools = pd.read_parquet(run_dir / "tools")
    assert sorted(tools["tool_id"]) == sorted(apis["api_id"]) and set(tools["origin"]) == {"pool"}
    for spec in tools["openapi"]:
        assert spec_problems(json.loads(spec)) == []
    manifest = RunStore(config.out).read_manifest(run_dir.name)
    stages = {s.name: s for s in manifest.stages}
    assert (stages["pool"].inputs, stages["pool"].outputs, stages["pool"].rejected) == (9, 9, 0)
    assert (stages["toolset"].inputs, stages["toolset"].outputs) == (9, 9)
    report = (run_dir / "pool.md").read_text(encoding="utf-8")
    assert "| APIs | 9 | 2 |" in report and "| domains (categories) | 3 | 2 |" in report
    assert "parameters: object with properties" in report


@pytest.mark.usefixtures("prefect_server")
def test_a_pool_api_that_repeats_an_earlier_one_is_rejected_naming_it(server: FakeLLMServer, tmp_path: Path):
    def same_names(request: dict[str, Any]) -> Any:
        if responders.schema_name(request) == "APIDraft":
            same = {"name": "Tide Cast", "description": "Tides and currents for every harbor of the coast."}
            return json.dumps({**responders.api_draft(request), **same})
        return responders.toolforge(request)

    server.responder = same_names
    config = pool_config(server, tmp_path, size=3, max_proposals=2.0)
    run_dir = Path(corpus.run(config))
    apis, rejected = pd.read_parquet(run_dir / "apis"), pd.read_parquet(run_dir / "rejected_apis")
    assert list(apis["api_id"]) == ["pool-000000"]
    assert len(rejected) == 5 and set(rejected["rule"]) == {"duplicate_api"}  # 6 proposed at most
    assert set(rejected["duplicate_of"]) == {"pool-000000"}
    assert "near-duplicate of pool-000000" in rejected["reason"].iloc[0]
    manifest = RunStore(config.out).read_manifest(run_dir.name)
    assert any("kept 1 of 3 APIs" in note for note in manifest.notes)


@pytest.mark.slow
def test_a_pool_killed_midway_and_resumed_equals_an_uninterrupted_one(tmp_path: Path, prefect_home: Path):
    names = ["taxonomy", "apis", "rejected_apis", "tools", "rejected_tools", "rejections"]
    seeds = tmp_path / "apis.md"
    seeds.write_text(SEEDS, encoding="utf-8")

    def command(out: str, cache: str) -> list[str]:
        return [
            sys.executable, "-m", "flows.pool", "--size", "24", "--seeds", str(seeds), "--domains", "3",
            "--out", str(tmp_path / out), "--cache-dir", str(tmp_path / cache), "--model", "hosted_vllm/fake",
            "--api-base", fake.base_url, "--concurrency", "4", "--part-rows", "2", "--part-seconds", "0.3",
        ]  # fmt: skip

    def rows(run_dir: Path) -> dict[str, list[str]]:
        frames = {
            name: json.loads(pd.read_parquet(run_dir / name).to_json(orient="records")) for name in names
        }
        return {
            name: sorted(json.dumps(row, sort_keys=True) for row in found) for name, found in frames.items()
        }

    with FakeLLMServer(responder=responders.toolforge, latency_s=0.1) as fake:
        whole = run_to_end(command("whole", "cache-whole"), prefect_home)
        killed = kill_midway(command("out", "cache"), tmp_path / "out", prefect_home, artifact="apis")
        assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
        resumed = run_to_end([*command("out", "cache"), "--resume", killed.name], prefect_home)
    assert resumed == killed
    assert rows(resumed) == rows(whole)
    assert len(pd.read_parquet(resumed / "apis")) == 24


@pytest.mark.usefixtures("prefect_server")
def test_evolve_grows_apis_beside_the_seed_lists_and_makes_dialogues_with_them(
    server: FakeLLMServer, tmp_path: Path
):
    config = pool_config(server, tmp_path, size=2).model_copy(
        update={"stages": ["toolset", "instructions", "simulation"]}
    )
    config.pool.only = False
    config.simulation.instructions_per_tool = 2
    run_dir = Path(corpus.run(config))
    tools = pd.read_parquet(run_dir / "tools")
    assert sorted(tools["origin"]) == ["list", "list", "pool", "pool"]
    dialogs = pd.read_parquet(run_dir / "dialogs")
    assert set(dialogs["tool_id"]) == set(tools["tool_id"])  # the pool's tools have dialogues too
    manifest = RunStore(config.out).read_manifest(run_dir.name)
    stages = {s.name: s for s in manifest.stages}
    assert (stages["toolset"].inputs, stages["toolset"].outputs) == (4, 4)  # 2 seeds + 2 pool APIs
    assert "| APIs | 2 | 2 |" in (run_dir / "pool.md").read_text(encoding="utf-8")


def test_a_path_placeholder_the_writer_did_not_declare_is_declared_for_it():
    function = {**base_functions()[1].model_dump(), "parameters": []}  # /records/{recordId}, undeclared
    draft = APIDraft(
        name="Tide Cast", description="Tides and currents by harbor and day.", functions=[function]
    )
    (declared,) = draft.functions[0].parameters
    assert (declared.name, declared.location, declared.type, declared.required) == (
        "recordId",
        "path",
        "string",
        True,
    )


def test_an_apis_decoding_schema_is_bounded_for_a_small_models_token_budget():
    schema = draft_schema(max_functions=2)
    assert schema["properties"]["functions"]["maxItems"] == 2
    assert schema["properties"]["description"]["maxLength"] == 100


def test_what_a_written_function_implies_is_written_out_and_errors_decode_as_http_statuses():
    function = {**base_functions()[1].model_dump(), "parameters": [], "path": "/tides/{tideId}"}
    (declared,) = NewFunction(function=function).function.parameters
    assert (declared.name, declared.location) == ("tideId", "path")
    untyped = {"name": "tags", "location": "query", "type": "array", "description": "Tags to match"}
    assert NewParameter(function="searchTideCast", parameter=untyped).parameter.items_type == "string"
    schema = draft_schema(max_functions=2)
    assert schema["$defs"]["ErrorCase"]["properties"]["status"]["enum"][:4] == [400, 401, 403, 404]
    change = ops.decoding_schema(ops.OPERATORS["add_function"], base_functions())
    assert 404 in change["$defs"]["ErrorCase"]["properties"]["status"]["enum"]


DIALOGUE_ONLY = [
    "--stages", "--from-run", "--instructions-per-tool", "--dialog-mix", "--complexity",
    "--tools-per-dialog", "--assistant-calls", "--max-steps", "--judge", "--dedup-threshold",
]  # fmt: skip


def test_the_pool_command_offers_only_the_options_its_run_uses(capsys: pytest.CaptureFixture[str]):
    pool_help, corpus_help = build_parser(pool_only=True).format_help(), build_parser().format_help()
    assert [o for o in DIALOGUE_ONLY if o in pool_help] == []
    assert [o for o in DIALOGUE_ONLY if o not in corpus_help] == []
    with pytest.raises(SystemExit) as exit_:
        parse_command_line(["--size", "3", "--judge", "filter"], pool_only=True)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("unrecognized arguments: --judge filter")
    # the pool's run keeps the corpus command's defaults for what it does not offer
    pool, _ = parse_command_line(["--size", "3"], pool_only=True)
    corpus, _ = parse_command_line(["--evolve", "3"])
    assert pool.simulation == corpus.simulation and pool.verification == corpus.verification
    assert pool.stages == ["toolset"] and pool.from_run is None and pool.pool.only
