"""The conversation engine: it understands and decides.

Per inbound message: keywords (STOP, START, HELP…) -> language -> NLU -> dialogue -> actions ->
channel-neutral replies. `bot/` also holds the Rasa-format project the engines train from
(`domain.yml`, `data/nlu/<lang>.yml`, `data/rules.yml`, held-out `data/tests/`).

May import `liaison.settings`, `liaison.models`, `liaison.i18n` and `liaison.errors`; never the
app, the CLI or a channel.
"""
