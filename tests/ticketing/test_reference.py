from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketing.reference import (
    InvalidReference,
    buddhist_year_prefix,
    format_reference,
    is_valid_reference,
    normalize_reference,
)

SAMPLES = [format_reference(69, n) for n in (1, 42, 999_999, 1_234_567)]


def test_format_is_year_sequence_and_check_digit() -> None:
    reference = format_reference(69, 42)
    assert reference[:2] == "69"
    assert reference[2:8] == "000042"
    assert len(reference) == 9
    assert is_valid_reference(reference)


def test_sequence_grows_past_six_digits() -> None:
    assert len(format_reference(69, 1_234_567)) == 10


@pytest.mark.parametrize("reference", SAMPLES)
def test_every_single_digit_error_is_caught(reference: str) -> None:
    for position, original in enumerate(reference):
        for digit in "0123456789":
            if digit != original:
                typo = reference[:position] + digit + reference[position + 1 :]
                assert not is_valid_reference(typo), typo


@pytest.mark.parametrize("reference", SAMPLES)
def test_every_adjacent_transposition_is_caught(reference: str) -> None:
    for i in range(len(reference) - 1):
        swapped = reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]
        if swapped != reference:
            assert not is_valid_reference(swapped), swapped


def test_spaces_and_dashes_are_ignored() -> None:
    reference = SAMPLES[1]
    assert normalize_reference(f"{reference[:3]} {reference[3:6]}-{reference[6:]}") == reference


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("69000042x", "a reference is digits only, got '69000042x'"),
        ("1234", "a reference has at least 9 digits, got 4"),
        ("๖๙๐๐๐๐๔๒๑", "a reference is digits only, got '๖๙๐๐๐๐๔๒๑'"),
    ],
)
def test_broken_input_has_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as error:
        normalize_reference(text)
    assert str(error.value) == message


def test_wrong_check_digit_message() -> None:
    good = SAMPLES[0]
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidReference, match=f"check digit does not match in {bad}"):
        normalize_reference(bad)


def test_bad_parts_are_refused() -> None:
    with pytest.raises(ValueError):
        format_reference(100, 1)
    with pytest.raises(ValueError):
        format_reference(69, 0)


def test_buddhist_year_is_counted_on_bangkok_time() -> None:
    """00:30 on 1 January 2027 in Bangkok is BE 2570, though it is still 2026 in UTC."""
    new_year_in_bangkok = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert buddhist_year_prefix(new_year_in_bangkok) == 70
    assert format_reference(buddhist_year_prefix(new_year_in_bangkok), 1).startswith("70")
    assert buddhist_year_prefix(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)) == 69
    # SQLite hands back naive datetimes, stored as UTC.
    assert buddhist_year_prefix(datetime(2026, 12, 31, 17, 30)) == 70
