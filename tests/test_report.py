"""Tests of rlrecover.report.html: one self-contained, escaped HTML file of every model."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RW

from rlrecover import models
from rlrecover.analysis.coverage import coverage_table
from rlrecover.analysis.metrics import diagnostics, recovery_metrics, runtime_table
from rlrecover.report.figures import plot_coverage, plot_recovery
from rlrecover.report.html import MODEL_SECTIONS, STUDY_SECTIONS, render_report, write_report
from rlrecover.summary import empty_row, interval_columns, summary_columns

LEVELS = (0.5, 0.9)
PARAMS = RW.param_names
EVIL = "<script>alert('x')</script>"


def make_recovery(seed=7, fail=True):
    rng = np.random.default_rng(seed)
    rows = []
    for method in ("mle", "pymc_potential", "pymc_bernoulli"):
        for a in (0.3, 0.8):
            for b in (2.0, 10.0):
                for r in range(4):
                    row = empty_row("rw", LEVELS, method, {"alpha": a, "beta": b}, r, 120)
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
    return pd.DataFrame(rows, columns=summary_columns(PARAMS, LEVELS))


def _inputs(tmp_path, rec):
    cov = coverage_table(rec, RW, LEVELS)
    images = {
        "recovery_alpha": plot_recovery(rec, RW, "alpha", tmp_path / "alpha.png"),
        "recovery_beta": plot_recovery(rec, RW, "beta", tmp_path / "beta.png"),
        "coverage": plot_coverage(cov, RW, tmp_path / "coverage.png"),
    }
    config = {
        "seed": 123,
        "models": {"rw": {"grid": {"alpha": [0.3, 0.8], "beta": [2.0, 10.0]}}},
        "replicates": 4,
        "coverage_levels": list(LEVELS),
        "note": EVIL,
        "task": {"n_trials": 120, "reward_probs": (0.4, 0.6)},
    }
    tables = {
        "recovery": rec,
        "recovery_metrics": recovery_metrics(rec, RW),
        "coverage": cov,
        "diagnostics": diagnostics(rec, RW),
        "runtime": runtime_table(rec),
    }
    return dict(
        config=config,
        models={"rw": {"tables": tables, "images": images}},
        versions={"python": "3.11"},
    )


def _script(html: str) -> str:
    """The page's own script."""
    return html[html.index("<script>") : html.index("</script>")]


def _part(html: str, sid: str) -> str:
    """The text of one section of rw's details (up to the next section)."""
    start = html.index(f'id="rw-{sid}"')
    end = html.find("<section id=", start + 1)
    return html[start : end if end > 0 else len(html)]


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    out = write_report(tmp / "out" / "report.html", **_inputs(tmp, make_recovery()))
    assert out.is_file()
    return out.read_text(encoding="utf-8")


def test_sections_present_in_order(report_html):
    positions = [report_html.index('id="answers"'), report_html.index('id="model-rw"')]
    for sid, heading in MODEL_SECTIONS:
        m = re.search(rf'<section id="rw-{sid}">\s*<h3>{re.escape(heading)}</h3>', report_html)
        assert m, sid
        positions.append(m.start())
    for sid, heading in STUDY_SECTIONS:
        m = re.search(rf'<section id="{sid}">\s*<h2>{re.escape(heading)}</h2>', report_html)
        assert m, sid
        positions.append(m.start())
    assert positions == sorted(positions)
    assert "The answers at a glance" in report_html
    # the model's details are folded, and its link opens them
    details = report_html[report_html.index('id="model-rw"') :]
    assert details.index("<details>") < details.index('id="rw-facts"')
    assert "el.open = true" in report_html


def test_images_embedded(report_html):
    assert report_html.count('src="data:image/png;base64,') == 3
    cal = _part(report_html, "calibration")
    assert cal.count("data:image/png;base64,") == 1  # the coverage figure
    # A figure this run did not make is named, not silently dropped.
    assert 'No figure "sbc_ecdf" was made for this run.' not in cal  # SBC off: a note instead
    assert "SBC was not run" in cal
    assert 'No figure "coverage_curve" was made for this run.' in cal


def test_text_is_escaped(report_html):
    # one script, the page's own (it opens a model's details from a link), and no other
    assert report_html.lower().count("<script") == 1 and "alert(" not in _script(report_html)
    assert "&lt;script&gt;" in report_html
    config = report_html[report_html.index('id="config"') : report_html.index('id="runtime"')]
    assert "<pre>" in config and "&lt;script&gt;alert(" in config
    diag = _part(report_html, "diagnostics")
    assert "ValueError: &lt;script&gt;" in diag  # the failed fit and its error are listed


def test_config_lists_on_one_line(report_html):
    config = report_html[report_html.index('id="config"') : report_html.index('id="runtime"')]
    assert "alpha: [0.3, 0.8]" in config and "reward_probs: [0.4, 0.6]" in config
    assert "models:" in config
    assert "seed: 123" in config
    assert '<td class="text">python</td>' in config  # the versions table


def test_no_external_resources(report_html):
    assert "http://" not in report_html and "https://" not in report_html
    for m in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', report_html):
        assert m.group(1).startswith(("data:", "#")), m.group(1)
    assert "<link" not in report_html


def test_summary_counts(report_html):
    facts = _part(report_html, "facts")
    assert "48 in total: 46 succeeded, 2 failed" in facts
    assert "pymc_bernoulli" in facts
    assert "Rescorla-Wagner (Q-learning)" in facts and "alpha (learning rate)" in facts
    assert "True beta values" in facts and "Grid cells" in facts


def test_no_flagged_fits_sentence(tmp_path):
    rec = make_recovery(fail=False)
    html = render_report(**_inputs(tmp_path, rec), rhat_max=1.05, ess_min=250)
    diag = _part(html, "diagnostics")
    assert "No fits were flagged." in diag
    assert "R-hat &gt; 1.05" in diag and "&lt; 250" in diag


def test_missing_image_raises(tmp_path):
    inputs = _inputs(tmp_path, make_recovery())
    inputs["models"]["rw"]["images"] = {"recovery_alpha": tmp_path / "nope.png"}
    with pytest.raises(FileNotFoundError):
        render_report(**inputs)


def test_tables_round_tripped_through_tsv(tmp_path):
    """The workflow writes every table to TSV and reads it back before the report."""
    inputs = _inputs(tmp_path, make_recovery())
    tables = inputs["models"]["rw"]["tables"]
    for name in list(tables):
        path = tmp_path / f"{name}.tsv"
        tables[name].to_csv(path, sep="\t", index=False)
        tables[name] = pd.read_csv(path, sep="\t")
    html = render_report(**inputs)
    for sid, _ in MODEL_SECTIONS:
        assert f'<section id="rw-{sid}">' in html
    assert html.count("data:image/png;base64,") == 3
    assert "2 fit(s) were flagged." in html


def _tiny_inputs():
    """All-ok fits of one method in one cell; nothing flagged, no figures."""
    rec = pd.DataFrame(
        [
            {
                **empty_row("rw", LEVELS, "mle", {"alpha": 0.5, "beta": 4.0}, r, 50),
                "alpha_est": 0.5,
                "beta_est": 4.0,
            }
            for r in range(3)
        ],
        columns=summary_columns(PARAMS, LEVELS),
    )
    tables = {
        "recovery": rec,
        "recovery_metrics": recovery_metrics(rec, RW),
        "coverage": coverage_table(rec, RW, LEVELS),
        "diagnostics": pd.DataFrame(),
        "runtime": runtime_table(rec),
    }
    return dict(config={"seed": 1}, models={"rw": {"tables": tables, "images": {}}})


def test_template_ships_with_package(tmp_path):
    """The template is package data, found from any working directory."""
    templates = resources.files("rlrecover.report") / "templates"
    assert (templates / "report.html.j2").is_file()
    assert (templates / "report.css").is_file()
    script = (
        "import pathlib, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import test_report\n"
        "from rlrecover.report.html import render_report\n"
        "html = render_report(**test_report._tiny_inputs())\n"
        "pathlib.Path('out.html').write_text(html, encoding='utf-8')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        cwd=tmp_path,
        check=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    diag = _part(html, "diagnostics")
    assert "No fits were flagged." in diag
    assert 'No figure "recovery_alpha" was made for this run.' in html
    assert "<style>" in html and "border-collapse" in html  # the CSS file was included
    assert "3 in total: 3 succeeded, 0 failed" in html


def test_every_input_text_is_escaped(tmp_path):
    inputs = _inputs(tmp_path, make_recovery())
    part = inputs["models"]["rw"]
    part["images"] = {f"alpha {EVIL}": part["images"]["recovery_alpha"]}
    runtime = part["tables"]["runtime"]
    part["tables"]["runtime"] = runtime.assign(method=["mle", "<b>odd</b>", "pymc_bernoulli"])
    html = render_report(**inputs, title=f"Study {EVIL}")
    assert html.lower().count("<script") == 1 and "<b>" not in html
    assert "<title>Study &lt;script&gt;" in html and "<h1>Study &lt;script&gt;" in html
    assert 'alt="alpha &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"' in html
    assert "<figcaption>alpha &lt;script&gt;" in html
    assert "&lt;b&gt;odd&lt;/b&gt;" in html


def test_cell_formatting(tmp_path):
    """Numbers to 4 significant digits, thousands grouped, '–' for missing, ∞, yes/no."""
    inputs = _tiny_inputs()
    inputs["models"]["rw"]["tables"]["runtime"] = pd.DataFrame(
        {
            "method": ["mle", "pymc_potential"],
            "n_fits": [3, 1000],
            "n_ok": [True, False],
            "n_failed": [np.nan, None],
            "total_seconds": [12345.678, 1.23456789e-5],
            "mean_seconds": [math.inf, -math.inf],
            "median_seconds": [2.0, 0.5],
            "max_seconds": ["x" * 500, 3.14159],
        }
    )
    html = render_report(**inputs)
    runtime = html[html.index('id="runtime"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", runtime, flags=re.S)
    # the study's run-time table starts with the model's name
    cells = [re.findall(r'<td class="([^"]*)">(.*?)</td>', r)[1:] for r in rows[1:]]
    assert [t for _, t in cells[0][:7]] == ["mle", "3", "yes", "–", "12,346", "∞", "2"]
    assert [t for _, t in cells[1]] == [
        "pymc_potential", "1000", "no", "–", "1.235e-05", "−∞", "0.5", "3.142"
    ]  # fmt: skip
    long_text = cells[0][7][1]
    assert len(long_text) == 400 and long_text.endswith("…")
    # a column of numbers (missing ones included) is right-aligned, text left-aligned
    assert [c for c, _ in cells[1][:5]] == ["text", "num", "text", "num", "num"]
    assert cells[0][7][0] == "text wide"


def test_unusable_se_fits_are_counted_and_explained():
    """Issue 9: MLE fits with unusable standard errors are counted per status."""
    inputs = _tiny_inputs()
    tables = inputs["models"]["rw"]["tables"]
    rec = tables["recovery"].copy()
    rec.loc[1:, "status"] = "unusable_se"
    rec.loc[1:, "error"] = "Hessian not positive definite"
    tables.update(
        recovery=rec,
        coverage=coverage_table(rec, RW, LEVELS),
        diagnostics=diagnostics(rec, RW),
        runtime=runtime_table(rec),
    )
    html = render_report(**inputs)
    assert "3 in total: 1 succeeded, 2 with unusable standard errors" in html
    diag = _part(html, "diagnostics")
    assert "2 fit(s) were flagged." in diag and "status unusable_se" in diag
    assert "unusable_se: Hessian not positive definite" in diag
    assert "24 for logit(alpha), 13.8 for log(beta)" in diag
    assert "left out because" in html and "unusable_se 2" in html


def test_every_model_gets_its_folded_section_and_the_headline_links_to_it(tmp_path):
    """Two models of different sizes: a section each, in order, and one headline."""
    from synthetic import make_recovery as synthetic_recovery

    from rlrecover.analysis.design import design_table
    from rlrecover.analysis.headline import headline_table

    parts, heads = {}, []
    for name in ("bias", "rwck"):
        model = models.get(name)
        design = "grid" if name == "bias" else "sobol"
        rec = synthetic_recovery(model, design)
        levels = [0.5, 0.8, 0.9, 0.95]
        tables = {
            "recovery": rec,
            "recovery_metrics": recovery_metrics(rec, model),
            "coverage": coverage_table(rec, model, levels),
            "design": design_table(rec, model),
            "diagnostics": diagnostics(rec, model),
            "runtime": runtime_table(rec),
        }
        parts[name] = {"tables": tables, "images": {}}
        heads.append(headline_table(model, tables))
    summary = pd.concat(heads, ignore_index=True)
    html = render_report(config={"seed": 1}, models=parts, summary=summary)
    assert html.index('id="model-bias"') < html.index('id="model-rwck"')
    for name, params in (("bias", ["b"]), ("rwck", ["alpha", "beta", "alpha_c", "beta_c"])):
        assert f'href="#model-{name}"' in html
        section = html[html.index(f'id="model-{name}"') :]
        assert section.index("<details>") < section.index(f'id="{name}-facts"')
        assert f"({', '.join(params)})</h2>" in section
    assert "The model has one parameter: nothing to trade off." in html
    assert "importance sampling from the posterior mode" in html  # rwck's reference
    assert "quadrature on a 1-D grid" in html  # bias's
