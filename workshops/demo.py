"""Demo workshops for `make run`, dated from today so that they are always upcoming: three in
mainland France (one online) and one in Guadeloupe, in several languages."""

from __future__ import annotations

from datetime import date, timedelta

from workshops.records import Workshop, build


def _next(today: date, weekday: int, weeks: int = 0) -> date:
    days = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=days + 7 * weeks)


def demo_workshops(today: date) -> list[Workshop]:
    wednesday, saturday = _next(today, 2), _next(today, 5)
    tuesday = _next(today, 1, weeks=1)
    rows = [
        {
            "ref": "demo-pronote",
            "title": "Pronote pas à pas",
            "starts_at": f"{wednesday} 14:00",
            "ends_at": f"{wednesday} 15:30",
            "capacity": "12",
            "topics": "Pronote;ENT",
            "languages": "fr;ar",
            "venue_name": "Collège Jean Moulin, salle informatique",
            "venue_address": "12 rue des Écoles, 93200 Saint-Denis",
            "description": "Voir les notes, les devoirs et les absences sur Pronote.",
            "accessibility": "Salle au rez-de-chaussée, accessible en fauteuil.",
            "childcare": "Un coin jeux pour les petits frères et sœurs.",
            "organiser": "Collège Jean Moulin",
            "territory": "Saint-Denis",
        },
        {
            "ref": "demo-educonnect",
            "title": "Créer son compte ÉduConnect",
            "starts_at": f"{saturday} 10:00",
            "ends_at": f"{saturday} 11:30",
            "capacity": "10",
            "topics": "ÉduConnect",
            "languages": "fr;tr",
            "venue_name": "Médiathèque Gulliver",
            "venue_address": "4 place de la Mairie, 93200 Saint-Denis",
            "description": "Venez avec votre téléphone : on active le compte ensemble.",
            "organiser": "Médiathèque Gulliver",
            "territory": "Saint-Denis",
        },
        {
            "ref": "demo-ent-online",
            "title": "L'ENT en ligne, depuis chez vous",
            "starts_at": f"{tuesday} 18:00",
            "ends_at": f"{tuesday} 19:00",
            "capacity": "20",
            "topics": "ENT",
            "languages": "fr;pt;es",
            "online_url": "https://visio.example.fr/atelier-ent",
            "description": "Un atelier en visio : messagerie, cahier de textes, agenda.",
            "organiser": "Réseau parents 93",
            "territory": "Seine-Saint-Denis",
        },
        {
            "ref": "demo-guadeloupe",
            "title": "Pronote pour les parents",
            "starts_at": f"{wednesday} 15:00",
            "ends_at": f"{wednesday} 16:30",
            "timezone": "America/Guadeloupe",
            "capacity": "15",
            "topics": "Pronote",
            "languages": "fr",
            "venue_name": "Collège Courbaril",
            "venue_address": "Rue Schœlcher, 97110 Pointe-à-Pitre",
            "organiser": "Collège Courbaril",
            "territory": "Guadeloupe",
        },
    ]
    return [build({**row, "status": "published"}) for row in rows]
