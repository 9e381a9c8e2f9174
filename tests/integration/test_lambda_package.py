"""Every function imports as Lambda loads it: its CodeUri directory, the layer as layer/Makefile builds it, and the
SDK the python3.12 runtime provides; nothing else on the path.

The other tests import handlers from this source tree with the whole virtual environment at hand, so a handler
reaching for chronicle.local (never shipped), for a package only the local runtime or the tests install (moto,
Flask), or for a dependency missing from requirements.txt, would pass here and fail on its first invocation in AWS.
The layer is built for this machine's architecture (the deployed one is arm64; the wheels are the same releases).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from iam_check import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")  # in the runtime
NOT_SHIPPED = ("chronicle.local", "moto", "flask", "werkzeug", "pytest", "mypy_boto3", "airspeed")

pytestmark = pytest.mark.slow

IMPORT_ALL = """
import importlib.util, json, sys
layer, sdk, functions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [layer, sdk]
failed = {}
for name, (code_dir, module, attr) in functions.items():
    sys.path.insert(0, code_dir)  # Lambda's task root
    try:
        spec = importlib.util.spec_from_file_location("lambda_" + name, f"{code_dir}/{module}.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        if not callable(getattr(loaded, attr, None)):
            failed[name] = f"no callable {attr}"
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
    finally:
        sys.path.remove(code_dir)
import chronicle
print(json.dumps({"failed": failed, "modules": sorted(sys.modules), "chronicle": chronicle.__file__}))
"""


def functions() -> dict[str, tuple[str, str, str]]:
    out = {}
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = resource["Properties"]
            module, _, attr = properties["Handler"].rpartition(".")
            out[name] = (str(ROOT / properties["CodeUri"]), module, attr)
    return out


@pytest.fixture(scope="module")
def layer(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layer")
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    built = subprocess.run(["make", "-f", str(ROOT / "layer" / "Makefile"), "build-ChronicleLayer",
                            f"ARTIFACTS_DIR={out}", f"LAMBDA_ARCH={arch}", f"LAMBDA_PYTHON={version}",
                            f"PYTHON={sys.executable}"], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]
    sdk = out / "sdk"
    sdk.mkdir()
    site = Path(boto3.__file__).resolve().parents[1]
    for name in RUNTIME_SDK:
        (sdk / name).symlink_to(site / name)
    return out


def test_every_function_imports_from_its_code_and_the_layer_alone(layer):
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           **{name: value if isinstance(value, str) else f"placeholder-{name.lower()}"
              for name, value in variables.items()}}
    # -S: no site-packages (the virtual environment), -I: no PYTHONPATH nor the working directory
    done = subprocess.run([sys.executable, "-S", "-I", "-c", IMPORT_ALL, str(layer / "python"), str(layer / "sdk"),
                           json.dumps(functions())], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert result["chronicle"].startswith(str(layer / "python"))  # the layer's copy, not this tree's
    assert len(functions()) == 13
    assert [m for m in result["modules"] if m.split(".")[0] in NOT_SHIPPED or m.startswith(NOT_SHIPPED)] == []
