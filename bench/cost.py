"""What each command type costs on AWS, measured through the local runtime; printed, not asserted.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/cost.py [--runs 5] [--prices prices.json] [--markdown]

Every command type the stack has a workflow for runs `--runs` times (after one warm-up run each); every request it
makes is counted by hooking the botocore clients and the local Lambda seam (chronicle.cost.meter) and priced
with chronicle.cost.units.PRICES (on-demand, us-east-1; a JSON file overrides them). Lambda durations are
measured in this process, not on Lambda. The table shows, per command type, the units of one command, the dollars
per million commands, the design's minimum beside it, and their ratio (docs/cost.md); "<T> +commandId" rows are the
same command sent with a client commandId (it keeps the idempotency record).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
# The handlers' logs and metrics would drown the table (the meter still sizes the workflow logs).
os.environ.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
warnings.filterwarnings("ignore", message="No application metrics to publish")

from chronicle.cost import units  # noqa: E402
from chronicle.cost.model import measure, metered_runtime, render  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prices", help="JSON file {unit: USD} replacing entries of the built-in table")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--no-client-ids", dest="client_ids", action="store_false",
                        help="skip the rows of each command sent with a client commandId")
    args = parser.parse_args(argv)
    prices = units.load_prices(args.prices)
    started = time.perf_counter()
    with metered_runtime(ROOT) as (runtime, meter):
        costs = measure(runtime, meter, runs=args.runs, client_ids=args.client_ids)
    print(f"Cost per command type ({args.runs} runs each, means; prices: on-demand {units.PRICES_REGION}, "
          f"recorded {units.PRICES_DATE}; λ durations measured in process; one run, "
          f"{time.perf_counter() - started:.0f} s)")
    print(render(costs, prices, markdown=args.markdown))


if __name__ == "__main__":
    main()
