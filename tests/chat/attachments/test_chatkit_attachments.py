"""ChatKit's two-phase upload on the local file store, through the real chat app: `attachments.create` (a pending
row, a signed PUT link, an image's preview link), the upload route, `attachments.delete`, messages carrying
attachments (checked: the caller's, uploaded, within limits, not another thread's), a reload showing them with
fresh links, and a deleted conversation taking its attachments' rows and files with it."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

import pytest
from chatkit.types import (
    AttachmentDeleteParams,
    AttachmentsDeleteReq,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadDeleteParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsDeleteReq,
)
from fastapi.testclient import TestClient
from sqlmodel import col, select

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.attachments.service import MAX_PENDING, PENDING_HOURS, AttachmentService
from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from tests.support.attachments import PNG, carrying, create, error_code, local_path, put, uploaded
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, streamed_events
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.files.local import LocalFileStore
from todo_common.models import Attachment, Message, utcnow
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def rows(database: Database) -> list[Attachment]:
    return database.read(lambda s: list(s.exec(select(Attachment).order_by(col(Attachment.created_at)))))


def test_create_gives_a_pending_row_an_upload_link_and_an_image_preview(
    alice: ChatKitClient, database: Database
) -> None:
    image = create(alice, "receipt.png", "image/png", len(PNG))
    text = create(alice, "  list\n.txt ", "text/plain; charset=utf-8", 20)
    assert [image.status_code, text.status_code] == [200, 200], (image.text, text.text)
    shown, listed = image.json(), text.json()
    assert shown["type"] == "image" and shown["id"].startswith("atc_")
    assert shown["upload_descriptor"]["method"] == "PUT"
    assert shown["upload_descriptor"]["headers"] == {"Content-Type": "image/png"}
    assert "/api/attachments/" in shown["preview_url"]
    assert listed["type"] == "file" and listed["name"] == "list .txt" and listed["mime_type"] == "text/plain"
    stored = {row.id: row for row in rows(database)}
    assert {row.user_id for row in stored.values()} == {ALICE}
    assert stored[shown["id"]].status == "pending" and stored[shown["id"]].conversation_id is None
    assert stored[shown["id"]].kind == "image" and stored[listed["id"]].kind == "file"
    assert stored[shown["id"]].size == len(PNG)


@pytest.mark.parametrize(
    ("name", "mime_type", "size", "status", "code"),
    [
        ("a.pdf", "application/pdf", 10, 415, "attachment_type_not_allowed"),
        ("a.svg", "image/svg+xml", 10, 415, "attachment_type_not_allowed"),
        ("a.png", "image/png", 5 * 1024 * 1024 + 1, 413, "attachment_too_large"),
        ("a.txt", "text/plain", 256 * 1024 + 1, 413, "attachment_too_large"),
        ("x" * 256, "text/plain", 10, 422, "invalid_attachment_name"),
        ("\n", "text/plain", 10, 422, "invalid_attachment_name"),
        ("a.txt", "text/plain", 0, 422, "attachment_empty"),
    ],
)
def test_create_refuses_in_words(
    alice: ChatKitClient, database: Database, name: str, mime_type: str, size: int, status: int, code: str
) -> None:
    response = create(alice, name, mime_type, size)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert response.json()["error"]["message"]
    assert rows(database) == []


def test_with_attachments_off_the_chat_function_takes_none(
    alice: ChatKitClient, services: Services, tokens: Tokens, database: Database
) -> None:
    """CHAT_ATTACHMENTS=false is kept by the chat function too, not only left out of the session's answer: a client
    that asks anyway is refused in words and nothing is stored."""
    before = uploaded(alice, "list.txt", "text/plain", b"buy milk\n")
    off = dataclasses.replace(services, settings=dataclasses.replace(services.settings, attachments=False))
    with TestClient(chat_app(off, OfflineModel()), raise_server_exceptions=False) as http:
        alice_off = ChatKitClient(http, tokens, ALICE)
        refused = create(alice_off, "list.txt", "text/plain", 10)
        message = alice_off.post(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("add these", before["id"]))))
    for response in (refused, message):
        assert response.status_code == 400, response.text
        assert error_code(response) == "attachments_unavailable"
    assert [(row.id, row.status) for row in rows(database)] == [(before["id"], "pending")]
    assert database.read(lambda s: list(s.exec(select(Message)))) == []


def test_the_upload_route_takes_only_what_its_link_was_signed_for(alice: ChatKitClient, files: LocalFileStore) -> None:
    attachment = create(alice, "list.txt", "text/plain", 10).json()
    key = attachment["id"]
    forged = put(alice, {**attachment, "upload_descriptor": {**attachment["upload_descriptor"]}}, b"0123456789")
    assert forged.status_code == 204  # the link as given works
    url = local_path(attachment["upload_descriptor"]["url"])
    tampered = alice.client.put(
        url.replace("size=10", "size=99"), content=b"x" * 50, headers={"Content-Type": "text/plain"}
    )
    unsigned = alice.client.put(f"/api/attachments/{key}", content=b"abc", headers={"Content-Type": "text/plain"})
    wrong_type = put(alice, attachment, b"abc", content_type="text/html")
    too_large = put(alice, attachment, b"x" * 11)
    assert [tampered.status_code, unsigned.status_code] == [403, 403]
    assert {error_code(tampered), error_code(unsigned)} == {"invalid_upload_link"}
    assert wrong_type.status_code == 415 and error_code(wrong_type) == "wrong_content_type"
    assert too_large.status_code == 413 and error_code(too_large) == "upload_too_large"
    assert files.read(key, 100) == b"0123456789"  # nothing refused replaced it
    traversal = alice.client.put("/api/attachments/..%2F..%2Fescape", content=b"x")
    assert traversal.status_code == 404


def test_the_upload_route_refuses_fewer_bytes_than_its_link_was_signed_for(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    """As S3 does (the presigned PUT signs its Content-Length): a short body is no upload, so the message that would
    attach it is refused as not uploaded rather than carrying a truncated file."""
    attachment = create(alice, "list.txt", "text/plain", 10).json()
    short = put(alice, attachment, b"01234")
    assert short.status_code == 400 and error_code(short) == "upload_incomplete"
    assert "10 bytes" in short.json()["error"]["message"]
    assert files.read(attachment["id"], 100) is None
    assert put(alice, attachment, b"0123456789").status_code == 204


def test_an_image_preview_is_served_through_its_signed_link(alice: ChatKitClient) -> None:
    attachment = uploaded(alice, "dot.png", "image/png", PNG)
    preview = alice.client.get(local_path(attachment["preview_url"]))
    assert preview.status_code == 200
    assert preview.content == PNG
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["x-content-type-options"] == "nosniff"
    forged = alice.client.get(local_path(attachment["preview_url"]).replace("type=image%2Fpng", "type=text%2Fhtml"))
    assert forged.status_code == 403


def test_delete_forgets_an_own_pending_upload_and_refuses_anothers(
    alice: ChatKitClient, bob: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    mine = uploaded(alice, "a.txt", "text/plain", b"milk\n")
    kept = uploaded(alice, "b.txt", "text/plain", b"eggs\n")
    refused = bob.post(AttachmentsDeleteReq(params=AttachmentDeleteParams(attachment_id=kept["id"])))
    unknown = alice.post(AttachmentsDeleteReq(params=AttachmentDeleteParams(attachment_id="atc_unknown")))
    assert [refused.status_code, unknown.status_code] == [404, 404]
    assert error_code(refused) == error_code(unknown) == "attachment_not_found"
    assert refused.json()["error"]["message"] == unknown.json()["error"]["message"]
    deleted = alice.post(AttachmentsDeleteReq(params=AttachmentDeleteParams(attachment_id=mine["id"])))
    assert deleted.status_code == 200, deleted.text
    assert [row.id for row in rows(database)] == [kept["id"]]
    assert files.read(mine["id"], 100) is None
    assert files.read(kept["id"], 100) == b"eggs\n"


def test_a_message_carries_its_attachments_into_the_thread_and_a_reload_shows_them(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    image = uploaded(alice, "dot.png", "image/png", PNG)
    text = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("look", image["id"], text["id"]))))
    assert events[0]["type"] == "thread.created", events
    thread_id = events[0]["thread"]["id"]
    sent = next(e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "user_message")
    assert [a["id"] for a in sent["attachments"]] == [image["id"], text["id"]]
    assert all(a.get("upload_descriptor") is None and a["thread_id"] == thread_id for a in sent["attachments"])
    assert {(row.id, row.status, row.conversation_id) for row in rows(database)} == {
        (image["id"], "attached", thread_id),
        (text["id"], "attached", thread_id),
    }
    assert files.is_attached(image["id"]) and files.is_attached(text["id"])
    replaced = put(alice, text, b"eggs\n")
    assert replaced.status_code == 409 and error_code(replaced) == "attachment_attached"

    items = alice.items(thread_id)
    shown = next(item for item in items if item["type"] == "user_message")["attachments"]
    assert [(a["id"], a["name"], a["type"]) for a in shown] == [
        (image["id"], "dot.png", "image"),
        (text["id"], "list.txt", "file"),
    ]
    assert alice.client.get(local_path(shown[0]["preview_url"])).content == PNG
    stored = database.read(
        lambda s: s.exec(select(Message).where(Message.conversation_id == thread_id, Message.role == "user")).one()
    )
    assert stored.chatkit_item is not None
    assert [a["id"] for a in stored.chatkit_item["attachments"]] == [image["id"], text["id"]]


def test_a_message_refuses_attachments_that_are_not_ready_or_not_the_callers(
    alice: ChatKitClient, bob: ChatKitClient, database: Database
) -> None:
    pending = create(alice, "later.txt", "text/plain", 5).json()
    bobs = uploaded(bob, "bob.txt", "text/plain", b"bob\n")
    ready = [uploaded(alice, f"{n}.txt", "text/plain", b"x\n")["id"] for n in range(5)]

    def first_message(*ids: str) -> Any:
        return alice.post(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("add these", *ids))))

    not_uploaded, anothers, unknown, too_many, twice = (
        first_message(pending["id"]),
        first_message(bobs["id"]),
        first_message("atc_unknown"),
        first_message(*ready),
        first_message(ready[0], ready[0]),
    )
    assert twice.status_code == 422 and error_code(twice) == "duplicate_attachment"
    assert not_uploaded.status_code == 409 and error_code(not_uploaded) == "attachment_not_uploaded"
    assert anothers.status_code == unknown.status_code == 404
    assert anothers.json() == unknown.json()  # another user's attachment is refused exactly as an unknown one
    assert error_code(anothers) == "attachment_not_found"
    assert too_many.status_code == 422 and error_code(too_many) == "too_many_attachments"
    assert alice.thread_ids() == []  # nothing was stored
    assert {row.status for row in rows(database)} == {"pending"}


def test_an_attachment_stays_with_the_thread_that_carried_it(alice: ChatKitClient, database: Database) -> None:
    text = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    first = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("one", text["id"]))))
    thread_id = first[0]["thread"]["id"]
    again = alice.post(
        ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=carrying("two", text["id"]))
        )
    )
    sent = [
        d["item"] for t, d in streamed_events(again) if t == "thread.item.done" and d["item"]["type"] == "user_message"
    ]
    assert [a["id"] for a in sent[0]["attachments"]] == [text["id"]]  # the same thread may carry it again
    elsewhere = alice.post(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("three", text["id"]))))
    assert elsewhere.status_code == 409 and error_code(elsewhere) == "attachment_in_use"
    assert [(row.conversation_id, row.status) for row in rows(database)] == [(thread_id, "attached")]


def test_an_uploaded_file_over_its_limit_is_refused_when_sent(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    text = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    files.write(text["id"], b"x" * (256 * 1024 + 1))  # bytes that reached the store some other way
    response = alice.post(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("add these", text["id"]))))
    assert response.status_code == 413 and error_code(response) == "attachment_too_large"


def test_deleting_a_thread_deletes_its_attachments_and_files(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    carried = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    other = uploaded(alice, "other.txt", "text/plain", b"eggs\n")
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("one", carried["id"]))))
    thread_id = events[0]["thread"]["id"]
    deleted = alice.post(ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id)))
    assert deleted.status_code == 200, deleted.text
    assert [row.id for row in rows(database)] == [other["id"]]
    assert files.read(carried["id"], 100) is None
    assert files.read(other["id"], 100) == b"eggs\n"


def test_deleting_a_conversation_in_history_deletes_its_attachments_and_files(
    alice: ChatKitClient, history_client: TestClient, tokens: Tokens, database: Database, files: LocalFileStore
) -> None:
    carried = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("one", carried["id"]))))
    thread_id = events[0]["thread"]["id"]
    refused = history_client.delete(f"/api/{BOB}/conversations/{thread_id}", headers=tokens.headers(BOB))
    assert refused.status_code == 403
    assert files.read(carried["id"], 100) == b"milk\n"
    deleted = history_client.delete(f"/api/{ALICE}/conversations/{thread_id}", headers=tokens.headers(ALICE))
    assert deleted.status_code == 204
    assert rows(database) == []
    assert files.read(carried["id"], 100) is None


def test_uploads_no_message_took_are_bounded_and_forgotten_after_a_day(
    alice: ChatKitClient, bob: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    waiting = [uploaded(alice, f"{n}.txt", "text/plain", b"x\n")["id"] for n in range(MAX_PENDING)]
    refused = create(alice, "one-more.txt", "text/plain", 2)
    assert refused.status_code == 429 and error_code(refused) == "too_many_pending_attachments"
    assert create(bob, "bobs.txt", "text/plain", 2).status_code == 200  # another user's uploads are theirs

    def age(session: Any) -> None:
        for row in session.exec(select(Attachment).where(col(Attachment.id).in_(waiting[:3]))):
            row.created_at = utcnow() - timedelta(hours=PENDING_HOURS, minutes=1)
            session.add(row)

    database.write(age)
    assert create(alice, "one-more.txt", "text/plain", 2).status_code == 200
    assert {row.id for row in rows(database)} >= set(waiting[3:])
    assert not {row.id for row in rows(database)} & set(waiting[:3])
    assert [files.read(key, 10) for key in waiting[:3]] == [None, None, None]
    assert files.read(waiting[3], 10) == b"x\n"


def test_a_message_of_only_an_attachment_is_answered(alice: ChatKitClient, database: Database) -> None:
    image = uploaded(alice, "dot.png", "image/png", PNG)
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("", image["id"]))))
    assert events[0]["type"] == "thread.created"
    assert "error" not in [e["type"] for e in events], events
    answers = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert answers
    assert [row.status for row in rows(database)] == ["attached"]


def test_attaching_is_one_conditional_write_another_thread_cannot_take_over(
    alice: ChatKitClient, services: Services, database: Database
) -> None:
    """Two messages sent at once with one attachment: the second to attach it finds it taken (no check-then-write)."""
    text = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    first = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("one", text["id"]))))
    thread_id = first[0]["thread"]["id"]
    other = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("two"))))[0]["thread"]["id"]
    attachments = AttachmentService(services.files, AttachmentPolicy.from_settings(ChatSettings()))
    with pytest.raises(ApiError) as taken:
        attachments.attach(Caller(ALICE, database), text["id"], other)
    with pytest.raises(ApiError) as anothers:
        attachments.attach(Caller(BOB, database), text["id"], other)
    assert (taken.value.status, taken.value.code) == (409, "attachment_in_use")
    assert (anothers.value.status, anothers.value.code) == (404, "attachment_not_found")
    assert [(row.conversation_id, row.status) for row in rows(database)] == [(thread_id, "attached")]


def test_an_expired_upload_link_is_refused_in_words(
    alice: ChatKitClient, files: LocalFileStore, services: Services
) -> None:
    attachment = create(alice, "list.txt", "text/plain", 5).json()
    an_hour_ago = LocalFileStore(
        files.directory,
        (services.settings.chat_token_secret or "").encode(),
        files.base_url,
        clock=lambda: time.time() - 3600,
    )
    stale = an_hour_ago.upload_target(attachment["id"], "text/plain", 5)
    response = alice.client.put(local_path(stale.url), content=b"milk\n", headers=stale.headers)
    assert response.status_code == 403
    assert error_code(response) == "invalid_upload_link"
    assert "expired" in response.json()["error"]["message"]
    assert files.read(attachment["id"], 10) is None
