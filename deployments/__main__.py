"""`python -m deployments serve|deploy [corpus options]`: ToolForge's deployments, from the command line.

    python -m deployments serve [--cron "0 3 * * *"] [--regeneration-seeds PATH|URL] [OPTIONS]
    python -m deployments deploy --work-pool NAME [--cron ...] [--regeneration-seeds ...] [OPTIONS]

`serve` registers the deployments (corpus, regeneration, export, evaluate, train) and runs their flow
runs in this process until Ctrl-C; `deploy` registers them with a work pool, whose workers run them.
OPTIONS are `python -m flows.corpus`'s (`--model`, `--api-base`, `--concurrency`, `--out`,
`--task-runner`, ...): the deployments' default parameters, which the UI's form can change per run.
Both need a Prefect server (`PREFECT_API_URL`).
"""

from __future__ import annotations

import argparse
import sys

from deployments.corpus import NIGHTLY, DeployError, deploy, runner_deployments, serve
from flows.cli import build_parser, config_from_args


def parser() -> argparse.ArgumentParser:
    p = build_parser()
    p.prog = "python -m deployments"
    p.description = "Serve or deploy ToolForge's deployments (corpus, regeneration, export, evaluate, train)."
    p.add_argument("action", choices=["serve", "deploy"], help="serve from this process, or deploy to a pool")
    p.add_argument("--work-pool", metavar="NAME", help="the work pool to deploy to (deploy)")
    p.add_argument("--cron", default=NIGHTLY, help=f"the regeneration's schedule (default {NIGHTLY!r})")
    p.add_argument(
        "--regeneration-seeds",
        metavar="PATH|URL",
        help="the seed list the regeneration re-reads (default: --seeds, else the public-apis README)",
    )
    p.add_argument(
        "--secret-block", metavar="BLOCK", help="name of a Prefect Secret block holding the API key"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        p.error(str(exc))
    if config.llm.api_base_userinfo is not None:
        p.error("a deployment holds no secret: give the server's password another way (a key in a Secret "
                "block: --secret-block), not in --api-base")  # fmt: skip
    if args.secret_block:
        config.llm.secret_block = args.secret_block
    if args.action == "deploy":
        if not args.work_pool:
            p.error("deploy needs --work-pool NAME (prefect work-pool create NAME --type process)")
        try:
            deployment_ids = deploy(config, args.work_pool, args.cron, args.regeneration_seeds)
        except DeployError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(deployment_ids))
        return 0
    serve(runner_deployments(config, args.cron, args.regeneration_seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
