"""Data: every supported source -> one canonical prepared form, cached under build/.

Prepared form: uint8 images (N, 32, 32, 3), int64 labels, class names, and a
sha256 fingerprint of the arrays. Sources, in the order they are looked for in
a data location:

* torchvision's CIFAR-10 folder (``cifar-10-batches-py``), or its download;
* an image-folder directory or zip with ``train/`` and ``test/``, one subfolder
  per class (e.g. ``cifar10-jpeg.zip``);
* MNIST test split as IDX files (``t10k-images-idx3-ubyte[.gz]``), the anomaly set.

The data location is the ``--data`` option, else $VICREG_DATA, else the
defaults in ``default_locations()``.

Everything cheap is checked before the 60,000 images are decoded: the path,
the sources found (a broken one is named with what is wrong), known checksums
and the MNIST files. Decoding then checks that every image is 32x32 RGB, that
train and test hold the same ten CIFAR-10 classes, and, for a source whose
counts are known (CIFAR-10 itself), that the counts are right.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import VicregError
from .paths import REPO_ROOT, build_dir
from .progress import console

ENV_VAR = "VICREG_DATA"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")
KNOWN_SHA256 = {
    "cifar10-jpeg.zip": "4af883edce1dc3ef2c2d18975f9d57aa291d53fd42587a1ac4fa76229ce80fc7",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
IMAGE_MEMBER = re.compile(r"(?:^|.*/)(train|test)/([^/]+)/[^/]+\.(?:jpe?g|png|bmp)$", re.I)
PREPARED_VERSION = 2
# What the full CIFAR-10 release holds, per class; a source with a known checksum (or
# torchvision's own copy) must hold exactly this.
CIFAR_PER_CLASS = {"train": 5_000, "test": 1_000}
IMAGE_SHAPE = (32, 32, 3)


class DataError(VicregError):
    pass


@dataclass
class PreparedData:
    """CIFAR-10 train/test and MNIST test, as uint8 arrays (N, H, W, C)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mnist_x: np.ndarray          # (N, 28, 28) grey
    mnist_y: np.ndarray
    classes: list[str]
    source: str                  # human-readable description of where it came from
    verified: bool               # every checksum that is known matched
    fingerprint: str = field(default="")

    def __post_init__(self):
        if not self.fingerprint:
            self.fingerprint = fingerprint_arrays(
                self.train_x, self.train_y, self.test_x, self.test_y, self.mnist_x, self.mnist_y)


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(str((a.dtype, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_known_checksum(path: Path) -> bool:
    """True if a known checksum matched, False if none is known; error on mismatch."""
    expected = KNOWN_SHA256.get(path.name)
    if expected is None:
        return False
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(
            f"{path} is corrupted or not the expected file: sha256 {actual[:16]}... "
            f"differs from the known {expected[:16]}.... Copy the file again.")
    return True


# ---------------------------------------------------------------- locations

def default_locations() -> list[Path]:
    return [REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "data",
            Path.home() / ".cache" / "vicreg_report" / "data"]


def candidate_locations(data: str | Path | None) -> list[Path]:
    """The option, else the environment variable, else the defaults."""
    if data:
        return [Path(data).expanduser()]
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR]).expanduser()]
    return default_locations()


def _find_cifar(location: Path, broken: list[str]):
    """A (kind, path) CIFAR-10 source inside ``location``, or None; each candidate that
    was found but cannot be used is added to ``broken`` with what is wrong with it."""
    if location.is_file() and location.suffix == ".zip":
        return ("zip", location) if _zip_has_image_folders(location, broken) else None
    if not location.is_dir():
        return None
    if (location / "cifar-10-batches-py").is_dir():
        return ("torchvision", location)
    if location.name == "cifar-10-batches-py":
        return ("torchvision", location.parent)
    for zip_path in sorted(location.glob("*.zip")):
        if _zip_has_image_folders(zip_path, broken):
            return ("zip", zip_path)
    for folder in [location, *sorted(p for p in location.iterdir() if p.is_dir())]:
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return ("folder", folder)
    return None


def _zip_has_image_folders(path: Path, broken: list[str]) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            if any(IMAGE_MEMBER.match(n) for n in z.namelist()[:1000]):
                return True
            broken.append(f"{path}: a zip without train/<class>/ and test/<class>/ images")
    except (zipfile.BadZipFile, OSError) as exc:
        broken.append(f"{path}: not a readable zip file ({exc}); copy it again")
    return False


def _find_mnist(location: Path) -> Path | None:
    base = location.parent if location.is_file() else location
    for folder in (base / "MNIST" / "raw", base / "mnist", base):
        for suffix in (".gz", ""):
            if (folder / f"t10k-images-idx3-ubyte{suffix}").is_file():
                return folder
    return None


def locate(data: str | Path | None = None):
    """Find CIFAR-10 and MNIST sources; one clear error listing where it looked and every
    source it found but could not use."""
    places = candidate_locations(data)
    named = data or os.environ.get(ENV_VAR)
    if named and not places[0].exists():
        how = "--data" if data else f"${ENV_VAR}"
        raise DataError(f"The data path {places[0]} ({how}) does not exist. Give the folder or "
                        "zip that holds CIFAR-10 and the MNIST test files, or use --download.")
    broken: list[str] = []
    for place in places:
        cifar = _find_cifar(place, broken)
        mnist = _find_mnist(place)
        if cifar and mnist:
            for problem in broken:
                console.print(f"[yellow]skipped {problem}")
            return cifar, mnist
        if cifar and not mnist:
            broken.append(f"{cifar[1]}: CIFAR-10 found, but no MNIST test files beside it")
    looked = "\n  ".join(str(p) for p in places)
    found = "".join(f"\nFound but not usable:\n  {p}" for p in broken)
    raise DataError(
        "No CIFAR-10 and MNIST test data found. Looked in:\n  " + looked + found + "\n"
        "Each location needs CIFAR-10 (torchvision's cifar-10-batches-py folder, or a folder/zip "
        "with train/ and test/ holding one subfolder per class) and the MNIST test IDX files "
        "(t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, e.g. under MNIST/raw/).\n"
        f"Fix: pass --data PATH, set {ENV_VAR}=PATH, or add --download to fetch both with "
        "torchvision (needs internet).")


# ---------------------------------------------------------------- readers

def read_image_folders(names_and_bytes, origin: str):
    """(member name, bytes) pairs -> {split: (x, y)} and class names, sorted stably."""
    entries = {"train": [], "test": []}
    for name, read in names_and_bytes:
        match = IMAGE_MEMBER.match(name)
        if match:
            entries[match.group(1).lower()].append((match.group(2), name, read))
    if not entries["train"] or not entries["test"]:
        raise DataError(f"{origin} has no train/ and test/ image folders with one subfolder "
                        "per class. Point --data at a folder or zip laid out that way.")
    classes = check_classes({split: {cls for cls, _, _ in items}
                             for split, items in entries.items()}, origin)
    splits = {}
    for split, items in entries.items():
        items.sort(key=lambda e: (e[0], _natural_key(e[1])))
        images = [decode_image(read, name, origin) for _, name, read in items]
        labels = [classes.index(cls) for cls, _, _ in items]
        splits[split] = (np.stack(images).astype(np.uint8), np.asarray(labels, np.int64))
    return splits, classes


def check_classes(found: dict[str, set[str]], origin: str) -> list[str]:
    """The class names (sorted) if train and test both hold exactly CIFAR-10's ten."""
    expected = set(CIFAR_CLASSES)
    for split, names in found.items():
        if names != expected:
            missing, extra = sorted(expected - names), sorted(names - expected)
            raise DataError(
                f"{origin}: {split}/ holds {len(names)} class folders, not CIFAR-10's ten"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; not CIFAR-10 classes: {', '.join(extra)}" if extra else "")
                + ". Both train/ and test/ need one folder for each of: "
                + ", ".join(CIFAR_CLASSES) + ".")
    return sorted(expected)


def decode_image(read, name: str, origin: str) -> np.ndarray:
    """One image file as a (32, 32, 3) uint8 array; an error for anything else."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(read())) as im:
            mode, size = im.mode, im.size
            array = np.asarray(im.convert("RGB")) if mode == "RGB" else None
    except Exception as exc:  # PIL raises many types for bad files
        raise DataError(f"Cannot decode image {name} in {origin}: {exc}. "
                        "Replace or remove the file.") from None
    if array is None or array.shape != IMAGE_SHAPE:
        raise DataError(f"Image {name} in {origin} is {size[0]}x{size[1]} {mode}; CIFAR-10 "
                        "images are 32x32 RGB. Replace the file with the original.")
    return array


def check_counts(splits: dict, origin: str) -> None:
    """A source that should be the full CIFAR-10 release holds 5,000 train and 1,000 test
    images of each class."""
    for split, (_, labels) in splits.items():
        counts = np.bincount(labels, minlength=len(CIFAR_CLASSES))
        if (counts != CIFAR_PER_CLASS[split]).any():
            raise DataError(f"{origin}: {split} holds {counts.tolist()} images per class; the "
                            f"CIFAR-10 release holds {CIFAR_PER_CLASS[split]:,} of each. Copy "
                            "the data set again.")


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_zip(path: Path):
    try:
        with zipfile.ZipFile(path) as z:
            members = [(n, (lambda n=n: z.read(n))) for n in z.namelist()]
            return read_image_folders(members, str(path))
    except zipfile.BadZipFile:
        raise DataError(f"{path} is not a valid zip file (truncated or corrupted). "
                        "Copy it again.") from None


def read_folder(path: Path):
    files = [p for p in sorted(path.rglob("*")) if p.is_file()]
    members = [(p.relative_to(path).as_posix(), p.read_bytes) for p in files]
    return read_image_folders(members, str(path))


def read_torchvision_cifar(root: Path, download: bool = False):
    from torchvision.datasets import CIFAR10

    splits = {}
    try:
        for split in ("train", "test"):
            ds = CIFAR10(str(root), train=split == "train", download=download)
            splits[split] = (np.asarray(ds.data, np.uint8), np.asarray(ds.targets, np.int64))
    except RuntimeError as exc:
        raise DataError(f"torchvision's CIFAR-10 in {root} is missing or corrupted ({exc}). "
                        "Delete the folder and use --download, or point --data elsewhere.") from None
    for split, (x, y) in splits.items():
        if x.shape[1:] != IMAGE_SHAPE or len(x) != len(y):
            raise DataError(f"torchvision's CIFAR-10 in {root}: {split} images {x.shape} and "
                            f"{len(y)} labels. Delete the folder and use --download.")
    check_classes({"train": set(ds.classes), "test": set(ds.classes)}, str(root))
    check_counts(splits, str(root))
    return splits, list(ds.classes)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"Cannot read {path}: {exc}. Copy the file again.") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file. Use MNIST's original files.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {int(np.prod(shape))} bytes of data, "
                        f"found {len(body)}. Copy the file again.")
    return np.frombuffer(body, np.uint8).reshape(shape)


def read_mnist_test(folder: Path):
    verified = True
    arrays = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        path = folder / f"{stem}.gz"
        if not path.is_file():
            path = folder / stem
        if not path.is_file():
            raise DataError(f"{folder} has the MNIST test images but not {stem}[.gz]. "
                            "Copy both test files.")
        verified &= check_known_checksum(path)
        arrays.append(read_idx(path))
    images, labels = arrays
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 \
            or len(images) != len(labels):
        raise DataError(f"MNIST files in {folder} do not match: images {images.shape}, labels "
                        f"{labels.shape}; expected (N, 28, 28) images and N labels. Copy the "
                        "two test files again.")
    return images, labels.astype(np.int64), verified


def download(root: Path) -> None:
    """Fetch CIFAR-10 and MNIST with torchvision (needs internet)."""
    from torchvision.datasets import CIFAR10, MNIST

    root.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataError(f"Download into {root} failed: {exc}. Check the internet connection, "
                        "or pass --data with a local copy.") from None


# ---------------------------------------------------------------- prepare + cache

def source_key(cifar, mnist_dir: Path) -> str:
    """Identifies a source cheaply (paths, sizes, times) to name its cache file."""
    kind, path = cifar
    parts = [kind, str(Path(path).resolve()), str(mnist_dir.resolve())]
    for p in [Path(path), *mnist_dir.glob("t10k-*")]:
        if p.is_file():
            st = p.stat()
            parts += [p.name, str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def prepare(data: str | Path | None = None, download_to: Path | None = None,
            cache_dir: Path | None = None, progress=None) -> PreparedData:
    """Locate, read, check and cache the data; later calls read the cache."""
    if download_to is not None:
        download(download_to)
        data = download_to
    cifar, mnist_dir = locate(data)
    cache_dir = cache_dir or build_dir() / "data"
    cache = cache_dir / f"prepared-{source_key(cifar, mnist_dir)}.npz"
    if cache.is_file():
        try:
            return load_prepared(cache)
        except DataError:
            cache.unlink()  # a broken cache is rebuilt, never trusted
    kind, path = cifar
    known = check_known_checksum(path) if kind == "zip" else False
    mnist_x, mnist_y, mnist_ok = read_mnist_test(mnist_dir)    # cheap: before decoding CIFAR
    reader = {"zip": read_zip, "folder": read_folder, "torchvision": read_torchvision_cifar}[kind]
    splits, classes = reader(path)
    if known:
        check_counts(splits, str(path))
    verified = known or kind == "torchvision"
    prepared = PreparedData(
        *splits["train"], *splits["test"], mnist_x, mnist_y, classes,
        source=f"{kind}:{path}; mnist:{mnist_dir}", verified=bool(verified and mnist_ok))
    save_prepared(prepared, cache)
    return prepared


def save_prepared(d: PreparedData, path: Path) -> None:
    from .results import atomic_write

    meta = {"version": PREPARED_VERSION, "classes": d.classes, "source": d.source,
            "verified": d.verified, "fingerprint": d.fingerprint}
    buf = io.BytesIO()
    np.savez(buf, train_x=d.train_x, train_y=d.train_y, test_x=d.test_x, test_y=d.test_y,
             mnist_x=d.mnist_x, mnist_y=d.mnist_y, meta=np.asarray(json.dumps(meta)))
    atomic_write(path, buf.getvalue())


def load_prepared(path: Path) -> PreparedData:
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("version") != PREPARED_VERSION:
                raise DataError(f"{path} was prepared by another version.")
            arrays = {k: z[k] for k in ("train_x", "train_y", "test_x", "test_y",
                                        "mnist_x", "mnist_y")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"Prepared data cache {path} is unreadable ({exc}).") from None
    d = PreparedData(**arrays, classes=meta["classes"], source=meta["source"],
                     verified=meta["verified"])
    if d.fingerprint != meta["fingerprint"]:
        raise DataError(f"Prepared data cache {path} does not match its fingerprint.")
    return d


# ---------------------------------------------------------------- smoke data + subsets

def synthetic(seed: int = 0, train: int = 256, test: int = 128, mnist: int = 64) -> PreparedData:
    """A small generated data set for the smoke profile: each class a colour and a stripe."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(40, 216, size=(10, 3))

    def make(n):
        y = np.arange(n) % 10
        x = rng.normal(0, 25, size=(n, 32, 32, 3)) + palette[y][:, None, None, :]
        for i, cls in enumerate(y):
            x[i, :, (cls * 3):(cls * 3 + 3), :] = 255 - palette[cls]
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    mnist_x = np.zeros((mnist, 28, 28), np.uint8)
    mnist_y = np.arange(mnist) % 10
    for i, digit in enumerate(mnist_y):
        mnist_x[i, 4:24, 10 + digit // 2: 14 + digit // 2] = 255
    return PreparedData(*make(train), *make(test), mnist_x, mnist_y.astype(np.int64),
                        list(CIFAR_CLASSES), source=f"synthetic:seed={seed}", verified=True)


def balanced_subset(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first n // classes images of each class, in data order."""
    classes = np.unique(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    per_class = n // len(classes)
    picks = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    return np.sort(np.concatenate(picks))


def study_subsets(p, d: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the profile ``p``'s train and test images (class-balanced prefixes)."""
    return balanced_subset(d.train_y, p.train_images), balanced_subset(d.test_y, p.test_images)
