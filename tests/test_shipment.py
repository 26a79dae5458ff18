"""Packing results for the trip back from a GPU slot, and checking them on arrival."""

import json
import tarfile

import pytest

from vicreg_report.errors import VicregError
from vicreg_report.results import content_hash
from vicreg_report.shipment import ARCHIVE, MAX_FILE_BYTES, pack, unpack


@pytest.fixture
def smoke_results(smoke_study):
    """The shared smoke study's results folder (read only: packing reads it)."""
    return smoke_study.results


def test_pack_leaves_checkpoints_and_representation_arrays_behind(smoke_results, tmp_path):
    written = pack(smoke_results, tmp_path / "out", [smoke_results / "timings.json"])
    assert [p.name for p in written] == [ARCHIVE, "timings.json"]
    with tarfile.open(tmp_path / "out" / ARCHIVE) as tar:
        names = set(tar.getnames())
    assert "q1.pt" not in names and "reps.q1.npz" not in names
    assert {"reps.q1.json", "train.q1.json", "clustering.q1.npz", "timings.json"} <= names


def test_pack_refuses_too_many_or_too_big_files(smoke_results, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(7):
        (out / f"f{i}.txt").write_text("x")
    with pytest.raises(VicregError, match="at most 8"):
        pack(smoke_results, out, [smoke_results / "timings.json"])
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (MAX_FILE_BYTES + 1))
    with pytest.raises(VicregError, match="16 MiB"):
        pack(smoke_results, tmp_path / "out2", [big])
    assert not (tmp_path / "out2").exists()


def test_unpack_checks_and_replaces_the_target(smoke_results, tmp_path):
    pack(smoke_results, tmp_path / "out")
    into = tmp_path / "results" / "smoke" / "seed-0"
    into.mkdir(parents=True)
    (into / "left-over.json").write_text("{}")
    names = unpack(tmp_path / "out", into, "smoke", 0)
    assert "anomaly.q1.json" in names and "left-over.json" not in names
    assert (into / "anomaly.q1.json").stat().st_mode & 0o777 == 0o644


def _repacked(smoke_results, tmp_path, edit):
    """The smoke results packed, with ``edit(name, doc)`` applied to each JSON and its
    content hash made to match (as a forger would; index.json is left out)."""
    staged = tmp_path / "staged"
    staged.mkdir()
    for path in smoke_results.iterdir():
        if path.suffix == ".json" and path.name != "index.json":
            doc = edit(path.name, json.loads(path.read_text()))
            if doc is not None and "content_sha256" in doc:
                doc["content_sha256"] = content_hash(doc)
            if doc is not None:
                (staged / path.name).write_text(json.dumps(doc))
        elif path.suffix == ".npz":
            (staged / path.name).write_bytes(path.read_bytes())
    return pack(staged, tmp_path / "out")[0]


@pytest.mark.parametrize("edit, message", [
    (lambda n, d: {**d, "provenance": {**d["provenance"], "profile": "quick"}}
     if n == "anomaly.q1.json" else d, "anomaly.q1.json: computed for profile 'quick'"),
    (lambda n, d: {**d, "schema": 9} if n == "probe.q4.json" else d, "probe.q4.json: .*schema 9"),
    (lambda n, d: None if n == "clustering.q5.json" else d,
     "clustering.q5.npz: its arrays belong to no result"),
    (lambda n, d: None if n == "anomaly.q5.json" else d, "incomplete: .*anomaly.q5.json"),
])
def test_unpack_refuses_a_bad_shipment_and_keeps_the_target(smoke_results, tmp_path, edit,
                                                            message):
    archive = _repacked(smoke_results, tmp_path, edit)
    into = tmp_path / "into"
    into.mkdir()
    (into / "kept.json").write_text("{}")
    with pytest.raises(VicregError, match=message):
        unpack(archive, into, "smoke", 0)
    assert [p.name for p in into.iterdir()] == ["kept.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".into")]


def test_unpack_refuses_paths_and_a_broken_archive(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        (tmp_path / "x.json").write_text("{}")
        tar.add(tmp_path / "x.json", arcname="../x.json")
    with pytest.raises(VicregError, match="not a plain result file"):
        unpack(evil, tmp_path / "into", "smoke", 0)
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(VicregError, match="not a readable results archive"):
        unpack(tmp_path / "broken.tar.gz", tmp_path / "into", "smoke", 0)
    with pytest.raises(VicregError, match="No results.tar.gz"):
        unpack(tmp_path, tmp_path / "into", "smoke", 0)
