"""The training image of the ``docker`` trainer: its inputs, their hash, and the build.

The image is tagged ``delta-train:<hash>``, where the hash covers everything that goes into
it: ``training/Dockerfile``, the package sources, ``pyproject.toml``, the base image (its id
when the engine has it) and the CA bundle pip is given. The same inputs give the same tag,
so a second run reuses the image; any change to them builds a new one (the engine's layer
cache keeps the dependency layer while ``pyproject.toml`` stays the same).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from delta_core.api import PACKAGE_DIR

IMAGE_REPOSITORY = "delta-train"
INPUTS_LABEL = "io.delta.inputs"
# Which checkout an image was built from: older images of the same checkout are pruned.
SOURCE_LABEL = "io.delta.source"
KEEP_IMAGES = 3
DOCKERFILE = "training/Dockerfile"
CA_IN_CONTEXT = "training/certs/ca-bundle.pem"
# Bumped when the way inputs are hashed changes, so old tags are never mistaken for new ones.
_HASH_VERSION = b"delta-train-image-v1"
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".pem", ".egg-info")
# Files of training/ that describe runs rather than build the image.
_SKIP_FILES = {"training/LOG.md"}


class ImageError(RuntimeError):
    """The image cannot be built or found; the message is one line a user can act on."""


def is_source_tree(root: Path) -> bool:
    """Whether ``root`` holds what the image is built from (a clone or an unpacked sdist)."""
    return (root / DOCKERFILE).is_file() and (root / "pyproject.toml").is_file()


def source_root(context: str | os.PathLike[str] | None = None) -> Path | None:
    """The source tree the image is built from, or None when there is none.

    ``context`` (setting ``train.docker_context``, ``delta-train --context DIR``) names one: a
    clone of Delta or its unpacked sdist. Without it, the checkout this Delta runs from (an
    editable install), where ``training/Dockerfile`` sits next to ``delta_core``; an installed
    wheel has none.
    """
    if context:
        root = Path(context).expanduser().resolve()
        return root if is_source_tree(root) else None
    root = PACKAGE_DIR.parent
    return root if is_source_tree(root) else None


def _package_dirs(root: Path) -> list[str]:
    """Top-level folders holding the packages, as pyproject.toml's ``[tool.delta]`` names them."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return sorted(data.get("tool", {}).get("delta", {}).get("source-dirs", []))


def _walk(root: Path, rel: str) -> Iterator[str]:
    base = root / rel
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel_path = path.relative_to(root).as_posix()
            if name.endswith(_SKIP_SUFFIXES) or rel_path in _SKIP_FILES or path.is_symlink():
                continue
            yield rel_path


def context_files(root: Path) -> list[str]:
    """Relative paths of the files that make up the build context, sorted."""
    files = {"pyproject.toml"}
    for extra in ("setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        if (root / extra).is_file():
            files.add(extra)
    for rel in [*_package_dirs(root), "training"]:
        files.update(_walk(root, rel))
    return sorted(files)


def find_ca_bundle(env: Mapping[str, str] | None = None) -> Path | None:
    """The CA bundle the host's pip uses, if one is configured.

    Behind a TLS-inspecting proxy pip inside the build needs the same bundle as pip here.
    """
    env = os.environ if env is None else env
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = env.get(var)
        if value and Path(value).is_file():
            return Path(value)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.cert"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out and Path(out).is_file() else None


@dataclass(frozen=True)
class ImageInputs:
    """What one training image is built from, read once.

    The files are held in memory so that the hash and the build context are the same bytes
    even while someone edits the tree.
    """

    contents: tuple[tuple[str, bytes], ...]
    base_image: str
    base_id: str
    source: str = ""

    @classmethod
    def read(
        cls, root: Path, base_image: str, base_id: str, ca_bundle: Path | None = None
    ) -> ImageInputs:
        """The inputs from source tree ``root`` (and the CA bundle pip needs, if any)."""
        entries = [(rel, (root / rel).read_bytes()) for rel in context_files(root)]
        if ca_bundle is not None:
            entries.append((CA_IN_CONTEXT, Path(ca_bundle).read_bytes()))
        source = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        return cls(tuple(entries), base_image, base_id, source)

    @property
    def files(self) -> list[str]:
        return [rel for rel, _ in self.contents]

    @cached_property
    def digest(self) -> str:
        h = hashlib.sha256(_HASH_VERSION)
        for part in (self.base_image, self.base_id):
            h.update(part.encode() + b"\0")
        for rel, data in self.contents:
            h.update(f"{rel}\0{len(data)}\0".encode())
            h.update(data)
        return h.hexdigest()

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.digest[:16]}"


@contextmanager
def build_context(inputs: ImageInputs) -> Iterator[Path]:
    """A temporary directory holding exactly the hashed inputs (and nothing else)."""
    with tempfile.TemporaryDirectory(prefix="delta-image-") as tmp:
        ctx = Path(tmp)
        (ctx / "training" / "certs").mkdir(parents=True)
        for rel, data in inputs.contents:
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel).write_bytes(data)
        yield ctx


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def ensure_base_image(client: Any, name: str, console: Any) -> str:
    """The id of base image ``name``, pulling it first when the engine lacks it."""
    import docker.errors

    try:
        return client.images.get(name).id
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise ImageError(f"cannot inspect base image {name}: {_one_line(exc)}") from None
    console.print(f"[bold]docker[/]: pulling base image {name} (once)")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    try:
        for _ in client.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
            pass
        return client.images.get(name).id
    except docker.errors.DockerException as exc:
        why = getattr(exc, "explanation", None) or exc
        raise ImageError(
            f"base image {name} is not on this engine and cannot be pulled ({_one_line(why, 120)});"
            " set train.docker_base_image (DELTA_TRAIN_DOCKER_BASE_IMAGE) to a local image"
        ) from None


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")


def build_image(client: Any, inputs: ImageInputs, console: Any) -> tuple[str, bool]:
    """Build the image unless a tag for these inputs exists; return (tag, built)."""
    import docker.errors
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    tag = inputs.tag
    try:
        client.images.get(tag)
        return tag, False
    except docker.errors.ImageNotFound:
        pass
    tail: deque[str] = deque(maxlen=15)
    started = time.monotonic()
    with (
        build_context(inputs) as ctx,
        Progress(
            TextColumn("[bold]build image"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("", total=None)
        try:
            stream = client.api.build(
                path=str(ctx),
                dockerfile=DOCKERFILE,
                tag=tag,
                buildargs={"BASE_IMAGE": inputs.base_image},
                labels={INPUTS_LABEL: inputs.digest, SOURCE_LABEL: inputs.source},
                # The build fetches Python packages; --bridge=none engines have only `host`.
                network_mode="host",
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                timeout=3600,
            )
            for chunk in stream:
                if "error" in chunk or "errorDetail" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error")
                    for line in tail:
                        console.print(line, markup=False, highlight=False)
                    raise ImageError(f"building {tag} failed: {_one_line(detail)}")
                for line in str(chunk.get("stream", "")).splitlines():
                    if not line.strip():
                        continue
                    tail.append(line)
                    step = _STEP.match(line)
                    if step:
                        progress.update(
                            task,
                            total=int(step[2]),
                            completed=int(step[1]) - 1,
                            description=_one_line(step[3], 60),
                        )
        except docker.errors.DockerException as exc:
            raise ImageError(f"building {tag} failed: {_one_line(exc)}") from None
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise ImageError(f"building {tag} ended without an image; see the engine's log") from None
    console.print(f"[bold]docker[/]: built {tag} in {time.monotonic() - started:.0f}s")
    prune_images(client, inputs.source, keep=KEEP_IMAGES)
    return tag, True


def _created(image: Any) -> tuple[str, str]:
    # RFC 3339 with trailing zeros of the fraction trimmed: compare the fraction padded.
    head, _, frac = str(image.attrs.get("Created", "")).rstrip("Z").partition(".")
    return head, frac.ljust(9, "0")


def prune_images(client: Any, source: str, keep: int = KEEP_IMAGES) -> list[str]:
    """Untag all but the ``keep`` newest training images of checkout ``source``.

    Every edit of the sources makes a new image; without this they pile up. An image that a
    container still uses is left alone (the engine refuses), and layers shared with the
    images kept are not freed, so this only ever removes what nothing needs.
    """
    import docker.errors

    try:
        found = client.images.list(
            name=IMAGE_REPOSITORY, filters={"label": f"{SOURCE_LABEL}={source}"}
        )
    except docker.errors.DockerException:
        return []
    found.sort(key=_created, reverse=True)
    removed = []
    for image in found[keep:]:
        for tag in image.tags:
            try:
                client.images.remove(tag)
                removed.append(tag)
            except docker.errors.DockerException:
                pass
    return removed
