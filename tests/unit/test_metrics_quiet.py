"""With metrics disabled (chronicle cost, the benchmarks), the handlers print no EMF JSON into the output."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chronicle.metrics import log_metrics


def _handler(metrics: Metrics, decorate):
    @decorate
    def handler(event, context):
        metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=1.0)
        return "ok"

    return handler


def test_disabled_metrics_print_nothing_however_many_invocations(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = Metrics(namespace="Test", service="test")
    handler = _handler(metrics, log_metrics(metrics))
    for _ in range(250):
        assert handler({}, None) == "ok"
    assert '"_aws"' not in capsys.readouterr().out

    plain = Metrics(namespace="Test2", service="test2")  # Powertools' own decorator: the set piles up and prints
    handler = _handler(plain, plain.log_metrics)
    for _ in range(250):
        handler({}, None)
    assert '"_aws"' in capsys.readouterr().out


def test_enabled_metrics_are_still_published(monkeypatch, capsys):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics = Metrics(namespace="Test3", service="test3")
    assert _handler(metrics, log_metrics(metrics))({}, None) == "ok"
    assert '"ProjectionLag"' in capsys.readouterr().out
