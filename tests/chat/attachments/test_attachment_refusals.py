"""An outside tester's attacks on the attachments surface, through the real chat app: upload links used after
their attachment is gone, files declared as images that are not images, and what held."""

from __future__ import annotations

import pytest
from chatkit.types import (
    AttachmentDeleteParams,
    AttachmentsDeleteReq,
    ThreadCreateParams,
    ThreadDeleteParams,
    ThreadsCreateReq,
    ThreadsDeleteReq,
)
from sqlmodel import select

from functions.chat.agent.messages import ContextMessage
from functions.chat.attachments.content import attached_parts
from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.attachments.service import AttachmentService
from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from tests.support.attachments import PNG, carrying, create, error_code, local_path, put, uploaded
from tests.support.chatkit import ChatKitClient
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.files.local import LocalFileStore
from todo_common.models import Attachment
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def row_ids(database: Database) -> set[str]:
    return set(database.read(lambda s: list(s.exec(select(Attachment.id)))))


def test_an_upload_link_of_a_deleted_attachment_stores_nothing(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    """Create, delete, then PUT through the link (valid ten minutes): a file no row knows would stay for good, and
    the round repeated stores without bound what `MAX_PENDING` is meant to bound."""
    attachment = create(alice, "list.txt", "text/plain", 5).json()
    deleted = alice.post(AttachmentsDeleteReq(params=AttachmentDeleteParams(attachment_id=attachment["id"])))
    assert deleted.status_code == 200, deleted.text
    late = put(alice, attachment, b"milk\n")
    assert late.status_code == 404, late.text
    assert error_code(late) == "attachment_not_found"
    assert files.read(attachment["id"], 10) is None
    assert attachment["id"] not in row_ids(database)


def test_an_upload_link_of_a_deleted_conversations_attachment_stores_nothing(
    alice: ChatKitClient, database: Database, files: LocalFileStore
) -> None:
    attachment = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("one", attachment["id"]))))
    thread_id = events[0]["thread"]["id"]
    deleted = alice.post(ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id)))
    assert deleted.status_code == 200, deleted.text
    assert files.read(attachment["id"], 10) is None
    late = put(alice, attachment, b"eggs\n")
    assert late.status_code == 404, late.text
    assert files.read(attachment["id"], 10) is None
    assert not files.is_attached(attachment["id"])


@pytest.mark.parametrize(
    ("mime_type", "content"),
    [
        ("image/png", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("image/jpeg", PNG),
        ("image/gif", b"GIF87 is not quite a header"),
        ("image/webp", b"RIFF\x10\x00\x00\x00WAVEfmt "),
    ],
    ids=["svg-as-png", "png-as-jpeg", "bad-gif", "wav-as-webp"],
)
def test_a_file_declared_as_an_image_that_is_not_one_is_refused_when_sent(
    alice: ChatKitClient, database: Database, mime_type: str, content: bytes
) -> None:
    """The model's input sends these bytes as an image data URL; the model's API refuses an image it cannot decode,
    and the file stays among the conversation's newest, so every later turn would fail the same way."""
    image = uploaded(alice, "photo", mime_type, content)
    response = alice.post(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("look", image["id"]))))
    assert response.status_code == 415, response.text
    assert error_code(response) == "attachment_not_an_image"
    assert response.json()["error"]["message"]
    assert alice.thread_ids() == []


def test_the_model_is_not_shown_an_image_that_is_not_one(files: LocalFileStore) -> None:
    """Bytes that changed after the message's check (the upload link works until the file is attached) are named to
    the model, not sent as an image."""
    files.write("atc_swapped", b"<html>not a picture</html>")
    files.write("atc_dot", PNG)
    item = {
        "type": "user_message",
        "attachments": [
            {"id": "atc_swapped", "name": "photo.png", "mime_type": "image/png"},
            {"id": "atc_dot", "name": "dot.png", "mime_type": "image/png"},
        ],
    }
    message = ContextMessage("msg_1", "user", "message", "look", [], "complete", None, item)
    parts = attached_parts(files, AttachmentPolicy.from_settings(ChatSettings()), [message])["msg_1"]
    assert parts[0] == {"type": "input_text", "text": "The user attached “photo.png”, but it cannot be read."}
    assert parts[1]["type"] == "input_image" and parts[1]["image_url"].startswith("data:image/png;base64,")


def test_attaching_to_a_conversation_deleted_meanwhile_is_refused_in_words(
    alice: ChatKitClient, bob: ChatKitClient, services: Services, database: Database
) -> None:
    """A message's checks pass, then its conversation is deleted (another tab) before ChatKit attaches the file:
    the attach is refused as a missing conversation, not failed on the foreign key (a generic 500); and attaching
    names a conversation of the caller's only."""
    thread_id = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("hi"))))[0]["thread"]["id"]
    bobs_thread = bob.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("hi"))))[0]["thread"]["id"]
    text = uploaded(alice, "list.txt", "text/plain", b"milk\n")
    deleted = alice.post(ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id)))
    assert deleted.status_code == 200, deleted.text
    attachments = AttachmentService(services.files, AttachmentPolicy.from_settings(ChatSettings()))
    with pytest.raises(ApiError) as gone:
        attachments.attach(Caller(ALICE, database), text["id"], thread_id)
    with pytest.raises(ApiError) as anothers:
        attachments.attach(Caller(ALICE, database), text["id"], bobs_thread)
    assert (gone.value.status, gone.value.code) == (404, "not_found")
    assert (anothers.value.status, anothers.value.code) == (403, "forbidden")
    status = database.read(lambda s: s.exec(select(Attachment).where(Attachment.id == text["id"])).one())
    assert (status.status, status.conversation_id) == ("pending", None)


def test_a_real_image_of_each_allowed_type_is_carried(alice: ChatKitClient) -> None:
    headers = {
        "image/png": PNG,
        "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10",
    }
    ids = [uploaded(alice, f"i{n}", mime, content)["id"] for n, (mime, content) in enumerate(headers.items())]
    events = alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("look", *ids))))
    assert events[0]["type"] == "thread.created", events


def test_another_users_preview_and_upload_links_name_only_their_key(
    alice: ChatKitClient, bob: ChatKitClient, files: LocalFileStore
) -> None:
    """A link signed for one key does not work for another (Bob's link pointed at Alice's key)."""
    mine = uploaded(alice, "dot.png", "image/png", PNG)
    bobs = create(bob, "dot.png", "image/png", len(PNG)).json()
    swapped_put = local_path(bobs["upload_descriptor"]["url"]).replace(bobs["id"], mine["id"])
    swapped_get = local_path(bobs["preview_url"]).replace(bobs["id"], mine["id"])
    overwrite = bob.client.put(swapped_put, content=b"x" * len(PNG), headers={"Content-Type": "image/png"})
    peek = bob.client.get(swapped_get)
    assert [overwrite.status_code, peek.status_code] == [403, 403]
    assert files.read(mine["id"], 1000) == PNG


@pytest.mark.parametrize(
    "name",
    ["\u200b", "\u200e", "\u200f", "\u061c", "\ufeff", "\u2060", "\u200f\u200b \u200e"],
    ids=["zero-width-space", "lrm", "rlm", "arabic-letter-mark", "bom", "word-joiner", "mixed"],
)
def test_a_name_of_only_invisible_characters_is_refused(alice: ChatKitClient, database: Database, name: str) -> None:
    """Bidi marks (LRM, RLM, ALM) and zero-width characters show nothing: a name of only those is no name."""
    response = create(alice, name, "text/plain", 5)
    assert response.status_code == 422, response.text
    assert error_code(response) == "invalid_attachment_name"
    assert row_ids(database) == set()


def test_bidi_marks_are_taken_out_of_a_name(alice: ChatKitClient) -> None:
    response = create(alice, "inv\u200foice\u200e.\u061ctxt\u200b", "text/plain", 5)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "invoice.txt"
