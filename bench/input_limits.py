"""What the input limits cost and save, printed not asserted; every figure comes from one run.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/input_limits.py

Measures
- strict JSON (chronicle.strictjson.loads: no NaN, no overflow, no duplicate keys, depth checked) against the plain
  json.loads it wraps, on command bodies of 1 KB and 200 KB (ASCII and non-ASCII);
- the local /graphql refusing N aliased root fields before any resolver runs (ResolverCountLimit, or the token limit
  for 10,000), against running them with both limits lifted (a resolver that returns at once, so the ratio is the
  floor of what the limits save: a real resolver reads DynamoDB).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from chronicle import strictjson  # noqa: E402
from chronicle.local import graphql_local  # noqa: E402
from chronicle.local.graphql_local import LocalGraphQL, limits_from_template  # noqa: E402
from chronicle.local.stack import load_template  # noqa: E402


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def body(size: int, char: str) -> str:
    data = {f"key-{i}": char * 90 for i in range(max(1, size // 100))}
    return json.dumps({"aggregateId": "p", "data": {"set": data}}, ensure_ascii=False)


def main() -> None:
    print("strict JSON vs json.loads (best of 5)")
    for label, text in (("1 KB ascii", body(1_000, "a")), ("200 KB ascii", body(200_000, "a")),
                        ("200 KB non-ascii", body(100_000, "ñ"))):
        plain = best_of(lambda text=text: json.loads(text))
        strict = best_of(lambda text=text: strictjson.loads(text))
        print(f"  {label:<18} json.loads {plain * 1000:8.2f} ms   strict {strict * 1000:8.2f} ms   "
              f"ratio {strict / plain:5.2f}")

    depth, resolvers = limits_from_template(load_template(ROOT / "template.yaml"))
    limited = LocalGraphQL(ROOT / "api" / "schema.graphql", resolve=lambda f, a: [], depth_limit=depth,
                           resolver_limit=resolvers)
    unlimited = LocalGraphQL(ROOT / "api" / "schema.graphql", resolve=lambda f, a: [], depth_limit=depth,
                             resolver_limit=10**9)
    print(f"\nGraphQL: N aliased history fields, ResolverCountLimit {resolvers} (best of 3)")
    for n in (1_000, 10_000):
        query = "{" + " ".join(f'h{i}: history(aggregateId: "x") {{ eventId }}' for i in range(n)) + "}"
        refuse = best_of(lambda query=query: limited.execute(query), 3)
        tokens, graphql_local.MAX_TOKENS = graphql_local.MAX_TOKENS, 10**9  # lifted for this run only
        try:
            run = best_of(lambda query=query: unlimited.execute(query), 3)
        finally:
            graphql_local.MAX_TOKENS = tokens
        print(f"  N={n:<6} refused in {refuse * 1000:8.1f} ms   run without the limit {run * 1000:9.1f} ms   "
              f"ratio {run / refuse:6.1f}x")


if __name__ == "__main__":
    main()
