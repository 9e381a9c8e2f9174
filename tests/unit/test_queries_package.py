"""chronicle.queries is a package of small modules; the names other code imports stay where they were, and no
import order runs into a cycle (chronicle.history_page and chronicle.queries import each other's modules)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chronicle.queries as queries
from chronicle.queries import paging, visibility

# what functions/, chronicle.local, subscription_rights, history_page and the tests import from chronicle.queries
IMPORTED = ("RESOLVERS", "resolve", "acting_as", "viewer", "may_see_project", "parse_aws_datetime", "history",
            "MAX_PAGE", "MAX_ID_BYTES", "_user_event_opener")


def test_every_resolver_and_imported_name_is_on_the_package():
    for name in IMPORTED:
        assert hasattr(queries, name), name
    for field, resolver in queries.RESOLVERS.items():
        assert getattr(queries, field) is resolver, field
        assert resolver.__module__.startswith("chronicle.queries."), field


def test_shared_pieces_live_in_one_place():
    import chronicle.history_page as history_page
    import chronicle.subscription_rights as subscription_rights

    assert history_page.page_size is paging.page_size  # historyPage's limit is every list's
    assert subscription_rights.may_see_project is visibility.may_see_project
    assert queries._user_event_opener is visibility.user_event_opener


@pytest.mark.parametrize("first", ["chronicle.history_page", "chronicle.queries", "chronicle.queries.visibility",
                                   "chronicle.queries.paging", "chronicle.subscription_rights"])
def test_any_import_order_loads(first):
    code = (f"import {first}\nimport chronicle.queries as q, chronicle.history_page as h\n"
            "assert callable(q.projects) and callable(q.templates) and callable(q.history) and callable(h.page_size)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
