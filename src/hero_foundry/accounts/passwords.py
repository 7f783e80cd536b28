"""What a new password must be (NIST SP 800-63B, section 5.1.1.2), checked at registration.

- at least :data:`MIN_LENGTH` characters and at most :data:`MAX_LENGTH` (room for passphrases;
  the bound keeps hashing cheap to refuse), any characters, spaces included;
- not whitespace only;
- not a commonly used or breached password: the 30,000 most common passwords of the leaked
  password corpora zxcvbn ships (the ``passwords`` frequency list of the ``zxcvbn`` package, from
  Mark Burnett's and xato's public lists), compared without case and surrounding whitespace;
- not the account's own e-mail address or its local part.

No composition rules (a digit, a symbol...) and no expiry: NIST advises against both. Each refusal
says why, so the person can choose another password.
"""

from __future__ import annotations

from functools import cache

MIN_LENGTH = 8
MAX_LENGTH = 128


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list (loaded once, on first use)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def problem(password: str, email: str | None = None) -> str | None:
    """Why ``password`` is refused for a new account (None: it is acceptable). Lengths are
    checked by the request schema; this is everything else."""
    if not password.strip():
        return "The password is only whitespace: choose one with other characters."
    folded = password.strip().lower()
    if folded in common_passwords():
        return (
            "This password is one of the most commonly used (it appears in lists of leaked "
            "passwords that attackers try first): choose another."
        )
    if email:
        address = email.strip().lower()
        if folded in {address, address.partition("@")[0]}:
            return "The password must not be your e-mail address or the part before its @."
    return None
