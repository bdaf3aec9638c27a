"""Where the scenes of a render come from (pure Python, no ``bpy``): procedural ids, scene JSON written
by ``cli.py scenes`` (edited or not), and users' own scene files (.blend .glb .gltf .obj .fbx).

``collect_sources(paths)`` turns the ``--scenes-from`` arguments (files and folders, in the order given;
a folder is walked recursively in name order) into :class:`SceneSource` entries, or raises
:class:`SceneSourceError` naming the file before anything is rendered:

* a folder contributes every scene file in it and every ``scene_*.json`` (the name ``cli.py scenes``
  writes; other JSON such as ``summary.json`` or a ``manifest.json`` is ignored); a JSON file named
  explicitly is always read as a scene description;
* a missing path, an unsupported extension, a folder without scene files, a file that is not what its
  extension says (checked from its first bytes: glTF/FBX/.blend magic, OBJ vertices, scene JSON), an
  ASCII FBX (Blender 5.0 refuses those) and two sources with the same content are errors.

Scene ids. Procedural scenes are ``0..N-1``. A JSON scene or a user file gets the id
:func:`content_scene_id` of its bytes' SHA-256, in ``[FILE_ID_BASE, FILE_ID_BASE + FILE_ID_SPAN)``, so
it never meets a procedural id, does not change when other files are added to the folder, and changes
when the file's content changes (a resumed run with an edited file is then refused by the plan check,
instead of mixing samples of two versions). Only the main file is hashed (not a glTF's ``.bin`` or an
OBJ's ``.mtl`` and textures).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lbd.errors import UsageError
from lbd.files import sha256_file

SCENE_FILE_EXTS = (".blend", ".glb", ".gltf", ".obj", ".fbx")
JSON_EXT = ".json"
FILE_ID_BASE = 1_000_000  # above every procedural id (a plan holds at most 1e6 scenes)
FILE_ID_SPAN = 999_000_000
KINDS = ("procedural", "json", "file", "test")


class SceneSourceError(UsageError, ValueError):
    """A scene source that cannot be rendered; the message names the file (exit code 2)."""


@dataclass(frozen=True)
class SceneSource:
    """One scene of a render: ``kind`` procedural | json | file | test; ``path`` (absolute) and
    ``sha256`` for json and file scenes; ``name`` = the test scene kind for ``test``."""

    scene_id: int
    kind: str
    path: str | None = None
    sha256: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "procedural":
            return f"procedural scene {self.scene_id}"
        if self.kind == "test":
            return f"test scene {self.name}"
        return f"{'scene JSON' if self.kind == 'json' else 'scene file'} {self.path}"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict) -> SceneSource:
        return cls(scene_id=int(d["scene_id"]), kind=str(d["kind"]), path=d.get("path"), sha256=d.get("sha256"),
                   name=d.get("name"))

    def identity(self) -> dict:
        """What must match on resume: id, kind, file name and content hash (not the folder, so a
        moved dataset of scene files still resumes)."""
        d = {"scene_id": self.scene_id, "kind": self.kind}
        if self.path:
            d["file"] = Path(self.path).name
            d["sha256"] = self.sha256
        if self.name:
            d["name"] = self.name
        return d


def content_scene_id(sha256: str) -> int:
    """Stable scene id of a file from its SHA-256 (hex)."""
    return FILE_ID_BASE + int(sha256[:15], 16) % FILE_ID_SPAN


def _check_content(path: Path, ext: str) -> None:
    """Cheap format check from the first bytes (the real import happens in Blender later)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise SceneSourceError(f"scene file {path}: cannot be read ({exc.strerror or exc})") from None
    bad = f"scene file {path} is corrupt or not a {ext} file"
    if size == 0:
        raise SceneSourceError(f"scene file {path} is empty")
    if ext == ".glb" and head[:4] != b"glTF":
        raise SceneSourceError(f"{bad} (no glTF binary header)")
    if ext == ".blend" and not (head[:7] == b"BLENDER" or head[:4] == b"\x28\xb5\x2f\xfd" or head[:2] == b"\x1f\x8b"):
        raise SceneSourceError(f"{bad} (no BLENDER header)")
    if ext == ".fbx":
        if head[:18] == b"Kaydara FBX Binary":
            return
        if b"FBXHeaderExtension" in head or head.lstrip()[:1] == b";":
            raise SceneSourceError(f"scene file {path} is an ASCII FBX, which Blender 5.0 cannot import; "
                                   f"export it as binary FBX (or glTF)")
        raise SceneSourceError(f"{bad} (no FBX binary header)")
    if ext == ".gltf":
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise SceneSourceError(f"{bad} (not JSON: {str(exc).splitlines()[0][:120]})") from None
        if not isinstance(doc, dict) or "asset" not in doc:
            raise SceneSourceError(f"{bad} (JSON without a glTF 'asset')")
    if ext == ".obj":
        text = head.decode("latin-1")
        if "\x00" in text or not any(line.lstrip().startswith("v ") for line in _obj_lines(path)):
            raise SceneSourceError(f"{bad} (no vertex lines 'v x y z')")


def _obj_lines(path: Path, limit: int = 1 << 22):
    with open(path, "rb") as f:
        data = f.read(limit)
    return data.decode("latin-1").splitlines()


def _check_json(path: Path) -> None:
    from scenes.model import load_scene

    try:
        load_scene(path)
    except ValueError as exc:
        raise SceneSourceError(f"{exc} (expected a scene description written by `cli.py scenes`)") from None


def _walk(folder: Path) -> list[Path]:
    found = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        ext = p.suffix.lower()
        if ext in SCENE_FILE_EXTS or (ext == JSON_EXT and p.name.startswith("scene_")):
            found.append(p)
    return found


def collect_sources(paths) -> list[SceneSource]:
    """Scene sources of ``--scenes-from`` arguments (see the module docstring). Raises
    SceneSourceError naming the file for every bad input, before any rendering."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise SceneSourceError(f"--scenes-from {raw}: no such file or folder")
        if p.is_dir():
            found = _walk(p)
            if not found:
                raise SceneSourceError(f"--scenes-from {raw}: the folder holds no scene files "
                                       f"({' '.join(SCENE_FILE_EXTS)} or scene_*.json)")
            files.extend(found)
        else:
            ext = p.suffix.lower()
            if ext not in SCENE_FILE_EXTS and ext != JSON_EXT:
                raise SceneSourceError(f"scene file {p}: unsupported extension {p.suffix or '(none)'!r}; "
                                       f"supported: {', '.join(SCENE_FILE_EXTS)}, or scene JSON (.json)")
            files.append(p)
    sources: list[SceneSource] = []
    seen: dict[str, Path] = {}
    for p in files:
        rp = p.resolve()
        ext = rp.suffix.lower()
        if ext == JSON_EXT:
            _check_json(rp)
        else:
            _check_content(rp, ext)
        sha = sha256_file(rp)
        if sha in seen:
            what = "is given twice" if seen[sha] == rp else f"has the same content as {seen[sha]}"
            raise SceneSourceError(f"clashing scene sources: {rp} {what}; every scene must be a different file")
        seen[sha] = rp
        sources.append(SceneSource(content_scene_id(sha), "json" if ext == JSON_EXT else "file", str(rp), sha))
    ids: dict[int, SceneSource] = {}
    for s in sources:  # ids of different contents meet with probability ~n^2/2e9
        if s.scene_id in ids:
            raise SceneSourceError(f"clashing scene sources: {s.path} and {ids[s.scene_id].path} map to the same "
                                   f"scene id {s.scene_id} (a hash clash); re-export one of them")
        ids[s.scene_id] = s
    return sources
