"""How long a sign-in must wait after wrong passwords (pure; the counters live in Redis).

Brute force is stopped per email *and* source address: a few free tries, then waits that double
with every further wrong password (1, 2, 4, 8 minutes … up to a day's memory). A stranger guessing
from their own address therefore only slows themselves. Across every address the account has a much
higher limit, and past it the account is slowed (one password check every few seconds, growing to a
minute), never locked; a browser trusted at two-step sign-in is not slowed at all.
"""

from __future__ import annotations

ADDRESS_MEMORY_SECONDS = 24 * 3600  # how long wrong passwords from one address count
FIRST_ADDRESS_WAIT = 60
ACCOUNT_SLOW_AFTER = 20  # wrong passwords on one account, from anywhere, within the window
FIRST_ACCOUNT_PACE = 5
MAX_ACCOUNT_PACE = 60
ACCOUNT_PACE_DOUBLES_EVERY = 10


def address_wait(failures: int, *, free: int, longest: int = ADDRESS_MEMORY_SECONDS) -> int:
    """Seconds this address must wait before trying this email again after ``failures`` wrong
    passwords: none below ``free``, 1 minute at ``free``, doubling with each further one."""
    if failures < free:
        return 0
    return min(FIRST_ADDRESS_WAIT * 2 ** min(failures - free, 20), longest)


def account_pace(failures: int, *, slow_after: int = ACCOUNT_SLOW_AFTER) -> int:
    """Seconds between password checks on an account that had ``failures`` wrong passwords from all
    addresses: none below ``slow_after``, then 5 seconds, doubling every 10 more, at most a minute."""
    if failures < slow_after:
        return 0
    doublings = min((failures - slow_after) // ACCOUNT_PACE_DOUBLES_EVERY, 10)
    return min(FIRST_ACCOUNT_PACE * 2**doublings, MAX_ACCOUNT_PACE)


def wait_text(seconds: int) -> str:
    """'45 seconds', '1 minute', '8 minutes', '2 hours' (rounded up, never '0')."""
    seconds = max(int(seconds), 1)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    return f"{hours} hours"
