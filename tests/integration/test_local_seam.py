"""The seam between moto and the real handlers (src/chronicle/local/seam.py).

If a moto upgrade changes what the seam replaces, these tests fail first and say so.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import boto3
import pytest

from chronicle.errors import body_from_cause
from chronicle.local import seam
from chronicle.local.emulator import Emulator
from chronicle.local.stack import StackBuilder

HANDLER = '''
import json, os

class ValidationError(Exception):
    pass

CALLS = []

def handler(event, context):
    CALLS.append(event)
    if event.get("fail"):
        raise ValidationError(json.dumps({"error": "ValidationError", "message": "bad name",
                                          "details": [{"path": "$.data.name"}]}))
    if event.get("boom"):
        raise KeyError("boom")
    if event.get("unserialisable"):
        return {1, 2}
    return {"echo": event, "function": context.function_name, "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn, "requestId": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(), "stage": os.environ.get("SEAM_STAGE")}
'''

ASL = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "FN_ARN", "Payload.$": "$"}, "OutputPath": "$.Payload",
            "Catch": [{"ErrorEquals": ["ValidationError"], "Next": "ValidationError"},
                      {"ErrorEquals": ["States.ALL"], "Next": "InternalError"}],
            "End": True,
        },
        "ValidationError": {"Type": "Fail", "Error": "ValidationError", "CausePath": "$.Cause"},
        "InternalError": {"Type": "Fail", "Error": "InternalError", "CausePath": "$.Cause"},
    },
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    code = tmp_path_factory.mktemp("fn")
    (code / "app.py").write_text(textwrap.dedent(HANDLER))
    emulator = Emulator().start()
    registry = seam.HandlerRegistry()
    seam.install(registry)
    session = boto3.session.Session(region_name="us-east-1")
    role = StackBuilder.__new__(StackBuilder)  # only for its role helper
    role._clients, role._role_arn, role.session, role.stack_name = {}, None, session, "seamtest"
    lam = session.client("lambda")
    fn_arn = lam.create_function(FunctionName="seam-fn", Runtime="python3.12", Role=role._lambda_role(),
                                 Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
                                 MemorySize=256, Timeout=7)["FunctionArn"]
    registry.register("seam-fn", seam.HandlerSpec(code, "app.handler"))
    sfn = session.client("stepfunctions")
    definition = json.dumps(ASL).replace("FN_ARN", fn_arn)
    sm = sfn.create_state_machine(name="seam-sm", definition=definition, roleArn=role._lambda_role())["stateMachineArn"]
    yield {"lambda": lam, "sfn": sfn, "sm": sm, "fn": fn_arn, "registry": registry}
    seam.uninstall()
    emulator.stop()


def run(env, payload):
    sfn = env["sfn"]
    arn = sfn.start_execution(stateMachineArn=env["sm"], name=str(uuid.uuid4()), input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.01)
    raise AssertionError("execution did not finish")


def test_success_runs_the_real_handler_with_a_lambda_context(env):
    desc = run(env, {"name": "x"})
    assert desc["status"] == "SUCCEEDED"
    out = json.loads(desc["output"])
    assert out["echo"] == {"name": "x"}
    assert out["function"] == "seam-fn"
    assert out["memory"] == 256
    assert out["arn"] == env["fn"]
    assert 0 < out["remaining"] <= 7000
    uuid.UUID(out["requestId"])


def test_raised_error_is_caught_by_error_type_and_cause_is_the_lambda_error_payload(env):
    desc = run(env, {"fail": True})
    assert desc["status"] == "FAILED"
    # What the server relies on: error = the Fail state's Error, cause = the Lambda error payload as JSON
    assert desc["error"] == "ValidationError"
    cause = json.loads(desc["cause"])
    assert cause["errorType"] == "ValidationError"
    assert json.loads(cause["errorMessage"]) == {"error": "ValidationError", "message": "bad name",
                                                  "details": [{"path": "$.data.name"}]}
    assert body_from_cause(desc["cause"], desc["error"]) == {
        "error": "ValidationError", "message": "bad name", "details": [{"path": "$.data.name"}]}


def test_unexpected_error_goes_to_states_all(env):
    desc = run(env, {"boom": True})
    assert desc["error"] == "InternalError"
    cause = json.loads(desc["cause"])
    assert cause["errorType"] == "KeyError"
    assert "stackTrace" in cause
    assert body_from_cause(desc["cause"], desc["error"])["error"] == "InternalError"


def test_unserialisable_result_is_a_marshal_error(env):
    desc = run(env, {"unserialisable": True})
    assert json.loads(desc["cause"])["errorType"] == "Runtime.MarshalError"


def test_direct_invoke_goes_through_the_seam(env):
    resp = env["lambda"].invoke(FunctionName="seam-fn", Payload=json.dumps({"a": 1}).encode())
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read())["echo"] == {"a": 1}
    resp = env["lambda"].invoke(FunctionName="seam-fn", Payload=b'{"boom": 1}')
    assert resp["FunctionError"] == "Handled"
    assert json.loads(resp["Payload"].read())["errorType"] == "KeyError"
    resp = env["lambda"].invoke(FunctionName="seam-fn")  # empty payload -> {}
    assert json.loads(resp["Payload"].read())["echo"] == {}


def test_handler_module_is_imported_once_under_a_unique_name(env):
    first = env["registry"].handler("seam-fn")
    assert env["registry"].handler("seam-fn") is first
    assert first.__module__ == "chronicle_local_fn_seam_fn"


def test_function_without_local_code_reports_an_error(env):
    lam = env["lambda"]
    role = lam.get_function(FunctionName="seam-fn")["Configuration"]["Role"]
    lam.create_function(FunctionName="no-code", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    resp = lam.invoke(FunctionName="no-code", Payload=b"{}")
    assert json.loads(resp["Payload"].read())["errorType"] == "Runtime.HandlerNotFound"


def test_install_and_uninstall_restore_moto(env):
    from moto.awslambda.models import LambdaFunction
    from moto.events.models import Rule

    assert seam.installed()
    patched = LambdaFunction._invoke_lambda
    assert patched.__wrapped__ is not patched
    seam.uninstall()
    try:
        assert LambdaFunction._invoke_lambda is patched.__wrapped__
        assert not hasattr(Rule.send_to_targets, "__wrapped__")
    finally:
        seam.install(env["registry"])
    assert LambdaFunction._invoke_lambda.__wrapped__ is patched.__wrapped__


def test_seam_fails_loudly_when_moto_changed(monkeypatch):
    from moto.awslambda.models import LambdaFunction

    seam.check()
    original = LambdaFunction._invoke_lambda
    monkeypatch.delattr(LambdaFunction, "_invoke_lambda")
    with pytest.raises(seam.SeamError, match="_invoke_lambda"):
        seam.check()
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", lambda self, event, extra: None, raising=False)
    with pytest.raises(seam.SeamError, match="chronicle.local.seam expects"):
        seam.check()
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", original)
