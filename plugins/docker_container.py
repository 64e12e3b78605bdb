"""One training container of the ``docker`` trainer: start, stream its logs, always remove.

A container must never outlive the run that started it: it is removed when training ends,
fails, or is interrupted (Ctrl-C, SIGTERM). A run killed outright (SIGKILL) cannot clean up,
so each container is labelled with the host and pid that own it, and the next run removes
containers whose owner is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAINER_LABEL = "io.delta.trainer"
OWNER_LABEL = "io.delta.owner"
DATA_MOUNT = "/data"
OUT_MOUNT = "/out"


class ContainerError(RuntimeError):
    """Training in the container failed; the message is one line a user can act on."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a run; handled like Ctrl-C so the container is removed."""


@dataclass
class RunSpec:
    """How to run one training container."""

    image: str
    dataset: Path
    out: Path
    args: Sequence[str]
    device_requests: list[Any] = field(default_factory=list)
    shm_size: str = "8g"
    environment: dict[str, str] = field(default_factory=dict)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(client: Any) -> list[str]:
    """Remove training containers whose owning process on this host has died."""
    import docker.errors

    removed = []
    host = socket.gethostname()
    try:
        found = client.containers.list(all=True, filters={"label": TRAINER_LABEL})
    except docker.errors.DockerException:
        return removed
    for c in found:
        o_host, _, o_pid = str(c.labels.get(OWNER_LABEL, "")).rpartition(":")
        if o_host != host or not o_pid.isdigit() or _pid_alive(int(o_pid)):
            continue
        try:
            c.remove(force=True)
            removed.append(c.name)
        except docker.errors.DockerException:
            pass
    return removed


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a container runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while cleaning up, so a second signal cannot orphan."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines from a log stream whose chunks split lines anywhere."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        *complete, buf = buf.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", "replace").rstrip("\r")
    if buf:
        yield buf.decode("utf-8", "replace")


class _Display:
    """Shows ``train.py --log-format json`` events as a progress bar and short lines."""

    def __init__(self, console: Any, total: int | None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.tail: deque[str] = deque(maxlen=20)
        self.done: dict[str, Any] | None = None
        self.progress = Progress(
            TextColumn("[bold]train (docker)"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task("train", total=total, info="starting")

    def __enter__(self) -> _Display:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _print(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def line(self, line: str) -> None:
        event = None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
        if not isinstance(event, dict) or "event" not in event:
            if line.strip():
                self.tail.append(line)
                self._print(line)
            return
        kind = event["event"]
        if kind == "start":
            self.progress.update(self.task, total=event.get("max_steps"), info="")
            self._print(
                f"training {event.get('params', '?'):,} parameters on {event.get('device')}"
                f" ({event.get('dtype')}, {event.get('world_size', 1)} process(es))"
                if isinstance(event.get("params"), int)
                else f"training on {event.get('device')}"
            )
        elif kind == "step":
            info = f"loss {event.get('loss', float('nan')):.3f}"
            if event.get("tokens_per_s"):
                info += f" · {event['tokens_per_s']:,.0f} tok/s"
            self.progress.update(
                self.task, completed=event.get("step", 0), total=event.get("max_steps"), info=info
            )
        elif kind == "eval" and "val_loss" in event:
            self.progress.update(self.task, completed=event.get("step", 0))
            self._print(f"step {event.get('step')}: validation loss {event['val_loss']:.4f}")
        elif kind == "done":
            self.done = event
            self.progress.update(self.task, completed=event.get("steps", 0))
        self.tail.append(line)

    def last_error(self) -> str:
        for line in reversed(self.tail):
            if not line.startswith("{") and line.strip():
                return " ".join(line.split())
        return "no output"


def _stop_gently(container: Any, console: Any, grace: float = 10.0) -> None:
    """Ctrl-C for the training process (PID 1 in the container), so it ends as on a terminal.

    SIGTERM would be ignored: PID 1 gets only the signals it handles, and Python handles
    SIGINT. After ``grace`` seconds the container is removed by force anyway.
    """

    console.print("[bold]docker[/]: interrupted; stopping the training container")
    try:
        container.kill(signal="SIGINT")
        container.wait(timeout=grace)
    except Exception:  # already gone, or too slow: the forced removal follows
        pass


def run_container(client: Any, spec: RunSpec, console: Any, total: int | None) -> dict[str, Any]:
    """Run one training container to its end; return the ``done`` event; always remove it."""
    import docker.errors

    for name in remove_orphans(client):
        console.print(f"[bold]docker[/]: removed {name}, left behind by a killed run")
    dataset, out = spec.dataset.resolve(), spec.out.resolve()
    container = None
    try:
        with _sigterm_as_interrupt():
            container = client.containers.create(
                spec.image,
                command=list(spec.args),
                name=f"delta-train-{uuid.uuid4().hex[:12]}",
                labels={TRAINER_LABEL: "docker", OWNER_LABEL: owner()},
                # The host user: what the container writes is theirs, not root's.
                user=f"{os.getuid()}:{os.getgid()}",
                volumes={
                    str(dataset): {"bind": DATA_MOUNT, "mode": "ro"},
                    str(out): {"bind": OUT_MOUNT, "mode": "rw"},
                },
                device_requests=spec.device_requests or None,
                # Training needs no network; torchrun on one machine talks over loopback.
                network_mode="none",
                shm_size=spec.shm_size,
                environment=spec.environment,
            )
            container.start()
            with _Display(console, total) as display:
                for line in _lines(container.logs(stream=True, follow=True)):
                    display.line(line)
            status = container.wait().get("StatusCode", 1)
            if status != 0:
                container.reload()
                why = (
                    "it ran out of memory (smaller --model-size or batch size)"
                    if container.attrs.get("State", {}).get("OOMKilled")
                    else display.last_error()
                )
                raise ContainerError(f"training container exited with status {status}: {why}")
            return display.done or {}
    except KeyboardInterrupt:
        if container is not None:
            with _uninterruptible():
                _stop_gently(container, console)
        raise
    except docker.errors.DockerException as exc:
        text = " ".join(str(exc).split())
        if "device driver" in text and "gpu" in text:
            raise ContainerError(
                "the Docker engine cannot give containers GPUs (install the NVIDIA Container"
                " Toolkit); train on the CPU with --gpus 0, or use --trainer local"
            ) from None
        raise ContainerError(f"the training container failed: {text[:200]}") from None
    finally:
        if container is not None:
            with _uninterruptible():
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.DockerException as exc:
                    console.print(f"[bold red]docker[/]: could not remove {container.name}: {exc}")
