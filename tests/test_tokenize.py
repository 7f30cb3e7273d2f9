"""The lexical tokenizer: Bengali words stay whole, invisible joiners and digit scripts fold,
CJK gets bigrams, and the light Bengali stemmer removes endings without eating stems.

Mutations checked to fail here: dropping the marks from the word pattern (vowel signs split
words), removing ZWJ/ZWNJ stripping, skipping the digit folding, dropping the vowel condition
on the genitive ending র (সরকার -> সরকা), emitting CJK runs whole."""

from __future__ import annotations

import unicodedata

import pytest

from recommender.index.tokenize import normalize, stem_bengali, tokens


def test_vowel_signs_and_conjuncts_stay_inside_the_word() -> None:
    # প্রধানমন্ত্রী: ra-phala, two conjuncts (ন্ত্র) and vowel signs ি ী; শিক্ষার্থী: ক্ষ and reph
    assert tokens("প্রধানমন্ত্রী শিক্ষার্থীদের সঙ্গে কথা বলেন।") == [
        "প্রধানমন্ত্রী",
        "শিক্ষার্থীদের",
        "সঙ্গে",
        "কথা",
        "বলেন",
    ]


def test_danda_and_punctuation_end_words() -> None:
    assert tokens("ঢাকা।চট্টগ্রাম, সিলেট—খুলনা") == ["ঢাকা", "চট্টগ্রাম", "সিলেট", "খুলনা"]


def test_zero_width_joiners_do_not_make_another_word() -> None:
    plain = "র‍্যাব"  # RAB as commonly typed, with ZWJ after ra
    assert tokens(plain) == tokens("র্যাব")
    assert tokens("উত্\u200dসব") == tokens("উৎসব") == ["উৎসব"]  # old khanda-ta spelling
    assert tokens("সংবাদ\u200cপত্র") == ["সংবাদপত্র"]


def test_nukta_letters_match_in_either_encoding() -> None:
    composed, decomposed = "\u09df", "\u09af\u09bc"  # য় as one code point and as য + nukta
    assert tokens(f"ঢাকা{composed}") == tokens(f"ঢাকা{decomposed}")


def test_bengali_and_ascii_digits_are_one_token() -> None:
    assert tokens("২০২৫ সালের") == tokens("2025 সালের")
    assert tokens("২০২৫")[0] == "2025"


def test_latin_is_casefolded_and_width_folded() -> None:
    assert tokens("ＢＮＰ Chief Straße café") == ["bnp", "chief", "strasse", "café"]


def test_cjk_runs_become_bigrams() -> None:
    assert tokens("東京都") == ["東京", "京都"]
    assert tokens("日") == ["日"]
    assert tokens("北京2025年") == ["北京", "2025", "年"]


def test_normalize_is_nfc_without_invisibles() -> None:
    text = normalize("A\u00adB\u200bC ১২")
    assert text == "abc 12"
    assert unicodedata.is_normalized("NFC", normalize("কো"))


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("বাংলাদেশের", "বাংলাদেশ"),  # genitive ের
        ("প্রধানমন্ত্রীর", "প্রধানমন্ত্রী"),  # genitive র after a vowel sign
        ("ঢাকায়", "ঢাকা"),  # locative য় after আ-kar
        ("শিক্ষার্থীদের", "শিক্ষার্থী"),  # plural genitive
        ("হাসিনাকে", "হাসিনা"),  # objective কে
        ("নেতারা", "নেতা"),  # plural রা
        ("ভারতে", "ভারত"),  # locative ে after a consonant
        ("সরকার", "সরকার"),  # র is part of the stem: kept
        ("সরকারের", "সরকার"),
        ("কমিটি", "কমিটি"),  # classifier-like ending, part of the word
        ("কর", "কর"),  # too short to strip
        ("hello", "hello"),
    ],
)
def test_light_bengali_stemming(word: str, stem: str) -> None:
    assert stem_bengali(word) == stem


def test_stemming_is_off_by_default() -> None:
    assert tokens("বাংলাদেশের") == ["বাংলাদেশের"]
    assert tokens("বাংলাদেশের", stem=True) == ["বাংলাদেশ"]
