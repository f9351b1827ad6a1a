"""A failed statement never carries its parameters (the user's text) into an exception message, and so into the
traceback an ERROR log line prints: the engine hides them, on both databases."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from todo_common.db import Database

SECRET = "Tell-nobody-7731"


def test_a_failed_statements_parameters_stay_out_of_its_message_and_log(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as failed:
        database.execute(sa.text("INSERT INTO no_such_table (title) VALUES (:title)"), {"title": SECRET})
    assert "no_such_table" in str(failed.value)  # the statement is still named
    assert SECRET not in str(failed.value)
    logging.getLogger("functions.chat.agent").error("tool failed", exc_info=failed.value)
    (record,) = [r for r in caplog.records if r.message == "tool failed"]
    assert "no_such_table" in logging.Formatter().format(record)
    assert SECRET not in logging.Formatter().format(record)
