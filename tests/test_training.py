import math

import pytest
import torch

from vicreg_report import data
from vicreg_report.config import SMOKE
from vicreg_report.errors import VicregError
from vicreg_report.representations import encode
from vicreg_report.training import load_checkpoint, train_vicreg

DEVICE = torch.device("cpu")


def smoke_train(tmp_path, seed, tag):
    p = SMOKE.replace(seed=seed)
    d = data.synthetic(0, p.train_images, p.test_images)
    result, model = train_vicreg(p, d, tmp_path / f"{tag}.pt", DEVICE, show_progress=False)
    return p, d, result, model


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    _, _, a, model_a = smoke_train(tmp_path, 0, "a")
    _, _, b, model_b = smoke_train(tmp_path, 0, "b")
    _, _, c, _ = smoke_train(tmp_path, 1, "c")
    assert a.history == b.history
    for (name, wa), wb in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(wa, wb), name
    assert a.history.train["total"] != c.history.train["total"]


def test_history_records_every_batch_and_epoch(tmp_path):
    p, _, result, _ = smoke_train(tmp_path, 0, "h")
    steps = p.epochs * (p.train_images // p.batch_size)
    for term in ("invariance", "variance", "covariance", "total"):
        assert len(result.history.train[term]) == steps
        assert len(result.history.test[term]) == p.epochs
    total = [p.lam * i + p.mu * v + p.nu * c for i, v, c in zip(
        result.history.train["invariance"], result.history.train["variance"],
        result.history.train["covariance"])]
    assert result.history.train["total"] == pytest.approx(total, rel=1e-5)
    assert result.provenance.config_hash == p.config_hash()
    assert result.provenance.data_fingerprint


def test_checkpoint_reloads_the_same_encoder(tmp_path):
    p, d, result, model = smoke_train(tmp_path, 0, "k")
    loaded = load_checkpoint(p, tmp_path / "k.pt", DEVICE)
    assert (encode(loaded.encoder, d.test_x, DEVICE) == encode(model.encoder, d.test_x, DEVICE)).all()
    with pytest.raises(VicregError, match="another configuration"):
        load_checkpoint(p.replace(seed=5), tmp_path / "k.pt", DEVICE)
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(VicregError, match="unreadable"):
        load_checkpoint(p, tmp_path / "bad.pt", DEVICE)


def test_neighbour_sampler_returns_only_listed_neighbours_never_itself():
    from vicreg_report.augment import test_transform
    from vicreg_report.training import neighbour_pairs

    n = 50
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    neighbours = torch.stack([(torch.arange(n) + s) % n for s in (1, 2, 3)], 1)
    pairs = neighbour_pairs(images, neighbours)
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(20):
        idx = torch.randperm(n, generator=g)[:16]
        x, y = pairs(idx, g)
        assert torch.equal(x, test_transform(images[idx]))
        # recover each partner's index from its (constant) pixel value
        value = y[:, 0, 0, 0] * 0.247 + 0.4914
        partner = torch.round(value * 255).long()
        offset = (partner - idx) % n
        assert set(offset.tolist()) <= {1, 2, 3}
        seen |= set(offset.tolist())
    assert seen == {1, 2, 3}  # every listed neighbour gets drawn


def test_training_sees_views_of_the_profiles_view_size(tmp_path, monkeypatch):
    from vicreg_report import training

    seen = set()
    real = training.loss_terms

    def spy(model, x, y, p, speed=training.PLAIN):
        seen.update({tuple(x.shape[-2:]), tuple(y.shape[-2:])})
        return real(model, x, y, p, speed)

    monkeypatch.setattr(training, "loss_terms", spy)
    p = SMOKE.replace(view_size=16, epochs=1)
    d = data.synthetic(0, p.train_images, p.test_images)
    n = p.train_images
    neighbours = torch.stack([(torch.arange(n) + s) % n for s in (1, 2, 3)], 1)
    for tag, pairs_of in (("q1", None), ("q5", neighbours)):    # augmented views; Q5's pairs
        seen.clear()
        train_vicreg(p, d, tmp_path / f"{tag}.pt", DEVICE, show_progress=False,
                     neighbours=pairs_of)
        assert seen == {(16, 16)}, tag                           # train steps and test loss


def test_term_log_copies_out_what_per_step_floats_give():
    from vicreg_report.losses import vicreg_loss
    from vicreg_report.training import TermLog

    g = torch.Generator().manual_seed(0)
    log, per_step = TermLog(), {}
    for _ in range(5):
        terms = vicreg_loss(torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g))
        log.add(terms)
        for k, v in terms.as_floats().items():
            per_step.setdefault(k, []).append(v)
    assert log.columns() == per_step
    assert all(v == [] for v in TermLog().columns().values())


def test_training_history_equals_per_step_logging(tmp_path):
    """train_vicreg copies the loss terms once per epoch; the old loop read them every step."""
    from vicreg_report.losses import TERM_NAMES
    from vicreg_report.model import build_model
    from vicreg_report.training import (as_tensor, augmented_pairs, make_optimizer,
                                        prepare_model, train_step)

    p = SMOKE.replace(epochs=1)
    d = data.synthetic(0, p.train_images, p.test_images)
    result, _ = train_vicreg(p, d, tmp_path / "e.pt", DEVICE, show_progress=False)

    model = prepare_model(build_model(p), DEVICE)
    optimizer = make_optimizer(model, p)
    pairs = augmented_pairs(as_tensor(d.train_x[data.balanced_subset(d.train_y, p.train_images)],
                                      DEVICE))
    order = torch.randperm(p.train_images, generator=torch.Generator().manual_seed(p.seed))
    views = torch.Generator().manual_seed(p.seed + 1)
    per_step = {k: [] for k in TERM_NAMES}
    for step in range(p.train_images // p.batch_size):
        x, y = pairs(order[step * p.batch_size:(step + 1) * p.batch_size], views)
        for k, v in train_step(model, optimizer, x, y, p).as_floats().items():
            per_step[k].append(v)
    assert result.history.train == per_step


def test_accelerator_settings_by_device_and_cpu_flags(monkeypatch):
    from vicreg_report import training
    from vicreg_report.training import CPU_BF16, PLAIN, speed_for

    assert not any(vars(PLAIN).values())
    cuda = speed_for(torch.device("cuda"))      # a device name; no GPU needed
    assert cuda.bf16 and cuda.channels_last and cuda.fused_adam
    cpu = torch.device("cpu")
    monkeypatch.setattr(training, "native_bf16", lambda: True)
    assert speed_for(cpu) == CPU_BF16 and CPU_BF16.bf16 and not CPU_BF16.fused_adam
    assert speed_for(cpu, cpu_bf16=False) == PLAIN          # smoke: float32 everywhere
    monkeypatch.setattr(training, "native_bf16", lambda: False)
    assert speed_for(cpu) == PLAIN


def test_native_bf16_reads_the_cpu_flags():
    from vicreg_report.training import native_bf16

    assert native_bf16("processor : 0\nflags : fpu sse avx512f avx512_bf16 amx_tile\n")
    assert native_bf16("flags\t\t: fpu amx_bf16\n")
    assert not native_bf16("flags : fpu sse avx2 avx512f avx512bw\n")
    assert not native_bf16("model name : no flags line\n")


def test_learning_rate_schedules():
    from vicreg_report.training import learning_rate

    constant = SMOKE.replace(lr=0.1)
    assert [learning_rate(constant, s, 40, 10) for s in (0, 17, 39)] == [0.1, 0.1, 0.1]
    cosine = SMOKE.replace(lr=0.1, lr_schedule="cosine", lr_warmup_epochs=1)
    # one epoch of 10 steps rising to the full rate, then half a turn of a cosine to zero
    assert learning_rate(cosine, 0, 40, 10) == pytest.approx(0.01)
    assert learning_rate(cosine, 9, 40, 10) == pytest.approx(0.1)
    assert learning_rate(cosine, 10, 40, 10) == pytest.approx(0.1)
    assert learning_rate(cosine, 25, 40, 10) == pytest.approx(0.05)
    assert learning_rate(cosine, 39, 40, 10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(
        math.pi * 29 / 30)))


def test_accelerated_path_runs_on_cpu_with_float32_loss(tmp_path):
    """The CUDA settings (bf16 forward, channels_last, fused Adam) exercised on the CPU."""
    from vicreg_report.training import Speed, loss_terms

    p = SMOKE.replace(epochs=1)
    d = data.synthetic(0, p.train_images, p.test_images)
    fast = Speed(bf16=True, channels_last=True, fused_adam=True, one_pass_views=True)
    result, model = train_vicreg(p, d, tmp_path / "f.pt", DEVICE, show_progress=False,
                                 speed=fast)
    _, _, plain, _ = smoke_train(tmp_path, 0, "p")
    assert all(torch.isfinite(torch.tensor(v)).all() for v in result.history.train.values())
    assert result.history.train["total"] != plain.history.train["total"][:4]  # bf16 rounds
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(p.batch_size, 3, 32, 32)
    terms = loss_terms(model, x, x.flip(3), p, fast)
    assert terms.total.dtype == torch.float32
    reloaded = load_checkpoint(p, tmp_path / "f.pt", DEVICE)      # plain layout loads it
    assert torch.equal(reloaded.state_dict()["encoder.0.weight"], conv.weight)


def test_test_batches_mix_the_classes_of_a_class_ordered_test_set():
    """The prepared test subset is ordered by class; each test batch must still hold every
    class in about its share (here 2,000 images, 200 a class, batches of 256)."""
    from vicreg_report.training import test_batches

    labels = torch.arange(10).repeat_interleave(200)            # class-ordered, as prepared
    batches = test_batches(len(labels), 256)
    assert len(batches) == 7 and all(len(b) == 256 for b in batches)
    assert len(torch.cat(batches).unique()) == 7 * 256          # no image twice
    for batch in batches:
        counts = torch.bincount(labels[batch], minlength=10)
        assert (counts > 0).all() and counts.max() <= 45        # 25.6 expected per class
    assert [b.tolist() for b in batches] == [b.tolist() for b in test_batches(2000, 256)]


def test_test_loss_is_the_mean_of_its_batches_and_uses_eval_mode(tmp_path):
    p, _, result, _ = smoke_train(tmp_path, 0, "t")
    h = result.history
    for term in ("invariance", "variance", "covariance", "total"):
        assert len(h.test_batches[term]) == p.epochs
        assert [len(b) for b in h.test_batches[term]] == [p.test_loss_images // p.batch_size] * p.epochs
        assert h.test[term] == pytest.approx([sum(b) / len(b) for b in h.test_batches[term]])


def test_bf16_covers_the_backbone_only(tmp_path):
    """With bf16 (the CUDA setting, here on the CPU) the encoder computes in bf16 and the
    projector and the loss in float32."""
    from vicreg_report.model import build_model
    from vicreg_report.training import Speed, loss_terms, project

    p = SMOKE
    model = build_model(p)
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, output.dtype)      # returns None: the output is kept
        return hook

    for name, module in (("encoder_conv", model.encoder[0]), ("projector_first", model.projector[0]),
                         ("projector_last", model.projector[-1])):
        module.register_forward_hook(record(name))
    x = torch.randn(8, 3, 32, 32)
    z = project(model, x, Speed(bf16=True))
    assert seen == {"encoder_conv": torch.bfloat16, "projector_first": torch.float32,
                    "projector_last": torch.float32}
    assert z.dtype == torch.float32
    terms = loss_terms(model, x, x.flip(3), p, Speed(bf16=True))
    assert terms.total.dtype == torch.float32
    seen.clear()
    project(model, x)
    assert set(seen.values()) == {torch.float32}


def test_encode_resizes_the_normalised_images_when_asked():
    import numpy as np
    import torchvision.transforms.v2.functional as F

    from vicreg_report.augment import test_transform

    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    flat = torch.nn.Flatten()                       # the encoder shows what it was given
    x = test_transform(torch.from_numpy(images).permute(0, 3, 1, 2))
    small = encode(flat, images, torch.device("cpu"), size=24)
    theirs = F.resize(x, [24, 24], antialias=True).flatten(1)
    assert small.shape == (5, 3 * 24 * 24)
    assert np.allclose(small, theirs.numpy(), atol=1e-5)
    assert np.allclose(encode(flat, images, torch.device("cpu")), x.flatten(1).numpy(), atol=1e-6)
