"""Text constants and hashing helpers shared by the stages that split text into words (dedup's MinHash
words, quality's Gopher/C4 words): datatrove's punctuation set, the scripts written without spaces, and the
splitmix64 mixing of 64-bit word hashes into n-gram keys.

Two ranges of scripts written without spaces are kept, on purpose: MinHash's (datatrove's, with Tibetan and
CJK Extension B) and the quality signals' (without them). They differ, and each is part of its stage's
output: changing either changes the stored signatures or signals, so unifying them is a behaviour change
for a later, versioned commit, not a move.
"""

import numpy as np

# datatrove's PUNCTUATION set (utils/text.py): ASCII and CJK punctuation plus the C0/C1 control characters
PUNCTUATION = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»" + "".join(
    chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))

# scripts written without spaces between words (one word per character): Thai, Lao, Tibetan, Myanmar, Khmer,
# kana, CJK (with Extension B and the compatibility supplement), as regex character-class ranges
NO_SPACE_MINHASH = ("\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f")
# the quality signals' range: the same without Tibetan and the supplementary CJK planes
NO_SPACE_QUALITY = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
MIX = np.uint64(0x9E3779B97F4A7C15)  # the golden-ratio multiplier that combines a key with the next word
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def splitmix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise over uint64 (wrapping arithmetic)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)
