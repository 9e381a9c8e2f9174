"""`chronicle cost`: a monthly AWS estimate for a command rate and mix, from the same measurement as bench/cost.py.

    chronicle cost --rate 50/s --mix CreateProject=1,ChangeProjectConfiguration=9 [--runs 3] [--prices FILE]
    chronicle cost --save units.json        # measure once, keep the units
    chronicle cost --from units.json --rate 2000/min   # estimate again without running anything
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from typing import Any

_PER = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "day": 86400, "d": 86400, "month": 30 * 86400}


def parse_rate(text: str) -> float:
    """'50/s', '3000/min', '1e6/day', '12' (per second) -> commands per second."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*(?:/\s*([a-z]+))?\s*", text.lower())
    if not match or (match.group(2) and match.group(2) not in _PER):
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 50/s, 3000/min or 1e6/day")
    return float(match.group(1)) / _PER[match.group(2) or "s"]


def parse_mix(text: str) -> dict[str, float]:
    """'CreateProject=1,ChangeProjectConfiguration=9' -> weights."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        try:
            mix[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: expected CommandType=weight") from None
        if mix[name.strip()] < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a weight cannot be negative")
    if not mix or not sum(mix.values()):
        raise argparse.ArgumentTypeError("the mix needs at least one command with a positive weight")
    return mix


def add_cost_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "cost", help="what commands cost on AWS: measured per command type, and a monthly estimate",
        description="Run every command type through an ephemeral local runtime, count every billable request "
                    "(docs/cost.md), print the cost per command type and a monthly estimate for a rate and mix.")
    p.add_argument("--rate", type=parse_rate, default=parse_rate("50/s"), help="commands per second (50/s, "
                   "3000/min, 1e6/day; default 50/s)")
    p.add_argument("--mix", type=parse_mix, default=None,
                   help="weights by command type, e.g. CreateProject=1,ChangeProjectConfiguration=9 (default equal)")
    p.add_argument("--runs", type=int, default=3, help="measured runs per command type (default 3)")
    p.add_argument("--prices", help="JSON file {unit: USD} replacing entries of the built-in price table")
    p.add_argument("--save", help="write the measured units per command to this JSON file")
    p.add_argument("--from", dest="source", help="use units saved with --save instead of measuring")
    p.add_argument("--project-dir", default=None, help="directory holding template.yaml (default: found upwards)")
    p.set_defaults(func=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    from chronicle.cost import units
    from chronicle.cost.model import CommandCost, measure, metered_runtime, monthly, render

    try:
        prices = units.load_prices(args.prices)
        if args.source:
            with open(args.source, encoding="utf-8") as fh:
                costs = [CommandCost(**c) for c in json.load(fh)]
        else:
            with metered_runtime(args.project_dir) as (runtime, meter):
                costs = measure(runtime, meter, runs=args.runs)
        if args.save:
            with open(args.save, "w", encoding="utf-8") as fh:
                json.dump([asdict(c) for c in costs], fh, indent=1)
        estimate = monthly(costs, prices, args.rate, args.mix)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:  # a sample refused included
        print(f"chronicle cost: {error}", file=sys.stderr)
        return 2
    print(f"Per command type (prices: on-demand {units.PRICES_REGION}, recorded {units.PRICES_DATE}; Lambda "
          "durations measured in process by the local runtime):")
    print(render(costs, prices))
    mix = args.mix or {c.command: 1.0 for c in costs}
    print(f"\nMonthly estimate at {args.rate:g} commands/s ({estimate['commandsPerMonth']:,.0f} commands in 30 days), "
          f"mix {', '.join(f'{k}={v:g}' for k, v in mix.items())}:")
    print(f"  command path  ${estimate['commandPath']:,.2f}  (design minimum ${estimate['minimum']:,.2f})")
    for service, amount in estimate["byService"].items():
        print(f"    {service:<15} ${amount:,.2f}")
    print(f"  downstream    ${estimate['downstream']:,.2f}  (projections: their Lambda, read-model writes, "
          "change notifications)")
    print(f"  workflow logs ${estimate['logs']:,.2f}  (the command state machines' Logging configuration)")
    print("  not included: storage (DynamoDB, S3), Lambda logs and metrics, X-Ray traces, data transfer, "
          "AppSync queries and subscriptions, free tiers")
    return 0
