"""Channels speak to the outside: each one authenticates and decodes inbound messages, hands
them to the conversation core, and renders the core's channel-neutral replies its own way.

`base.Channel` is the contract; one module a channel (`web.py` now; SMS and Telegram next).
Channels may import `bot` and `liaison.{settings,i18n,errors}`; the core never imports them.
"""
