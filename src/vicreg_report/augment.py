"""The two-view augmentation T of STUDY.md, done on whole batches of tensors.

Every sample draws its own parameters (crop box, flip, jitter factors and their
order, grayscale, blur sigma), from a CPU ``torch.Generator`` so that runs
repeat, on any device: ``draw_params`` draws them, ``apply_params`` applies them
(on a GPU after two copies, the parameters and the rows each op applies to, without
waiting for either). ``reference_transform`` is the
same distribution as torchvision per-image transforms, kept as the reference the
batched path is checked against (tests/test_augment_distribution.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.247, 0.243, 0.261)

CROP_SCALE = (0.2, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
BRIGHTNESS, CONTRAST, SATURATION, HUE = 0.4, 0.4, 0.2, 0.1
GRAYSCALE_P = 0.2
BLUR_P = 0.5
BLUR_SIGMA = (0.1, 2.0)
FLIP_P = 0.5


def to_unit_float(images: Tensor) -> Tensor:
    """uint8 NCHW -> float NCHW in [0, 1]."""
    return images.float().div_(255.0)


@lru_cache(maxsize=None)
def per_channel(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> Tensor:
    """One value per channel as a (1, 3, 1, 1) tensor, made once per device and dtype (no
    copy per batch)."""
    return torch.tensor(values, dtype=dtype).view(1, 3, 1, 1).to(device)


def normalize(x: Tensor) -> Tensor:
    return (x - per_channel(MEAN, x.device, x.dtype)) / per_channel(STD, x.device, x.dtype)


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """A CPU tensor on ``device``; to a GPU through pinned memory, without waiting for it."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def test_transform(images: Tensor) -> Tensor:
    """The test-time transform: normalisation only."""
    return normalize(to_unit_float(images))


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> Tensor:
    return torch.rand(n, generator=g) * (high - low) + low


def crop_boxes(n: int, size: int, g: torch.Generator, attempts: int = 10) -> Tensor:
    """Per-sample (top, left, height, width) boxes, as RandomResizedCrop draws them."""
    area = size * size
    scale = _uniform(n * attempts, *CROP_SCALE, g).view(n, attempts)
    log_ratio = _uniform(n * attempts, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), g)
    ratio = log_ratio.exp().view(n, attempts)
    w = torch.sqrt(area * scale * ratio).round()
    h = torch.sqrt(area * scale / ratio).round()
    valid = (w >= 1) & (h >= 1) & (w <= size) & (h <= size)
    first = torch.where(valid.any(1), valid.float().argmax(1), torch.full((n,), -1))
    rows = torch.arange(n)
    w = torch.where(first >= 0, w[rows, first.clamp(min=0)], torch.full((n,), float(size)))
    h = torch.where(first >= 0, h[rows, first.clamp(min=0)], torch.full((n,), float(size)))
    top = (torch.rand(n, generator=g) * (size - h + 1)).floor()
    left = (torch.rand(n, generator=g) * (size - w + 1)).floor()
    return torch.stack([top, left, h, w], dim=1)


def _source_coords(start: Tensor, length: Tensor, size: int) -> Tensor:
    """Bilinear-resize sample positions (align_corners=False) inside each crop, in grid units."""
    out = torch.arange(size, dtype=start.dtype, device=start.device)
    pos = start.view(-1, 1) + (out + 0.5) * (length.view(-1, 1) / size) - 0.5
    pos = torch.minimum(torch.maximum(pos, start.view(-1, 1)),
                        (start + length - 1).view(-1, 1))
    return (2 * pos + 1) / size - 1


def resized_crop_and_flip(x: Tensor, boxes: Tensor, flip: Tensor) -> Tensor:
    """Crop each box and resize it back to full size (bilinear, as torchvision); flip where asked."""
    n, _, size, _ = x.shape
    top, left, h, w = boxes.to(x).unbind(1)
    gx = _source_coords(left, w, size)
    gx = torch.where(flip.view(-1, 1).to(x.device), gx.flip(1), gx)
    gy = _source_coords(top, h, size)
    grid = torch.stack([gx.unsqueeze(1).expand(-1, size, -1),
                        gy.unsqueeze(2).expand(-1, -1, size)], dim=3)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def grayscale(x: Tensor) -> Tensor:
    """ITU-R 601 luma, one channel."""
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _blend(x: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    f = factor.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp_(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """The blend with black, f * x + (1 - f) * 0, without the zeros: the same values."""
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0, 1)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean.expand_as(x), factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    return _blend(x, grayscale(x).expand_as(x), factor)


def _is_max(channel: Tensor, maxc: Tensor) -> Tensor:
    """1.0 where ``channel`` holds the pixel's maximum, else 0.0. Float masks rather than
    bool ones: on the CPU, comparisons, ``torch.where`` and ``%`` each cost several
    times a multiplication."""
    return torch.sign(channel - maxc).add_(1)


HUE_SECTORS = (5.0, 3.0, 1.0)     # n_c of red, green and blue in adjust_hue


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue by ``shift`` (a fraction of a turn) in HSV space; saturation and
    value stay.

    A pixel with maximum v and spread delta = v - min has the hexagonal hue
    h6 = 6h: (g - b) / delta if red is the (first) maximal channel, (b - r) / delta + 2
    if green, (r - g) / delta + 4 if blue. Channel c of the rotated pixel is
    v - delta * clamp(min(k, 4 - k), 0, 1), k = (n_c + h6 + 6 * shift) mod 6, with
    n = 5, 3, 1 for red, green and blue: the six-sector table in closed form.
    """
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)     # amax/amin: no indices, several times faster
    delta = maxc - minc
    red = _is_max(r, maxc)
    green = (1 - red) * _is_max(g, maxc)
    blue = 1 - red - green
    spread = delta.clamp_min(torch.finfo(x.dtype).tiny)   # grey pixels: 0 / tiny = 0
    h6 = ((red * (g - b) + green * (b - r) + blue * (r - g)) / spread
          + 2 * green + 4 * blue + 6 * shift.view(-1, 1, 1))
    k = per_channel(HUE_SECTORS, x.device, x.dtype) + h6.unsqueeze(1)
    k = k - 6 * torch.floor(k / 6)        # k mod 6
    return maxc.unsqueeze(1) - delta.unsqueeze(1) * torch.minimum(k, 4 - k).clamp_(0, 1)


JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def jitter_params(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per-sample jitter factors (brightness, contrast, saturation, hue shift) and op order."""
    factors = torch.stack([
        _uniform(n, 1 - BRIGHTNESS, 1 + BRIGHTNESS, g),
        _uniform(n, 1 - CONTRAST, 1 + CONTRAST, g),
        _uniform(n, 1 - SATURATION, 1 + SATURATION, g),
        _uniform(n, -HUE, HUE, g),
    ], 1)
    return factors, torch.rand(n, 4, generator=g).argsort(1)


def rows_of(masks: list[Tensor], device: torch.device) -> list[Tensor]:
    """The indices of the True rows of each CPU mask, found on the CPU and moved to
    ``device`` in one copy (a GPU then never waits for a count)."""
    rows = [mask.cpu().nonzero().squeeze(1) for mask in masks]
    if device.type == "cpu":
        return rows
    return list(to_device(torch.cat(rows), device).split([len(r) for r in rows]))


def jitter_masks(order: Tensor) -> list[Tensor]:
    """Which samples apply each op at each position: one mask per (position, op)."""
    return [order[:, position] == op_index
            for position in range(4) for op_index in range(len(JITTER_OPS))]


def color_jitter(x: Tensor, factors: Tensor, groups: list[Tensor]) -> Tensor:
    """The four jitter operations with per-sample factors, in per-sample order: ``groups``
    holds the rows of each (position, op) of ``jitter_masks``, on ``x``'s device."""
    x = x.clone()
    groups = iter(groups)
    for _position in range(4):
        for op_index, op in enumerate(JITTER_OPS):
            chosen = next(groups)
            if chosen.numel():
                x[chosen] = op(x[chosen], factors[chosen, op_index])
    return x


def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """3x3 Gaussian blur, one sigma per sample, reflect padding: the separable kernel
    applied as weighted sums of shifted images (on the CPU about four times faster than a
    grouped convolution)."""
    taps = torch.arange(-1.0, 2.0, device=x.device)  # made on the device: no copy
    kernel = torch.exp(-(taps.view(1, 3) ** 2) / (2 * sigma.view(-1, 1).to(x) ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)                   # (n, 3), symmetric
    side, centre = kernel[:, 0].view(-1, 1, 1, 1), kernel[:, 1].view(-1, 1, 1, 1)
    padded = F.pad(x, (1, 1, 0, 0), mode="reflect")
    x = side * (padded[..., :-2] + padded[..., 2:]) + centre * padded[..., 1:-1]
    padded = F.pad(x, (0, 0, 1, 1), mode="reflect")
    return side * (padded[..., :-2, :] + padded[..., 2:, :]) + centre * padded[..., 1:-1, :]


@dataclass(frozen=True)
class ViewParams:
    """Everything one augmented view draws, one row per sample (see ``draw_params``)."""

    boxes: Tensor    # (n, 4) crop top, left, height, width in pixels
    flip: Tensor     # (n,) bool, horizontal flip
    jitter: Tensor   # (n, 4) brightness, contrast, saturation factors and hue shift
    order: Tensor    # (n, 4) the jitter ops' order, a permutation of 0..3 (kept on the CPU)
    gray: Tensor     # (n,) bool, grayscale (kept on the CPU)
    blur: Tensor     # (n,) bool, Gaussian blur (kept on the CPU)
    sigma: Tensor    # (n,) blur sigma (drawn for every sample, used where ``blur``)

    def part(self, rows: slice) -> "ViewParams":
        """The parameters of some rows only."""
        return ViewParams(*(getattr(self, f.name)[rows] for f in fields(ViewParams)))

    def crop_area(self, size: int) -> Tensor:
        """The crop's area as a fraction of the image (RandomResizedCrop's scale)."""
        return self.boxes[:, 2] * self.boxes[:, 3] / (size * size)

    def to(self, device: torch.device) -> "ViewParams":
        """The same parameters on ``device``, in one transfer; ``order``, ``gray`` and
        ``blur`` stay on the CPU, where ``apply_params`` finds their rows."""
        if device.type == "cpu":
            return self
        packed = torch.cat([self.boxes, self.jitter, self.flip[:, None].float(),
                            self.sigma[:, None]], 1)
        boxes, jitter, flip, sigma = to_device(packed, device).split([4, 4, 1, 1], 1)
        return replace(self, boxes=boxes, flip=flip[:, 0] > 0.5, jitter=jitter,
                       sigma=sigma[:, 0])


def cat_params(*parts: ViewParams) -> ViewParams:
    """Several batches' parameters as one batch, in order."""
    return ViewParams(*(torch.cat([getattr(part, f.name) for part in parts])
                        for f in fields(ViewParams)))


def draw_params(n: int, size: int, g: torch.Generator) -> ViewParams:
    """One view's parameters for n samples, drawn from ``g`` (on the CPU) in a fixed order.

    ``augment`` draws exactly these, in this order, so ``draw_params`` on a copy of
    a generator shows what ``augment`` and ``two_views`` did with it.
    """
    boxes = crop_boxes(n, size, g)
    flip = torch.rand(n, generator=g) < FLIP_P
    jitter, order = jitter_params(n, g)
    gray = torch.rand(n, generator=g) < GRAYSCALE_P
    blur = torch.rand(n, generator=g) < BLUR_P
    sigma = _uniform(n, *BLUR_SIGMA, g)
    return ViewParams(boxes, flip, jitter, order, gray, blur, sigma)


def shown_at(x: Tensor, size: int | None) -> Tensor:
    """A batch of views resized to ``size`` pixels a side (antialiased bilinear, as
    torchvision's ``Resize``); ``None`` or their own size leaves them as they are."""
    if size is None or x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)


def apply_params(images: Tensor, params: ViewParams, size: int | None = None) -> Tensor:
    """The augmented, normalised view of a uint8 NCHW batch under ``params``, resized to
    ``size`` pixels a side if given (T itself always works at the images' own size)."""
    *jittered, grey, blurred = rows_of([*jitter_masks(params.order), params.gray, params.blur],
                                       images.device)
    params = params.to(images.device)
    x = resized_crop_and_flip(to_unit_float(images), params.boxes, params.flip)
    x = color_jitter(x, params.jitter, jittered)
    if len(grey):                         # only the rows that drew each of these
        x[grey] = grayscale(x[grey]).expand(-1, 3, -1, -1)
    if len(blurred):
        x[blurred] = gaussian_blur(x[blurred], params.sigma[blurred])
    return shown_at(normalize(x), size)


def augment(images: Tensor, g: torch.Generator) -> Tensor:
    """One augmented, normalised view of a uint8 NCHW batch."""
    n, _, size, _ = images.shape
    return apply_params(images, draw_params(n, size, g))


def two_views(images: Tensor, g: torch.Generator, one_pass: bool = False,
              part: slice = slice(None), size: int | None = None) -> tuple[Tensor, Tensor]:
    """Two independent augmentations of the same batch.

    ``one_pass``: augment both views as one batch of 2n images, half the kernel
    launches on a GPU. The parameters are the same; the values may differ from
    two passes in float rounding, so the CPU keeps two passes. ``part``: only these
    rows are made (one process's share of a global batch), with the parameters drawn
    for the whole batch, so that every share is what one process would have made.
    ``size``: the views resized to this many pixels a side (``shown_at``).
    """
    n, _, side, _ = images.shape
    first, second = draw_params(n, side, g).part(part), draw_params(n, side, g).part(part)
    images = images[part]
    n = len(images)
    if not one_pass:
        return apply_params(images, first, size), apply_params(images, second, size)
    both = apply_params(torch.cat([images, images]), cat_params(first, second), size)
    return both[:n], both[n:]


def reference_transform(size: int = 32):
    """torchvision's per-image pipeline for T (PIL or uint8 CHW tensor in, normalised out),
    the view resized to ``size`` pixels a side at the end."""
    from torchvision.transforms import v2

    resize = [v2.Resize(size, antialias=True)] if size != 32 else []
    return v2.Compose([
        v2.ToImage(),
        v2.RandomResizedCrop(32, scale=CROP_SCALE, ratio=CROP_RATIO, antialias=True),
        v2.RandomHorizontalFlip(FLIP_P),
        v2.ColorJitter(BRIGHTNESS, CONTRAST, SATURATION, HUE),
        v2.RandomGrayscale(GRAYSCALE_P),
        v2.RandomApply([v2.GaussianBlur(3, sigma=BLUR_SIGMA)], p=BLUR_P),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
        *resize,
    ])
