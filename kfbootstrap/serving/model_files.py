"""The model a user serves: one file or a directory, read once, with a digest of its contents.

The digest names the copy on the cluster (pvc://<claim>/<digest>), so serving the same files
again changes nothing and new files roll out a new revision.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from kfbootstrap.errors import UsageError

# What the file's suffix says about its format, as KServe's own runtimes load them.
FORMAT_BY_SUFFIX = {
    ".joblib": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".bst": "xgboost",
    ".ubj": "xgboost",
    ".onnx": "onnx",
    ".pmml": "pmml",
    ".mar": "pytorch",
}
MAX_FILES = 10_000


@dataclass(frozen=True)
class ModelFiles:
    source: Path
    files: tuple[tuple[str, bytes], ...]  # (path inside the model directory, contents)
    digest: str  # 12 hex digits of sha256 over names and contents

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)

    def guess_format(self) -> str | None:
        """The format every file's suffix agrees on, or None when none (or several) say one."""
        found = {FORMAT_BY_SUFFIX[Path(name).suffix] for name, _ in self.files if Path(name).suffix in FORMAT_BY_SUFFIX}
        return found.pop() if len(found) == 1 else None

    def tar(self) -> bytes:
        """A tar of the files with fixed owners, modes and times: the same model, the same bytes."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, data in self.files:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def read_model(path: Path) -> ModelFiles:
    """Read the file or directory at `path`; a usage error when there is nothing to serve."""
    if not path.exists():
        raise UsageError(f"model path {path} does not exist", hint="give the model file or the directory holding it")
    try:
        files = _read(path)
    except OSError as exc:
        raise UsageError(
            f"cannot read the model at {path}: {exc.strerror or exc}", hint="check its permissions"
        ) from None
    if not files:
        raise UsageError(f"model directory {path} holds no files", hint="give the directory the model was saved into")
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return ModelFiles(path, tuple(files), digest.hexdigest()[:12])


def _read(path: Path) -> list[tuple[str, bytes]]:
    if path.is_file():
        return [(path.name, path.read_bytes())]
    found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
    if len(found) > MAX_FILES:
        raise UsageError(
            f"model directory {path} holds {len(found)} files", hint=f"serve a directory of at most {MAX_FILES} files"
        )
    return [(p.relative_to(path).as_posix(), p.read_bytes()) for p in found]


def _hidden(relative: Path) -> bool:
    """.git, .ipynb_checkpoints, .DS_Store and the like are not part of a model."""
    return any(part.startswith(".") for part in relative.parts)
