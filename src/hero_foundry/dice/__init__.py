"""Dice the server rolls: stored once per draft and once per character level, signed in exports.

``models.py`` the ``dice_rolls`` table, ``signing.py`` the HMAC signatures and their key,
``service.py`` rolling once (enforced by the database) and what a character's rolls prove.
See docs/security.md ("Dice").
"""
