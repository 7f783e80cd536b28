"""Fault drills: injected errors, latency, a failing AI provider and a slow wizard clock, read
from a JSON file while the service runs, so that alerts can be proven end to end (docs/drills.md).

Off unless ``HERO_FOUNDRY_DRILLS_ENABLED=true``, and refused in production. The app's code calls
the hooks below; they answer "no drill" at the cost of one context-variable lookup when drills
are off.
"""

from hero_foundry.drills.inject import ai_failing, level_up_clock_offset, wizard_clock_offset

__all__ = ["ai_failing", "level_up_clock_offset", "wizard_clock_offset"]
