"""The report of a finished workdir: figures, and markdown tables beside the reference.

Command: ``python -m sparsecomp.report WORKDIR [--reference FILE.json|paper[:EXPERIMENT]
...] [--no-reference] [--threshold 0.1]``, or ``sparsecomp.report.main([WORKDIR, ...])`` from
Python (``sparsecomp.report.cli``). The modules, by job:

* ``load``: a workdir's files and the reference files;
* ``reference``: the paper's published results (package data), by experiment;
* ``aggregate``: groups, mean ± std over seeds, reference matching, differences;
* ``render``: ``report.md`` and its tables;
* ``plots``: the figures of metrics, variants and training curves, drawn with
  ``figures`` (the primitives) in the colours and order of ``styles``;
* ``scaling``: the sample-complexity section and figures;
* ``summary``: ``results.md`` (``sparsecomp.summarise``), written by the trainer.

Importing the package imports none of them (the trainer imports ``summary``
alone, without matplotlib).
"""


def main(argv=None) -> int:
    """Writes ``report.md`` and ``figures/`` for a workdir (``sparsecomp.report.cli.main``)."""
    from sparsecomp.report.cli import main as report_main  # matplotlib: only when reporting

    return report_main(argv)
