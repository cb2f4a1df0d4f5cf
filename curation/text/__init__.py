"""Text constants and hashing helpers shared by the stages that split text into words."""

from curation.text.words import MIX, NO_SPACE_MINHASH, NO_SPACE_QUALITY, PUNCTUATION, splitmix

__all__ = ["MIX", "NO_SPACE_MINHASH", "NO_SPACE_QUALITY", "PUNCTUATION", "splitmix"]
