"""Controllers: each turns widgets' intents into session changes and tasks; handed the session, never the window's other controllers."""
