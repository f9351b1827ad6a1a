"""The S3 store's upload link against moto's server over real HTTP, as the browser (or anyone holding the link)
uses it: a presigned PUT stays valid for minutes after the message attached its file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.s3 import attachments_lifecycle_rules, expires, moto_s3
from todo_common.files.s3 import ATTACHED, TAG_KEY, S3FileStore

BUCKET = "todo-chat-attachments-links"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with moto_s3(BUCKET) as made:
        yield made


@pytest.fixture
def store(client: Any) -> S3FileStore:
    return S3FileStore(BUCKET, client)


def tags_of(client: Any, key: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def test_an_attached_file_is_not_replaced_through_its_upload_link(store: S3FileStore, client: Any) -> None:
    """Replaced, it would be bytes the message's checks never saw (an image that is not one), and the PUT's signed
    `attachment=pending` tag would put the conversation's file back under the one-day expiry."""
    key = "atc_links_replaced"
    target = store.upload_target(key, "text/plain", 5)
    first = httpx.put(target.url, content=b"milk\n", headers=target.headers, timeout=10)
    assert first.status_code == 200, first.text
    store.mark_attached(key)

    again = httpx.put(target.url, content=b"eggs\n", headers=target.headers, timeout=10)
    assert again.status_code == 412, again.text
    assert store.read(key, 10) == b"milk\n"
    assert tags_of(client, key) == {TAG_KEY: ATTACHED}
    assert not any(expires(rule, key, tags_of(client, key)) for rule in attachments_lifecycle_rules())


def test_the_upload_link_cannot_drop_its_no_overwrite_condition(store: S3FileStore) -> None:
    target = store.upload_target("atc_links_signed", "image/png", 10)
    signed = parse_qs(urlsplit(target.url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "if-none-match" in signed
    assert target.headers.get("If-None-Match") == "*"
