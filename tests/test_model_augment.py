import pytest
import torch

from vicreg_report import augment
from vicreg_report.config import FULL
from vicreg_report.model import VICReg, cnn_encoder, projector, resnet18_encoder


@pytest.fixture
def images():
    return torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def test_augmented_views_shape_dtype_and_range(images):
    g = torch.Generator().manual_seed(1)
    x, y = augment.two_views(images, g)
    assert x.shape == y.shape == (64, 3, 32, 32)
    assert x.dtype == torch.float32
    mean = torch.tensor(augment.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(augment.STD).view(1, 3, 1, 1)
    unit = x * std + mean  # undo the normalisation
    assert unit.min() >= -1e-5 and unit.max() <= 1 + 1e-5
    assert not torch.equal(x, y)


def test_augmentation_repeats_with_the_same_generator(images):
    a = augment.augment(images, torch.Generator().manual_seed(3))
    b = augment.augment(images, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_test_transform_is_normalisation_only(images):
    x = augment.test_transform(images)
    expected = (images.float() / 255 - torch.tensor(augment.MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(augment.STD).view(1, 3, 1, 1)
    assert torch.allclose(x, expected)


def test_crop_boxes_follow_scale_and_ratio():
    boxes = augment.crop_boxes(4000, 32, torch.Generator().manual_seed(0))
    top, left, h, w = boxes.unbind(1)
    area = h * w / 1024
    assert area.min() >= 0.2 - 0.05 and area.max() <= 1.0
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 32).all() and (left + w <= 32).all()


@pytest.mark.parametrize("op, tv, factor", [
    (augment.adjust_hue, "adjust_hue", 0.07),
    (augment.adjust_hue, "adjust_hue", -0.1),
    (augment.adjust_saturation, "adjust_saturation", 1.15),
    (augment.adjust_contrast, "adjust_contrast", 0.7),
    (augment.adjust_brightness, "adjust_brightness", 1.3),
])
def test_colour_ops_match_torchvision(op, tv, factor):
    import torchvision.transforms.v2.functional as F

    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ours = op(x, torch.full((6,), factor))
    theirs = torch.stack([getattr(F, tv)(xi, factor) for xi in x])
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_hue_of_grey_black_and_tied_pixels_matches_torchvision():
    """Pixels without spread (grey, black, white) keep their value, and pixels whose
    maximum is shared by two channels rotate as torchvision rotates them."""
    import torchvision.transforms.v2.functional as F

    pixels = torch.tensor([[0.5, 0.5, 0.5], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0],
                           [0.8, 0.8, 0.2], [0.3, 0.9, 0.9], [0.7, 0.1, 0.7],
                           [0.9, 0.2, 0.2], [0.1, 0.2, 0.6]])
    x = pixels.T.reshape(1, 3, 2, 4).repeat(4, 1, 1, 1)
    shifts = [0.0, 0.1, -0.1, 0.5]
    ours = augment.adjust_hue(x, torch.tensor(shifts))
    theirs = torch.stack([F.adjust_hue(xi, s) for xi, s in zip(x, shifts)])
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.equal(ours[:, :, 0, :3], x[:, :, 0, :3])     # no spread: unchanged


def test_grayscale_and_blur_reach_only_the_rows_that_drew_them():
    """With the whole image as crop and no jitter, row 0 (grayscale) is its luma, row 1
    (blur) its blurred self, row 2 (neither) itself."""
    pixels = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(4))
    params = augment.ViewParams(
        boxes=torch.tensor([[0.0, 0.0, 32.0, 32.0]] * 3), flip=torch.zeros(3, dtype=torch.bool),
        jitter=torch.tensor([[1.0, 1.0, 1.0, 0.0]] * 3), order=torch.arange(4).repeat(3, 1),
        gray=torch.tensor([True, False, False]), blur=torch.tensor([False, True, False]),
        sigma=torch.tensor([1.5, 1.5, 1.5]))
    out = augment.apply_params(pixels, params)
    x = augment.to_unit_float(pixels)
    expected = torch.stack([augment.grayscale(x[:1])[0].expand(3, -1, -1),
                            augment.gaussian_blur(x[1:2], torch.tensor([1.5]))[0], x[2]])
    assert torch.allclose(out, augment.normalize(expected), atol=1e-5)


def test_crop_and_flip_match_torchvision():
    import torchvision.transforms.v2.functional as F

    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[4.0, 6.0, 20.0, 16.0]] * 4)
    flip = torch.tensor([False, True, False, True])
    ours = augment.resized_crop_and_flip(x, boxes, flip)
    theirs = torch.stack([F.resized_crop(xi, 4, 6, 20, 16, [32, 32], antialias=True) for xi in x])
    theirs[flip] = theirs[flip].flip(-1)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_blur_matches_torchvision():
    import torchvision.transforms.v2.functional as F

    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ours = augment.gaussian_blur(x, torch.tensor([0.3, 1.0, 1.9]))
    theirs = torch.stack([F.gaussian_blur(xi, [3, 3], [s, s]) for xi, s in zip(x, [0.3, 1.0, 1.9])])
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_reference_transform_output():
    out = augment.reference_transform()(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8))
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32


def test_resnet18_encoder_follows_the_study():
    net = resnet18_encoder(128)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert net.conv1.padding == (0, 0) and net.conv1.bias is not None
    assert isinstance(net.maxpool, torch.nn.Identity)
    net.eval()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 128)


def test_cnn_encoder_and_projector_shapes():
    enc = cnn_encoder(width=8, embed_dim=16).eval()
    assert enc(torch.randn(3, 3, 32, 32)).shape == (3, 16)
    proj = projector(128, 512).eval()
    assert proj(torch.randn(3, 128)).shape == (3, 512)


def test_full_model_projects_to_d():
    model = VICReg(FULL).eval()
    z, z_prime = model(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32))
    assert z.shape == z_prime.shape == (2, FULL.proj_dim)
    assert model.encoder(torch.randn(2, 3, 32, 32)).shape == (2, FULL.embed_dim)


def test_gpu_transfer_packing_round_trips(images, monkeypatch):
    """ViewParams.to and rows_of pack for one copy each to a GPU; checked here on the CPU."""
    monkeypatch.setattr(augment, "to_device", lambda t, device: t.clone())
    gpu = torch.device("cuda")                      # only a name: nothing runs on a GPU
    params = augment.draw_params(64, 32, torch.Generator().manual_seed(2))
    packed = params.to(gpu)
    for name in ("boxes", "flip", "jitter", "order", "gray", "blur", "sigma"):
        assert torch.equal(getattr(packed, name), getattr(params, name)), name
    assert packed.flip.dtype == torch.bool and packed.sigma.shape == (64,)
    masks = [torch.tensor([True, False, True]), torch.tensor([False] * 3),
             torch.tensor([False, True, False])]
    assert [r.tolist() for r in augment.rows_of(masks, gpu)] == [[0, 2], [], [1]]
    assert torch.equal(augment.apply_params(images, packed), augment.apply_params(images, params))


def test_one_pass_views_draw_and_give_the_same_views(images):
    g, h = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    for a, b in zip(augment.two_views(images, g), augment.two_views(images, h, one_pass=True)):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.equal(g.get_state(), h.get_state())


def test_shown_at_averages_under_its_antialiasing_filter():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    assert torch.allclose(augment.shown_at(x, 1), torch.tensor([[[[1.5]]]]))
    assert augment.shown_at(x, 2) is x and augment.shown_at(x, None) is x


def test_small_views_are_torchvisions_resize_of_the_full_views(images):
    import torchvision.transforms.v2.functional as F

    g, h = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    small, full = augment.two_views(images, g, size=16), augment.two_views(images, h)
    for ours, view in zip(small, full):
        assert ours.shape == (64, 3, 16, 16)
        theirs = torch.stack([F.resize(v, [16, 16], antialias=True) for v in view])
        assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.equal(g.get_state(), h.get_state())   # the same draws as full-size views
