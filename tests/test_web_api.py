"""The Rasa-compatible HTTP API over real HTTP on 127.0.0.1: shapes and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest


@pytest.fixture
async def client(live_server_url: str) -> Any:
    async with httpx.AsyncClient(base_url=live_server_url, timeout=10) as client:
        yield client


async def test_webhook_answers_in_rasa_rest_shape(client: httpx.AsyncClient) -> None:
    sender = f"web-{uuid.uuid4()}"
    response = await client.post(
        "/webhooks/rest/webhook",
        json={"sender": sender, "message": "comment créer mon compte ÉduConnect ?", "metadata": {}},
    )
    assert response.status_code == 200
    messages = response.json()
    assert isinstance(messages, list) and messages
    for message in messages:
        assert message["recipient_id"] == sender
        assert isinstance(message["text"], str) and message["text"]
        for button in message.get("buttons", []):
            assert set(button) == {"title", "payload"}
    assert any("educonnect.education.gouv.fr" in m["text"] for m in messages)


async def test_arabic_question_gets_an_arabic_answer(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/rest/webhook",
        json={"sender": f"web-{uuid.uuid4()}", "message": "كيف أنشئ حساب EduConnect؟"},
    )
    texts = " ".join(m["text"] for m in response.json())
    assert "educonnect.education.gouv.fr" in texts
    assert any("\u0600" <= ch <= "\u06ff" for ch in texts)


async def test_model_parse_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/model/parse", json={"text": "mdp pronote oublié"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"text", "intent", "intent_ranking", "entities", "language"}
    assert body["text"] == "mdp pronote oublié"
    assert set(body["intent"]) == {"name", "confidence"}
    assert body["intent"]["name"] == "faq_password_reset"
    assert body["intent_ranking"][0] == body["intent"]
    assert {"entity": "tool", "value": "Pronote"}.items() <= body["entities"][0].items()
    assert set(body["language"]) == {"code", "confidence"}


# (what is posted, expected status, expected error code)
BAD_REQUESTS: list[tuple[str, bytes | dict[str, Any], int, str]] = [
    ("webhook", b"{not json", 400, "invalid_json"),
    ("webhook", b"\xff\xfe\x00bad", 400, "invalid_encoding"),
    ("webhook", b"[1, 2]", 400, "invalid_json"),
    ("webhook", {"sender": 42, "message": "hi"}, 422, "invalid_sender"),
    ("webhook", {"sender": "", "message": "hi"}, 422, "invalid_sender"),
    ("webhook", {"sender": "a b<script>", "message": "hi"}, 422, "invalid_sender"),
    ("webhook", {"sender": "x" * 200, "message": "hi"}, 422, "invalid_sender"),
    ("webhook", {"sender": "web-1", "message": ["hi"]}, 422, "invalid_message"),
    ("webhook", {"sender": "web-1"}, 422, "invalid_message"),
    ("webhook", {"sender": "web-1", "message": "hi", "metadata": "fr"}, 422, "invalid_metadata"),
    ("webhook", {"sender": "web-1", "message": "é" * 2049}, 413, "message_too_large"),
    ("webhook", b"{" + b" " * 100_000 + b"}", 413, "message_too_large"),
    ("parse", {"text": None}, 422, "invalid_text"),
    ("parse", {"text": "x" * 5000}, 413, "message_too_large"),
    ("parse", b"null", 400, "invalid_json"),
]


@pytest.mark.parametrize(("endpoint", "body", "status", "code"), BAD_REQUESTS)
async def test_bad_requests_get_clear_json_errors(
    client: httpx.AsyncClient, endpoint: str, body: bytes | dict[str, Any], status: int, code: str
) -> None:
    path = "/webhooks/rest/webhook" if endpoint == "webhook" else "/model/parse"
    if isinstance(body, bytes):
        response = await client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await client.post(path, json=body)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["message"]


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "\x00\x01",
        "😀😀",
        "Bonjour مرحبا merhaba",
        "<img src=x onerror=alert(1)>",
        "a\u202eb",
    ],
)
async def test_odd_messages_get_a_reply_not_an_error(
    client: httpx.AsyncClient, message: str
) -> None:
    response = await client.post(
        "/webhooks/rest/webhook",
        json={"sender": f"web-{uuid.uuid4()}", "message": message, "unknown": {"field": 1}},
    )
    assert response.status_code == 200
    assert response.json() and all(m["text"] for m in response.json())


async def test_a_lone_surrogate_is_replaced_not_a_crash(client: httpx.AsyncClient) -> None:
    # Valid JSON and valid UTF-8, but "\ud800" is half a character: not encodable as text.
    sender = f"web-{uuid.uuid4()}"
    body = b'{"sender": "%s", "message": "pronote \\ud800"}' % sender.encode()
    headers = {"content-type": "application/json"}
    response = await client.post("/webhooks/rest/webhook", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() and all(m["text"] for m in response.json())
    body = b'{"text": "\\udfff bonjour"}'
    parse = await client.post("/model/parse", content=body, headers=headers)
    assert parse.status_code == 200
    assert parse.json()["text"] == "\ufffd bonjour"


async def test_chat_page_and_health(client: httpx.AsyncClient) -> None:
    page = await client.get("/?lang=ar")
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    health = await client.get("/healthz")
    assert health.json()["status"] == "ok"
