"""Pure D&D 5e rules over SRD data: no I/O, no web framework, no SQL.

Plain data in (a :class:`~hero_foundry.rules.creation.CreationState` and the read-only SRD
catalogue), plain data out (choices, problems, a derived character sheet).
"""
