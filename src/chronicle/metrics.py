"""Powertools metrics, minus one surprise: with metrics disabled (POWERTOOLS_METRICS_DISABLED, as `chronicle cost`
and the benchmarks run the handlers), Powertools still keeps every value added and prints the set as EMF JSON to
stdout each time 100 have gathered. :func:`log_metrics` drops an invocation's values when metrics are off."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled


def log_metrics(metrics: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@metrics.log_metrics`` that, when metrics are disabled, also forgets what the invocation added."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        logged = metrics.log_metrics(handler)

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            try:
                return logged(event, context)
            finally:
                if is_metrics_disabled():
                    metrics.clear_metrics()

        return run

    return decorate
