"""The methods appendix: how the labels and every figure were produced, in citable words.

:func:`build_appendix` gathers, from a session: the prompt versions and models that
proposed labels, who produced each decision (human, audit, auto-accept), the audit design,
every estimate with its interval and method, the auto-accept certificates (applied and
current) and the anchoring figures. :class:`MethodsAppendix` renders them as Markdown (for a
paper) or HTML (the report's last section).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .estimation.pairs import AUTO_ACCEPT

REFERENCES = [
    "Angelopoulos, Bates, Fannjiang, Jordan, Zrnic. Prediction-powered inference. Science 382 "
    "(2023).",
    "Angelopoulos, Bates, Candès, Jordan, Lei. Learn then Test: calibrating predictive "
    "algorithms to achieve risk control. arXiv:2110.01052 (2021).",
    "Platt. Probabilistic outputs for support vector machines. Advances in Large Margin "
    "Classifiers (1999); Zadrozny, Elkan. Transforming classifier scores into accurate "
    "multiclass probability estimates. KDD (2002).",
    "Wilson. Probable inference, the law of succession, and statistical inference. JASA 22 "
    "(1927); Newcombe. Interval estimation for the difference between independent proportions. "
    "Statistics in Medicine 17 (1998).",
]


@dataclass
class Section:
    """One part of the appendix: a title, paragraphs, and optionally a table."""

    title: str
    text: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None


@dataclass
class MethodsAppendix:
    """The methods section; ``markdown()`` for a paper, ``html()`` for the report."""

    sections: list[Section]

    def markdown(self) -> str:
        """The appendix as Markdown (tables as pipe tables)."""
        out = ["## Methods"]
        for s in self.sections:
            out += ["", f"### {s.title}", "", "\n\n".join(s.text)]
            if s.table is not None and len(s.table):
                out += ["", _pipe_table(s.table)]
        return "\n".join(out) + "\n"

    def html(self) -> str:
        """The appendix as an HTML fragment (every value escaped)."""
        parts = ["<h2>Methods</h2>"]
        for s in self.sections:
            parts.append(f"<h3>{html.escape(s.title)}</h3>")
            parts += [f"<p>{html.escape(t)}</p>" for t in s.text]
            if s.table is not None and len(s.table):
                parts.append(
                    s.table.to_html(
                        float_format=lambda v: f"{v:.3f}", na_rep="—", border=0, escape=True
                    )
                )
        return "".join(parts)

    def __str__(self) -> str:
        return self.markdown()


def _pipe_table(df: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "—" if v != v else f"{v:.3f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def build_appendix(
    session: Any, *, max_error: float = 0.02, level: float = 0.95
) -> MethodsAppendix:
    """Gather the appendix from ``session`` (a :class:`~llmlabel_widget.Session`)."""
    ann = session.annotations
    return MethodsAppendix(
        [
            _annotator_section(session, ann),
            _design_section(session, ann),
            _estimates_section(session, level),
            _calibration_section(session),
            _auto_accept_section(session, ann, max_error, level),
            _anchoring_section(session, level),
            Section("References", list(REFERENCES)),
        ]
    )


def _annotator_section(session: Any, ann: pd.DataFrame) -> Section:
    cols = [c for c in ("prompt_version", "llm_model", "llm_source") if c in ann.columns]
    used = ann[ann["llm_label"].notna() | ann.get("llm_valid", pd.Series(False)).eq(False)]
    table = (
        used.groupby(cols, dropna=False).size().rename("proposals").reset_index()
        if cols and len(used)
        else None
    )
    versions = session.prompt_versions()
    text = [
        f"The pool holds {len(ann):,} items. An LLM annotator proposed a label for "
        f"{len(used):,} of them; the table gives each prompt version and model with the "
        "number of proposals it made (the latest proposal per item counts)."
    ]
    if len(versions):
        for r in versions.itertuples():
            spec = f"prompt version {r.version} (model {r.model}, recipe {r.strategy})"
            text.append(f"{spec}; instructions: {json.dumps(r.instructions)}")
    return Section("Prompts and models", text, table)


def _design_section(session: Any, ann: pd.DataFrame) -> Section:
    prov = ann["provenance"].value_counts() if "provenance" in ann.columns else pd.Series()
    n, audit = len(ann), int(prov.get("audit", 0))
    ctx = ann["context"] if "context" in ann.columns else pd.Series(dtype=object)
    blind = int(sum(isinstance(c, dict) and c.get("blind") is True for c in ctx))
    seed = session.store.get_meta("audit_seed")
    text = [
        f"Decisions by provenance: {int(prov.get('human', 0)):,} by a human reviewer outside "
        f"the audit, {audit:,} human audit labels, {int(prov.get(AUTO_ACCEPT, 0)):,} "
        "certified auto-accepts (not human labels; left out of every agreement figure).",
        f"Audit design: the audit is a simple random sample without replacement of the whole "
        f"pool: the first M items of a fixed random permutation of all {n:,} item ids"
        + (f" (seed {seed})" if seed else "")
        + f", so each item's inclusion probability is M/N = {audit:,}/{n:,}. Only audit "
        "labels enter the calibration and the auto-accept certificate.",
        "Items reviewed outside the audit were chosen by the acquisition strategy, filters or "
        "search; they are not a probability sample and serve only where an estimator says so.",
    ]
    if blind:
        text.append(
            f"Blind checks: on {blind:,} decisions the proposal was hidden until the reviewer "
            "answered (a fixed share of items chosen by a hash of the item id)."
        )
    return Section("Review and audit design", text)


def _estimates_section(session: Any, level: float) -> Section:
    if callable(getattr(session, "pool_estimates", None)):
        table = session.pool_estimates()
        text = ["Pool estimates, with intervals at the stated level and the method of each."]
    else:
        table = session.metrics(level=level).reset_index()
        table = table[["metric", "value", "low", "high", "n", "method", "interval", "note"]]
        text = [
            f"Every estimate, with its {level:.0%} interval, sample size and method "
            "(agreement figures use human labels only)."
        ]
    return Section("Estimates", text, table)


def _calibration_section(session: Any) -> Section:
    cal = session.calibration()
    if cal.fitted:
        text = [
            f"The LLM's stated confidence was recalibrated on the {cal.n} audit labels by "
            f"{cal.method} {'regression' if cal.method == 'isotonic' else 'scaling'} "
            "(Platt below 500 audit labels, isotonic from 500)."
        ]
    else:
        text = [f"The LLM's confidence was not recalibrated: {cal.note}."]
    return Section("Calibrated confidence", text)


def _auto_accept_section(
    session: Any, ann: pd.DataFrame, max_error: float, level: float
) -> Section:
    applied = []
    if "provenance" in ann.columns:
        for c in ann.loc[ann["provenance"] == AUTO_ACCEPT, "context"]:
            cert = c.get("certificate", {}) if isinstance(c, dict) else {}
            applied.append(json.dumps(cert, sort_keys=True, default=str))
    text = []
    for cert_json, count in pd.Series(applied, dtype=object).value_counts().items():
        cert = json.loads(str(cert_json))
        text.append(
            f"Applied: {count:,} items auto-accepted at confidence ≥ {cert.get('threshold')}, "
            f"certified error ≤ {cert.get('max_error')} with probability ≥ {cert.get('level')} "
            f"(upper bound {cert.get('bound', float('nan')):.4f}; {cert.get('audit_errors')} "
            f"errors in {cert.get('audit_in_region')} audit items above the threshold, of "
            f"{cert.get('n_audit')}). Method: {cert.get('method')}."
        )
    plan = session.auto_accept_plan(max_error=max_error, level=level)
    text.append(f"Now: {plan.summary()}. Method: {plan.method}.")
    return Section("Certified auto-accept", text)


def _anchoring_section(session: Any, level: float) -> Section:
    table = session.anchoring_estimates(level=level)
    text = [
        "Anchoring: agreement with the LLM where the reviewer saw its proposal against where "
        "it was hidden, and the share of the LLM's wrong proposals assisted reviewers accepted."
    ]
    return Section("Anchoring", text, table)
