"""Primary keys made by the app: sortable, unique, and known before anything reaches D1.

A key D1 has to hand back forces a request in the middle of a transaction; a key the
app makes lets every write of an interaction travel in one batch. These are ULIDs:
48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters),
so they sort by creation time.
"""

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))
