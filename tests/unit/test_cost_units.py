"""The billing arithmetic of chronicle.cost (no AWS): sizes -> units, prices, minimum paths, samples."""

from __future__ import annotations

import json

import pytest

from chronicle.commands import validate_request
from chronicle.domain import AGGREGATES, all_commands
from chronicle.cost import units as u
from chronicle.cost.model import CommandCost, lambda_functions, monthly
from chronicle.cost.samples import SAMPLES, fill, placeholders


def test_item_size_counts_names_and_values():
    assert u.item_size({"id": {"S": "abc"}}) == 2 + 3
    assert u.item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 digits -> 3 bytes + 1
    assert u.item_size({"é": {"S": "ü"}}) == 2 + 2  # UTF-8 bytes, not characters
    assert u.item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + (1 + 1 + 1)
    assert u.item_size(None) == 0


@pytest.mark.parametrize("size, units", [(0, 1), (1, 1), (1024, 1), (1025, 2), (4096, 4), (400 * 1024, 400)])
def test_write_units_are_1kb_rounded_up(size, units):
    assert u.write_units(size) == units
    assert u.write_units(size, transactional=True) == 2 * units


@pytest.mark.parametrize("size, units", [(0, 1), (4096, 1), (4097, 2), (1_000_000, 245)])
def test_read_units_are_4kb_consistent_full_eventual_half_transactional_double(size, units):
    assert u.read_units(size) == units
    assert u.read_units(size, consistent=False) == units / 2
    assert u.read_units(size, transactional=True) == units * 2


def test_eventbridge_entries_and_sqs_are_billed_per_64kb_chunk():
    entry = {"Source": "s" * 10, "DetailType": "d" * 10, "Detail": "x" * (64 * 1024 - 20)}
    assert u.event_entry_size(entry) == 64 * 1024
    assert u.chunks_64kb(u.event_entry_size(entry)) == 1
    assert u.chunks_64kb(u.event_entry_size({**entry, "Time": "2026-01-01"})) == 2  # Time adds 14 bytes
    assert u.chunks_64kb(0) == 1


def test_lambda_bills_ms_and_express_bills_100ms_at_64mb_steps():
    assert u.lambda_gb_seconds(512, 0.0101) == pytest.approx(0.5 * 0.011)
    assert u.express_gb_seconds(0.01) == pytest.approx(64 / 1024 * 0.1)
    assert u.express_gb_seconds(0.25) == pytest.approx(64 / 1024 * 0.3)
    assert u.express_gb_seconds(0.1, memory_mb=65) == pytest.approx(128 / 1024 * 0.1)


def test_prices_override_from_json(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"dynamodb.wru": 1.25e-6}))
    prices = u.load_prices(path)
    assert prices["dynamodb.wru"] == 1.25e-6 and prices["dynamodb.rru"] == u.PRICES["dynamodb.rru"]
    path.write_text(json.dumps({"dynamodb.wcu": 1}))
    with pytest.raises(ValueError, match="unknown price units"):
        u.load_prices(path)


def test_dollars_and_monthly_mix():
    prices = {**u.PRICES}
    one = CommandCost("A", 1, {"dynamodb.wru": 4}, {}, {}, {"dynamodb.wru": 1})
    other = CommandCost("B", 1, {"events.entries": 1}, {"dynamodb.wru": 2}, {}, {"events.entries": 1})
    assert u.dollars(one.units, prices) == pytest.approx(4 * 0.625e-6)
    estimate = monthly([one, other], prices, rate_per_second=1, mix={"A": 3, "B": 1})
    commands = 30 * 24 * 3600
    assert estimate["commandPath"] == pytest.approx(commands * (0.75 * 4 * 0.625e-6 + 0.25 * 1e-6))
    assert estimate["downstream"] == pytest.approx(commands * 0.25 * 2 * 0.625e-6)
    with pytest.raises(KeyError):
        monthly([one], prices, 1, {"C": 1})


def test_success_path_functions_skip_catch_only_states():
    asl = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:1:function:first"}, "Next": "B",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fallback"}]},
        "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:second", "Next": "C"},
        "C": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:second", "End": True},
        "Fallback": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": "third"}, "End": True}}}
    assert sorted(lambda_functions(asl, success_path_only=True)) == ["first", "second", "second"]
    assert sorted(lambda_functions(asl, success_path_only=False)) == ["first", "second", "third"]


def test_every_command_has_a_valid_sample():
    assert set(SAMPLES) == all_commands(), "add a sample to chronicle/cost/samples.py"
    creators = {t for t, a in AGGREGATES.items() if a.create_commands}
    for command, sample in SAMPLES.items():
        assert placeholders(sample.body) | placeholders(sample.actor) <= creators, command
        ids = {t: "00000000-0000-4000-8000-000000000000" for t in creators}
        body = fill(sample.body, ids, 7)
        validate_request({"commandType": command, "body": json.dumps(body), "actorId": "alice"})
        assert all(step in SAMPLES for step in sample.before)
        assert set(sample.extra_minimum) <= set(u.PRICES)


def test_cost_cli_rates_mixes_and_a_saved_measurement(tmp_path, capsys):
    import argparse
    from dataclasses import asdict

    from chronicle.cli import main
    from chronicle.cost.cli import parse_mix, parse_rate

    assert parse_rate("50/s") == 50 and parse_rate("3000/min") == 50 and parse_rate("12") == 12
    assert parse_rate("8.64e6/day") == pytest.approx(100)
    for bad in ("fast", "5/fortnight", "-1/s"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_rate(bad)
    assert parse_mix("A=1, B=3") == {"A": 1, "B": 3} and parse_mix("A") == {"A": 1}
    for bad in ("A=x", "A=-1", "A=0", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_mix(bad)

    saved = tmp_path / "units.json"
    saved.write_text(json.dumps([asdict(CommandCost("CreateProject", 1, {"dynamodb.wru": 1, "apigateway.requests": 1},
                                                    {}, {}, {"dynamodb.wru": 1, "apigateway.requests": 1}))]))
    assert main(["cost", "--from", str(saved), "--rate", "1/s"]) == 0
    out = capsys.readouterr().out
    per_month = 30 * 24 * 3600 * (0.625e-6 + 3.5e-6)
    assert f"command path  ${per_month:,.2f}" in out and "CreateProject" in out
    assert main(["cost", "--from", str(saved), "--mix", "Nope=1"]) == 2
    assert "no measurement for ['Nope']" in capsys.readouterr().err


def test_state_machine_log_bytes_follow_the_logging_configuration():
    history = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "x" * 1000, "roleArn": "r"}},
        {"id": 2, "previousEventId": 1, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "A", "input": "y" * 500}},
        {"id": 3, "previousEventId": 2, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {"output": "z" * 200}}]
    everything = u.state_machine_log_bytes(history, "arn:x", "ALL", True)
    without_data = u.state_machine_log_bytes(history, "arn:x", "ALL", False)
    assert everything - without_data >= 1700 and without_data > 3 * u.LOG_EVENT_OVERHEAD
    assert u.state_machine_log_bytes(history, "arn:x", "ERROR", True) == 0  # a success logs nothing at ERROR
    assert u.state_machine_log_bytes(history, "arn:x", "OFF", True) == 0
    failed = history[:2] + [{"id": 3, "previousEventId": 2, "type": "ExecutionFailed",
                             "executionFailedEventDetails": {"error": "E", "cause": "c"}}]
    assert 0 < u.state_machine_log_bytes(failed, "arn:x", "ERROR", True) < everything
