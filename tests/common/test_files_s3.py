"""The S3 file store against moto's server over real HTTP: the browser's presigned PUT, reads, tags and deletes, and
the template's lifecycle rule, which must expire what was uploaded but never attached (and nothing else)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.s3 import attachments_lifecycle_rules, expires, moto_s3, signature_matches
from todo_common.files import file_store
from todo_common.files.s3 import ATTACHED, PENDING, TAG_KEY, S3FileStore, s3_client
from todo_common.settings import Settings

BUCKET = "todo-chat-attachments-test"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with moto_s3(BUCKET) as made:
        yield made


@pytest.fixture
def store(client: Any) -> S3FileStore:
    return S3FileStore(BUCKET, client)


def tags_of(client: Any, key: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def upload(store: S3FileStore, key: str, data: bytes, mime_type: str) -> httpx.Response:
    """What the browser does with ChatKit's upload descriptor: one PUT of the file to the URL, with its headers."""
    target = store.upload_target(key, mime_type, len(data))
    return httpx.put(target.url, content=data, headers=target.headers, timeout=10)


def test_the_browser_uploads_with_the_presigned_put(store: S3FileStore, client: Any) -> None:
    key = "user_a/att_put/list.png"
    target = store.upload_target(key, "image/png", len(PNG))
    query = parse_qs(urlsplit(target.url).query)
    # The type, the length and the pending tag are part of the signature: a client cannot change them.
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-type", "content-length", "x-amz-tagging"}
    assert 300 <= int(query["X-Amz-Expires"][0]) <= 600
    assert target.method == "PUT"
    assert target.headers == {
        "Content-Type": "image/png",
        "x-amz-tagging": f"{TAG_KEY}={PENDING}",
        "If-None-Match": "*",
    }

    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}, timeout=10) as browser:
        response = browser.put(target.url, content=PNG, headers=target.headers)
    assert response.status_code == 200, response.text
    assert signature_matches(target.url, "PUT", dict(sent[0].headers))
    assert sent[0].headers["content-length"] == str(len(PNG))
    # What S3 refuses (moto itself checks no signature): another type, another size, or no pending tag.
    for changed in ({"content-type": "text/html"}, {"content-length": str(len(PNG) + 1)}, {"x-amz-tagging": ""}):
        assert not signature_matches(target.url, "PUT", {**dict(sent[0].headers), **changed}), changed
    stored = client.get_object(Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "image/png"
    assert stored["Body"].read() == PNG
    assert tags_of(client, key) == {TAG_KEY: PENDING}


def test_a_preview_url_gets_the_file_with_its_type(store: S3FileStore) -> None:
    key = "user_a/att_preview/photo.png"
    assert upload(store, key, PNG, "image/png").status_code == 200
    url = store.download_url(key, "image/png")
    assert 300 <= int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) <= 3600
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"


def test_read_is_bounded_and_none_when_nothing_was_uploaded(store: S3FileStore) -> None:
    key = "user_a/att_read/tasks.txt"
    text = b"buy milk\nwalk the dog\ncall mum\n"
    assert upload(store, key, text, "text/plain").status_code == 200
    assert store.read(key, 1024) == text
    assert store.read(key, len(text)) == text
    assert store.read(key, 8) == text[:9]  # one byte over the limit tells the caller the file is too large
    assert store.read("user_a/att_never/none.txt", 1024) is None
    assert upload(store, "user_a/att_empty/empty.txt", b"", "text/plain").status_code == 200
    assert store.read("user_a/att_empty/empty.txt", 1024) == b""


def test_mark_attached_takes_the_file_out_of_the_lifecycle_rule(store: S3FileStore, client: Any) -> None:
    rules = attachments_lifecycle_rules()
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    assert len(expiring) == 1
    assert expiring[0]["ExpirationInDays"] == 1
    key = "user_a/att_tagged/list.csv"
    assert upload(store, key, b"task\nbuy milk\n", "text/csv").status_code == 200
    assert [rule for rule in rules if expires(rule, key, tags_of(client, key))] == expiring

    store.mark_attached(key)
    assert tags_of(client, key) == {TAG_KEY: ATTACHED}
    assert not any(expires(rule, key, tags_of(client, key)) for rule in rules)
    assert store.read(key, 1024) == b"task\nbuy milk\n"
    store.mark_attached(key)  # again: still attached
    assert tags_of(client, key) == {TAG_KEY: ATTACHED}
    store.mark_attached("user_a/att_never/none.csv")  # nothing uploaded: nothing to keep, and no error
    assert store.read("user_a/att_never/none.csv", 10) is None


def test_delete_removes_every_key_in_batches(client: Any) -> None:
    assert S3FileStore(BUCKET, client).delete_batch == 1000  # S3's most keys in one DeleteObjects
    store = S3FileStore(BUCKET, client, delete_batch=3)  # 8 keys: three requests
    keys = [f"user_b/att_{index}/file.txt" for index in range(7)]
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    kept = "user_c/att_kept/file.txt"
    client.put_object(Bucket=BUCKET, Key=kept, Body=b"kept")

    store.delete([*keys, keys[0], "user_b/att_never/none.txt"])  # repeated and missing keys are no error
    left = client.list_objects_v2(Bucket=BUCKET, Prefix="user_b/")
    assert left["KeyCount"] == 0
    assert store.read(kept, 10) == b"kept"
    store.delete([])


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", "s3.eu-west-1.amazonaws.com"),
        ("us-east-1", "s3.amazonaws.com"),  # the global host is us-east-1's own: no redirect
        ("cn-north-1", "s3.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_the_client_presigns_for_the_buckets_own_host(monkeypatch: pytest.MonkeyPatch, region: str, host: str) -> None:
    """A host of another region would redirect the browser's PUT, and a redirected preflight fails CORS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3FileStore("todo-chat-attachmentsbucket-1a2b3c", s3_client(region))
    for address in (store.upload_target("u/att_1/a.png", "image/png", 10).url, store.download_url("u/att_1/a.png", "")):
        url = urlsplit(address)
        assert (url.scheme, url.netloc, url.path) == (
            "https",
            f"todo-chat-attachmentsbucket-1a2b3c.{host}",
            "/u/att_1/a.png",
        )


def test_file_store_is_s3_when_a_bucket_is_configured() -> None:
    environ = {"CHAT_TOKEN_SECRET": "s" * 32, "BETTER_AUTH_SECRET": "b" * 32}
    configured = Settings.from_environ({**environ, "CHAT_ATTACHMENTS_BUCKET": " todo-chat-attachments-prod "})
    chosen = file_store(configured, {})
    assert isinstance(chosen, S3FileStore)
    assert chosen.bucket == "todo-chat-attachments-prod"
    assert not isinstance(file_store(Settings.from_environ(environ), {}), S3FileStore)


def test_the_store_imports_boto3_only_when_it_calls_s3() -> None:
    code = (
        "import sys, json; import todo_common.files, todo_common.files.s3 as s3; "
        "store = s3.S3FileStore('b'); before = 'boto3' in sys.modules; store.client; "
        "print(json.dumps([before, 'boto3' in sys.modules]))"
    )
    environ = {**os.environ, "AWS_REGION": "eu-west-1"}
    output = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    assert json.loads(output.stdout.strip().splitlines()[-1]) == [False, True]


@pytest.mark.browser
def test_chromium_uploads_cross_origin_under_the_templates_cors_rule(store: S3FileStore, client: Any) -> None:
    """The bucket's CORS rule from template.yaml (its origins set to this page's) and the store's upload target,
    through a real browser's preflight: the PUT passes; a rule without the tag header fails it."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from tests.support.example_app import chromium_browser
    from tests.support.s3 import attachments_cors_rule
    from tests.support.server import Server

    page_app = Starlette(routes=[Route("/", lambda _request: HTMLResponse("<!doctype html><title>app</title>"))])
    put = """async ({ url, headers, size }) => {
        try {
            const response = await fetch(url, { method: "PUT", headers, body: new Blob([new Uint8Array(size)]) });
            return response.status;
        } catch (error) {
            return String(error);
        }
    }"""
    with Server(page_app) as origin, chromium_browser() as browser:
        page = browser.new_page()
        page.goto(origin)
        client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [attachments_cors_rule([origin])]})
        target = store.upload_target("user_a/att_cors/photo.png", "image/png", 64)
        arguments = {"url": target.url, "headers": target.headers, "size": 64}
        assert page.evaluate(put, arguments) == 200
        assert tags_of(client, "user_a/att_cors/photo.png") == {TAG_KEY: PENDING}

        narrower = {**attachments_cors_rule([origin]), "AllowedHeaders": ["content-type"]}
        client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [narrower]})
        target = store.upload_target("user_a/att_cors/other.png", "image/png", 64)  # a new URL: no cached preflight
        assert "Failed to fetch" in str(page.evaluate(put, {**arguments, "url": target.url}))
        assert store.read("user_a/att_cors/other.png", 10) is None


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
