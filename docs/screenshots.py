"""Screenshots for the docs, taken from a running `make run` (demo data) in Debian's Chromium.

    LIAISON_DATA_DIR=/tmp/shots .venv/bin/liaison run --demo --port 8100 &
    echo '…' | LIAISON_DATA_DIR=/tmp/shots .venv/bin/liaison staff create \\
        --email camille@example.org --role admin --password-stdin
    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8100 \\
        --email camille@example.org --password '…' [--only notices]

Each shot is a phone-sized page (390×844) written to docs/img/. The parent's steps enrol in
the demo workshops and the notice step saves a draft notice, so run it on demo data (a new
LIAISON_DATA_DIR), not on a school's real server.
"""

from __future__ import annotations

import argparse
import re
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from broadcasts.demo import TITLE as DEMO_NOTICE

IMG = Path(__file__).resolve().parent / "img"
PHONE = {"width": 390, "height": 844}


def _chat(page: Page, url: str, invitation: str, people: str) -> None:
    page.goto(f"{url}/?atelier={invitation}")
    page.get_by_role("button", name=people, exact=True).click()
    page.get_by_role("button", name="Oui", exact=True).click()
    page.wait_for_timeout(1500)


def parent(page: Page, url: str) -> None:
    _chat(page, url, "demo-pronote", "2")
    page.locator(".msg--bot").last.wait_for()
    page.screenshot(path=IMG / "workshop-enrol-web.png")
    text = page.locator(".msg--bot").last.inner_text()
    code = re.search(r"https?://\S+/code/\S+", text)
    if code:
        page.goto(code.group(0).rstrip("."))
        page.screenshot(path=IMG / "workshop-code.png", full_page=True)


def waiting(page: Page, url: str) -> None:
    _chat(page, url, "demo-educonnect", "1")
    page.screenshot(path=IMG / "workshop-waiting-list.png")


def staff(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/staff/connexion")
    page.screenshot(path=IMG / "staff-sign-in.png")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/staff/ateliers")
    shots = {
        "staff-workshops.png": "/staff/ateliers",
        "staff-workshop-form.png": "/staff/ateliers/demo-pronote/modifier",
        "staff-checkin.png": "/staff/ateliers/demo-permanence/accueil",
        "staff-figures.png": "/staff/chiffres",
        "staff-workshop-figures.png": "/staff/ateliers/demo-past-pronote/chiffres",
        "staff-cancel.png": "/staff/ateliers/demo-ent-online/annuler",
        "staff-families.png": "/staff/familles",
        "staff-notice-compose.png": "/staff/annonces/nouvelle",
        "staff-journal.png": "/staff/journal",
    }
    for name, path in shots.items():
        page.goto(f"{url}{path}")
        page.screenshot(path=IMG / name, full_page=True)


def _sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/staff/connexion")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/staff/ateliers")


def notices(page: Page, url: str, email: str, password: str) -> None:
    """A notice's preview (a translated template to the 6e of Jean Moulin), then the figures
    of the demo notice sent the day before."""
    _sign_in(page, url, email, password)
    meeting = date.today() + timedelta(days=14 + (3 - date.today().weekday()) % 7)  # a Thursday
    page.goto(f"{url}/staff/annonces/nouvelle")
    page.get_by_label("Titre").fill("Réunion parents-professeurs des 6e")
    page.get_by_label("Collège Jean Moulin, Saint-Denis").check()
    page.get_by_label("Niveaux").fill("6e")
    page.locator('select[name="modele"]').select_option("parent_meeting")
    page.locator('input[name="champ-date"]').fill(meeting.isoformat())
    page.locator('input[name="champ-heure"]').fill("17:30")
    page.locator('input[name="champ-lieu"]').fill("Salle polyvalente")
    page.locator('input[name="champ-classe"]').fill("6e")
    page.get_by_role("button", name="Enregistrer et voir l'aperçu").click()
    page.get_by_test_id("recipients").wait_for()
    page.screenshot(path=IMG / "staff-notice-preview.png", full_page=True)
    page.goto(f"{url}/staff/annonces")
    page.get_by_role("link", name=DEMO_NOTICE).first.click()
    page.get_by_test_id("figures").wait_for()
    page.screenshot(path=IMG / "staff-notice-figures.png", full_page=True)


def accounts(page: Page, url: str, email: str, password: str) -> None:
    """The admins' accounts page (roles, what each account reaches, the forms to change it),
    then a family a mediator helps. Give the demo a few accounts and a mediation first:
    `liaison staff create --role school --school 0931234L`, `--role mediator`, and
    `liaison staff mediate --family-phone "06 39 98 02 03" --consent "…"`."""
    _sign_in(page, url, email, password)
    page.goto(f"{url}/staff/comptes")
    page.screenshot(path=IMG / "staff-accounts.png")
    page.goto(f"{url}/staff/mediation")
    page.get_by_role("link", name="Aider cette famille").first.click()
    page.screenshot(path=IMG / "staff-mediation-family.png", full_page=True)


def inbox(page: Page, url: str, email: str, password: str) -> None:
    """The inbox with the demo parent's answer to the demo notice (`bot.demo`), then that
    conversation: the notice as the parent read it, the history, the reply form."""
    _sign_in(page, url, email, password)
    page.goto(f"{url}/staff/messages")
    page.screenshot(path=IMG / "inbox-list.png")
    page.locator('a[href^="/staff/messages/"]').first.click()
    page.get_by_test_id("answered-notice").wait_for()
    page.screenshot(path=IMG / "inbox-conversation.png", full_page=True)


STEPS = ("parent", "waiting", "staff", "notices", "accounts", "inbox")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", choices=STEPS, action="append", help="these steps only")
    args = parser.parse_args()
    steps = args.only or STEPS
    IMG.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for name, step in (("parent", parent), ("waiting", waiting)):
            if name in steps:
                context = browser.new_context(viewport=PHONE, locale="fr-FR")
                step(context.new_page(), args.url)
                context.close()
        staff_steps = (
            ("staff", staff),
            ("notices", notices),
            ("accounts", accounts),
            ("inbox", inbox),
        )
        for name, staff_step in staff_steps:
            if name in steps:
                context = browser.new_context(viewport=PHONE, locale="fr-FR")
                staff_step(context.new_page(), args.url, args.email, args.password)
                context.close()
        browser.close()
    print(f"screenshots in {IMG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
