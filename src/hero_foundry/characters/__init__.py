"""Characters: the server-side creation wizard (drafts) and the stored characters."""
