"""The local gateway (`make dev`) forwards the local file store's routes to the chat app: an upload PUT and an image
preview GET, over a real socket."""

from __future__ import annotations

import httpx

from functions.chat.agent.offline_model import OfflineModel
from tests.support.attachments import PNG, local_path
from tests.support.gateway import serve_gateway
from tests.support.tokens import Tokens
from todo_common.web import Services

ALICE = "user_alice"


def test_the_gateway_serves_uploads_and_previews(services: Services, tokens: Tokens) -> None:
    create = {"type": "attachments.create", "params": {"name": "dot.png", "size": len(PNG), "mime_type": "image/png"}}
    with serve_gateway(services, OfflineModel()) as url, httpx.Client(base_url=url, timeout=30) as http:
        created = http.post(f"/api/{ALICE}/chatkit", json=create, headers=tokens.headers(ALICE))
        assert created.status_code == 200, created.text
        attachment = created.json()
        descriptor = attachment["upload_descriptor"]
        sent = http.put(local_path(descriptor["url"]), content=PNG, headers=descriptor["headers"])
        assert sent.status_code == 204, sent.text
        preview = http.get(local_path(attachment["preview_url"]))
        assert preview.status_code == 200
        assert preview.content == PNG
        refused = http.put(local_path(descriptor["url"]) + "0", content=PNG, headers=descriptor["headers"])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "invalid_upload_link"
