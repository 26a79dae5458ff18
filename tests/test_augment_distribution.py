"""The batched augmentation and torchvision's per-image pipeline agree in distribution.

Both paths augment the same N images once each, from fixed seeds. What each
drew is read from the batched path's own parameters (``draw_params``) and, for
torchvision, from hooks on the transforms of ``reference_transform()``.

Tolerances. Every compared quantity is a mean of N independent draws, so its
sampling error is known: a Bernoulli(p) fraction has standard error
sqrt(p(1-p)/N) (binomial), a mean of a per-image statistic sd/sqrt(N) (central
limit theorem), and the difference of two independent estimates the root sum
of their squares. Each check allows Z = 4.5 standard errors: with about twenty
checks, a correct implementation fails one with probability below 1e-4, while
with N = 3000 a shift of 0.04 in a flip or grayscale probability, or of 0.04
in the mean crop area, is still caught. The seeds are fixed, so the test is
deterministic; the error model is what sets how tight it can be.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from vicreg_report import augment, data

N = 3000
SIZE = 32
Z = 4.5
# Crops have whole-pixel sides: one pixel more or less on a ~14 px side moves the
# smallest areas by ~0.014, so extremes of the two paths may differ by that much.
PIXEL_STEP = 0.03
# Two-sample Kolmogorov-Smirnov: sup|F1 - F2| <= c * sqrt(2 / N) fails with
# probability alpha = 2 exp(-2 c^2) for equal distributions; c = 2.3 -> alpha < 1e-4.
KS_C = 2.3


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    x = data.synthetic(seed=0, train=N, test=10, mnist=1).train_x
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def _steps(transform):
    """Every step of the reference pipeline, including those inside RandomApply."""
    for step in transform.transforms:
        yield step
        yield from getattr(step, "transforms", [])


def recording_reference() -> tuple[v2.Compose, dict]:
    """``reference_transform()`` whose steps note, per call, what they drew."""
    transform = augment.reference_transform()
    drawn: dict = {}
    steps = {type(step): step for step in _steps(transform)}

    crop = steps[v2.RandomResizedCrop]
    draw_box = crop.make_params

    def noted_box(flat_inputs):
        box = draw_box(flat_inputs)
        drawn["area"] = box["height"] * box["width"] / SIZE ** 2
        return box
    crop.make_params = noted_box

    # Random steps call ``transform`` only when their coin says apply.
    for cls, name in ((v2.RandomHorizontalFlip, "flip"), (v2.RandomGrayscale, "gray"),
                      (v2.GaussianBlur, "blur")):
        def noted(inpt, params, apply=steps[cls].transform, name=name):
            drawn[name] = True
            return apply(inpt, params)
        steps[cls].transform = noted
    return transform, drawn


@pytest.fixture(scope="module")
def reference(images) -> dict:
    transform, drawn = recording_reference()
    rows, outputs = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # one tiny image at a time: threads only cost (6x here)
    try:
        with torch.random.fork_rng():   # torchvision draws from the global generator
            torch.manual_seed(0)
            for image in images:
                drawn.clear()
                outputs.append(transform(image))
                rows.append((drawn["area"], drawn.get("flip", False), drawn.get("gray", False),
                             drawn.get("blur", False)))
    finally:
        torch.set_num_threads(threads)
    area, flip, gray, blur = (np.array(column) for column in zip(*rows))
    return {"area": area, "flip": flip, "gray": gray, "blur": blur,
            "out": torch.stack(outputs)}


@pytest.fixture(scope="module")
def batched(images) -> dict:
    params = augment.draw_params(N, SIZE, torch.Generator().manual_seed(0))
    return {"area": params.crop_area(SIZE).numpy(), "flip": params.flip.numpy(),
            "gray": params.gray.numpy(), "blur": params.blur.numpy(),
            "out": augment.apply_params(images, params)}


def test_params_are_what_augment_draws(images):
    g, copy = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    batch = images[:64]
    for view in augment.two_views(batch, g):
        assert torch.equal(view, augment.apply_params(batch, augment.draw_params(64, SIZE, copy)))
    assert torch.equal(g.get_state(), copy.get_state())


@pytest.mark.parametrize("name, p", [("flip", augment.FLIP_P), ("gray", augment.GRAYSCALE_P),
                                     ("blur", augment.BLUR_P)])
def test_coin_flips_match(reference, batched, name, p):
    se = np.sqrt(p * (1 - p) / N)  # binomial standard error of one fraction
    ref, ours = reference[name].mean(), batched[name].mean()
    assert abs(ref - p) <= Z * se, f"reference {name} fraction {ref:.4f} vs p = {p}"
    assert abs(ours - p) <= Z * se, f"batched {name} fraction {ours:.4f} vs p = {p}"
    assert abs(ref - ours) <= Z * se * np.sqrt(2)


def test_crop_scales_match(reference, batched):
    ref, ours = reference["area"], batched["area"]
    low, high = augment.CROP_SCALE
    for areas in (ref, ours):
        assert low - PIXEL_STEP <= areas.min() and areas.max() <= high
    assert abs(ref.min() - ours.min()) <= PIXEL_STEP
    assert abs(ref.max() - ours.max()) <= PIXEL_STEP
    se = np.sqrt(ref.var(ddof=1) / N + ours.var(ddof=1) / N)
    assert abs(ref.mean() - ours.mean()) <= Z * se, (ref.mean(), ours.mean())
    grid = np.union1d(ref, ours)
    cdf = lambda a: np.searchsorted(np.sort(a), grid, side="right") / len(a)
    assert np.abs(cdf(ref) - cdf(ours)).max() <= KS_C * np.sqrt(2 / N)


@pytest.mark.parametrize("statistic", ["mean", "std"])
def test_output_pixels_match_per_channel(reference, batched, statistic):
    # One value per image and channel; both paths saw the same images, so the
    # per-image differences are independent draws and the test is paired.
    stat = lambda out: getattr(out.flatten(2), statistic)(2).double().numpy()
    diff = stat(reference["out"]) - stat(batched["out"])          # (N, 3)
    se = diff.std(0, ddof=1) / np.sqrt(N)
    assert (np.abs(diff.mean(0)) <= Z * se).all(), (diff.mean(0), se)
