"""Language codes: dataset codes (ISO 639-1 and friends) to mteb's ISO 639-3 + script codes."""

from __future__ import annotations

# dataset code -> (ISO 639-3, ISO 15924 script) as mteb's TaskMetadata expects them.
LANGUAGES: dict[str, tuple[str, str]] = {
    "ar": ("arb", "Arab"),
    "bn": ("ben", "Beng"),
    "cs": ("ces", "Latn"),
    "da": ("dan", "Latn"),
    "de": ("deu", "Latn"),
    "el": ("ell", "Grek"),
    "en": ("eng", "Latn"),
    "es": ("spa", "Latn"),
    "fa": ("fas", "Arab"),
    "fi": ("fin", "Latn"),
    "fil": ("fil", "Latn"),
    "fr": ("fra", "Latn"),
    "he": ("heb", "Hebr"),
    "hi": ("hin", "Deva"),
    "hr": ("hrv", "Latn"),
    "hu": ("hun", "Latn"),
    "id": ("ind", "Latn"),
    "it": ("ita", "Latn"),
    "ja": ("jpn", "Jpan"),
    "ko": ("kor", "Hang"),
    "mi": ("mri", "Latn"),
    "nl": ("nld", "Latn"),
    "no": ("nob", "Latn"),
    "pl": ("pol", "Latn"),
    "pt": ("por", "Latn"),
    "quy": ("quy", "Latn"),  # Ayacucho Quechua (FLORES-200), stand-in for quz
    "quz": ("quz", "Latn"),
    "ro": ("ron", "Latn"),
    "ru": ("rus", "Cyrl"),
    "sv": ("swe", "Latn"),
    "sw": ("swa", "Latn"),
    "te": ("tel", "Telu"),
    "th": ("tha", "Thai"),
    "tr": ("tur", "Latn"),
    "uk": ("ukr", "Cyrl"),
    "vi": ("vie", "Latn"),
    "zh": ("zho", "Hans"),
    "yo": ("yor", "Latn"),
}

_BY_ISO3 = {iso3: code for code, (iso3, _) in LANGUAGES.items()}


def iso3(code: str) -> str:
    """ISO 639-3 code of a dataset language code (``"en"`` -> ``"eng"``)."""
    try:
        return LANGUAGES[code][0]
    except KeyError:
        raise ValueError(
            f"unknown language code {code!r}: expected one of {', '.join(sorted(LANGUAGES))}"
        ) from None


def lang_script(code: str) -> str:
    """mteb language-script code of a dataset language code (``"en"`` -> ``"eng-Latn"``)."""
    iso, script = LANGUAGES[code] if code in LANGUAGES else (None, None)
    if iso is None:
        iso3(code)  # raises the one-line error
    return f"{iso}-{script}"


def from_iso3(code: str) -> str:
    """Dataset language code of an ISO 639-3 code (``"eng"`` -> ``"en"``)."""
    try:
        return _BY_ISO3[code]
    except KeyError:
        raise ValueError(f"unknown ISO 639-3 code {code!r}") from None


def either_code(code: str) -> str:
    """A language given in either form, as the dataset code: ``"deu"`` and ``"de"`` -> ``"de"``.

    Codes that are neither (FLORES variants such as ``"yor_Latn"``) come back unchanged, for the
    caller to accept or reject. Every command-line option that takes languages goes through this
    (or :func:`either_iso3`), so both spellings work everywhere.
    """
    code = code.strip()
    if code in LANGUAGES:
        return code
    return _BY_ISO3.get(code.lower(), code)


def either_iso3(code: str) -> str:
    """A language given in either form, as ISO 639-3: ``"de"`` and ``"deu"`` -> ``"deu"``."""
    code = either_code(code)
    return LANGUAGES[code][0] if code in LANGUAGES else code
