"""Widgets: they show state and emit intents (signals); controllers act on them."""
