import pytest
import torch

from vicreg_report import data
from vicreg_report.config import SMOKE
from vicreg_report.errors import VicregError
from vicreg_report.probe import fit_linear_probe
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


def test_linear_probe_learns_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    x = torch.nn.functional.one_hot(y, 4).float() * 3 + torch.randn(400, 4, generator=g) * 0.3
    fit = fit_linear_probe(x[:300].numpy(), y[:300].numpy(), x[300:].numpy(), y[300:].numpy(),
                           epochs=30, lr=1e-2, batch_size=64)
    assert fit["test_acc"] > 0.95 and fit["train_acc"] > 0.95
    assert len(fit["per_class_test_acc"]) == 4
    noise = torch.randn(400, 4, generator=g)
    chance = fit_linear_probe(noise[:300].numpy(), y[:300].numpy(), noise[300:].numpy(),
                              y[300:].numpy(), epochs=30, lr=1e-2, batch_size=64)
    assert chance["test_acc"] < 0.45


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
