"""What an experiment declares, in one place: ``Experiment`` and its ``Metric``s.

An experiment is one section of the document and what it needs: the stages it
adds (computed and reused by the stage engine, stages.py), the metrics verify
and the evidence read from its results, the figures it draws, the part of the
template context it builds (with an example of it, from which its schema is
read), the comparisons its sentences and claims rest on, and its rows of the
summary table. Its words are in the catalogues under its section's name; its
template is ``templates/sections/<section>.md.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Metric:
    """A headline number, read from a saved result: verify, the evidence and the document's
    mean ± std over seeds all use it by ``name``."""

    name: str
    stem: str             # result file, without .json
    field: tuple          # path inside the file's "data"; -1 picks a list's last item
    kind: str             # how it is written and how its tolerance floor is chosen
    context: tuple | None = None   # where the document shows it (first seed's value), if it does

    def read(self, doc: dict) -> float:
        value = doc["data"]
        for part in self.field:
            value = value[part]
        return float(value)


def each(prefix: str, stem: str, field: tuple, kind: str, names: tuple,
         context: tuple | None = None) -> list[Metric]:
    """One metric per encoder (or variant) of ``names``: ``<prefix>_<name>`` from
    ``<stem>.<name>.json``; a ``"{}"`` in ``context`` stands for the name."""
    def where(name):
        return None if context is None else tuple(part.format(name) for part in context)
    return [Metric(f"{prefix}_{n}", f"{stem}.{n}", field, kind, where(n)) for n in names]


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study and its section of the document.

    ``section`` names it in the document: its key of the context (``example``'s keys
    may add more), its template ``sections/<section>.md.j2``, its catalogue messages
    ``<section>.*`` and its anchor ``#sec-<section>``.
    """

    name: str                                 # its module; the kind of the stages it adds
    section: str
    # Its part of the context: build(run, study) -> {key: value}; ``example`` has the
    # same keys with plausible values (the tests render it), and is its schema:
    # every key of it must be built, except inside the keys of ``data_keys``, whose
    # dicts are keyed by the data (classes, digits).
    build: Callable[[Any, Any], dict]
    example: dict
    data_keys: tuple[str, ...] = ()
    # Stages whose results its section shows (a kind, "probe", or one stage,
    # "probe:q4"): its section warns when one of them is stale.
    shows: tuple[str, ...] = ()
    # The stages it adds: stages(run, study) -> [Spec], each named "<name>:...".
    # Their keys cover the source of ``stages`` and the project modules of ``modules``.
    stages: Callable | None = None
    kinds: tuple[str, ...] | None = None      # the kinds of stage it adds (default: name)
    modules: tuple[str, ...] = ()             # project modules its stages and measures run
    cost: float = 0.0                         # seconds its stages take on quick: slowest first
    metrics: tuple[Metric, ...] = ()
    # Figures: context key (in ``section``) -> file name; draw(run, study, paths) draws
    # each into paths[key].
    figures: dict[str, str] = field(default_factory=dict)
    draw: Callable[[Any, Any, dict[str, Path]], None] | None = None
    # Comparisons (comparisons.py): measures(m, run, study) adds the metrics they read
    # (uncertainty.Metric) to m; pairs(n_classes) -> {name: (metric a, metric b)};
    # shares(study) -> {name: Comparison} for those of another form.
    measures: Callable | None = None
    pairs: Callable[[int], dict] | None = None
    shares: Callable | None = None
    # Its rows of the summary table: summary(ctx, row) -> [row(...), ...].
    summary: Callable | None = None

    @property
    def stage_kinds(self) -> tuple[str, ...]:
        if self.kinds is not None:
            return self.kinds
        return (self.name,) if self.stages is not None else ()

    def schema(self) -> dict:
        """The keys its part of the context must have (context_schema), read off ``example``."""
        return {key: schema_of(value, self.data_keys, key) for key, value in self.example.items()}

    def shows_stage(self, stage: str) -> bool:
        return stage in self.shows or stage.partition(":")[0] in self.shows


def schema_of(value, data_keys: tuple[str, ...] = (), key: str = ""):
    """A schema in context_schema's form: a dict's keys (sub-schemas), a list of dicts as
    ``[item schema]``, anything else (and a dict of ``data_keys``) a leaf (None)."""
    if isinstance(value, dict) and key not in data_keys:
        return {k: schema_of(v, data_keys, k) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [schema_of(value[0], data_keys)]
    return None
