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

from rlrecover.data import check_datasets


def data_with_fits():
    """``(data file, its fits, replicates, n_trials)`` of every cell and SBC batch.

    Its fits are the result tables and posterior draws made from it.
    """
    out = []
    for cell in cells():
        data = f"results/data/{cell_path()}.tsv".format(**cell)
        fits = [p.format(**cell) for p in fit_outputs() + draws_outputs()]
        out.append((data, fits, range(config["replicates"]), int(cell["trials"])))
    if sbc_on():
        for k in sbc_batches():
            fits = [p.format(batch=k) for p in sbc_fit_outputs() + sbc_draws_outputs()]
            data = f"results/sbc/data/batch~{k}.tsv"
            out.append((data, fits, range(*sbc_range(k)), sbc_trials()))
    return out


def check_data_of_finished_fits():
    """Stop, deleting nothing, if a data file newer than its existing fits is damaged."""
    if not workflow.is_main_process:
        return
    for data, fits, replicates, n_trials in data_with_fits():
        kept = [f for f in fits if os.path.exists(f)]
        if not kept or not os.path.exists(data):
            continue
        if os.path.getmtime(data) <= min(os.path.getmtime(f) for f in kept):
            continue  # not to be refitted
        try:
            check_datasets(pd.read_csv(data, sep="\t"), replicates, n_trials, data)
        except ValueError as e:  # also pandas' EmptyDataError and ParserError
            raise WorkflowError(
                f"{e}\nThis data file changed after its fits were made; refitting it "
                f"would first delete {', '.join(kept)}. Nothing was run or deleted. "
                f"Restore the file, or delete it to simulate it again."
            ) from None
