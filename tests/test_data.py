import gzip
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from vicreg_report import data
from vicreg_report.data import DataError


def png_bytes(rgb):
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


CLASSES = list(data.CIFAR_CLASSES)


def layout():
    """{member name: bytes}: CIFAR-10's ten classes, 2 train and 1 test image each."""
    files = {}
    for split, n in (("train", 2), ("test", 1)):
        for c, cls in enumerate(CLASSES):
            for i in range(n):
                files[f"cifar/{split}/{cls}/{i:04d}.png"] = png_bytes((10 * c + i, 100, 200))
    return files


def idx_bytes(array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, n=5, truncate=False):
    folder.mkdir(parents=True, exist_ok=True)
    images = np.arange(n * 28 * 28, dtype=np.uint64).reshape(n, 28, 28) % 256
    raw = idx_bytes(images)
    if truncate:
        raw = raw[:-10]
    (folder / "t10k-images-idx3-ubyte").write_bytes(raw)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(n) % 10))


@pytest.fixture
def zip_source(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    with zipfile.ZipFile(root / "images.zip", "w") as z:
        for name, payload in layout().items():
            z.writestr(name, payload)
    write_mnist(root / "MNIST" / "raw")
    return root


def check_prepared(d):
    assert d.classes == CLASSES
    assert d.train_x.shape == (20, 32, 32, 3) and d.train_x.dtype == np.uint8
    assert d.test_x.shape == (10, 32, 32, 3)
    assert list(d.train_y) == [c for c in range(10) for _ in range(2)]
    assert d.train_x[1, 0, 0, 0] == 1 and d.train_x[2, 0, 0, 0] == 10  # stable order
    assert d.mnist_x.shape == (5, 28, 28) and list(d.mnist_y) == [0, 1, 2, 3, 4]
    assert len(d.fingerprint) == 64


def test_prepare_from_zip_and_cache(zip_source, tmp_path):
    d = data.prepare(zip_source, cache_dir=tmp_path / "cache")
    check_prepared(d)
    assert d.source.startswith("zip:")
    cached = list((tmp_path / "cache").glob("prepared-*.npz"))
    assert len(cached) == 1
    again = data.prepare(zip_source, cache_dir=tmp_path / "cache")
    assert again.fingerprint == d.fingerprint


def test_prepare_from_folder(tmp_path):
    root = tmp_path / "folder"
    for name, payload in layout().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(payload)
    write_mnist(root)
    d = data.prepare(root, cache_dir=tmp_path / "cache")
    check_prepared(d)
    assert d.source.startswith("folder:")


def test_environment_variable_is_used(zip_source, tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(zip_source))
    assert data.candidate_locations(None) == [zip_source]
    check_prepared(data.prepare(None, cache_dir=tmp_path / "cache"))


def test_gzipped_idx_files_are_read(tmp_path):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    assert np.array_equal(data.read_idx(path), images.astype(np.uint8))


def test_missing_data_names_places_and_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        data.prepare(tmp_path / "empty", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "No CIFAR-10 and MNIST test data found" in message
    assert str(tmp_path / "empty") in message
    assert "--data" in message and data.ENV_VAR in message and "--download" in message


def test_truncated_idx_is_a_clear_error(zip_source, tmp_path):
    write_mnist(zip_source / "MNIST" / "raw", truncate=True)
    with pytest.raises(DataError, match="truncated"):
        data.prepare(zip_source, cache_dir=tmp_path / "cache")


def test_malformed_zip_is_a_clear_error(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "cifar.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    write_mnist(root)
    with pytest.raises(DataError, match=r"(?s)No CIFAR-10.*Found but not usable:.*cifar.zip: "
                                        r"not a readable zip"):
        data.prepare(root, cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="not a valid zip"):
        data.read_zip(root / "cifar.zip")


def test_undecodable_image_is_a_clear_error(tmp_path):
    root = tmp_path / "folder"
    for name, payload in layout().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(payload)
    (root / "cifar/train/cat/0001.png").write_bytes(b"not an image")
    write_mnist(root)
    with pytest.raises(DataError, match="Cannot decode image"):
        data.prepare(root, cache_dir=tmp_path / "cache")


def test_known_checksum_mismatch_is_an_error(tmp_path):
    fake = tmp_path / "cifar10-jpeg.zip"
    fake.write_bytes(b"something else")
    with pytest.raises(DataError, match="corrupted or not the expected file"):
        data.check_known_checksum(fake)
    other = tmp_path / "mine.zip"
    other.write_bytes(b"x")
    assert data.check_known_checksum(other) is False


def test_corrupted_cache_is_rebuilt(zip_source, tmp_path):
    cache_dir = tmp_path / "cache"
    d = data.prepare(zip_source, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("prepared-*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:100])
    again = data.prepare(zip_source, cache_dir=cache_dir)
    assert again.fingerprint == d.fingerprint


def test_balanced_subset_takes_equal_counts_in_order():
    labels = np.array([0, 1, 0, 1, 0, 1, 2, 2, 2])
    idx = data.balanced_subset(labels, 6)
    assert list(idx) == [0, 1, 2, 3, 6, 7]
    assert len(data.balanced_subset(labels, 100)) == 9


def folder_with(tmp_path, files):
    root = tmp_path / "folder"
    for name, payload in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(payload)
    write_mnist(root)
    return root


def test_a_missing_class_is_named(tmp_path):
    files = {n: b for n, b in layout().items() if "/train/truck/" not in n}
    with pytest.raises(DataError, match=r"train/ holds 9 class folders, not CIFAR-10's ten; "
                                        r"missing: truck"):
        data.prepare(folder_with(tmp_path, files), cache_dir=tmp_path / "cache")


def test_a_foreign_class_is_named(tmp_path):
    files = dict(layout())
    files["cifar/test/zebra/0000.png"] = png_bytes((1, 2, 3))
    with pytest.raises(DataError, match=r"test/ holds 11 class folders.*not CIFAR-10 classes: "
                                        r"zebra"):
        data.prepare(folder_with(tmp_path, files), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("shape, mode, what", [((64, 64, 3), "RGB", "64x64 RGB"),
                                                ((32, 32), "L", "32x32 L")])
def test_an_image_that_is_not_32x32_rgb_is_named(tmp_path, shape, mode, what):
    buf = io.BytesIO()
    Image.fromarray(np.zeros(shape, np.uint8), mode=mode).save(buf, format="PNG")
    files = dict(layout())
    files["cifar/train/dog/0001.png"] = buf.getvalue()
    with pytest.raises(DataError, match=rf"dog/0001.png in .* is {what}; CIFAR-10 images are "
                                        r"32x32 RGB"):
        data.prepare(folder_with(tmp_path, files), cache_dir=tmp_path / "cache")


def test_a_data_path_that_does_not_exist_says_so(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"The data path .*nowhere \(--data\) does not exist"):
        data.locate(tmp_path / "nowhere")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"elsewhere \(\$VICREG_DATA\) does not exist"):
        data.locate(None)


def test_mnist_is_checked_before_cifar_is_decoded(zip_source, tmp_path, monkeypatch):
    write_mnist(zip_source / "MNIST" / "raw", truncate=True)
    decoded = []
    monkeypatch.setattr(data, "decode_image", lambda *a: decoded.append(a) or np.zeros((32, 32, 3)))
    with pytest.raises(DataError, match="truncated"):
        data.prepare(zip_source, cache_dir=tmp_path / "cache")
    assert decoded == []


def test_counts_of_a_known_release_are_checked():
    splits = {"train": (None, np.repeat(np.arange(10), 5000)),
              "test": (None, np.repeat(np.arange(10), 1000))}
    data.check_counts(splits, "cifar10-jpeg.zip")                 # the release: fine
    splits["test"] = (None, np.repeat(np.arange(10), 999))
    with pytest.raises(DataError, match=r"test holds \[999, 999.*holds 1,000 of each"):
        data.check_counts(splits, "cifar10-jpeg.zip")
