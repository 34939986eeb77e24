"""The marker every file we export carries in its metadata."""

AI_MARKER = "AI-generated speech (CSM-1B)"
