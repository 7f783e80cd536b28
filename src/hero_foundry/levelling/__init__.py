"""Level-up sessions: one level at a time, as a server-side session with its own choices."""
