"""Words for the lexical signal and the copy test, in any script, Bengali first.

`tokens(text)` is what the lexical index and the copy signatures see:
- Unicode NFKC (full-width Latin and ligatures folded; Bengali itself is only composed), casefold;
- zero-width joiners and other invisible format characters removed (ZWJ/ZWNJ only steer the shape
  of a conjunct, they do not make another word), after the old "ta + virama + ZWJ" spelling of
  khanda ta has been mapped to ৎ;
- Bengali, Devanagari and other digits read as ASCII digits (২০২৫ and 2025 are the same token);
- a word is a run of letters, combining marks and digits, so Bengali vowel signs (া ি ী ু ...),
  the virama of conjuncts (ক্ষ, ন্ত্র) and nukta stay inside their word, while the danda (।)
  and other punctuation end it;
- Han and kana carry no spaces: each run becomes overlapping character bigrams (as Lucene's CJK
  analyzer does), a single character standing alone;
- optionally (`stem=True`), the commonest Bengali inflections (case endings ের/র/কে/তে/য়,
  plural গুলো/দের/রা, classifiers টি/টা) are stripped when a stem of at least two letters remains.

Pure standard library: the serving path may call it (scoring two texts) without any extra.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Invisible format characters that only affect rendering: ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Decimal digits of the scripts in the Basic Multilingual Plane (Bengali ০-৯ at U+09E6, Devanagari,
# Arabic-Indic, Thai, ...): the code point of each script's zero; its digits follow in order.
_DIGIT_ZEROS = (
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
)  # fmt: skip
_DIGITS = {zero + d: str(d) for zero in _DIGIT_ZEROS for d in range(10)}
_DIGIT = re.compile("[" + "".join(f"{chr(z)}-{chr(z + 9)}" for z in _DIGIT_ZEROS) + "]")
_KHANDA_TA_OLD = "\u09a4\u09cd\u200d"  # ta + virama + ZWJ, the pre-Unicode-4.1 spelling of ৎ

# Letters, digits and combining marks. Python's \w stops at combining marks (Bengali vowel signs
# are Mc/Mn), so the marks of the scripts we meet are listed; the danda (U+0964/5) is punctuation.
_MARKS = (
    "\u0300-\u036f"  # combining diacritics (Latin, Greek, Cyrillic)
    "\u0483-\u0489"  # Cyrillic
    "\u0591-\u05c7"  # Hebrew points
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"  # Arabic
    "\u0900-\u0963\u0966-\u0dff"  # Devanagari .. Sinhala (Bengali is 0980-09FF), danda excluded
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}])*")  # a mark never starts a word
_CJK = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+"
)  # kana and Han (Hangul is written with spaces and stays word-based)

# Bengali inflectional endings (NFC form), longest first, with what the stem must end in:
# "" anything, "V" a vowel (ঢাকা-য়, নেতা-রা, বাড়ি-তে), "I" a vowel other than া (বিএনপি-র:
# সরকার must not lose its র, so হাসিনার stays whole), "C" a consonant (ভারত-ে). Classifiers
# (টি, টা) are left alone because too many words end in them (কমিটি, পার্টি).
_BN_SUFFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        (
            ("গুলোর", ""),
            ("গুলোতে", ""),
            ("গুলোকে", ""),
            ("গুলো", ""),
            ("গুলির", ""),
            ("দেরকে", ""),
            ("দের", ""),
            ("েরা", ""),
            ("েরও", ""),
            ("েরই", ""),
            ("ের", ""),
            ("কেও", ""),
            ("কে", ""),
            ("রা", "V"),
            ("র", "I"),
            ("তে", "V"),
            ("য়ে", "V"),
            ("য়", "V"),
            ("ে", "C"),
        ),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
)
_SUFFIX_AFTER = dict(_BN_SUFFIXES)
_SUFFIX_LENGTHS = sorted({len(suffix) for suffix, _ in _BN_SUFFIXES}, reverse=True)
_BN_VOWEL = re.compile("[\u0985-\u0994\u09be-\u09cc\u09d7]$")
_BN_VOWEL_NOT_AA = re.compile("[\u0985-\u0994\u09bf-\u09cc\u09d7]$")
_BN_CONSONANT = re.compile("[\u0995-\u09b9\u09ce\u09dc-\u09df]\u09bc?$")
_BN_LETTER = re.compile("[\u0985-\u09b9\u09ce\u09dc-\u09df]")
_BENGALI = re.compile("[\u0980-\u09ff]")


def normalize(text: str) -> str:
    """NFKC, casefolded, invisible joiners removed, every decimal digit read as ASCII."""
    text = unicodedata.normalize("NFKC", text.replace(_KHANDA_TA_OLD, "\u09ce")).casefold()
    text = _INVISIBLE.sub("", text)
    text = _DIGIT.sub(lambda m: _DIGITS[ord(m.group())], text)
    # Removing a joiner can leave a sequence that composes (rare): recompose only then.
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1 << 18)
def stem_bengali(word: str) -> str:
    """The word without its commonest inflectional ending, when at least two letters remain."""
    if not _BENGALI.match(word):
        return word
    for length in _SUFFIX_LENGTHS:
        after = _SUFFIX_AFTER.get(word[-length:])
        if after is None or len(word) <= length:
            continue
        stem = word[:-length]
        if len(_BN_LETTER.findall(stem)) < 2 or stem.endswith("\u09cd"):
            continue
        if after == "V" and not _BN_VOWEL.search(stem):
            continue
        if after == "I" and not _BN_VOWEL_NOT_AA.search(stem):
            continue
        if after == "C" and not _BN_CONSONANT.search(stem):
            continue
        return stem
    return word


def _split(word: str) -> Iterator[str]:
    """A word as is, or its Han/kana runs as character bigrams."""
    if not _CJK.search(word):
        yield word
        return
    position = 0
    for run in _CJK.finditer(word):
        if run.start() > position:
            yield word[position : run.start()]
        chars = run.group()
        if len(chars) == 1:
            yield chars
        else:
            yield from (chars[i : i + 2] for i in range(len(chars) - 1))
        position = run.end()
    if position < len(word):
        yield word[position:]


def tokens(text: str, stem: bool = False) -> list[str]:
    """The words of `text` as the lexical index sees them (see the module docstring)."""
    text = normalize(text)
    words = _WORD.findall(text)
    if _CJK.search(text):
        words = [part for word in words for part in _split(word)]
    return [stem_bengali(w) for w in words] if stem else words
