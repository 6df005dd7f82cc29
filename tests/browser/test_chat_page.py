"""The parent's web chat page, in a real Chromium, against the real assistant.

Answers come from the real dialogue, so assertions look for keywords and links, not for
exact sentences.
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

BOT = '[data-testid="msg-bot"]'
USER = '[data-testid="msg-user"]'
ERROR = '[data-testid="msg-error"]'
QUICK_REPLY = '[data-testid="quick-reply"]'
EDUCONNECT_LINK = 'a[href^="https://educonnect.education.gouv.fr"]'
ARABIC = re.compile(r"[\u0600-\u06FF]")

# True once a new bot bubble (or error bubble) is in the log and the typing indicator is gone.
_ANSWERED = """([before]) =>
  document.querySelectorAll('[data-testid="msg-bot"], [data-testid="msg-error"]').length > before
  && document.querySelector('[data-testid="chat-typing"]').hidden"""


def fold(text: str) -> str:
    """Lower case without accents: 'ÉduConnect' -> 'educonnect'."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def answered_count(page: Page) -> int:
    return page.locator(f"{BOT}, {ERROR}").count()


def wait_for_answer(page: Page, before: int) -> list[Locator]:
    """Wait for the assistant's answer; return its new bubbles. An error bubble fails the test."""
    page.wait_for_function(_ANSWERED, arg=[before])
    errors = page.locator(ERROR)
    assert errors.count() == 0, f"the page showed an error: {errors.all_inner_texts()}"
    bubbles = page.locator(BOT).all()
    return bubbles[before:]


def open_chat(page: Page, url: str) -> list[Locator]:
    """Open the page and wait for the welcome the page asks for on a first visit."""
    page.goto(url)
    return wait_for_answer(page, 0)


def ask(page: Page, text: str) -> list[Locator]:
    before = answered_count(page)
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    return wait_for_answer(page, before)


def texts(bubbles: list[Locator]) -> str:
    return "\n".join(bubble.inner_text() for bubble in bubbles)


def assert_link_to_educonnect(bubbles: list[Locator]) -> None:
    links = [link for bubble in bubbles for link in bubble.locator(EDUCONNECT_LINK).all()]
    assert links, f"no ÉduConnect link in: {texts(bubbles)!r}"
    link = links[0]
    expect(link).to_be_visible()
    expect(link).to_have_attribute("target", "_blank")
    rel = (link.get_attribute("rel") or "").split()
    assert {"noopener", "noreferrer"} <= set(rel)


def test_welcome_appears_in_french(page: Page, page_watch, live_server_url: str) -> None:
    welcome = open_chat(page, f"{live_server_url}/")

    assert welcome and texts(welcome).strip()
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "fr")
    expect(html).to_have_attribute("dir", "ltr")
    expect(page.get_by_test_id("chat-log")).to_have_attribute("role", "log")
    expect(page.get_by_test_id("chat-log")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_label("Votre message")).to_be_visible()
    expect(page.get_by_test_id("chat-send")).to_be_visible()
    expect(page.get_by_test_id("lang-picker")).to_have_value("fr")
    expect(page.locator("footer")).to_contain_text("Écrivez STOP pour ne plus recevoir de messages")
    # The silent "/greet" is not shown as something the parent said.
    expect(page.locator(USER)).to_have_count(0)
    assert json.loads(page_watch.webhook_bodies[0])["message"] == "/greet"
    assert page_watch.console_errors == []
    assert page_watch.outside_requests == []


def test_educonnect_question_in_french(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")

    answer = ask(page, "j'arrive pas à activer mon compte educonnect")

    assert "educonnect" in fold(texts(answer))
    assert_link_to_educonnect(answer)
    sent = json.loads(page_watch.webhook_bodies[-1])
    assert sent["metadata"] == {"language": "fr"}
    assert re.fullmatch(r"web-[0-9a-f-]{36}", sent["sender"])
    assert page_watch.console_errors == []


def test_educonnect_question_in_arabic(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/?lang=ar")

    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")

    answer = ask(page, "كيف أفعل حساب إديكونيكت educonnect؟")

    assert ARABIC.search(texts(answer)), texts(answer)
    assert_link_to_educonnect(answer)
    assert json.loads(page_watch.webhook_bodies[-1])["metadata"] == {"language": "ar"}
    # Right to left: the parent's bubble sits on the left, the assistant's on the right.
    user_box = page.locator(USER).last.bounding_box()
    bot_box = answer[0].bounding_box()
    assert user_box and bot_box
    assert user_box["x"] < bot_box["x"]
    assert page_watch.console_errors == []


def test_quick_reply_is_sent_as_the_parent(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")
    enabled = f"{QUICK_REPLY}:enabled"
    if page.locator(enabled).count() == 0:  # the welcome had no buttons: ask for the menu
        ask(page, "aide")
    assert page.locator(enabled).count() > 0, "neither the welcome nor 'aide' offered buttons"
    # Pin the button by position: an ":enabled" locator would move on once it is disabled.
    index = page.locator(QUICK_REPLY).evaluate_all("buttons => buttons.findIndex(b => !b.disabled)")
    button = page.locator(QUICK_REPLY).nth(index)
    title = button.inner_text().strip()
    before = answered_count(page)

    button.click()

    expect(page.locator(USER).last).to_have_text(title)
    answer = wait_for_answer(page, before)
    assert texts(answer).strip()
    expect(button).to_be_disabled()  # only the latest answer's buttons stay active
    assert json.loads(page_watch.webhook_bodies[-1])["message"].startswith("/")


def test_markup_is_shown_as_text(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")
    attack = "<script>window.__pwned=1</script><b>x</b>"

    ask(page, attack)

    expect(page.locator(USER).last).to_have_text(attack)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    log = page.get_by_test_id("chat-log")
    expect(log.locator("b")).to_have_count(0)
    expect(log.locator("script")).to_have_count(0)
    assert json.loads(page_watch.webhook_bodies[-1])["message"] == attack


def test_empty_input_sends_nothing(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")
    requests_before = len(page_watch.webhook_bodies)
    field = page.get_by_test_id("chat-input")

    page.get_by_test_id("chat-send").click()
    field.fill("   \t  ")
    field.press("Enter")
    page.wait_for_timeout(500)

    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator(ERROR)).to_have_count(0)
    assert len(page_watch.webhook_bodies) == requests_before


def test_keyboard_only(page: Page, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")
    before = answered_count(page)

    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "chat-input":
            break
    else:
        pytest.fail("Tab never reached the message input")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused input has no visible outline"
    page.keyboard.type("comment voir les notes de mon enfant sur pronote")
    page.keyboard.press("Enter")

    expect(page.locator(USER).last).to_have_text("comment voir les notes de mon enfant sur pronote")
    assert texts(wait_for_answer(page, before)).strip()
    assert page.evaluate("document.activeElement.dataset.testid") == "chat-input"


def test_language_change_keeps_the_conversation(
    page: Page, page_watch, live_server_url: str
) -> None:
    open_chat(page, f"{live_server_url}/")
    ask(page, "bonjour")
    sender = json.loads(page_watch.webhook_bodies[-1])["sender"]
    bots_before = page.locator(BOT).count()

    page.get_by_test_id("lang-picker").select_option("en")

    page.wait_for_url(re.compile(r"[?&]lang=en\b"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # The old conversation is restored, and the page greets the parent in the new language.
    wait_for_answer(page, bots_before)
    expect(page.locator(USER)).to_have_text(["bonjour"])
    last = json.loads(page_watch.webhook_bodies[-1])
    assert last == {"sender": sender, "message": "/greet", "metadata": {"language": "en"}}


def test_message_too_long(page: Page, page_watch, live_server_url: str) -> None:
    open_chat(page, f"{live_server_url}/")
    long_text = "a" * 70_000  # above any limit the server can be configured with
    field = page.get_by_test_id("chat-input")

    field.fill(long_text)
    page.get_by_test_id("chat-send").click()

    expect(page.locator(ERROR)).to_have_count(1)
    expect(page.locator(ERROR)).to_contain_text("trop long")
    expect(page.locator(USER)).to_have_count(0)
    expect(field).to_have_value(long_text)
