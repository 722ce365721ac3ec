"""Pseudonymise personal identifiers on the way in.

``child_id`` and ``worker_id`` become a keyed HMAC-SHA256 of their value, so
the same person gets the same pseudonym in every month and file, and nobody
without the key can go back (nor test a guess).  Dates of birth are coarsened
to the first of their month.  Which columns are touched comes from the
contract (``identifier: true``, ``coarsen: month``), never from a list here.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from etl.contracts import Contract
from etl.settings import MIN_KEY_BYTES

#: Length of a pseudonym in hex characters (128 bits: no collisions in practice).
PSEUDONYM_CHARS = 32


def pseudonym(key: bytes, value: str) -> str:
    """The pseudonym of one identifier (whitespace-trimmed, case kept)."""
    # hmac.digest: OpenSSL's one-shot HMAC, the same value as hmac.new(...)
    # without building an object per identifier.
    return hmac.digest(key, value.strip().encode("utf-8"), "sha256").hex()[:PSEUDONYM_CHARS]


def pseudonyms(key: bytes, values: Iterable[str]) -> list[str]:
    """The pseudonyms of many identifiers: :func:`pseudonym` of each, in order."""
    # The same HMAC as pseudonym(), inlined: at a million identifiers the
    # function call per value costs as much as the hashing.
    digest = hmac.digest
    return [
        digest(key, value.strip().encode("utf-8"), "sha256").hex()[:PSEUDONYM_CHARS]
        for value in values
    ]


def pseudonymise(frame: pd.DataFrame, contract: Contract, key: bytes) -> pd.DataFrame:
    """A copy of ``frame`` with identifiers hashed and dates of birth coarsened."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes")
    out = frame.copy(deep=False)  # columns are replaced, never changed in place
    for column in contract.columns.values():
        if column.name not in out.columns:
            continue
        if column.identifier:
            out[column.name] = _hashed(out[column.name], key)
        if column.coarsen == "month":
            months = out[column.name].dt.to_period("M").dt.to_timestamp()
            out[column.name] = months.astype("datetime64[s]")
    return out


def _hashed(values: pd.Series, key: bytes) -> pd.Series:
    """``values`` with each identifier replaced by its pseudonym (blanks stay blank)."""
    # Hash each distinct value once (a child appears in many rows), then
    # spread the pseudonyms back by position: no per-row dictionary look-up.
    codes, distinct = pd.factorize(values)
    hashed = pd.array(pseudonyms(key, (str(v) for v in distinct)), dtype="str")
    return pd.Series(hashed.take(codes, allow_fill=True), index=values.index, name=values.name)


def ensure_demo_key(path: Path) -> str:
    """Read the demo's key from ``path``, creating it once (mode 600) if absent."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(key + "\n", encoding="ascii")
    return key
