"""The Telegram adapter: callback-data codec, thin handlers, the Application's composition root."""
