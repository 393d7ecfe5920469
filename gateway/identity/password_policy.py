"""What an operator's password must be: long enough, and not one that attackers try first.

Operators can sell, refund and erase, so their passwords follow NIST SP 800-63B's advice
rather than composition rules: at least 12 characters, at most 128, not the username, and not
in a list of commonly used passwords (the 30,000 most frequent ones in leaked password sets, as
shipped with zxcvbn), compared ignoring case.
"""

import functools

MIN_LENGTH = 12
MAX_LENGTH = 128


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, username: str | None = None) -> str | None:
    """Why `password` is refused, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    folded = password.casefold()
    if username and username.casefold() in folded:
        return "must not contain the username"
    if folded in _common_passwords() or len(set(folded)) < 4:
        return "too common: choose a password that is not in lists of leaked passwords"
    return None
