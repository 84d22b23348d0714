"""Trust & CX coach: a Telegram bot that coaches small businesses on customer trust and CX."""
