"""A check of existing data files, run before any job; defines no rules.

A fit job checks its data file itself (``rlrecover.data.check_datasets``), but by
then Snakemake has already deleted the fit tables that job is about to replace. A
data file that is newer than its fits (edited, truncated, damaged) makes Snakemake
refit it; so such a file is checked here first, and a damaged one stops the run
before anything is deleted.
"""

import os

import pandas as pd
from snakemake.exceptions import WorkflowError

from rlrecover.data import check_datasets, sbc_truth


def data_with_fits():
    """``(data file, its fits, model, replicates, n_trials, truths)`` of every cell and batch.

    Its fits are the result tables and posterior draws made from it; ``truths`` is a
    function giving the truth of each replicate.
    """
    out = []
    for cell in cells():
        data = f"results/data/{cell_path()}.tsv".format(**cell)
        fits = [p.format(**cell) for p in fit_outputs() + draws_outputs()]
        truth = {
            p: float(v)
            for p, v in (part.split("~") for part in cell["cell"].split("/"))
        }
        n = replicates_of(cell["model"])
        out.append(
            (
                data,
                fits,
                cell["model"],
                range(n),
                int(cell["trials"]),
                {r: truth for r in range(n)},
            )
        )
    for unit in sbc_units():
        fits = [p.format(**unit) for p in sbc_fit_outputs() + sbc_draws_outputs()]
        data = f"results/sbc/data/{unit['model']}/batch~{unit['batch']}.tsv"
        out.append(
            (
                data,
                fits,
                unit["model"],
                range(*sbc_range(unit["batch"])),
                sbc_trials(),
                None,
            )
        )
    return out


def check_data_of_finished_fits():
    """Stop, deleting nothing, if a data file newer than its existing fits is damaged."""
    if not workflow.is_main_process:
        return
    for data, fits, model, replicates, n_trials, truths in data_with_fits():
        kept = [f for f in fits if os.path.exists(f)]
        if not kept or not os.path.exists(data):
            continue
        if os.path.getmtime(data) <= min(os.path.getmtime(f) for f in kept):
            continue  # not to be refitted
        record = model_of(model)
        if truths is None:  # SBC: the truths are drawn again from the priors
            priors = record.priors_from_config(model_entry(model)["priors"])
            truths = {
                r: sbc_truth(record, config["seed"], r, priors) for r in replicates
            }
        try:
            check_datasets(
                pd.read_csv(data, sep="\t"), record, replicates, n_trials, data, truths
            )
        except ValueError as e:  # also pandas' EmptyDataError and ParserError
            raise WorkflowError(
                f"{e}\nThis data file changed after its fits were made; refitting it "
                f"would first delete {', '.join(kept)}. Nothing was run or deleted. "
                f"Restore the file, or delete it to simulate it again."
            ) from None
