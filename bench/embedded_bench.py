"""The embedded model's speed, bare: llama-cpp-python on the embedded GGUF with the factory's settings,
no factory around it.

    python -m bench.embedded_bench [--threads 1,2] [--prompt-tokens 1000] [--tokens 96]

Per thread count it prints:
- prompt evaluation, tokens/s: a prompt of `--prompt-tokens` tokens evaluated from an empty context;
- generation, tokens/s: `--tokens` tokens sampled freely (temperature 0.3), then under each grammar of
  `GRAMMARS` (the JSON grammars the factory decodes under: a free text field, the same bounded as
  `agents.llm.structured.bounded` bounds it, and an assistant step of a two-function tool);
- prefix reuse: the same prompt evaluated again after a different one (llama.cpp keeps one
  sequence: the second prompt evicts the first), then again right after itself (its prefix reused);
- side by side: the factory's pool (`agents.llm.local_provider.contexts()`: one context per core),
  every context generating freely at once from its own thread, in tokens/s summed over them.

With `--run RUN_FOLDER` (a finished corpus run on the embedded model) it sets the factory's effective
rates beside the bare ones: the run's prompt and completion tokens, the seconds they would take at the
bare rates, and the seconds the run's model-calling stages took.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.assistant.moves import Moves, decoding_schema
from agents.llm.gguf import resolve_gguf
from agents.llm.local_provider import CONTEXT_TOKENS, contexts, json_grammar
from agents.llm.structured import bounded
from schemas.manifest import Manifest

TEXT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
SPEC = {
    "paths": {
        "/facts": {
            "get": {
                "operationId": "listFacts",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            }
        },
        "/breeds": {
            "get": {
                "operationId": "getBreeds",
                "parameters": [
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
            }
        },
    }
}
GRAMMARS: dict[str, dict[str, Any]] = {
    "json text field": TEXT,
    "bounded text field (200 chars)": bounded(TEXT),
    "assistant step (2 functions)": decoding_schema([SPEC], Moves()),
}
INSTRUCTION = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Describe, in detail and at length, how a public holidays API could be used to plan a trip.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def load(threads: int) -> Any:
    from llama_cpp import Llama

    return Llama(
        model_path=str(resolve_gguf("smollm2")),
        n_ctx=CONTEXT_TOKENS,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        seed=0,
    )


def filler(llama: Any, count: int) -> list[int]:
    """`count` tokens of English prose (this repository's docs)."""
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(Path("docs").glob("*.md")))
    return llama.tokenize(text.encode(), add_bos=False)[:count]


def prompt_seconds(llama: Any, tokens: list[int]) -> float:
    llama.reset()
    started = time.perf_counter()
    llama.eval(tokens)
    return time.perf_counter() - started


def generation(llama: Any, prompt: list[int], limit: int, grammar: Any = None) -> tuple[int, float]:
    """(tokens sampled, seconds) after the prompt is evaluated; stops at `limit` or end of sequence."""
    llama.reset()
    llama.eval(prompt)
    started, made = time.perf_counter(), 0
    for token in llama.generate(prompt, temp=0.3, top_k=40, top_p=0.95, min_p=0.05, grammar=grammar):
        made += 1
        if made >= limit or token == llama.token_eos():
            break
    return made, time.perf_counter() - started


def rates(threads: int, prompt_tokens: int, limit: int) -> dict[str, float]:
    from llama_cpp.llama_grammar import LlamaGrammar

    llama = load(threads)
    prose = filler(llama, prompt_tokens)
    other = filler(llama, prompt_tokens * 2)[prompt_tokens:]
    prompt_seconds(llama, prose[:64])  # warm up
    found = {"prompt tokens/s": len(prose) / prompt_seconds(llama, prose)}
    instruction = llama.tokenize(INSTRUCTION.encode(), add_bos=False, special=True)
    made, seconds = generation(llama, instruction, limit)
    found["generation tokens/s, free"] = made / seconds
    for name, schema in GRAMMARS.items():
        grammar = LlamaGrammar.from_string(json_grammar(schema), verbose=False)
        made, seconds = generation(llama, instruction, limit, grammar)
        found[f"generation tokens/s, {name}"] = made / seconds
    llama.reset()
    llama.eval(other)
    found["prompt s, after another prompt"] = _again(llama, prose)
    found["prompt s, after itself (prefix reused)"] = _again(llama, prose)
    llama.close()
    return found


def side_by_side(limit: int) -> float:
    """Tokens/s of the factory's pool of contexts generating at once, one thread each."""
    count, threads = contexts()
    pool = [load(threads) for _ in range(count)]
    instruction = pool[0].tokenize(INSTRUCTION.encode(), add_bos=False, special=True)
    made: list[int] = []
    workers = [
        threading.Thread(target=lambda c=c: made.append(generation(c, instruction, limit)[0])) for c in pool
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    for llama in pool:
        llama.close()
    return sum(made) / seconds


def _again(llama: Any, tokens: list[int]) -> float:
    """Seconds to reach the first sampled token of `tokens`, reusing what llama.cpp kept."""
    started = time.perf_counter()
    next(iter(llama.generate(tokens, temp=0.0)))
    return time.perf_counter() - started


def factory_rates(run: Path, bare: dict[str, float]) -> dict[str, float]:
    """The run's tokens, what they cost at the bare rates, and what its model stages took."""
    manifest = Manifest.model_validate_json((run / "manifest.json").read_text(encoding="utf-8"))
    usage = manifest.llm
    prompt, completion, calls = usage.prompt_tokens, usage.completion_tokens, usage.calls - usage.cache_hits
    step = bare["generation tokens/s, assistant step (2 functions)"]
    at_bare = prompt / bare["prompt tokens/s"] + completion / step
    stages = sum(stage.seconds for stage in manifest.stages)
    return {
        "calls": calls,
        "prompt tokens": prompt,
        "completion tokens": completion,
        "seconds at the bare rates (no prefix reuse)": round(at_bare, 1),
        "seconds the run's stages took": round(stages, 1),
        "effective prompt+completion tokens/s": round((prompt + completion) / stages, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.embedded_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--threads", default="1,2", help="thread counts to measure (1,2)")
    parser.add_argument("--prompt-tokens", type=int, default=1000, help="prompt length (1000)")
    parser.add_argument("--tokens", type=int, default=96, help="tokens generated per measure (96)")
    parser.add_argument("--run", type=Path, default=None, help="a finished embedded-model run to compare")
    args = parser.parse_args(argv)
    table: dict[str, dict[str, float]] = {}
    for threads in (int(t) for t in args.threads.split(",")):
        table[f"{threads} thread(s)"] = rates(threads, args.prompt_tokens, args.tokens)
        print(
            f"{threads} thread(s): {json.dumps(table[f'{threads} thread(s)'])}", file=sys.stderr, flush=True
        )
    count, threads = contexts()
    rate = side_by_side(args.tokens)
    print(f"side by side: {count} contexts x {threads} thread(s), free generation: {rate:.2f} tokens/s")
    columns = list(table)
    print("| measure | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for measure in table[columns[0]]:
        print(f"| {measure} | " + " | ".join(f"{table[c][measure]:.2f}" for c in columns) + " |")
    if args.run:
        best = max(table.values(), key=lambda row: row["generation tokens/s, free"])
        for name, value in factory_rates(args.run, best).items():
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
