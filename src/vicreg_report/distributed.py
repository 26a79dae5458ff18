"""Training on several processes (torchrun): PyTorch's DistributedDataParallel, the VICReg
loss over the global batch, one writer.

``torchrun --nproc-per-node N -m vicreg_report train`` starts N processes with
RANK, LOCAL_RANK and WORLD_SIZE in their environment; ``start`` joins them into
one process group (NCCL on GPUs, gloo on CPUs), one device per process. Each
process holds every training image and takes its share of each global batch;
the loss terms are statistics of the global batch: the projections of every
process are gathered with ``torch.distributed.nn.functional.all_gather``, whose
backward pass sends each process the gradient of its own rows (summed over the
processes, as the reference implementation's gather does; DDP then averages
over them), and BatchNorm normalises with the statistics of the global batch.
With one process nothing of this runs and training is exactly as before.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .errors import VicregError


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_writer() -> bool:
    """Only the first process writes results, checkpoints and progress."""
    return world()[0] == 0


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device: str = "auto") -> torch.device:
    """Join torchrun's process group (once) and return this process's device."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda and local >= torch.cuda.device_count():
        raise VicregError(f"Process {local} of this node has no GPU of its own: "
                          f"{torch.cuda.device_count()} visible. Start at most that many "
                          "processes a node (--nproc-per-node).")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def broadcast(value):
    """``value`` as the first process has it, on every process (any picklable object)."""
    if world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_batch(z: Tensor) -> Tensor:
    """The rows of every process, in rank order; gradients flow back to each process's
    own rows (summed over the processes)."""
    if world()[1] == 1:
        return z
    with _collectives() as functional:
        return torch.cat(functional.all_gather(z.contiguous()), dim=0)


@contextmanager
def _collectives():
    """torch.distributed.nn.functional: collectives that pass gradients back (deprecated
    in newer torch in favour of a private module; the GPU machines run older ones)."""
    import warnings

    import torch.distributed.nn.functional as functional

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*deprecated")
        yield functional


def local_part(global_size: int) -> slice:
    """This process's rows of a global batch of ``global_size`` (equal shares)."""
    rank, size = world()
    if global_size % size:
        raise VicregError(f"A batch of {global_size} cannot be split evenly over {size} "
                          "processes; choose a number of processes that divides it.")
    share = global_size // size
    return slice(rank * share, (rank + 1) * share)


# ---------------------------------------------------------------- BatchNorm of the global batch

class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch on any device. torch's SyncBatchNorm (used on GPUs)
    refuses CPU tensors; this one gathers per-channel sums with the differentiable
    ``all_reduce`` of torch.distributed.nn, so gloo on CPUs trains as one process would."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and world()[1] > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count.view(1)])
        with _collectives() as functional:
            stats = functional.all_reduce(stats)
        channels = x.shape[1]
        n = stats[-1]
        mean = stats[:channels] / n
        var = stats[channels:2 * channels] / n - mean * mean          # biased, to normalise
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
        shape = [1, channels] + [1] * (x.dim() - 2)
        out = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return out * self.weight.view(shape) + self.bias.view(shape)


def synchronise(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` for this process group: BatchNorm over the global batch and DDP (nothing
    changes with one process)."""
    if world()[1] == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = _global_batchnorm(model)
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def _global_batchnorm(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        like = module.running_mean
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats, device=like.device, dtype=like.dtype)
        new.load_state_dict(module.state_dict())
        return new
    for name, child in module.named_children():
        module.add_module(name, _global_batchnorm(child))
    return module


def unwrapped(model: nn.Module) -> nn.Module:
    """The model inside DDP (for evaluation, checkpoints and the encoder)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@contextmanager
def writer_only_output():
    """Progress and notes from the first process only."""
    from .progress import console

    quiet = console.quiet
    console.quiet = not is_writer()
    try:
        yield
    finally:
        console.quiet = quiet
