"""Screenshots for the docs, taken from a running `make run` (demo data) in Debian's Chromium.

    .venv/bin/liaison staff create --email camille@example.org --role admin
    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8000 \\
        --email camille@example.org --password '…' [--only workshops]

Each shot is a phone-sized page (390×844) written to docs/img/. The parent's steps enrol in
the demo workshops, so run it on demo data, not on a school's real server.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    IMG.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for step in (parent, waiting):
            context = browser.new_context(viewport=PHONE, locale="fr-FR")
            step(context.new_page(), args.url)
            context.close()
        context = browser.new_context(viewport=PHONE, locale="fr-FR")
        staff(context.new_page(), args.url, args.email, args.password)
        context.close()
        browser.close()
    print(f"screenshots in {IMG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
