"""Every moto internal the local runtime replaces is registered in chronicle.local.moto_patches and checked there.

A moto upgrade that renames, removes or re-signs a target stops the runtime at start with one message naming each
target; a patch added anywhere in chronicle.local without its registration fails here (a running runtime's moto
is scanned for attributes that chronicle code replaced).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import chronicle
from chronicle.local import moto_patches
from chronicle.local.moto_patches import MotoPatchError, TARGETS

FIXTURE = Path(__file__).parent / "local_fixture"
CHRONICLE = Path(chronicle.__file__).resolve().parent


def _ours(value: object) -> bool:
    """A function or object of chronicle's that sits where moto had its own (a functools.wraps wrapper carries
    moto's __module__, so functions are told by where their code is)."""
    function = getattr(value, "__func__", value)  # staticmethod, classmethod
    if isinstance(function, types.FunctionType):
        return Path(function.__code__.co_filename).resolve().is_relative_to(CHRONICLE)
    if isinstance(function, type):
        return function.__module__.startswith("chronicle.")
    return type(value).__module__.startswith("chronicle.")  # an object standing in for one (a caching boto3)


def replaced_in_moto() -> dict[str, object]:
    """`module:Owner.attr` -> value, for every attribute of a loaded moto module or class that chronicle replaced."""
    found = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == name:
                found.update({f"{name}:{value.__qualname__}.{a}": v for a, v in vars(value).items() if _ours(v)})
            elif not isinstance(value, types.ModuleType) and _ours(value):
                found[f"{name}:{attr}"] = value
    return found


def test_every_target_is_what_the_runtime_expects():
    moto_patches.check()
    assert len(TARGETS) >= 30


def test_a_changed_target_stops_the_check_naming_each(monkeypatch):
    from moto.events.models import Rule
    from moto.s3.models import S3Backend

    monkeypatch.delattr(Rule, "send_to_targets")
    monkeypatch.setattr(S3Backend, "delete_object", lambda self, bucket_name, key: None)
    with pytest.raises(MotoPatchError) as raised:
        moto_patches.check()
    message = str(raised.value)
    assert message.startswith("2 moto internal(s) changed")
    assert "moto.events.models:Rule.send_to_targets (replaced by chronicle.local.seam)" in message
    assert "S3Backend.delete_object takes ['self', 'bucket_name', 'key'], chronicle.local.durable expects" in message


def test_an_unregistered_target_cannot_be_patched():
    with pytest.raises(MotoPatchError, match="not registered"):
        moto_patches.original("moto.sqs.models:SQSBackend.receive_message")


def test_a_running_runtime_replaced_only_registered_targets(tmp_path):
    from chronicle.local.runtime import LocalRuntime

    runtime = LocalRuntime(root=FIXTURE, port=0, state_dir=tmp_path / "state").start()  # durable: journaling too
    try:
        replaced = replaced_in_moto()
        registered = {key: target.resolve()[2] for key, target in TARGETS.items()}
        aliases = {id(value) for value in registered.values()}
        unregistered = sorted(key for key, value in replaced.items() if key not in TARGETS and id(value) not in aliases)
        assert replaced and not unregistered, f"patched without registration in chronicle.local.moto_patches: " \
                                               f"{unregistered}"
        moto_patches.check()  # the patches in place keep the originals' signatures (functools.wraps)
    finally:
        runtime.stop()
