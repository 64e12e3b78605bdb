"""Where a training process runs: device, precision, and its place in a DDP group (imports torch).

DDP is detected from the environment torchrun sets (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``): NCCL between GPUs, gloo between CPU processes. A world of one needs no
process group at all, so ``python train.py`` and a one-process torchrun behave the same.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

# Dense (no sparsity) bf16 tensor-core peaks per device, from the vendors' data sheets, FLOP/s.
# Matched in order against torch.cuda.get_device_name(); the first substring that fits wins.
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("GB200", 2.5e15),
    ("B200", 2.25e15),
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H800", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),  # fp16 tensor cores: V100 has no bf16
    ("T4", 65e12),  # fp16 likewise
)


@dataclass
class Runtime:
    device: torch.device
    dtype: str  # float32, bfloat16 or float16
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def ddp(self) -> bool:
        return self.world_size > 1

    @property
    def master(self) -> bool:
        """Rank 0 logs, validates for early stopping's record, and writes files."""
        return self.rank == 0

    @property
    def device_type(self) -> str:
        return self.device.type

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=getattr(torch, self.dtype))

    def device_name(self) -> str:
        if self.device_type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu"

    def peak_flops(self) -> float | None:
        """Peak FLOP/s of one device for MFU, or ``None`` where it is not known (CPUs)."""
        if self.device_type != "cuda":
            return None
        return peak_flops_for(self.device_name())


def peak_flops_for(name: str) -> float | None:
    for key, flops in PEAK_BF16_FLOPS:
        if key.lower() in name.lower():
            return flops
    return None


def idle_cores() -> int:
    """Cores not busy with other work, at least one.

    OpenMP threads that share a core with another busy process spin at every barrier: on a
    loaded two-core machine two threads ran a tiny model 8x slower than one. So a CPU run
    takes the cores the load average leaves free (set OMP_NUM_THREADS to choose yourself).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, (cores or 1) - busy)


def _pick_dtype(choice: str, device: torch.device) -> str:
    if choice != "auto":
        if choice == "float16" and device.type == "cpu":
            raise ValueError("float16 autocast is for CUDA; use bfloat16 or float32 on CPU")
        if choice == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("this GPU has no bfloat16; use --dtype float16")
        return choice
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    # bf16 autocast on CPU is slower than fp32 on most laptop CPUs and costs accuracy
    return "float32"


def setup(device: str = "auto", dtype: str = "auto") -> Runtime:
    """Pick the device and precision, and join the DDP group when torchrun started us."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but torch sees no CUDA GPU here; use --device cpu")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        dev = torch.device("cpu")
        if "OMP_NUM_THREADS" not in os.environ and world == 1:
            torch.set_num_threads(idle_cores())
    if world > 1 and not dist.is_initialized():
        if use_cuda:
            dist.init_process_group("nccl", device_id=dev)
        else:
            dist.init_process_group("gloo")
    return Runtime(dev, _pick_dtype(dtype, dev), rank, local_rank, world)


def teardown(rt: Runtime) -> None:
    if rt.ddp and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(rt: Runtime, values: list[float]) -> list[float]:
    """Sum a few floats over every rank (the identity without DDP)."""
    if not rt.ddp:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def gather_objects(rt: Runtime, obj: object) -> list[object]:
    """``obj`` from every rank, in rank order (collective: every rank must call it)."""
    if not rt.ddp:
        return [obj]
    out: list[object] = [None] * rt.world_size
    dist.all_gather_object(out, obj)
    return out
