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


CLASSES = ["cat", "dog"]


def layout():
    """{member name: bytes}: 2 classes, 3 train and 2 test images each."""
    files = {}
    for split, n in (("train", 3), ("test", 2)):
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
    assert d.train_x.shape == (6, 32, 32, 3) and d.train_x.dtype == np.uint8
    assert d.test_x.shape == (4, 32, 32, 3)
    assert list(d.train_y) == [0, 0, 0, 1, 1, 1]
    assert d.train_x[1, 0, 0, 0] == 1 and d.train_x[3, 0, 0, 0] == 10  # stable order
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
    with pytest.raises(DataError) as err:
        data.prepare(tmp_path / "nowhere", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert str(tmp_path / "nowhere") in message
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
    with pytest.raises(DataError, match="No CIFAR-10"):
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
