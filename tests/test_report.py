"""Tests of rlrecover.report: one self-contained, escaped HTML file."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from rlrecover.analysis import coverage_table, diagnostics, recovery_metrics, runtime_table
from rlrecover.plots import plot_coverage, plot_recovery
from rlrecover.report import SECTIONS, render_report, write_report
from rlrecover.summary import empty_row, interval_columns, summary_columns

LEVELS = (0.5, 0.9)
SECTION_IDS = ("summary", "config", "recovery", "metrics", "coverage", "diagnostics", "runtime")
EVIL = "<script>alert('x')</script>"


def make_recovery(seed=7, fail=True):
    rng = np.random.default_rng(seed)
    rows = []
    for method in ("mle", "pymc_potential", "pymc_bernoulli"):
        for a in (0.3, 0.8):
            for b in (2.0, 10.0):
                for r in range(4):
                    row = empty_row(LEVELS, method, a, b, r, 120)
                    row["seconds"] = 0.25 + r
                    if fail and method == "pymc_bernoulli" and r == 3 and a == 0.3:
                        row.update(status="failed", error=f"ValueError: {EVIL}")
                        rows.append(row)
                        continue
                    row["alpha_est"] = float(np.clip(a + rng.normal(0, 0.05), 0, 1))
                    row["beta_est"] = b * math.exp(rng.normal(0, 0.2))
                    for level in LEVELS:
                        for p in ("alpha", "beta"):
                            lo, hi = interval_columns(p, level)
                            est = row[f"{p}_est"]
                            row[lo], row[hi] = est * (1 - level / 2), est * (1 + level / 2)
                    if method == "mle":
                        row.update(converged=True, at_bound=False)
                    else:
                        row.update(rhat_max=1.002, ess_bulk_min=900.0, ess_tail_min=800.0)
                        row["divergences"] = 0.0
                    rows.append(row)
    return pd.DataFrame(rows, columns=summary_columns(LEVELS))


def _inputs(tmp_path, rec):
    cov = coverage_table(rec, LEVELS)
    images = {
        "recovery of alpha": plot_recovery(rec, "alpha", tmp_path / "alpha.png"),
        "recovery of beta": plot_recovery(rec, "beta", tmp_path / "beta.png"),
        "coverage": plot_coverage(cov, tmp_path / "coverage.png"),
    }
    config = {
        "seed": 123,
        "grid": {"alpha": [0.3, 0.8], "beta": [2.0, 10.0]},
        "replicates": 4,
        "coverage_levels": list(LEVELS),
        "note": EVIL,
        "task": {"n_trials": 120, "reward_probs": (0.4, 0.6)},
    }
    return dict(
        config=config,
        recovery=rec,
        metrics=recovery_metrics(rec),
        coverage=cov,
        diagnostics=diagnostics(rec),
        runtime=runtime_table(rec),
        images=images,
    )


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    out = write_report(tmp / "out" / "report.html", **_inputs(tmp, make_recovery()))
    assert out.is_file()
    return out.read_text(encoding="utf-8")


def test_sections_present_in_order(report_html):
    assert [sid for sid, _ in SECTIONS] == list(SECTION_IDS)
    positions = []
    for sid, heading in SECTIONS:
        m = re.search(rf'<section id="{sid}">\s*<h2>{re.escape(heading)}</h2>', report_html)
        assert m, sid
        positions.append(m.start())
    assert positions == sorted(positions)
    assert "How to read this report" in report_html


def test_images_embedded(report_html):
    assert report_html.count('src="data:image/png;base64,') == 3
    cov = report_html[report_html.index('id="coverage"') : report_html.index('id="diagnostics"')]
    assert cov.count("data:image/png;base64,") == 1


def test_text_is_escaped(report_html):
    assert "<script" not in report_html.lower()
    assert "&lt;script&gt;" in report_html
    config = report_html[report_html.index('id="config"') : report_html.index('id="recovery"')]
    assert "<pre>" in config and "&lt;script&gt;alert(" in config
    diag = report_html[report_html.index('id="diagnostics"') : report_html.index('id="runtime"')]
    assert "ValueError: &lt;script&gt;" in diag  # the failed fit and its error are listed


def test_no_external_resources(report_html):
    assert "http://" not in report_html and "https://" not in report_html
    for m in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', report_html):
        assert m.group(1).startswith(("data:", "#")), m.group(1)
    assert "<link" not in report_html


def test_summary_counts(report_html):
    summary = report_html[report_html.index('id="summary"') : report_html.index('id="config"')]
    assert "48 in total: 46 succeeded, 2 failed" in summary
    assert "pymc_bernoulli" in summary


def test_no_flagged_fits_sentence(tmp_path):
    rec = make_recovery(fail=False)
    html = render_report(**_inputs(tmp_path, rec), rhat_max=1.05, ess_min=250)
    diag = html[html.index('id="diagnostics"') : html.index('id="runtime"')]
    assert "No fits were flagged." in diag
    assert "R-hat &gt; 1.05" in diag and "&lt; 250" in diag


def test_missing_image_raises(tmp_path):
    inputs = _inputs(tmp_path, make_recovery())
    inputs["images"] = {"recovery of alpha": tmp_path / "nope.png"}
    with pytest.raises(FileNotFoundError):
        render_report(**inputs)


def test_tables_round_tripped_through_tsv(tmp_path):
    """The workflow writes every table to TSV and reads it back before the report."""
    inputs = _inputs(tmp_path, make_recovery())
    for name in ("recovery", "metrics", "coverage", "diagnostics", "runtime"):
        path = tmp_path / f"{name}.tsv"
        inputs[name].to_csv(path, sep="\t", index=False)
        inputs[name] = pd.read_csv(path, sep="\t")
    inputs["images"] = {
        "recovery_alpha": inputs["images"]["recovery of alpha"],
        "recovery_beta": inputs["images"]["recovery of beta"],
        "coverage": inputs["images"]["coverage"],
    }
    html = render_report(**inputs)
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in html
    assert html.count("data:image/png;base64,") == 3
    assert "2 fit(s) were flagged." in html
