"""docs/data-model.md describes the schema the models (and so the migrations) define: every table, column,
constraint and index is named there, so a new column without its line fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from todo_common.models import Conversation

DOC = Path(__file__).parents[2] / "docs" / "data-model.md"
TABLES = [
    table
    for table in SQLModel.metadata.sorted_tables
    if table.name in {"conversation", "message", "task", "attachment"}
]


def section(table: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## `{table}`")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_tables_are_documented() -> None:
    assert Conversation.__tablename__ == "conversation"
    assert sorted(table.name for table in TABLES) == ["attachment", "conversation", "message", "task"]
    ownership = DOC.read_text().split("## Who owns what", 1)[1].split("\n## ", 1)[0]
    for table in TABLES:
        assert f"| `{table.name}` |" in ownership, table.name


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_every_column_constraint_and_index_is_documented(table: sa.Table) -> None:
    text = section(table.name)
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", text, flags=re.MULTILINE))
    columns = {name for pair in documented for name in pair if name}
    assert columns == {column.name for column in table.columns}
    names = {str(c.name) for c in table.constraints if c.name} | {str(i.name) for i in table.indexes}
    for name in names:
        assert f"`{name}`" in text, name


def test_user_id_has_no_foreign_key_and_the_doc_says_why() -> None:
    for table in TABLES:
        assert not table.columns["user_id"].foreign_keys, table.name
    text = DOC.read_text()
    assert "no foreign key" in text.lower()
    assert "Better Auth" in text.split("## `user_id`", 1)[1].split("\n## ", 1)[0]
