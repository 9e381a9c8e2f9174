"""One email, one user whatever its Unicode spelling; no id or name carries a trailing newline past its pattern; a
revoke that would change nothing is refused (issue 20 item 5, docs/security.md)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from chronicle import errors
from chronicle.commands import validate_request
from test_users import register, run


@pytest.mark.parametrize("first, second", [
    (unicodedata.normalize("NFC", "José@example.com"), unicodedata.normalize("NFD", "José@example.com")),
    ("bob@example.com", "bo\u200bb@example.com"),  # zero-width space
    ("bob@example.com", "b\u00adob@example.com\ufeff"),  # soft hyphen, BOM
    ("bob@example.com", "ｂｏｂ@ｅｘａｍｐｌｅ.ｃｏｍ"),  # fullwidth
    ("bob@example.com", "BOB@Example.Com"),
    ("strasse@example.de", "STRASSE@example.de".replace("SS", "ß")),  # case folding, not lower()
])
def test_emails_a_person_cannot_tell_apart_are_one_email(aws, first, second):
    register("first", first)
    with pytest.raises(errors.BusinessRuleViolation) as taken:
        register("second", second)
    assert taken.value.details[0]["rule"] == "EmailUnique"


def test_an_email_that_normalises_to_no_email_is_a_400(aws):
    with pytest.raises(errors.ValidationError) as refused:
        register("someone", "\u200b@example.com")
    assert refused.value.details[0]["path"] == "$.data.email"


@pytest.mark.parametrize("command_type, body", [
    ("ChangeProjectConfiguration", {"aggregateId": "victim\n", "data": {"set": {"a": 1}}}),
    ("AddService", {"aggregateId": "p-1", "data": {"serviceName": "svc\n", "templateId": "t-1",
                                                   "parameters": {}, "dependsOn": []}}),
    ("RemoveService", {"aggregateId": "p-1", "data": {"serviceName": "svc\n"}}),
    ("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [{"resource": "project:p\n",
                                                                         "permission": "read"}]}}),
])
def test_a_trailing_newline_does_not_pass_an_id_or_name_pattern(command_type, body):
    with pytest.raises(errors.ValidationError) as refused:
        validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})
    assert refused.value.status == 400


def test_a_caller_id_with_a_trailing_newline_is_not_a_user_id():
    with pytest.raises(errors.ValidationError):
        validate_request({"commandType": "RegisterUser", "actorId": "victim\n",
                          "body": json.dumps({"data": {"email": "v@example.com", "displayName": "V"}})})


def test_revoking_what_a_stronger_or_wider_grant_still_gives_is_refused(aws):
    register("bob", "b@example.com")
    run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [
        {"resource": "project:p-1", "permission": "admin"}, {"resource": "template:*", "permission": "write"}]}},
        "root")
    for revoke in ({"resource": "project:p-1", "permission": "write"},
                   {"resource": "template:t-1", "permission": "write"}):
        with pytest.raises(errors.BusinessRuleViolation) as refused:
            run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"revoke": [revoke]}}, "root")
        assert refused.value.status == 422
        assert refused.value.details[0]["rule"] == "RevokeStillImplied"
        assert refused.value.details[0]["impliedBy"]
    # Revoking the stronger grant itself works, and so does revoking both at once.
    run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"revoke": [
        {"resource": "project:p-1", "permission": "admin"}, {"resource": "project:p-1", "permission": "write"}]}},
        "root")
