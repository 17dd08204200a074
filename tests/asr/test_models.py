from __future__ import annotations

import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from asr.model_store import ModelError, check_layout, configured_model, install_model
from config.settings import Settings

LAYOUT = {
    "am/final.mdl": b"mdl",
    "conf/mfcc.conf": b"--sample-frequency=8000\n",
    "conf/model.conf": b"",
    "graph/HCLr.fst": b"x",
    "graph/Gr.fst": b"x",
    "graph/phones/word_boundary.int": b"1 nonword\n",
    "ivector/final.ie": b"x",
    "ivector/final.dubm": b"x",
    "ivector/final.mat": b"x",
    "ivector/global_cmvn.stats": b"x",
    "ivector/splice.conf": b"x",
}


def make_folder(root: Path, files: dict[str, bytes] = LAYOUT) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def make_zip(path: Path, files: dict[str, bytes], prefix: str = "vosk-model-test/") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return path


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_layout_of_a_complete_model_passes(tmp_path: Path) -> None:
    check_layout(make_folder(tmp_path / "m"))


def test_layout_names_every_missing_piece(tmp_path: Path) -> None:
    files = {k: v for k, v in LAYOUT.items() if k not in ("am/final.mdl", "graph/Gr.fst")}
    files.pop("ivector/final.ie")
    with pytest.raises(ModelError) as info:
        check_layout(make_folder(tmp_path / "m", files))
    message = str(info.value)
    assert "missing am/final.mdl" in message
    assert "graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)" in message
    assert "missing ivector/final.ie" in message


def test_a_static_graph_and_no_ivector_is_a_model_too(tmp_path: Path) -> None:
    files = {k: v for k, v in LAYOUT.items() if not k.startswith(("ivector/", "graph/"))}
    files |= {"graph/HCLG.fst": b"x", "graph/phones/word_boundary.int": b"x"}
    check_layout(make_folder(tmp_path / "m", files))


def test_install_from_a_zip_with_a_top_folder_and_checksum(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "model.zip", LAYOUT)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    models = tmp_path / "models"
    target = install_model(str(archive), models, sha256=digest.upper())
    assert target == models / "default"
    assert (target / "am/final.mdl").read_bytes() == b"mdl"
    assert leftovers(models) == ["default"]  # the temporary unpack folder is gone


def test_install_from_a_folder_replaces_the_previous_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_model(str(make_folder(tmp_path / "one")), models, name="th")
    files = dict(LAYOUT) | {"am/final.mdl": b"second"}
    install_model(str(make_folder(tmp_path / "two", files)), models, name="th")
    assert (models / "th/am/final.mdl").read_bytes() == b"second"
    assert leftovers(models) == ["th"]


def test_install_from_a_tar_gz(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in LAYOUT.items():
            info = tarfile.TarInfo("m/" + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    target = install_model(str(archive), tmp_path / "models")
    assert (target / "conf/mfcc.conf").is_file()


def test_checksum_mismatch_installs_nothing(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "model.zip", LAYOUT)
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="checksum mismatch: expected sha256 00"):
        install_model(str(archive), models, sha256="00" * 32)
    assert leftovers(models) == []


def test_a_bad_zip_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "model.zip", LAYOUT)
    data = bytearray(archive.read_bytes())
    data[60:90] = b"\xff" * 30  # damage the first member's bytes, keep the directory
    archive.write_bytes(bytes(data))
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="corrupt"):
        install_model(str(archive), models)
    assert leftovers(models) == []


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "model.zip").write_bytes(b"this is not a zip")
    with pytest.raises(ModelError, match="not a zip or tar archive"):
        install_model(str(tmp_path / "model.zip"), tmp_path / "models")


def test_missing_files_are_named_and_nothing_is_left(tmp_path: Path) -> None:
    files = {k: v for k, v in LAYOUT.items() if k != "conf/mfcc.conf"}
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=r"missing conf/mfcc\.conf"):
        install_model(str(make_zip(tmp_path / "m.zip", files)), models)
    assert leftovers(models) == []


def test_zip_slip_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    files = dict(LAYOUT) | {"../../../evil.txt": b"owned"}
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="points outside the model folder"):
        install_model(str(make_zip(tmp_path / "m.zip", files, prefix="")), models)
    assert not list(tmp_path.rglob("evil.txt"))
    assert leftovers(models) == []


def test_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, the download fails at once (no outside traffic).
    with pytest.raises(ModelError, match=re.escape("cannot download http://127.0.0.1:9/m.zip")):
        install_model("http://127.0.0.1:9/m.zip", tmp_path / "models")


@pytest.mark.parametrize("name", ["", "..", "a/b", ".hidden"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError, match="invalid model name"):
        install_model(str(make_folder(tmp_path / "m")), tmp_path / "models", name=name)


def test_configured_model_prefers_the_setting_then_the_default_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert configured_model(settings) is None
    (tmp_path / "models" / "default").mkdir(parents=True)
    assert configured_model(settings) == tmp_path / "models" / "default"
    assert configured_model(Settings(data_dir=tmp_path, asr_model=tmp_path)) == tmp_path


def test_cli_install_model_reports_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline1567.cli import main

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    archive = make_zip(tmp_path / "m.zip", LAYOUT)
    assert main(["asr", "install-model", str(archive), "--sha256", "ab" * 32]) == 1
    assert main(["asr", "install-model", str(archive), "--name", "th"]) == 0
    assert (tmp_path / "data/models/th/am/final.mdl").is_file()
