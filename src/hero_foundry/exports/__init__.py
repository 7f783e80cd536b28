"""Character exports and imports.

* ``json``: the versioned ``hero-foundry/character`` document (:mod:`.schema`), which
  ``POST /api/characters/import`` reads back, validating every choice with the rules again;
* ``pdf``: a one- or two-page character sheet drawn with reportlab (:mod:`.pdf`);
* ``foundry``: an actor for Foundry VTT's dnd5e system (:mod:`.foundry`).

The format reference is ``docs/exports.md``.
"""
