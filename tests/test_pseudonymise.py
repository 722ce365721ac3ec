"""Identifiers are pseudonymised with a keyed hash; dates of birth coarsened."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest

from etl.contracts import load_contract
from etl.errors import ConfigError
from etl.pseudonymise import ensure_demo_key, pseudonym, pseudonymise
from etl.settings import load_settings

KEY = b"k" * 32


def _frame(ids: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": pd.Series(ids, dtype="str"),
            "date_of_birth": pd.Series(
                pd.to_datetime(["2016-02-29", None, "2010-12-31"][: len(ids)])
            ).astype("datetime64[s]"),
        }
    )


def test_pseudonym_is_hmac_sha256_of_the_value() -> None:
    expected = hmac.new(KEY, b"CH123", hashlib.sha256).hexdigest()[:32]
    assert pseudonym(KEY, "CH123") == expected
    assert pseudonym(KEY, " CH123 ") == expected  # surrounding spaces are not identity


def test_same_person_same_pseudonym_different_key_different() -> None:
    out = pseudonymise(_frame(["A", "A", "B"]), load_contract("referrals"), KEY)
    ids = out["child_id"].tolist()
    assert ids[0] == ids[1] != ids[2]
    other = pseudonymise(_frame(["A"]), load_contract("referrals"), b"x" * 32)
    assert other["child_id"].iloc[0] != ids[0]
    assert "A" not in ids and all(len(i) == 32 for i in ids)


def test_blank_stays_blank_and_dob_is_coarsened_to_the_month() -> None:
    out = pseudonymise(_frame(["A", None, "B"]), load_contract("referrals"), KEY)
    assert pd.isna(out["child_id"].iloc[1])
    assert out["date_of_birth"].tolist()[0] == pd.Timestamp("2016-02-01")
    assert pd.isna(out["date_of_birth"].iloc[1])
    assert out["date_of_birth"].tolist()[2] == pd.Timestamp("2010-12-01")


def test_input_frame_is_not_changed() -> None:
    frame = _frame(["A", "B", None])
    pseudonymise(frame, load_contract("referrals"), KEY)
    assert frame["child_id"].tolist()[:2] == ["A", "B"]


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        pseudonymise(_frame(["A"]), load_contract("referrals"), b"short")


def test_missing_key_outside_the_demo_is_a_configuration_error() -> None:
    settings = load_settings({"CSC_VAR_DIR": "var"})
    with pytest.raises(ConfigError, match="CSC_PSEUDONYM_KEY"):
        settings.require_pseudonym_key()


def test_demo_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "pseudonym.key"
    first = ensure_demo_key(path)
    assert ensure_demo_key(path) == first and len(bytes.fromhex(first)) == 32
    assert path.stat().st_mode & 0o077 == 0


def test_the_vectorised_pseudonyms_are_the_one_by_one_pseudonyms() -> None:
    """Hashing each distinct value once and spreading it back gives every row the
    pseudonym :func:`pseudonym` gives its own value, blanks blank, order kept."""
    ids = [f"CH{i % 37}" if i % 11 else None for i in range(500)] + [" CH1", "CH1 ", "ch1"]
    frame = pd.DataFrame({"child_id": pd.Series(ids, dtype="str")})
    out = pseudonymise(frame, load_contract("referrals"), KEY)["child_id"]
    expected = [None if v is None else pseudonym(KEY, v) for v in ids]
    assert [None if pd.isna(v) else v for v in out] == expected
    assert out.dtype == "str"
