"""`chronicle local` under storage faults (issue 20, items 6 to 8): a damaged state directory is refused with a
clear message and repaired by `chronicle state repair`; a full disk answers 507 and stops serving what was not
saved; an erased user's data key is gone from the disk when EraseUserPersonalData answers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import boto3
import pytest
from local_helpers import ADMIN, ROOT, graphql, http

pytestmark = pytest.mark.e2e

USER = "query($id: ID!) { user(id: $id) { email displayName } }"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    for key in ("AWS_ENDPOINT_URL", "MOTO_PORT"):
        env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "chronicle.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _state_bytes(state) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file())


def test_erasure_reaches_the_disk_before_its_answer(cli_runtime, tmp_path):
    state = tmp_path / "state"
    rt = cli_runtime(state)
    status, body = http("POST", f"{rt.url}/commands/RegisterUser",
                        {"data": {"email": "gone@example.com", "displayName": "Gone Soon"}}, {"X-Actor-Id": "gone"})
    assert status == 200, body
    user = body["aggregateId"]
    keys = boto3.client("dynamodb", endpoint_url=rt.aws_endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")
    (item,) = [i for i in keys.scan(TableName="chronicle-PersonalDataKeysTable")["Items"] if "encryptedKey" in i]
    wrapped = item["encryptedKey"]["S"].encode()
    assert wrapped in _state_bytes(state)  # journaled: the test can see the key on disk
    status, body = http("POST", f"{rt.url}/commands/EraseUserPersonalData", {"aggregateId": user, "data": {}},
                        {"X-Actor-Id": user})
    assert status == 200, body
    on_disk = _state_bytes(state)
    assert wrapped not in on_disk and base64.b64decode(wrapped) not in on_disk  # before any stop or checkpoint
    rt.kill()  # no clean stop: what is on disk is what the answer left
    again = cli_runtime(state)
    assert graphql(again.url, USER, actor=ADMIN, id=user)["user"] in (None, {"email": None, "displayName": None})
    again.stop()


def test_a_full_disk_answers_507_and_serves_nothing_unsaved(cli_runtime, tmp_path):
    state, trigger = tmp_path / "state", tmp_path / "disk-full"
    rt = cli_runtime(state, inject=["--disk-full-when", str(trigger)])
    status, body = http("POST", f"{rt.url}/commands/CreateProject", {"data": {"name": "Saved", "ownerId": "alice"}},
                        {"X-Actor-Id": "alice"})
    assert status == 200, body
    saved = body["aggregateId"]
    trigger.touch()
    status, body = http("POST", f"{rt.url}/commands/CreateProject", {"data": {"name": "Lost", "ownerId": "alice"}},
                        {"X-Actor-Id": "alice"})
    assert status == 507, body
    assert body["error"] == "InsufficientStorage" and str(state) in body["message"] and set(body) == {
        "error", "message", "details"}
    status, body = http("GET", f"{rt.url}/health")
    assert status == 503 and body["status"] == "failed" and "No space left" in body["reason"]
    status, body = http("POST", f"{rt.url}/graphql", {"query": "{ projects { items { name } } }"})
    assert status == 507  # the unsaved project is in memory: no reader sees it
    rt.kill()
    trigger.unlink()
    again = cli_runtime(state)
    names = graphql(again.url, "{ projects { items { id name } } }", actor=ADMIN)["projects"]["items"]
    assert [p["id"] for p in names] == [saved]
    again.stop()


def test_a_damaged_journal_is_refused_with_its_file_and_offset_then_repaired(cli_runtime, tmp_path):
    state = tmp_path / "state"
    rt = cli_runtime(state)
    ids = []
    for name in ("one", "two", "three", "four"):
        status, body = http("POST", f"{rt.url}/commands/CreateProject", {"data": {"name": name, "ownerId": "al"}},
                            {"X-Actor-Id": "al"})
        assert status == 200, body
        ids.append(body["aggregateId"])
    rt.kill()  # the journal holds all four
    (segment,) = (state / "journal").glob("*.log")
    data = bytearray(segment.read_bytes())
    at = data.find(ids[1].encode())  # inside a record of the second project
    data[at] ^= 0x01
    segment.write_bytes(bytes(data))

    refused = _cli("local", "--port", "0", "--state-dir", str(state))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert str(segment) in refused.stderr and "damaged at byte" in refused.stderr
    assert "chronicle state repair" in refused.stderr
    check = _cli("state", "check", "--state-dir", str(state))
    assert check.returncode == 1 and "damaged at byte" in check.stderr

    repaired = _cli("state", "repair", "--state-dir", str(state))
    assert repaired.returncode == 0, repaired.stderr
    damaged_id = chr(ord(ids[1][0]) ^ 0x01) + ids[1][1:]  # what the damaged record says now
    lost_event = "probably: wrote chronicle-EventStoreTable item " + json.dumps({"aggregateId": {"S": damaged_id}},
                                                                               separators=(",", ":"))[:-1]
    assert "LOST" in repaired.stdout and lost_event in repaired.stdout
    assert _cli("state", "check", "--state-dir", str(state)).returncode == 0
    again = cli_runtime(state)
    kept = {p["id"] for p in graphql(again.url, "{ projects { items { id } } }", actor=ADMIN)["projects"]["items"]}
    assert {ids[0], ids[2], ids[3]} <= kept
    again.stop()
    assert json.loads((state / "format.json").read_text())["format"] == 3
