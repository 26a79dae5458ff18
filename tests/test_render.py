"""The document: both languages, HTML and PDF, every number from the context."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jinja2
import pytest
from PIL import Image
from pypdf import PdfReader

from vicreg_report import formatting as fmt
from vicreg_report import render
from vicreg_report import claims as claims_mod
from vicreg_report.claims import evaluate_claims
from vicreg_report.errors import VicregError
from vicreg_report.report_context import (measurements, seed_summary, single_seed,
                                          stale_entries, stale_sections, summary_rows)

HEADINGS = {
    "en": ["Setup", "Training curves", "Linear probe"],
    "he": ["הגדרות הניסוי", "עקומות האימון", "מסווג ליניארי"],
}
# The sections after the linear probe, in the study's order (level-2 headings).
NEW_HEADINGS = {
    "en": ["Results at a glance", "PCA versus t-SNE", "Without the variance term",
           "Without generated neighbours", "Laplacian Eigenmaps", "Retrieval",
           "Anomaly detection", "Clustering", "Claims of the original write-up, checked"],
    "he": ["התוצאות במבט אחד", "PCA לעומת t-SNE", "בלי איבר השונות", "בלי שכנים מלאכותיים",
           "מפות עצמיות של הלפלסיאן", "אחזור תמונות", "זיהוי חריגות", "חלוקה לאשכולות",
           "בדיקת הטענות של הדוח המקורי"],
}
ALL_HEADINGS = {lang: HEADINGS[lang] + NEW_HEADINGS[lang] for lang in HEADINGS}
TERMS = ("invariance", "variance", "covariance", "total")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
VEHICLES = ("airplane", "automobile", "ship", "truck")
STAGES = ("train:q1", "train:q4", "train:q5", "probe:q1", "probe:q4", "probe:q5",
          "probe:random_init", "embedding2d:q1", "laplacian:raw_pixels", "anomaly:q1",
          "clustering:q5")


def make_context() -> dict:
    """A plausible context in the shape report_context.build_context returns."""
    ctx = {
        "meta": {"title_en": "VICReg on CIFAR-10: a reproducible study",
                 "title_he": "VICReg על CIFAR-10: מחקר הניתן לשחזור",
                 "generated": "2026-11-28T10:00:00Z", "commit": "abc1234", "profile": "quick"},
        "setup": {
            "data_source": "zip:../shared/data/cifar10-jpeg.zip",
            "data_fingerprint": "3f9a1c0de4b27781", "data_verified": True,
            "profile": {"name": "quick", "arch": "cnn", "width": 32, "train_images": 10_000,
                        "test_images": 9_000, "epochs": 8, "batch_size": 256, "lr": 1e-3,
                        "weight_decay": 1e-6, "lam": 25.0, "mu": 24.0, "nu": 1.0, "gamma": 1.0,
                        "eps": 1e-4, "seed": 7, "config_hash": "9c1d2e3f4a5b6c7d"},
            "device": "cpu (x86_64, 2 threads)", "python": "3.11.7", "torch": "2.14.1",
            "torchvision": "0.29.1",
            "wall_time": {"train_s": 185.3, "probe_s": 42.2, "experiments_s": 24.4, "total_s": 251.9},
        },
        "training": {
            "figure": "figures/training_curves.png", "steps": 312, "epochs": 8,
            "first": {"invariance": 0.912, "variance": 1.874, "covariance": 0.0123,
                      "total": 47.782},
            "last": {"invariance": 0.217, "variance": 0.0412, "covariance": 0.6634,
                     "total": 7.116},
            "test_first": {"invariance": 0.351, "variance": 0.312, "covariance": 0.524,
                           "total": 17.021},
            "test_last": {"invariance": 0.264, "variance": 0.0398, "covariance": 0.7012,
                          "total": 8.296},
        },
        "probe": {
            "trained": {"test_acc": 0.6123, "train_acc": 0.6689},
            "random_init": {"test_acc": 0.3487, "train_acc": 0.3712},
            "original": {"test_acc": 0.724}, "course_threshold": 0.60,
            "settings": {"epochs": 100, "lr": 2e-3, "batch_size": 1024,
                         "train_images": 10_000, "test_images": 9_000},
        },
        "probes": {
            "classes": list(CLASSES),
            "q1": _probe_entry(0.6123, 0.6689, [0.7012, 0.7805, 0.4823, 0.4177, 0.5544,
                                                 0.5021, 0.6834, 0.6612, 0.7698, 0.7312]),
            "q4": _probe_entry(0.1689, 0.1702, [0.2511, 0.2233, 0.0912, 0.1044, 0.1321,
                                                 0.0977, 0.2105, 0.1488, 0.2456, 0.1843]),
            "q5": _probe_entry(0.4812, 0.5023, [0.5612, 0.6201, 0.3512, 0.3023, 0.4011,
                                                 0.3876, 0.5523, 0.5102, 0.6034, 0.5837]),
            "random_init": _probe_entry(0.3487, 0.3712, [0.4412, 0.4023, 0.2511, 0.2034,
                                                          0.3012, 0.2398, 0.3689, 0.3301,
                                                          0.4687, 0.4267]),
        },
        "q2": {
            "figure": "figures/q2_pca_tsne.png", "points": 2_000, "knn_k": 10, "knn_folds": 5,
            "tsne_method": "openTSNE-fft", "perplexity": 30.0,
            "q1": _map_entry(0.3512, 0.5874, -0.0412, 0.0631, [0.1423, 0.0911], 0.6825, 0.5213,
                             41.27, 0.1423, 0.2334, 0.5512),
            "q4": _map_entry(0.1633, 0.2145, -0.1203, -0.0534, [0.7012, 0.2113], 0.2311, 0.1822,
                             3.18, 0.7012, 0.9125, 0.9988),
            "q5": _map_entry(0.3011, 0.4866, -0.0533, 0.0412, [0.1802, 0.1104], 0.5521, 0.4312,
                             33.65, 0.1802, 0.2906, 0.6233),
            "random_init": _map_entry(0.2577, 0.3623, -0.0811, 0.0104, [0.3422, 0.1233], 0.4102,
                                      0.3055, 12.44, 0.3422, 0.4655, 0.8344),
        },
        "q4": {
            "figure_maps": "figures/q4_pca_tsne.png", "figure_spectra": "figures/pca_spectra.png",
            "figure_curves": "figures/q4_training_curves.png", "probe": 0.1689,
            "last": {"invariance": 0.0123, "variance": 0.9377, "covariance": 0.0041,
                     "total": 0.3116},
            "test_last": {"invariance": 0.0131, "variance": 0.9412, "covariance": 0.0044,
                          "total": 0.3319},
        },
        "q5": {"epochs": 1, "neighbours": 3, "steps": 39, "probe": 0.4812, "other_runs": [0.501]},
        "q6": {
            "figure": "figures/q6_laplacian_tsne.png", "images": 2_000, "components": 32,
            "neighbors": 10, "train_size": 1_800, "test_size": 200, "chance": 0.1,
            "raw_pixels": {"test_acc": 0.1050, "train_acc": 0.1122, "graph_components": 3,
                           "feature_dim": 3072},
            "random_cnn": {"test_acc": 0.1850, "train_acc": 0.2011, "graph_components": 1,
                           "feature_dim": 1024},
            "q1": {"test_acc": 0.5450, "train_acc": 0.6533},
            "random_init": {"test_acc": 0.3050, "train_acc": 0.3322},
        },
        "q7": {
            "figure_q1": "figures/q7_retrieval_q1.png", "figure_q5": "figures/q7_retrieval_q5.png",
            "q1": _retrieval_entry(0.5512, 0.2623, 0.0712, 0.1200, 0.1523, 17),
            "q5": _retrieval_entry(0.4231, 0.3512, 0.0911, 0.6200, 0.0611, 9),
            "dataset_grey": 0.0270, "dataset_saturation": 0.2811, "grey_threshold": 0.05,
        },
        "anomaly": {
            "figure_roc": "figures/anomaly_roc.png", "figure_top": "figures/anomaly_top.png",
            "k": 2, "top": 7, "wide_top": 100,
            "q1": _anomaly_entry(0.9123, {"8": 4, "0": 3}, {"8": 31, "0": 22, "2": 17, "6": 9,
                                                           "3": 8, "5": 6, "9": 3, "1": 1}),
            "q5": _anomaly_entry(0.9456, {"1": 5, "7": 2}, {"1": 40, "7": 19, "4": 13, "9": 9,
                                                           "2": 5, "8": 3, "0": 2, "6": 1}),
            "random_init": _anomaly_entry(0.8512, {"0": 3, "8": 3}, {"0": 25, "8": 20, "2": 14,
                                                                    "6": 11, "3": 7, "5": 6}),
        },
        "clustering": {
            "figure": "figures/clustering_tsne.png", "clusters": 10,
            "q1": {"silhouette": 0.0712, "ari": 0.2134, "nmi": 0.3312, "sample": 5_000,
                   "dimensions": 128},
            "q5": {"silhouette": 0.1288, "ari": 0.1534, "nmi": 0.2687, "sample": 5_000,
                   "dimensions": 128},
            "random_init": {"silhouette": 0.0523, "ari": 0.0812, "nmi": 0.1523, "sample": 5_000,
                            "dimensions": 128},
        },
        "original": {"q3_probe_acc": 0.7240, "q4_probe_acc": 0.1523, "q5_probe_acc": 0.5190,
                     "q6_probe_acc_raw_pixels": 0.10, "anomaly_auc_q1": 0.9348,
                     "anomaly_auc_q5": 0.9590, "silhouette_q1": 0.0884, "silhouette_q5": 0.1453},
        "stale": [],
        "provenance": provenance_entry(),
    }
    return derive(ctx)


def provenance_entry(varying: bool = True) -> dict:
    """The appendix: every result shares the common fields, train:q4 has its own
    configuration hash (Q4 is trained with mu = 0)."""
    common = {"commit": "abc1234", "profile": "quick", "seed": 7,
              "config_hash": "9c1d2e3f4a5b6c7d",
              "data_source": "zip:../shared/data/cifar10-jpeg.zip",
              "data_fingerprint": "3f9a1c0de4b27781", "device": "cpu (x86_64, 2 threads)",
              "python": "3.11.7", "torch": "2.14.1", "torchvision": "0.29.1", "numpy": "2.1.3"}
    rows = [{"stage": stage, "wall_time_s": 12.5 + i, "stage_key": f"{i:02d}ab34cd"}
            for i, stage in enumerate(STAGES)]
    if varying:
        for row in rows:
            row["config_hash"] = "77aa88bb99cc00dd" if row["stage"] == "train:q4" else None
    return {"common": common, "varying": ["config_hash"] if varying else [], "rows": rows,
            "total_s": sum(r["wall_time_s"] for r in rows), "seeds": [7], "seeds_known": True,
            "command": "nox -s report -- --profile quick --seed 7"}


def derive(ctx: dict) -> dict:
    """Fill the keys report_context derives from the others: the probe accuracies
    repeated in ``probe``/``q4``/``q5``, the claims (by the project's own rules) and
    the summary rows.  Call again after changing a number in a test."""
    pr = ctx["probes"]
    for enc in ("q1", "q4", "q5", "random_init"):
        per_class = pr[enc]["per_class"]
        pr[enc]["vehicles"] = sum(a for a, c in zip(per_class, CLASSES) if c in VEHICLES) / 4
        pr[enc]["animals"] = sum(a for a, c in zip(per_class, CLASSES) if c not in VEHICLES) / 6
    ctx["probe"]["trained"] = {k: pr["q1"][k] for k in ("test_acc", "train_acc")}
    ctx["probe"]["random_init"] = {k: pr["random_init"][k] for k in ("test_acc", "train_acc")}
    ctx["q4"]["probe"], ctx["q5"]["probe"] = pr["q4"]["test_acc"], pr["q5"]["test_acc"]
    pr["classes"] = list(CLASSES)
    pr["groups"] = {"vehicles": [c for c in CLASSES if c in VEHICLES],
                    "animals": [c for c in CLASSES if c not in VEHICLES]}
    pr["group_of"] = {c: "vehicles" if c in VEHICLES else "animals" for c in CLASSES}
    ctx["seeds"] = single_seed(ctx)
    ctx["setup"]["seeds"] = seed_summary(ctx["seeds"], ctx["setup"]["profile"]["seed"],
                                         [ctx["setup"]["profile"]["seed"]])
    ctx["stale"] = stale_entries(ctx.get("stale", []))
    ctx["stale_sections"] = stale_sections(ctx["stale"])
    ctx["claims"] = [vars(c) for c in evaluate_claims(measurements(ctx))]
    ctx["summary"] = summary_rows(ctx)
    return ctx


def several_seeds(ctx: dict, n: int = 3) -> dict:
    """``ctx`` as a document of ``n`` seeds: every metric spread around the first
    seed's value (the mean a little above it), the summary rebuilt."""
    for i, (name, entry) in enumerate(sorted(ctx["seeds"].items())):
        first = entry["values"][0]
        values = [first + 0.001 * (i % 7 + 1) * k for k in range(n)]
        mean = sum(values) / n
        std = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
        ctx["seeds"][name] = {"mean": mean, "std": std, "n": n, "values": values}
    ctx["setup"]["seeds"] = seed_summary(ctx["seeds"], ctx["setup"]["profile"]["seed"],
                                         [ctx["setup"]["profile"]["seed"], 11, 12][:n])
    ctx["summary"] = summary_rows(ctx)
    return ctx


def _probe_entry(test_acc: float, train_acc: float, per_class: list[float]) -> dict:
    return {"test_acc": test_acc, "train_acc": train_acc, "per_class": per_class}


def _map_entry(pca_knn, tsne_knn, pca_sil, tsne_sil, pca_ratio, tsne_vehicles, tsne_animals,
               effective_rank, top1, top2, top10) -> dict:
    return {"pca_knn": pca_knn, "tsne_knn": tsne_knn, "pca_silhouette": pca_sil,
            "tsne_silhouette": tsne_sil, "pca_ratio": pca_ratio, "tsne_vehicles": tsne_vehicles,
            "tsne_animals": tsne_animals, "pca_vehicles": tsne_vehicles - 0.2,
            "pca_animals": tsne_animals - 0.2, "effective_rank": effective_rank, "top1": top1,
            "top2": top2, "top10": top10, "dimensions": 128}


def _retrieval_entry(same, animal_other, animal_vehicle, grey, saturation, distinct) -> dict:
    return {"same_class": same, "animal_other_animal": animal_other,
            "animal_vehicle": animal_vehicle, "farthest_grey": grey,
            "farthest_saturation": saturation, "farthest_distinct": distinct, "k": 5,
            "mixing_k": 5}


def _anomaly_entry(auc: float, top: dict[str, int], wide: dict[str, int]) -> dict:
    ordered = lambda counts: [{"digit": d, "count": n}  # noqa: E731
                              for d, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    top_anomalies, wide_digits = sum(top.values()), sum(wide.values())
    return {"auc": auc, "top_normal": 7 - top_anomalies, "top_anomalies": top_anomalies,
            "top_digits": ordered(top), "wide_normal": 100 - wide_digits,
            "wide_digits": ordered(wide),
            "wide_digit_counts": {str(d): wide.get(str(d), 0) for d in range(10)}}


def figure_paths(ctx: dict) -> list[str]:
    """Every figure path the context names (relative to the markdown file)."""
    return [ctx[section][key] for section, key in render.FIGURE_KEYS]


def write_figures(out_dir: Path, ctx: dict) -> None:
    for rel in figure_paths(ctx):
        write_figure(out_dir, rel)


def write_figure(out_dir: Path, rel: str) -> Path:
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (64, 40), "white")
    for x in range(64):
        img.putpixel((x, 39 - min(39, int(40 * 0.95 ** x))), (31, 95, 168))
    img.save(path)
    return path


def formatted_numbers(ctx: dict, lang: str) -> list[str]:
    """Every number the report shows, as the formatters write it."""
    p, t, probe = ctx["setup"]["profile"], ctx["training"], ctx["probe"]
    nums = [fmt.percent(v) for v in (probe["trained"]["test_acc"], probe["trained"]["train_acc"],
                                     probe["random_init"]["test_acc"],
                                     probe["random_init"]["train_acc"],
                                     probe["original"]["test_acc"], probe["course_threshold"])]
    gain = probe["trained"]["test_acc"] - probe["random_init"]["test_acc"]
    over_threshold = probe["trained"]["test_acc"] - probe["course_threshold"]
    under_original = probe["original"]["test_acc"] - probe["trained"]["test_acc"]
    nums += [fmt.percent_points(v, signed=False, lang=lang)
             for v in (gain, over_threshold, under_original)]
    nums += [fmt.loss(t[k][term]) for k in ("first", "last", "test_first", "test_last")
             for term in TERMS]
    nums += [fmt.integer(v) for v in (t["steps"], t["epochs"], p["width"], p["train_images"],
                                      p["test_images"], p["epochs"], p["batch_size"], p["seed"],
                                      *(probe["settings"][k] for k in ("epochs", "batch_size",
                                                                       "train_images",
                                                                       "test_images")))]
    nums += [fmt.real(v) for v in (p["lr"], p["weight_decay"], p["lam"], p["mu"], p["nu"],
                                   p["gamma"], p["eps"], probe["settings"]["lr"])]
    nums += [fmt.seconds(v, lang) for v in ctx["setup"]["wall_time"].values()]
    nums += [ctx["setup"]["data_fingerprint"], p["config_hash"], ctx["meta"]["commit"]]
    return nums + summary_numbers(ctx) + section_numbers(ctx)


def summary_numbers(ctx: dict) -> list[str]:
    """Every number of the summary table, as its kind is written."""
    return [fmt.metric(row[col], row["kind"]) for row in ctx["summary"]
            for col in ("this", "control", "original") if row[col] is not None]


def section_numbers(ctx: dict) -> list[str]:
    """The numbers the sections after the linear probe show in their tables."""
    pr, q2, q6, q7 = ctx["probes"], ctx["q2"], ctx["q6"], ctx["q7"]
    an, cl = ctx["anomaly"], ctx["clustering"]
    nums = [fmt.percent(v) for enc in ("q1", "random_init")
            for v in (*pr[enc]["per_class"], pr[enc]["vehicles"], pr[enc]["animals"])]
    nums += [fmt.percent(q2[enc][k]) for enc in ("q1", "random_init")
             for k in ("pca_knn", "tsne_knn")]
    nums += [fmt.score(q2[enc][k]) for enc in ("q1", "random_init")
             for k in ("pca_silhouette", "tsne_silhouette")]
    nums += [fmt.rank(q2[enc]["effective_rank"]) for enc in ("q1", "q4", "random_init")]
    nums += [fmt.percent(q2[enc][k]) for enc in ("q1", "q4", "random_init")
             for k in ("top1", "top2", "top10")]
    nums += [fmt.percent(v) for v in (ctx["q4"]["probe"], ctx["q5"]["probe"],
                                      *ctx["q5"]["other_runs"])]
    nums += [fmt.percent(q6[v][k]) for v in ("raw_pixels", "random_cnn", "q1", "random_init")
             for k in ("test_acc", "train_acc")] + [fmt.percent(q6["chance"])]
    nums += [fmt.integer(q6[v]["graph_components"]) for v in ("raw_pixels", "random_cnn")]
    nums += [fmt.percent(q7[enc][k]) for enc in ("q1", "q5")
             for k in ("same_class", "animal_other_animal", "animal_vehicle", "farthest_grey")]
    nums += [fmt.score(v) for v in (q7["q1"]["farthest_saturation"],
                                    q7["q5"]["farthest_saturation"], q7["dataset_saturation"])]
    nums += [fmt.percent(q7["dataset_grey"])]
    nums += [fmt.auc(an[enc]["auc"]) for enc in ("q1", "q5", "random_init")]
    nums += [fmt.integer(an[enc][k]) for enc in ("q1", "q5") for k in ("top_normal", "wide_normal")]
    nums += [fmt.score(cl[enc][k]) for enc in ("q1", "q5", "random_init")
             for k in ("silhouette", "ari", "nmi")]
    nums += [fmt.integer(cl["q1"][k]) for k in ("sample", "dimensions")]
    return nums


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_text(path: Path) -> str:
    return squash(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    ctx = make_context()
    write_figures(out, ctx)
    outputs = render.build_document(ctx, out)
    return ctx, out, outputs


# ---------------------------------------------------------------- outputs

def test_all_outputs_exist_and_are_not_empty(built):
    _, out, outputs = built
    assert set(outputs) == {"html_en", "pdf_en", "html_he", "pdf_he", "index", "numbers"}
    for key, name in [("html_en", "vicreg-report.en.html"), ("pdf_en", "vicreg-report.en.pdf"),
                      ("html_he", "vicreg-report.he.html"), ("pdf_he", "vicreg-report.he.pdf"),
                      ("index", "index.html")]:
        assert outputs[key] == out / name
        assert outputs[key].stat().st_size > 1000
    for lang in ("en", "he"):
        assert outputs[f"pdf_{lang}"].read_bytes().startswith(b"%PDF")
        assert len(PdfReader(outputs[f"pdf_{lang}"]).pages) >= 2
    assert outputs["numbers"] == out / "numbers.json"
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_document_project_is_copied(built):
    _, out, _ = built
    for rel in ("_quarto.yml", "styles.css", "template.typ", "filters/rtl.lua",
                "filters/callout.lua", "report.en.qmd", "report.he.qmd"):
        assert (out / rel).is_file(), rel
    quarto = (out / "_quarto.yml").read_text()
    assert "report.en.qmd" in quarto and "report.he.qmd" in quarto
    assert "typst" in quarto and "embed-resources: true" in quarto
    assert "filters/callout.lua" in quarto


@pytest.mark.parametrize("lang, direction", [("en", "ltr"), ("he", "rtl")])
def test_sources_have_quarto_front_matter(built, lang, direction):
    ctx, out, _ = built
    source = (out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    front = source.split("---\n")[1]
    assert f"lang: {lang}\n" in front and f"dir: {direction}\n" in front
    assert f'title: "{ctx["meta"][f"title_{lang}"]}"' in front
    assert "](<figures/training_curves.png>)" in source


@pytest.mark.parametrize("lang", ["en", "he"])
def test_html_has_headings_numbers_and_direction(built, lang):
    ctx, _, outputs = built
    html = html_text(outputs[f"html_{lang}"])
    direction = "rtl" if lang == "he" else "ltr"
    assert re.search(rf'<html[^>]*lang="{lang}"', html)
    assert re.search(rf'<html[^>]*dir="{direction}"', html)
    for heading in ALL_HEADINGS[lang]:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", html), heading
    for number in formatted_numbers(ctx, lang):
        assert number in html, f"{number!r} missing from the {lang} HTML"
    # the figure is embedded, not linked
    assert 'src="data:image/png;base64,' in html


def test_hebrew_tables_are_right_aligned(built):
    _, out, outputs = built
    html = html_text(outputs["html_he"])
    cells = re.findall(r'<t[hd] style="text-align: (\w+);"', html)
    assert cells and set(cells) == {"right"}
    source = (out / "report.he.qmd").read_text(encoding="utf-8")
    separators = [line for line in source.splitlines() if re.fullmatch(r"\|[-:|]+\|", line)]
    # settings, environment, loss terms, probe; summary, probe by class, Q2 maps, Q4 collapse,
    # Q4 probe, Q5 probe, Q6 probes, Q7 retrieval, anomaly AUC, anomaly digits, clustering;
    # provenance shared and per result
    assert len(separators) == 17
    assert all(set(cell) == {"-", ":"} and cell.endswith(":") and not cell.startswith(":")
               for line in separators for cell in line.strip("|").split("|"))


@pytest.mark.parametrize("lang", ["en", "he"])
def test_pdf_text_has_numbers(built, lang):
    ctx, _, outputs = built
    text = squash(pdf_text(outputs[f"pdf_{lang}"]))
    for number in formatted_numbers(ctx, lang):
        # Hebrew words and units may come out of the PDF in visual order; the
        # digits of each number stay together in every language.
        parts = [number] if lang == "en" else re.findall(r"[0-9a-f.,:%e+\-]*\d[0-9a-f.,:%e+\-]*",
                                                         number)
        assert parts, number
        for part in parts:
            assert part in text, f"{part!r} (from {number!r}) missing from the {lang} PDF"


def test_pdf_text_has_english_headings(built):
    _, _, outputs = built
    lines = [squash(line).strip() for line in pdf_text(outputs["pdf_en"]).splitlines()]
    for heading in ALL_HEADINGS["en"]:
        assert heading in lines, heading


def test_pdf_text_has_hebrew_headings(built):
    """pypdf gives Hebrew words in logical order but may join or reorder them
    within a line, so a heading counts as present when one short line holds
    all its words and nothing else."""
    _, _, outputs = built
    lines = pdf_text(outputs["pdf_he"]).splitlines()
    for heading in ALL_HEADINGS["he"]:
        words = heading.split()
        hits = [line for line in lines
                if all(w in line for w in words)
                and len(line.replace(" ", "")) == len(heading.replace(" ", ""))]
        assert hits, f"heading {heading!r} not found in the Hebrew PDF"


def test_typst_source_keeps_hebrew_headings(built):
    """rtl.lua wraps the lang div, so pandoc does not glue the heading to a #set."""
    _, out, _ = built
    typ = (out / "vicreg-report.he.typ").read_text(encoding="utf-8")
    assert '#text(lang: "he", dir: rtl)[' in typ
    assert '#set text(lang: "he");' not in typ  # pandoc's own form, which loses the heading
    for heading in ALL_HEADINGS["he"]:
        assert re.search(rf"^== {re.escape(heading)}$", typ, re.M), heading


def test_index_links_the_four_documents(built):
    ctx, _, outputs = built
    index = outputs["index"].read_text(encoding="utf-8")
    for name in ("vicreg-report.en.html", "vicreg-report.en.pdf",
                 "vicreg-report.he.html", "vicreg-report.he.pdf"):
        assert f'href="{name}"' in index
    assert ctx["meta"]["title_en"] in index and ctx["meta"]["title_he"] in index
    assert 'lang="he" dir="rtl"' in index


# ---------------------------------------------------------------- comparisons

def flipped_context() -> dict:
    """Training hurt: the trained encoder below its random init, every loss rising,
    below the course threshold."""
    ctx = make_context()
    probe = ctx["probe"]
    probe["trained"], probe["random_init"] = probe["random_init"], probe["trained"]
    t = ctx["training"]
    t["first"], t["last"] = t["last"], t["first"]
    return ctx


def test_comparative_sentences_follow_the_numbers_en():
    good = render.render_markdown("en", make_context())
    bad = render.render_markdown("en", flipped_context())
    assert "self-supervised training added 26.36 pp" in squash(good)
    assert "What training added: nothing." in bad and "self-supervised training added" not in bad
    assert "*below* the 61.23% of its own random initialisation" in squash(bad)
    assert "clears the course's threshold" in squash(good)
    assert "falls short of the course's threshold of 60.00% by 25.13 pp" in squash(bad)
    assert "**Invariance** (mean squared distance between the projections of the two views) " \
           "fell: 0.912 → 0.217." in squash(good)
    assert "rose: 0.217 → 0.912." in squash(bad)
    assert "The total fell" in good and "The total rose" in bad


def test_comparative_sentences_follow_the_numbers_he():
    good = squash(render.render_markdown("he", make_context()))
    bad = squash(render.render_markdown("he", flipped_context()))
    assert "האימון בפיקוח עצמי הוסיף 26.36 נקודות אחוז" in good
    assert "**מה תרם האימון: כלום.**" in bad and "הוסיף 26.36" not in bad
    assert "התוצאה עוברת את הסף" in good and "התוצאה עוברת את הסף" not in bad
    assert "חסרות 25.13 נקודות אחוז כדי להגיע לסף" in bad
    assert "ירד מ-0.912 ל-0.217." in good and "עלה מ-0.217 ל-0.912." in bad


def test_equal_numbers_get_equal_wording():
    ctx = make_context()
    ctx["probe"]["random_init"]["test_acc"] = ctx["probe"]["trained"]["test_acc"]
    ctx["probe"]["trained"]["test_acc"] = ctx["probe"]["original"]["test_acc"] + 0.004
    ctx["probe"]["random_init"]["test_acc"] = ctx["probe"]["trained"]["test_acc"]
    en = squash(render.render_markdown("en", ctx))
    assert "What training added: nothing measurable." in en
    assert "within 1.00 pp of the original write-up's 72.40%" in en


def test_synthetic_data_is_called_out():
    ctx = make_context()
    ctx["setup"]["data_source"] = "synthetic:seed=0"
    en, he = render.render_markdown("en", ctx), render.render_markdown("he", ctx)
    assert "smoke run on generated images" in en and "תמונות סינתטיות" in he
    assert "standard release" not in en and "הגרסה הרשמית" not in he


def test_unverified_data_is_called_out():
    ctx = make_context()
    verified = squash(render.render_markdown("en", ctx))
    ctx["setup"]["data_verified"] = False
    unverified = squash(render.render_markdown("en", ctx))
    assert "every published checksum known for this source matched" in verified
    assert "treat the data as unverified" in unverified
    assert "treat the data as unverified" not in verified
    assert "כלא-מאומתים" in render.render_markdown("he", ctx)


# ---------------------------------------------------------------- errors

def test_missing_key_is_a_clear_error():
    ctx = make_context()
    del ctx["probe"]["trained"]["test_acc"]
    del ctx["training"]["test_last"]
    with pytest.raises(render.RenderError) as err:
        render.render_markdown("he", ctx)
    assert "probe.trained.test_acc" in str(err.value)
    assert "training.test_last" in str(err.value)
    assert isinstance(err.value, VicregError)


def test_templates_are_strict():
    """Without the schema check, StrictUndefined still refuses a missing key."""
    ctx = make_context()
    del ctx["probe"]["random_init"]["train_acc"]
    template = render.make_environment().get_template("report.en.md.j2")
    with pytest.raises(jinja2.UndefinedError, match="train_acc"):
        template.render(**ctx)


def test_unknown_value_in_template_names_the_line():
    ctx = make_context()
    ctx["setup"]["profile"]["arch"] = "vit"
    with pytest.raises(render.RenderError, match=r"jinja2: rendering report\.en\.md\.j2 line \d+"):
        render.render_markdown("en", ctx)


def test_wrong_type_is_a_render_error():
    ctx = make_context()
    ctx["probe"]["trained"]["test_acc"] = None
    with pytest.raises(render.RenderError, match="expects a number"):
        render.render_markdown("en", ctx)


def test_unknown_language():
    with pytest.raises(render.RenderError, match="fr"):
        render.render_markdown("fr", make_context())


def test_missing_figure_writes_nothing(tmp_path):
    with pytest.raises(render.RenderError, match="training_curves.png"):
        render.build_document(make_context(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_step_leaves_no_partial_output(tmp_path, monkeypatch):
    ctx = make_context()
    write_figures(tmp_path, ctx)
    before = render.build_document(ctx, tmp_path)
    old = {key: path.read_bytes() for key, path in before.items()}

    calls = []

    def failing_typst(typ, root, timestamp=None):
        calls.append(typ)
        if len(calls) == 2:
            raise render.RenderError("typst: compiling (simulated) failed")
        return b"%PDF-1.7 stub"

    monkeypatch.setattr(render, "_typst_pdf", failing_typst)
    ctx["probe"]["trained"]["test_acc"] = 0.7777
    with pytest.raises(render.RenderError, match="typst"):
        render.build_document(ctx, tmp_path)
    # the earlier complete set is untouched, nothing half-written beside it
    assert {key: path.read_bytes() for key, path in before.items()} == old
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pandoc_failure_names_the_tool(tmp_path, monkeypatch):
    import pypandoc

    ctx = make_context()
    write_figures(tmp_path, ctx)

    def broken(*args, **kwargs):
        raise RuntimeError("Pandoc died with exitcode 1")

    monkeypatch.setattr(pypandoc, "convert_file", broken)
    with pytest.raises(render.RenderError, match=r"pandoc: converting report\.en\.qmd to html5"):
        render.build_document(ctx, tmp_path)
    assert not list(tmp_path.glob("vicreg-report.*"))
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- templates

# names and layout, not results
ALLOWED_DIGITS = ("CIFAR-10", "ResNet-18", "ICLR 2022", "SHA-256")
LAYOUT = re.compile(r"width=\d+%")
# Identifiers (context keys such as q2.q1.top10, claim ids such as digits_8_and_1,
# anchors such as sec-q7, the experiment names Q1...Q7): a digit inside one is a
# name, not a number.  Any digit left over is a literal number.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def report_templates() -> list[Path]:
    return sorted(render.TEMPLATES_DIR.glob("report.*.j2")) + sorted(
        render.TEMPLATES_DIR.glob("_*.j2"))


def test_every_report_template_is_checked():
    names = {p.name for p in report_templates()}
    assert {"report.en.md.j2", "report.he.md.j2"} <= names


@pytest.mark.parametrize("path", report_templates(), ids=lambda p: p.name)
def test_templates_hold_no_literal_numbers(path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\{##.*?##\}", "", text, flags=re.S)
    for allowed in ALLOWED_DIGITS:
        text = text.replace(allowed, "")
    text = LAYOUT.sub("", text)
    text = IDENTIFIER.sub("", text)
    leftovers = re.findall(r".{0,20}\d.{0,20}", text)
    assert not leftovers, leftovers


def test_literal_number_check_catches_numbers():
    """The identifier rule does not hide a number in prose or in an expression."""
    for sample in ("reaches 72.40%", "{{ x * 100 }}", "compare(a, 0.5)", "tol=1e-4",
                   "the top 7 images", "width=50"):
        stripped = IDENTIFIER.sub("", LAYOUT.sub("", sample))
        assert re.search(r"\d", stripped), sample


def test_paths_are_under_the_repository():
    assert (render.TEMPLATES_DIR / "report.en.md.j2").is_file()
    assert (render.REPORT_DIR / "_quarto.yml").is_file()
    assert render.REPO_ROOT == Path(render.__file__).resolve().parents[2]


def test_quarto_probe(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert render.quarto_available() is False
    with pytest.raises(render.RenderError, match="quarto"):
        render.render_with_quarto(Path("."))


def test_build_is_reproducible(built, tmp_path):
    """Same context and figure, same bytes: the PDF dates come from meta.generated."""
    ctx, out, outputs = built
    (tmp_path / "figures").mkdir()
    for rel in figure_paths(ctx):
        (tmp_path / rel).write_bytes((out / rel).read_bytes())
    again = render.build_document(ctx, tmp_path)
    for key in outputs:
        assert again[key].read_bytes() == outputs[key].read_bytes(), key
    assert b"D:20261128100000" in again["pdf_en"].read_bytes()


# ---------------------------------------------------------------- the study's sections

@pytest.mark.parametrize("lang", ["en", "he"])
def test_sections_follow_the_study_order(built, lang):
    _, out, _ = built
    source = (out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    positions = [source.index(f"## {heading} {{#sec-") for heading in ALL_HEADINGS[lang]]
    summary, setup = positions[len(HEADINGS[lang])], positions[0]
    assert summary < setup, "the summary table comes right after the introduction"
    rest = [setup, *positions[1:len(HEADINGS[lang])], *positions[len(HEADINGS[lang]) + 1:]]
    assert rest == sorted(rest)


@pytest.mark.parametrize("lang", ["en", "he"])
def test_summary_numbers_appear_in_html(built, lang):
    ctx, _, outputs = built
    html = html_text(outputs[f"html_{lang}"])
    start = html.index('id="sec-summary"')
    table = html[start:html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]
    assert len(rows) == len(ctx["summary"])
    for row, html_row in zip(ctx["summary"], rows):
        cells = [squash(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", html_row)]
        expected = [fmt.metric(row[col], row["kind"]) for col in ("this", "control", "original")]
        assert cells[1:4] == expected, (row["key"], cells)
    # a number that does not exist is a dash, never "None" or "n/a"
    assert fmt.DASH in table and "None" not in table


def test_new_formatters_in_the_report():
    md = render.render_markdown("en", make_context())
    assert "| PCA | 35.12% | 25.77% | \u22120.0412 | \u22120.0811 |" in md   # score, real minus
    assert "| Effective rank | 41.27 | 3.18 | 12.44 |" in md                # rank
    assert "It was trained for one epoch (39 batches)" in squash(md)      # the test "one"
    ctx = make_context()
    ctx["q5"]["epochs"] = 3
    assert "It was trained for 3 epochs (39 batches)" in squash(render.render_markdown("en", ctx))
    assert "אומן במשך 3 אפוקים" in squash(render.render_markdown("he", ctx))


def claim_entries(markdown: str) -> list[str]:
    """The numbered entries of the claims section, one string each."""
    section = markdown[markdown.index("{#sec-claims}"):]
    return [squash(e) for e in re.split(r"\n(?=#\. )", section)[1:]]


VERDICT = {"en": ("**Verdict: supported.**", "**Verdict: not supported.**"),
           "he": ("**הפסיקה: הטענה נתמכת.**", "**הפסיקה: הטענה אינה נתמכת.**")}


@pytest.mark.parametrize("lang", ["en", "he"])
def test_claim_verdicts_follow_supported(lang):
    ctx = make_context()
    yes, no = VERDICT[lang]
    entries = claim_entries(render.render_markdown(lang, ctx))
    assert len(entries) == len(ctx["claims"]) == 8
    for claim, entry in zip(ctx["claims"], entries):
        assert (yes if claim["supported"] else no) in entry, (claim["id"], entry)
    for claim in ctx["claims"]:
        claim["supported"] = not claim["supported"]
    flipped = claim_entries(render.render_markdown(lang, ctx))
    for claim, before, after in zip(ctx["claims"], entries, flipped):
        assert (yes if claim["supported"] else no) in after, claim["id"]
        assert before != after, claim["id"]
        # the measurement and its values do not change with the verdict
        assert before.replace(yes, "").replace(no, "") == after.replace(yes, "").replace(no, "")


def test_claims_state_rule_and_values():
    ctx = make_context()
    entries = {c["id"]: e for c, e in zip(ctx["claims"],
                                          claim_entries(render.render_markdown("en", ctx)))}
    collapse = next(c for c in ctx["claims"] if c["id"] == "q4_collapses")
    assert f"at most {fmt.real(collapse['values']['rank_ratio'])} times Q1's" in \
        entries["q4_collapses"]
    assert "effective rank 3.18 for Q4 against 41.27 for Q1" in entries["q4_collapses"]
    grey = next(c for c in ctx["claims"] if c["id"] == "q5_farthest_grey")
    assert f"supported if it exceeds {fmt.percent(grey['values']['threshold'])}" in \
        entries["q5_farthest_grey"]
    assert "Q1 flags the digit 8 most often (31 times), Q5 the digit 1 (40 times)" in \
        entries["digits_8_and_1"]
    assert "Q1 0.9123, Q5 0.9456" in entries["q5_auc_higher"]
    he = claim_entries(render.render_markdown("he", ctx))
    assert "פי 0.5 מזו של Q1" in he[2] and "3.18" in he[2]


def test_unknown_claim_is_an_error():
    ctx = make_context()
    ctx["claims"].append({"id": "a_new_claim", "supported": True, "values": {}})
    with pytest.raises(render.RenderError, match="a_new_claim"):
        render.render_markdown("en", ctx)


def variant(change) -> dict:
    """make_context() with ``change(ctx)`` applied and the derived keys recomputed."""
    ctx = make_context()
    change(ctx)
    return derive(ctx)


def swap(d: dict, a: str, b: str) -> None:
    d[a], d[b] = d[b], d[a]


def _set(d: dict, **values):
    d.update(values)


# section -> (change to the numbers, English sentence before, after; Hebrew before, after)
FLIPS = {
    "summary": (lambda c: swap(c["probes"], "q1", "random_init"),
                "| Linear probe, Q1 encoder | 61.23% | 34.87% | 72.40% | higher |",
                "| Linear probe, Q1 encoder | 34.87% | 61.23% | 72.40% | lower |",
                "| מסווג ליניארי, מקודד Q1 | 61.23% | 34.87% | 72.40% | גבוה יותר |",
                "| מסווג ליניארי, מקודד Q1 | 34.87% | 61.23% | 72.40% | נמוך יותר |"),
    "per_class": (lambda c: _set(c["probes"]["q1"], per_class=[
                      0.3012 if name in VEHICLES else acc
                      for name, acc in zip(CLASSES, c["probes"]["q1"]["per_class"])]),
                  "Averaged by group, the vehicle classes reach",
                  "Averaged by group, the animal classes come out ahead",
                  "בממוצע לפי קבוצה, מחלקות כלי הרכב מגיעות",
                  "הפעם דווקא מחלקות בעלי החיים מקדימות"),
    "q2": (lambda c: swap(c["q2"]["q1"], "pca_knn", "tsne_knn"),
           "t-SNE separates the classes better, as the original write-up found.",
           "Against expectation, a point's neighbours share its class less often in the t-SNE map",
           "t-SNE מפריד בין המחלקות טוב יותר, כפי שמצא הדוח המקורי.",
           "בניגוד לציפייה, במפת ה-t-SNE השכנים"),
    "q4": (lambda c: (swap(c["q2"], "q1", "q4")),
           "**Dimensional collapse.** Without the variance term the representation spreads over "
           "an effective rank of only 3.18 directions, against 41.27 for Q1",
           "**No sign of dimensional collapse.**",
           "**קריסה ממדית.**", "**אין סימן לקריסה ממדית.**"),
    "q4_probe": (lambda c: _set(c["probes"]["q4"], test_acc=0.4102),
                 "It is even below the untrained control (34.87%)",
                 "It stays above the untrained control (34.87%)",
                 "זה אפילו פחות מהביקורת הלא-מאומנת", "זה עדיין יותר מהביקורת הלא-מאומנת"),
    "q5": (lambda c: _set(c["probes"]["q5"], test_acc=0.6501),
           "Trained on neighbour pairs, the encoder reaches 48.12%, 13.11 pp below the Q1 encoder",
           "Trained on neighbour pairs, the encoder reaches 65.01%, 3.78 pp *above* the Q1 encoder",
           "13.11 נקודות אחוז פחות ממקודד Q1", "3.78 נקודות אחוז *יותר* ממקודד Q1"),
    "q6": (lambda c: _set(c["q6"], q1={"test_acc": 0.1500, "train_acc": 0.2011}),
           "on this split, the learned representation beats the training-free embedding",
           "on this split, the training-free embedding wins",
           "הייצוג הנלמד עדיף על השיכון שאינו דורש אימון",
           "דווקא השיכון שאינו דורש אימון מנצח"),
    "q6_graph": (lambda c: _set(c["q6"]["raw_pixels"], graph_components=1),
                 "The random-CNN graph is connected, but the raw-pixel graph falls apart into "
                 "3 separate pieces.",
                 "Both neighbourhood graphs are connected",
                 "גרף ה-CNN האקראית קשיר, אבל גרף הפיקסלים הגולמיים מתפרק ל-3",
                 "שני גרפי השכנות קשירים"),
    "q7": (lambda c: swap(c["q7"], "q1", "q5"),
           "Around animal images Q5 mixes the animal classes more: 35.12%",
           "Around animal images, however, Q5 mixes the animal classes less than Q1",
           "סביב תמונות של בעלי חיים Q5 מערבב יותר בין מחלקות בעלי החיים",
           "סביב תמונות של בעלי חיים Q5 דווקא מערבב פחות"),
    "anomaly": (lambda c: _set(c["anomaly"]["q5"], auc=0.8801),
                "The Q5 encoder separates the digits from CIFAR-10 better than the Q1 encoder "
                "(AUC 0.9456 against 0.9123)",
                "The Q1 encoder separates the digits from CIFAR-10 better than the Q5 encoder "
                "(AUC 0.9123 against 0.8801)",
                "מקודד Q5 מפריד בין הספרות לבין CIFAR-10 טוב יותר ממקודד Q1",
                "מקודד Q1 מפריד בין הספרות לבין CIFAR-10 טוב יותר ממקודד Q5"),
    "clustering": (lambda c: swap(c["clustering"], "q1", "q5"),
                   "This is the pattern the original write-up described",
                   "does not appear in this run",
                   "זה בדיוק הדפוס שתיאר הדוח המקורי",
                   "אינו מופיע בהרצה הזו"),
}


@pytest.mark.parametrize("section", list(FLIPS))
@pytest.mark.parametrize("lang", ["en", "he"])
def test_comparative_sentences_of_each_section_follow_the_numbers(section, lang):
    change, en_before, en_after, he_before, he_after = FLIPS[section]
    before_text, after_text = (en_before, en_after) if lang == "en" else (he_before, he_after)
    good = squash(render.render_markdown(lang, make_context()))
    bad = squash(render.render_markdown(lang, variant(change)))
    assert before_text in good and before_text not in bad, section
    assert after_text in bad and after_text not in good, section


def test_equal_scores_and_aucs_get_equal_wording():
    def level(c):
        c["anomaly"]["q5"]["auc"] = c["anomaly"]["q1"]["auc"] + fmt.TOLERANCES["auc"] / 2
        c["clustering"]["q5"].update(silhouette=c["clustering"]["q1"]["silhouette"],
                                     ari=c["clustering"]["q1"]["ari"])
    en = squash(render.render_markdown("en", variant(level)))
    assert "The two encoders separate the digits from CIFAR-10 equally well" in en
    assert "The Q5 clusters have the same silhouette" in en
    assert "match the classes about as well by the ARI" in en


# ---------------------------------------------------------------- context shape

def test_missing_list_item_key_is_named():
    ctx = make_context()
    del ctx["claims"][2]["supported"]
    del ctx["summary"][0]["original"]
    with pytest.raises(render.RenderError) as err:
        render.render_markdown("en", ctx)
    assert "claims[2].supported" in str(err.value)
    assert "summary[0].original" in str(err.value)


def test_schema_covers_every_new_section():
    for key in ("probes", "q2", "q4", "q5", "q6", "q7", "anomaly", "clustering", "original",
                "claims", "summary", "seeds", "stale", "stale_sections", "provenance"):
        ctx = make_context()
        del ctx[key]
        assert render.missing_keys(ctx) == [key]


def test_every_missing_figure_is_named(tmp_path):
    ctx = make_context()
    write_figure(tmp_path, ctx["training"]["figure"])
    with pytest.raises(render.RenderError) as err:
        render.build_document(ctx, tmp_path)
    for rel in figure_paths(ctx)[1:]:
        assert rel in str(err.value)
    assert ctx["training"]["figure"] not in str(err.value)


@pytest.mark.parametrize("lang", ["en", "he"])
def test_every_figure_has_a_caption(built, lang):
    ctx, out, outputs = built
    source = (out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    for rel in figure_paths(ctx):
        match = re.search(r"!\[([^\]]+)\]\(<" + re.escape(rel) + r">\)", source)
        assert match and len(match.group(1).split()) >= 5, rel
    html = html_text(outputs[f"html_{lang}"])
    assert html.count("<figcaption") == len(figure_paths(ctx))


# ---------------------------------------------------------------- seeds, staleness, provenance

@pytest.mark.parametrize("lang", ["en", "he"])
def test_one_seed_shows_single_values_and_no_seed_wording(lang):
    md = squash(render.render_markdown(lang, make_context()))
    assert "±" not in md
    assert ("seeds" if lang == "en" else "זרעים") not in md
    row = make_context()["summary"][0]
    assert f"| {fmt.percent(row['this'])} | {fmt.percent(row['control'])} |" in md


SEEDS_NOTE = {"en": ("describes the run with the first seed, 7", "(3 seeds: "),
              "he": ("מתאר את ההרצה עם הזרע הראשון, 7", "(3 זרעים: ")}


@pytest.mark.parametrize("lang", ["en", "he"])
def test_several_seeds_show_mean_and_std(lang):
    ctx = several_seeds(make_context())
    md = squash(render.render_markdown(lang, ctx))
    first_seed, in_text = SEEDS_NOTE[lang]
    assert first_seed in md                       # the prose is the first seed's
    probe = ctx["seeds"]["probe_q1"]
    spread = fmt.spread(probe, "percent", lang=lang, count=False)
    assert f"| {spread} |" in md                  # the summary table: mean ± std
    assert fmt.percent(probe["mean"]) != fmt.percent(ctx["probes"]["q1"]["test_acc"])
    # the prose: the first seed's value, then mean ± std over the seeds
    assert (fmt.percent(ctx["probes"]["q1"]["test_acc"])
            + fmt.over_seeds(probe, "percent", lang=lang)) in md
    assert in_text in md
    auc = ctx["seeds"]["auc_q5"]
    assert fmt.over_seeds(auc, "auc", lang=lang) in md
    sil = ctx["seeds"]["silhouette_q1"]
    assert fmt.over_seeds(sil, "score", lang=lang) in md
    heading = ("This run, mean ± std (3 seeds)" if lang == "en"
               else "ההרצה הנוכחית, ממוצע ± סטיית תקן (3 זרעים)")
    assert heading in md
    assert "7, 11, 12" in md                       # the seeds shown


def test_several_seeds_compare_the_means():
    """The summary's last column compares what the row shows: the means."""
    ctx = several_seeds(make_context())
    row = ctx["summary"][0]
    ctx["seeds"]["probe_q1"] = {**row["this_seeds"], "mean": row["control_seeds"]["mean"] - 0.1}
    ctx["summary"] = summary_rows(ctx)
    md = render.render_markdown("en", ctx)
    line = next(l for l in md.splitlines() if l.startswith("| Linear probe, Q1 encoder |"))
    assert line.endswith("| lower |")


STALE = [("embedding2d:q1", "inputs changed (key 6bcb570a -> 0d3004d0); shown as saved, "
          "marked stale"),
         ("clustering:q5", "inputs changed (key dfe750c6 -> 2af98ee6); shown as saved, "
          "marked stale"),
         ("train:q4", "saved result unusable: something else")]
STALE_TEXT = {"en": ("**Warning: this document shows stale results.**", "**Stale results.**",
                     "inputs changed (stage key `6bcb570a` when saved, `0d3004d0` now)"),
              "he": ("**אזהרה: המסמך מציג תוצאות לא עדכניות.**", "**תוצאות לא עדכניות.**",
                     "הקלטים השתנו (מפתח השלב בעת השמירה: `6bcb570a`; המפתח כעת: `0d3004d0`)")}


def section_text(md: str, anchor: str) -> str:
    start = md.index(f"{{#{anchor}}}")
    end = md.find("\n## ", start)
    return md[start:end]


@pytest.mark.parametrize("lang", ["en", "he"])
def test_stale_results_are_called_out_at_the_top_and_in_their_sections(lang):
    ctx = make_context()
    ctx["stale"] = STALE
    md = render.render_markdown(lang, derive(ctx))
    top, section, reason = STALE_TEXT[lang]
    assert md.index(top) < md.index("{#sec-summary}")          # at the top
    assert reason in squash(md)
    assert "`saved result unusable: something else`" in md or \
        "saved result unusable: something else" in md
    for anchor, stage in [("sec-q2", "embedding2d:q1"), ("sec-q4", "embedding2d:q1"),
                          ("sec-clustering", "clustering:q5"), ("sec-q4", "train:q4"),
                          ("sec-training", "train:q4"), ("sec-probe", "train:q4")]:
        text = section_text(md, anchor)
        assert section in text and f"`{stage}`" in text, (anchor, stage)
    for anchor in ("sec-q6", "sec-q7", "sec-anomaly"):
        assert section not in section_text(md, anchor), anchor
    fresh = render.render_markdown(lang, make_context())
    assert top not in fresh and section not in fresh and ".warning" not in fresh


def test_stale_sections_follow_the_stage_kinds():
    sections = stale_sections(stale_entries([
        ("train:q1", "x"), ("representations:q5", "x"), ("laplacian:raw_pixels", "x"),
        ("retrieval:q1", "x"), ("anomaly:q5", "x"), ("embedding2d:q4", "x")]))
    stages = {name: [s["stage"] for s in shown] for name, shown in sections.items()}
    assert stages["training"] == stages["probe"] == ["train:q1", "representations:q5"]
    assert stages["q5"] == ["representations:q5"] and stages["q4"] == ["embedding2d:q4"]
    assert stages["q2"] == ["embedding2d:q4"] and stages["q6"] == ["laplacian:raw_pixels"]
    assert stages["q7"] == ["retrieval:q1"] and stages["anomaly"] == ["anomaly:q5"]
    assert stages["clustering"] == []
    entry = stale_entries([("x:y", "inputs changed (key - -> 0d3004d0); shown as saved")])[0]
    assert (entry["reason"], entry["old_key"], entry["new_key"]) == ("inputs_changed", "-",
                                                                    "0d3004d0")


@pytest.mark.parametrize("lang,label", [("en", "`train:q4` (seed 12)"),
                                        ("he", "`train:q4` (זרע 12)")])
def test_stale_stages_name_their_seed_when_several_seeds_render(lang, label):
    ctx = several_seeds(make_context())
    ctx["stale"] = stale_entries([(stage, why, 12) for stage, why in STALE])
    ctx["stale_sections"] = stale_sections(ctx["stale"])
    md = render.render_markdown(lang, ctx)
    assert md.index(label) < md.index("{#sec-summary}")         # in the list at the top
    assert label in section_text(md, "sec-q4")                   # and in the section's box
    one = render.render_markdown(lang, derive(make_context() | {"stale": STALE}))
    assert "`train:q4`" in one and label not in one


def test_stale_warning_is_a_box_in_the_pdf_source(tmp_path):
    ctx = make_context()
    ctx["stale"] = STALE
    ctx = derive(ctx)
    write_figures(tmp_path, ctx)
    render.build_document(ctx, tmp_path)
    for lang in ("en", "he"):
        typ = (tmp_path / f"vicreg-report.{lang}.typ").read_text(encoding="utf-8")
        assert typ.count('#block(width: 100%, breakable: true, fill: rgb("#fdf1e7")') == 6
        html = (tmp_path / f"vicreg-report.{lang}.html").read_text(encoding="utf-8")
        assert html.count('<div class="warning">') == 6


@pytest.mark.parametrize("lang", ["en", "he"])
def test_provenance_appendix(lang):
    ctx = make_context()
    md = render.render_markdown(lang, ctx)
    appendix = md[md.index("{#sec-provenance}"):]
    for row in ctx["provenance"]["rows"]:
        assert f"| `{row['stage']}` | {fmt.seconds(row['wall_time_s'], lang)} | " \
               f"`{row['stage_key']}` |" in appendix
    assert "`77aa88bb99cc00dd`" in appendix                       # train:q4's own hash
    assert appendix.count("`9c1d2e3f4a5b6c7d`") == 1              # the others: stated once
    for value in ("abc1234", "3.11.7", "2.14.1", "0.29.1", "2.1.3", "3f9a1c0de4b27781"):
        assert f"`{value}`" in appendix
    assert "```\nnox -s report -- --profile quick --seed 7\n```" in appendix
    ctx["provenance"] = provenance_entry(varying=False)
    plain = render.render_markdown(lang, ctx)
    assert "77aa88bb99cc00dd" not in plain and "\\*" not in plain[plain.index("{#sec-provenance}"):]


@pytest.mark.parametrize("lang", ["en", "he"])
def test_class_groups_and_claimed_digits_come_from_the_context(lang, monkeypatch):
    ctx = make_context()
    ctx["probes"]["groups"]["vehicles"] = ["ship", "truck"]
    ctx["probes"]["group_of"]["airplane"] = "animals"
    md = squash(render.render_markdown(lang, ctx))
    vehicles = "ship, truck" if lang == "en" else "ספינה, משאית"
    assert f"({vehicles})" in md
    animal = "animal" if lang == "en" else "בעל חיים"
    assert re.search(rf"\| (airplane|מטוס) \| {animal} \|", md)
    monkeypatch.setattr(claims_mod, "ANOMALY_DIGITS", ("3", "7"))
    ctx = derive(make_context())
    md = squash(render.render_markdown(lang, ctx))
    claim = ("one encoder favours the MNIST digit 3 and the other the digit 7" if lang == "en"
             else "מקודד אחד מעדיף את הספרה 3 והשני את הספרה 7")
    assert claim in md


def test_templates_hold_no_class_groups_or_claimed_digits():
    for path in report_templates():
        text = path.read_text(encoding="utf-8")
        assert '"airplane": "vehicle"' not in text and '"airplane": "כלי רכב"' not in text
        assert "airplane, automobile" not in text
        assert "digit eight" not in text and "הספרה שמונה" not in text
        assert "מטוס, מכונית" not in text
