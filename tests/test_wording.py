"""What the document says: every comparison worded from the numbers, in every language;
the claims and their verdicts; several seeds, stale results, the provenance appendix."""

from __future__ import annotations

import functools
import re

import pytest

from document_text import squash
from sample_context import (CLASSES, STALE, VEHICLES, derive, make_context, provenance_entry,
                            seed_verdicts, set_values, several_seeds, swap, variant)
from vicreg_report import claims as claims_mod
from vicreg_report import formatting as fmt
from vicreg_report import paths, render
from vicreg_report.errors import RenderError
from vicreg_report.report_context import stale_entries, stale_sections, summary_rows

LANGUAGES = ("en", "he")

# ---------------------------------------------------------------- comparisons

def flipped_context() -> dict:
    """Training hurt: the trained encoder below its random init, every loss rising,
    below the course threshold."""
    ctx = make_context()
    swap(ctx["probes"], "q1", "random_init")
    swap(ctx["training"], "first", "last")
    return derive(ctx)


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


def test_a_difference_within_the_noise_gets_the_undecided_wording():
    ctx = make_context()
    for enc in ("q1", "random_init"):
        ctx["probes"][enc]["test_acc"] = ctx["probe"]["original"]["test_acc"]
    en = squash(render.render_markdown("en", derive(ctx)))
    assert "What training added: nothing measurable." in en
    assert ("It shows no clear difference from the 72.40% of the original write-up (the 95% "
            "interval of the difference runs from") in en
    assert "| Linear probe, Q1 encoder | 72.40% | 72.40% | 72.40% | no clear difference |" in en


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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_claim_verdicts_follow_the_verdict(catalogues, lang):
    ctx = make_context()
    words = {v: f"**{catalogues[lang].say('claims.verdict.' + v)}**"
             for v in ("supported", "not_supported", "undecided")}
    entries = claim_entries(render.render_markdown(lang, ctx))
    assert len(entries) == len(ctx["claims"]) == 8
    for claim, entry in zip(ctx["claims"], entries):
        assert words[claim["verdict"]] in entry, (claim["id"], entry)
    turn = {"supported": "not_supported", "not_supported": "undecided",
            "undecided": "supported"}
    for claim in ctx["claims"]:
        claim["verdict"] = turn[claim["verdict"]]
    turned = claim_entries(render.render_markdown(lang, ctx))
    for claim, before, after in zip(ctx["claims"], entries, turned):
        assert words[claim["verdict"]] in after, claim["id"]
        # the rule and the comparisons do not change with the verdict
        strip = lambda text: functools.reduce(lambda t, w: t.replace(w, ""), words.values(), text)  # noqa: E731
        assert strip(before) == strip(after)


def test_claims_state_the_comparisons_that_decide_them():
    ctx = make_context()
    entries = {c["id"]: e for c, e in zip(ctx["claims"],
                                          claim_entries(render.render_markdown("en", ctx)))}
    assert ("Q4's effective rank, against the limit for a collapse (a twentieth of the "
            "dimensions): 3.18 against 6.40, a difference of \u22123.22 (95% interval") in \
        entries["q4_collapses"]
    assert "Second evidence, not deciding: Q4's effective rank, against Q1's: 3.18 against " \
           "41.27" in entries["q4_collapses"]
    assert "anomaly AUC, Q5 against Q1: 0.9456 against 0.9123, a difference of +0.0333" in \
        entries["q5_auc_higher"]
    assert ("share of the digit 8 among Q1's most anomalous MNIST images, against its share of "
            "the MNIST test set: ") in entries["digits_8_and_1"]
    assert "; bootstrap, 1,000 resamples): higher" in entries["q5_auc_higher"]
    he = claim_entries(render.render_markdown("he", ctx))
    assert "3.18 לעומת 6.40" in he[2] and "בוטסטרפ" in he[2]


def test_unknown_claim_is_an_error():
    ctx = make_context()
    ctx["claims"].append({"id": "a_new_claim", "verdict": "supported", "values": {},
                          "deciding": [], "evidence": []})
    with pytest.raises(RenderError, match="a_new_claim"):
        render.render_markdown("en", ctx)


# section -> (change to the numbers, English sentence before, after; Hebrew before, after)
FLIPS = {
    "summary": (lambda c: swap(c["probes"], "q1", "random_init"),
                "| Linear probe, Q1 encoder | 61.23% | 34.87% | 72.40% | higher |",
                "| Linear probe, Q1 encoder | 34.87% | 61.23% | 72.40% | lower |",
                "| מסווג ליניארי, מקודד Q1 | 61.23% | 34.87% | 72.40% | גבוה יותר |",
                "| מסווג ליניארי, מקודד Q1 | 34.87% | 61.23% | 72.40% | נמוך יותר |"),
    "per_class": (lambda c: set_values(c["probes"]["q1"], per_class=[
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
    "q4_probe": (lambda c: set_values(c["probes"]["q4"], test_acc=0.4102),
                 "It is even below the untrained control (34.87%)",
                 "It stays above the untrained control (34.87%)",
                 "זה אפילו פחות מהביקורת הלא-מאומנת", "זה עדיין יותר מהביקורת הלא-מאומנת"),
    "q5": (lambda c: set_values(c["probes"]["q5"], test_acc=0.6501),
           "Trained on neighbour pairs, the encoder reaches 48.12%, 13.11 pp below the Q1 encoder",
           "Trained on neighbour pairs, the encoder reaches 65.01%, 3.78 pp *above* the Q1 encoder",
           "13.11 נקודות אחוז פחות ממקודד Q1", "3.78 נקודות אחוז *יותר* ממקודד Q1"),
    "q6": (lambda c: set_values(c["q6"]["q1"], test_acc=0.1500, train_acc=0.2011),
           "on this split, the learned representation beats the training-free embedding",
           "on this split, the training-free embedding wins",
           "הייצוג הנלמד עדיף על השיכון שאינו דורש אימון",
           "דווקא השיכון שאינו דורש אימון מנצח"),
    "q6_graph": (lambda c: set_values(c["q6"]["raw_pixels"], graph_components=1),
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
    "anomaly": (lambda c: set_values(c["anomaly"]["q5"], auc=0.8801),
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
@pytest.mark.parametrize("lang", LANGUAGES)
def test_comparative_sentences_of_each_section_follow_the_numbers(section, lang):
    change, en_before, en_after, he_before, he_after = FLIPS[section]
    before_text, after_text = (en_before, en_after) if lang == "en" else (he_before, he_after)
    good = squash(render.render_markdown(lang, make_context()))
    bad = squash(render.render_markdown(lang, variant(change)))
    assert before_text in good and before_text not in bad, section
    assert after_text in bad and after_text not in good, section


def test_equal_scores_and_aucs_get_equal_wording():
    def level(c):
        c["anomaly"]["q5"]["auc"] = c["anomaly"]["q1"]["auc"]
        c["clustering"]["q5"].update(silhouette=c["clustering"]["q1"]["silhouette"],
                                     ari=c["clustering"]["q1"]["ari"])
    en = squash(render.render_markdown("en", variant(level)))
    assert "The two encoders separate the digits from CIFAR-10 equally well" in en
    assert "The Q5 clusters have the same silhouette" in en
    assert "match the classes about as well by the ARI" in en


# ---------------------------------------------------------------- seeds, staleness, provenance

@pytest.mark.parametrize("lang", LANGUAGES)
def test_one_seed_shows_single_values_and_no_seed_wording(lang):
    md = squash(render.render_markdown(lang, make_context()))
    assert "±" not in md
    assert ("seeds" if lang == "en" else "זרעים") not in md
    row = make_context()["summary"][0]
    assert f"| {fmt.percent(row['this'])} | {fmt.percent(row['control'])} |" in md


SEEDS_NOTE = {"en": ("describes the run with the first seed, 7", "(3 seeds: "),
              "he": ("מתאר את ההרצה עם הזרע הראשון, 7", "(3 זרעים: ")}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_several_seeds_show_mean_and_std(catalogues, lang):
    conv = catalogues[lang].conventions
    ctx = several_seeds(make_context())
    md = squash(render.render_markdown(lang, ctx))
    first_seed, in_text = SEEDS_NOTE[lang]
    assert first_seed in md                       # the prose is the first seed's
    probe = ctx["seeds"]["probe_q1"]
    spread = fmt.spread(probe, "percent", conv=conv, count=False)
    assert f"| {spread} |" in md                  # the summary table: mean ± std
    assert fmt.percent(probe["mean"]) != fmt.percent(ctx["probes"]["q1"]["test_acc"])
    # the prose: the first seed's value, then mean ± std over the seeds
    assert (fmt.percent(ctx["probes"]["q1"]["test_acc"])
            + fmt.over_seeds(probe, "percent", conv=conv)) in md
    assert in_text in md
    auc = ctx["seeds"]["auc_q5"]
    assert fmt.over_seeds(auc, "auc", conv=conv) in md
    sil = ctx["seeds"]["silhouette_q1"]
    assert fmt.over_seeds(sil, "score", conv=conv) in md
    heading = ("This run, mean ± std (3 seeds)" if lang == "en"
               else "ההרצה הנוכחית, ממוצע ± סטיית תקן (3 זרעים)")
    assert heading in md
    assert "7, 11, 12" in md                       # the seeds shown


def test_several_seeds_compare_over_the_seeds():
    """With several seeds the summary's last column is decided over them: each seed's
    difference, and the t-interval of their mean."""
    ctx = several_seeds(make_context())
    control = ctx["seeds"]["probe_random_init"]["values"]
    for shift, word in ((-0.1, "lower"), (0.1, "higher")):
        ctx["seeds"]["probe_q1"]["values"] = [v + shift + 0.001 * i for i, v in enumerate(control)]
        ctx["summary"] = summary_rows(ctx, seed_verdicts(ctx))
        line = next(l for l in render.render_markdown("en", ctx).splitlines()
                    if l.startswith("| Linear probe, Q1 encoder |"))
        assert line.endswith(f"| {word} |")
    ctx["seeds"]["probe_q1"]["values"] = [v + d for v, d in zip(control, (-0.1, 0.2, -0.05))]
    ctx["summary"] = summary_rows(ctx, seed_verdicts(ctx))
    line = next(l for l in render.render_markdown("en", ctx).splitlines()
                if l.startswith("| Linear probe, Q1 encoder |"))
    assert line.endswith("| no clear difference |")


STALE_TEXT = {"en": ("**Warning: this document shows stale results.**", "**Stale results.**",
                     "inputs changed (stage key `6bcb570a` when saved, `0d3004d0` now)"),
              "he": ("**אזהרה: המסמך מציג תוצאות לא עדכניות.**", "**תוצאות לא עדכניות.**",
                     "הקלטים השתנו (מפתח השלב בעת השמירה: `6bcb570a`; המפתח כעת: `0d3004d0`)")}


def section_text(md: str, anchor: str) -> str:
    start = md.index(f"{{#{anchor}}}")
    end = md.find("\n## ", start)
    return md[start:end]


@pytest.mark.parametrize("lang", LANGUAGES)
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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_provenance_appendix(catalogues, lang):
    conv = catalogues[lang].conventions
    ctx = make_context()
    md = render.render_markdown(lang, ctx)
    appendix = md[md.index("{#sec-provenance}"):]
    for row in ctx["provenance"]["rows"]:
        assert f"| `{row['stage']}` | {fmt.seconds(row['wall_time_s'], conv=conv)} | " \
               f"`{row['stage_key']}` |" in appendix
    assert "`77aa88bb99cc00dd`" in appendix                       # train:q4's own hash
    assert appendix.count("`9c1d2e3f4a5b6c7d`") == 1              # the others: stated once
    for value in ("abc1234", "3.11.7", "2.14.1", "0.29.1", "2.1.3", "3f9a1c0de4b27781"):
        assert f"`{value}`" in appendix
    assert "```\nnox -s report -- --profile quick --seed 7\n```" in appendix
    ctx["provenance"] = provenance_entry(varying=False)
    plain = render.render_markdown(lang, ctx)
    assert "77aa88bb99cc00dd" not in plain and "\\*" not in plain[plain.index("{#sec-provenance}"):]


@pytest.mark.parametrize("lang", LANGUAGES)
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
    for path in [*paths.TEMPLATES_DIR.rglob("*.j2"), *paths.TEMPLATES_DIR.glob("lang/*.toml")]:
        text = path.read_text(encoding="utf-8")
        assert '"airplane": "vehicle"' not in text and '"airplane": "כלי רכב"' not in text
        assert "airplane, automobile" not in text
        assert "digit eight" not in text and "הספרה שמונה" not in text
        assert "מטוס, מכונית" not in text


@pytest.mark.parametrize("views, inputs", [(True, True), (True, False), (False, True),
                                           (False, False)])
def test_the_first_page_says_which_images_were_resized(views, inputs):
    ctx = make_context()
    ctx["setup"]["profile"].update(views_resized=views, inputs_resized=inputs)
    md = squash(render.render_markdown("en", ctx))
    assert ("training views were resized to 16 pixels a side" in md) == views
    assert ("representations were computed from the images resized to 24 pixels a side"
            in md) == inputs
    assert ("representations come from the full images" in md) == (views and not inputs)
