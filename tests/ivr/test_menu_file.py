"""The deployer-editable menu file: the packaged default loads, a broken file names the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flow.menu import MenuAction, MenuError, load_flow, menu_path
from ivr.prompts.manifest import PromptManifest

DEFAULT = menu_path(None).read_text(encoding="utf-8")


def test_packaged_menu_loads_and_every_prompt_exists(manifest: PromptManifest) -> None:
    flow = load_flow(menu_path(None))
    assert flow.menu == {
        "1": MenuAction.COMPLAINT,
        "2": MenuAction.STATUS,
        "3": MenuAction.INFO,
        "0": MenuAction.OFFICER,
        "*": MenuAction.REPEAT,
    }
    assert flow.max_tries == 3
    assert flow.recording.silence_seconds == 8.0
    assert flow.recording.max_seconds == 300.0
    flow.check_prompts(manifest.ids)


def test_config_dir_copy_wins(tmp_path: Path) -> None:
    (tmp_path / "ivr_menu.toml").write_text(
        DEFAULT.replace("silence_seconds = 8.0", "silence_seconds = 4.5"), encoding="utf-8"
    )
    assert load_flow(menu_path(tmp_path)).recording.silence_seconds == 4.5


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('action = "info"', 'action = "weather"', "[[menu]] #3 (key 3): unknown action 'weather'"),
        ('key = "3"', 'key = "1"', "[[menu]] #3: key '1' is used twice"),
        ('key = "3"', 'key = "12"', "[[menu]] #3 key: expected one key of 0-9 or *, got '12'"),
        ("max_tries = 3", "max_tries = 0", "[limits] max_tries: must be a positive number"),
        ("max_tries = 3", "max_tries = 2.5", "[limits] max_tries: must be a whole number"),
        ("silence_seconds = 8.0", 'silence_seconds = "8"', "[recording] silence_seconds"),
        ("speech_level_dbfs = -40.0", "speech_level_dbfs = 3", "speech_level_dbfs: expected"),
        ("survey = true", "survey = 1", "[recording] survey: must be true or false"),
        ('key = "9"', 'key = "2"', "[repeat_caller] key '2' is already a main-menu key"),
        ('info = ["info"]', "info = []", "[prompts] info: expected a list of prompt ids"),
        ('info = ["info"]', 'infos = ["info"]', "[prompts] infos: unknown step"),
        ('action = "complaint"', 'action = "repeat"', "no key leads to 'complaint'"),
        ("[limits]", "[limits", "not valid TOML"),
    ],
)
def test_broken_menu_names_file_and_entry(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in DEFAULT
    path = tmp_path / "ivr_menu.toml"
    path.write_text(DEFAULT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MenuError) as error:
        load_flow(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_unknown_prompt_id_is_caught_at_start_up(tmp_path: Path, manifest: PromptManifest) -> None:
    path = tmp_path / "ivr_menu.toml"
    path.write_text(DEFAULT.replace('info = ["info"]', 'info = ["infoo"]'), encoding="utf-8")
    flow = load_flow(path)
    with pytest.raises(MenuError, match=r"\[prompts\] info: unknown prompt id 'infoo'"):
        flow.check_prompts(manifest.ids)


def test_missing_menu_file(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="file not found"):
        load_flow(tmp_path / "nope.toml")
