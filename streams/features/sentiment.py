"""VADER sentiment for inbound text: one analyzer per process, compound score in [-1, 1].

VADER (Hutto & Gilbert, 2014) is a lexicon and rule-based scorer tuned for social media text;
its lexicon ships inside the `vaderSentiment` package, so nothing is downloaded at run time.
The compound score is VADER's normalised sum of the valences: <= -0.05 is conventionally
negative, >= 0.05 positive.
"""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's cost grows with text length (it walks every token), and an email body can carry pages
# of quoted history. The opening of a message carries its tone, so longer texts are scored on
# their first MAX_CHARS characters; this bounds the per-event cost of the stream.
MAX_CHARS = 5000

_analyzer: SentimentIntensityAnalyzer | None = None


def analyzer() -> SentimentIntensityAnalyzer:
    """The process-wide analyzer (built on first use; loading the lexicon takes ~10 ms)."""
    global _analyzer
    if _analyzer is None:
        _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def compound(text: str) -> float:
    """VADER's compound score of `text`, in [-1, 1]; 0.0 for text without sentiment words.

    Texts longer than `MAX_CHARS` are scored on their first `MAX_CHARS` characters.
    """
    return float(analyzer().polarity_scores(text[:MAX_CHARS])["compound"])


def has_text(text: str | None) -> bool:
    """True when `text` has something to score (not None, empty or only whitespace)."""
    return bool(text) and not text.isspace()  # type: ignore[union-attr]
