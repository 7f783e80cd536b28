"""Accounts: registration, login with opaque bearer tokens, logout, the current user."""
