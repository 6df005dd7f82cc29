"""Broadcasts: school notices to families, in their language, on their channel.

| module        | its job                                                                    |
|---------------|----------------------------------------------------------------------------|
| `records`     | a notice as stored (`broadcast` row): create, update, load, list            |
| `audience`    | who a notice goes to, resolved in SQL: one row per family                   |
| `templates`   | ready notices with placeholders, whose words are in the gettext catalogs    |
| `preview`     | the text as each language and channel will receive it, segments, counts     |
| `sending`     | send now or schedule; the periodic job that queues the messages             |
| `figures`     | progress and delivery figures per language and channel, and their CSV       |
| `replies`     | which notice a parent answers; the notice as they read it, for the inbox   |
| `demo`        | the `make run` demo's notice, sent the day before to the demo schools       |

May import `liaison`, `channels`, `workshops.quiet_hours` and (the demo only) `schools.demo`;
nothing here imports `staff` (the pages in `staff/broadcast_pages.py` import this package).
"""
