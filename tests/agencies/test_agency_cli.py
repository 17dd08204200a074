"""``hotline1567 user add NAME --role agency --agency CODE`` as an operator runs it."""

from __future__ import annotations

from tests.hotline1567.test_cli import cli, env

__all__ = ["env"]


def test_user_add_agency(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    missing = cli(env, "user", "add", "p", "--role", "agency", stdin="secret-password\n")
    assert missing.returncode == 1 and "--agency CODE" in missing.stderr
    unknown = cli(
        env, "user", "add", "p", "--role", "agency", "--agency", "NOPE", stdin="secret-password\n"
    )
    assert unknown.returncode == 1 and "unknown agency 'NOPE'" in unknown.stderr
    wrong = cli(
        env, "user", "add", "a", "--role", "agent", "--agency", "OCPB", stdin="secret-password\n"
    )
    assert wrong.returncode == 1
    added = cli(
        env,
        "user",
        "add",
        "district5001",
        "--role",
        "agency",
        "--agency",
        "DISTRICT_OFFICE-5001",
        stdin="secret-password\n",
    )
    assert added.returncode == 0, added.stderr
    listing = cli(env, "user", "list").stdout
    assert "district5001\tagency\tactive\tprovinces=all\tagency=DISTRICT_OFFICE-5001" in listing


def test_open311_keys_from_the_cli(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    added = cli(env, "open311", "key", "add", "fixmystreet")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert added.stdout == key + "\n" and key.startswith("o311_")  # the key alone on stdout
    listing = cli(env, "open311", "key", "list").stdout
    assert f"{key[:11]}\tfixmystreet\tactive" in listing and key not in listing
    assert cli(env, "open311", "key", "revoke", key).returncode == 0
    assert "revoked" in cli(env, "open311", "key", "list").stdout
    assert cli(env, "open311", "key", "revoke", key).returncode == 1
