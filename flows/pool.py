"""`python -m flows.pool --size N`: an API pool grown by ToolACE's self-evolution, through the
toolset step, as a run of its own (`--evolve N` on the corpus flow grows one beside the seed list's
tools and goes on to dialogues).

The run is a corpus run whose steps are taxonomy -> pool -> toolset (`flows/corpus.py`), with the
seed list read for its categories (the first domains) and its APIs (a synthesized API must not
repeat one). It writes `taxonomy/`, `apis/`, `rejected_apis/`, `tools/`, `rejected_tools/`,
`rejections/` and `pool.md` (the diversity report, printed), streamed in parts and resumable
(`--resume`) like any run.
"""

from __future__ import annotations

import sys

from flows.corpus import main as corpus_main


def main(argv: list[str] | None = None) -> int:
    return corpus_main(argv, pool_only=True)


if __name__ == "__main__":
    sys.exit(main())
