"""Template bodies in S3, content-addressed: `templates/<sha256 of the UTF-8 bytes>` (docs/reference/commands.md).

The same body stored twice is one object (the key is its hash, and a PUT of identical bytes under it changes
nothing a reader can see); events carry the key, the hash and the size, never the body.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from chronicle.errors import PayloadTooLarge, ValidationError

MAX_BODY_BYTES = 64 * 1024
# Text, not binary: any Unicode except the C0/C1 control characters YAML refuses (tab, LF and CR are text).
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def body_key(sha256: str) -> str:
    return f"templates/{sha256}"


def check_body(body: Any) -> bytes:
    """The body's UTF-8 bytes, or PayloadTooLarge (over 64 KiB) / ValidationError (not text)."""
    if not isinstance(body, str):
        raise ValidationError("The template body must be a string of UTF-8 text.",
                              [{"path": "$.data.body", "message": "expected a string"}])
    try:
        raw = body.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The template body is not UTF-8 text.",
                              [{"path": "$.data.body", "message": "contains a lone UTF-16 surrogate"}]) from None
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The template body is {len(raw)} bytes; a template may hold at most "
                              f"{MAX_BODY_BYTES}.", [{"path": "$.data.body", "bytes": len(raw),
                                                      "limit": MAX_BODY_BYTES}])
    found = _NOT_TEXT.search(body)
    if found:
        raise ValidationError("The template body is not text.", [{
            "path": "$.data.body", "message": f"control character U+{ord(found.group()):04X} at offset "
                                              f"{found.start()}: a template body is text (YAML)"}])
    return raw


class TemplateBodies:
    def __init__(self, bucket: str, client: Any):
        self.bucket = bucket
        self.client = client

    def put(self, body: str) -> dict[str, Any]:
        """Store the body (idempotent) and return {bodyKey, bodySha256, bodySize}."""
        raw = check_body(body)
        sha = hashlib.sha256(raw).hexdigest()
        key = body_key(sha)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=raw, ContentType="application/yaml; charset=utf-8",
                               ChecksumSHA256=_b64(sha))
        return {"bodyKey": key, "bodySha256": sha, "bodySize": len(raw)}

    def get(self, key: str, sha256: str | None = None) -> str:
        raw = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
            raise RuntimeError(f"s3://{self.bucket}/{key} does not match its recorded sha256")  # never expected
        return raw.decode("utf-8")


def store_body(command: dict[str, Any], bodies: TemplateBodies) -> dict[str, Any]:
    """The StoreTemplateBody step: the command with `data.body` replaced by where the body now is."""
    data = dict(command["data"])
    data.update(bodies.put(data.pop("body")))
    return {**command, "data": data}


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
