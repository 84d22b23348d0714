"""The fake Bot API lives in bot/fake_telegram.py (the benchmark uses it too)."""

from bot.fake_telegram import BOT_USER, Call, FakeTelegram, Message, buttons

__all__ = ["BOT_USER", "Call", "FakeTelegram", "Message", "buttons"]
