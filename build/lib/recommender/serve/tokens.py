"""The write token as `recommender serve` reads it (no serving stack imported: the CLI uses this)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidSetting

MIN_TOKEN_CHARS = 16


def read_token_file(path: Path) -> str:
    """The token in a file (its first line, stripped); InvalidSetting when unreadable or short."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSetting(f"--token-file {path}: cannot read it ({type(exc).__name__})") from None
    return check_token(text.strip().splitlines()[0] if text.strip() else "", f"--token-file {path}")


def check_token(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise InvalidSetting(f"{where}: a token needs at least {MIN_TOKEN_CHARS} characters and no spaces")
    return token
