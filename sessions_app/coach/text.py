"""Small text helpers the coach shares: clipping, item lists and fuzzy matching.

Members write in English and Japanese, with full-width characters, bullets and typos,
so matching "done: login page" to the task "Build the login page" must be forgiving.
"""

import re
import unicodedata

ELLIPSIS = "…"
_ITEM_SEPARATORS = re.compile(r"\s*(?:[;；、,，\n]|\s+・\s*)\s*")
_PUNCTUATION = re.compile(r"[\"'`“”‘’「」『』()（）\[\]【】.。!！?？:：*_~#]+")
_SPACES = re.compile(r"\s+")


def clip(text: str, limit: int) -> str:
    """Shorten text to at most limit characters, cutting at a word boundary with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;、。") + ELLIPSIS


def one_line(text: str) -> str:
    """Collapse whitespace, newlines included, into single spaces."""
    return _SPACES.sub(" ", text).strip()


def split_items(text: str) -> list[str]:
    """Split "a; b, c" or "a、b" into items, dropping empty ones and bullets."""
    items = (item.strip().lstrip("-*•・ ").strip() for item in _ITEM_SEPARATORS.split(text))
    return [item for item in items if item]


def normalise(text: str) -> str:
    """Fold case, width and punctuation so near-identical phrases compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def similarity(a: str, b: str) -> float:
    """How alike two short phrases are, from 0.0 to 1.0 (bigram overlap, with containment)."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    shorter, longer = sorted((na, nb), key=len)
    if len(shorter) >= 3 and shorter in longer:
        whole_words = " " in shorter and f" {shorter} " in f" {longer} "
        if whole_words or len(shorter) / len(longer) >= 0.4:
            return 0.9
    return _dice(_bigrams(na), _bigrams(nb))


def similar(a: str, b: str, threshold: float = 0.6) -> bool:
    """True when a and b name the same thing, e.g. "API key" and "waiting for the api key"."""
    return similarity(a, b) >= threshold


def _bigrams(text: str) -> set[str]:
    compact = text.replace(" ", "")
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or {compact}


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b))
