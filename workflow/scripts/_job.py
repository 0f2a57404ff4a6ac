"""Set-up shared by the workflow scripts: thread limits and logging to the job log.

Import this module, and call :func:`start`, before numpy, pandas, numba or PyMC are
imported: the BLAS and numba thread pools read their sizes when first loaded.
"""

import os
import sys

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def start(snakemake):
    """Limit thread pools to the job's threads and send all output to its log.

    Parameters
    ----------
    snakemake : snakemake.script.Snakemake
        The object Snakemake injects into a script.

    Returns
    -------
    callable
        ``log(line)`` writes one line to the job's log file and flushes it.
    """
    threads = str(max(1, int(snakemake.threads)))
    for name in THREAD_VARIABLES:
        os.environ[name] = threads

    # Redirect the file descriptors, not only sys.stdout/sys.stderr, so that output
    # of compiled code (numba, nutpie, C compilers) and tracebacks land in the log.
    stream = open(snakemake.log[0], "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = sys.stderr = stream

    import logging

    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)

    def log(line: str) -> None:
        stream.write(f"{line.rstrip()}\n")
        stream.flush()

    log(f"rule {snakemake.rule}, threads {threads}, wildcards {dict(snakemake.wildcards)}")
    return log


def write_tsv(frame, path):
    """Write a table as TSV without the (meaningless) row index."""
    frame.to_csv(path, sep="\t", index=False)
