"""The row schema: the one description of a workdir's rows that writers and readers share.

A *row* of ``results.jsonl`` is one (sweep point, method, seed[, variant]): the
point tags (``point_tags``), ``method``, a variant tag for methods that emit
several rows per seed (``VARIANT_TAGS``), ``width``, ``seed``, the metrics and
the group's timings (``TIMING_FIELDS``); a seed whose run diverged has
``nonfinite`` set and no metrics; a non-finite value is written as ``null``.
Each group's rows carry its ``fingerprint`` (``sparsecomp.run.identity``;
absent from rows written before it existed).
Rows written since the trainer records provenance carry ``versions``
(``sparsecomp.run.provenance``); older rows have none. A workdir holds one
row per ``row_identity`` (``check_unique_rows``). A *curve line* of
``metrics.jsonl`` has the point tags, ``method``, ``seed``, ``step`` and the
logged values. The trainer writes both (``sparsecomp.run.trainer``); ``results.md``
(``sparsecomp.report.summary``) and the report (``sparsecomp.report``) read
them.

A point tag at its default (``POINT_DEFAULTS``: no noise, the protocol's
evaluation sizes) is left out of rows, as in the reference results; readers
put the default back (``point_of``), so every reader groups by the full point.
"""

from __future__ import annotations

from sparsecomp.data import DataSpec
from sparsecomp.errors import WorkdirError

# The files of a workdir (``sparsecomp.run.workdir`` says how each is written).
CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"  # rows
METRICS_FILE = "metrics.jsonl"  # curve lines
RUNS_FILE = "runs.jsonl"  # one line per trainer invocation
RESULTS_TABLE = "results.md"  # mean ± std per point and method, rewritten after every point
CHECKPOINTS_DIR = "checkpoints"  # <point_name>/<method>/: what methods learned
NOTES_FILE = "notes.md"  # free text by the researcher; the report quotes it
LOCK_FILE = "workdir.lock"  # held by the run writing the workdir (``fcntl.flock``)
REPORT_FILE = "report.md"  # written by ``python -m sparsecomp.report``
FIGURES_DIR = "figures"  # the report's figures
COMPARISON_FILE = "reference_comparison.csv"  # the report's every comparison with the reference

# The data fields that identify a sweep point, in the order rows and titles give them.
POINT_TAGS = ("num_latents", "k", "input_dim", "n_samples", "noise", "n_eval")
# Point tags left out of a row when they hold these values.
POINT_DEFAULTS = {"noise": 0.0, "n_eval": None}
# Tags of the rows a method emits per seed (one per lambda, iteration budget, ...).
VARIANT_TAGS = ("lam", "n_iter", "n_outer")

# The columns of ``results.md``: the paper's six metrics, ID and OOD side by side.
SUMMARY_METRICS = ("mcc_iid", "mcc_ood", "acc_iid", "acc_ood", "auc_iid", "auc_ood")
# The report's headline metrics: its tables (each beside the reference mean and
# the difference, hence fewer), the differences it marks, and its figures first.
HEADLINE_METRICS = ("mcc_iid", "mcc_ood", "acc_ood", "auc_ood", "dict_mean_cosine")

# The timings of a (point, method) group, in seconds, the same in each of its rows:
# tracing and compiling the method's call (~0 when compiled earlier in the run),
# the call itself, evaluating every seed (metrics, host-side matching included),
# restoring the checkpoints of the methods it requires, and ``wall_s``, the whole
# group from preparing to evaluated (the four parts add up to it when methods run
# one at a time). Rows written before these existed have ``wall_s`` = compilation
# plus run and a per-row ``metrics_s`` (``OLD_TIMING_FIELDS``).
TIMING_FIELDS = ("compile_s", "run_s", "eval_s", "restore_s", "wall_s")
OLD_TIMING_FIELDS = ("metrics_s",)
# Fields that say how a row's run went, not what it computed: two runs of one
# command differ in these only (when they run on the same kind of machine).
RUN_FIELDS = frozenset(TIMING_FIELDS + OLD_TIMING_FIELDS + ("versions",))

# Numeric row and curve fields that are not metrics: tags, timings, flags and
# the sample counts of the sample-complexity study (an x axis, not a result).
NOT_METRICS = frozenset(
    POINT_TAGS + VARIANT_TAGS + TIMING_FIELDS + OLD_TIMING_FIELDS
    + ("width", "seed", "method", "c", "nonfinite", "step",
       "sae_type", "epoch", "round", "samples_seen", "samples_per_atom",
       "versions", "fingerprint")  # provenance: what made the row
)


def point_tags(spec: DataSpec) -> dict:
    """The point tags a row of sweep point ``spec`` carries (defaults left out)."""
    return {tag: getattr(spec, tag) for tag in POINT_TAGS
            if not (tag in POINT_DEFAULTS and getattr(spec, tag) == POINT_DEFAULTS[tag])}


def point_name(spec: DataSpec) -> str:
    """A filesystem-safe name for a sweep point, e.g. ``n100_k10_m47_s5000``."""
    name = f"n{spec.num_latents}_k{spec.k}_m{spec.input_dim}_s{spec.n_samples}"
    name += f"_noise{spec.noise:g}" if spec.noise else ""
    return name + (f"_eval{spec.n_eval}" if spec.n_eval is not None else "")


def point_of(row: dict, tags: tuple[str, ...] = POINT_TAGS) -> tuple:
    """``((tag, value), ...)`` of ``row`` for ``tags``, defaults put back.

    A tag neither in the row nor in ``POINT_DEFAULTS`` gives ``None``.
    """
    return tuple((tag, row.get(tag, POINT_DEFAULTS.get(tag))) for tag in tags)


def variant_of(row: dict) -> tuple:
    """``((tag, value), ...)`` of the variant tags ``row`` carries (often ``()``)."""
    return tuple((tag, row[tag]) for tag in VARIANT_TAGS if row.get(tag) is not None)


def group_key(row: dict) -> tuple:
    """The (sweep point, method) group of a row or curve line: ``(point_of(row), method)``.

    The trainer writes, and resumes, one group at a time.
    """
    return point_of(row), row["method"]


def row_identity(row: dict) -> tuple:
    """What a row is the result of: ``(point, method, variant, seed)``; one row each."""
    return point_of(row), row.get("method"), variant_of(row), row.get("seed")


def check_unique_rows(rows: list[dict], path=None) -> None:
    """Raises ``WorkdirError`` for the first two rows with the same ``row_identity``.

    ``rows`` are the lines of the JSONL file ``path`` when it is given (the
    message then gives line numbers), else any list (1-based row numbers).
    Two runs writing one workdir at once leave such duplicates; they would
    count as extra seeds.
    """
    first: dict = {}
    for number, row in enumerate(rows, 1):
        identity = row_identity(row)
        if identity in first:
            point, method, variant, seed = identity
            what = f"`{method}` at {point_label(point)}" + (
                f" ({variant_label(variant)})" if variant else "") + f", seed {seed}"
            where = f"{path}: lines" if path is not None else "rows"
            raise WorkdirError(f"{where} {first[identity]} and {number} hold the same row "
                               f"({what}); delete one of them")
        first[identity] = number


def missing_seeds(present, expected) -> tuple:
    """The seeds of ``expected`` (e.g. the config's) that ``present`` lacks, in order."""
    present = set(present)
    return tuple(seed for seed in expected if seed not in present)


def point_label(point: tuple) -> str:
    """``"num_latents=100, k=10, ..."`` of ``((tag, value), ...)``, defaults left out."""
    return ", ".join(f"{tag}={value}" for tag, value in point
                     if not (tag in POINT_DEFAULTS and value == POINT_DEFAULTS[tag]))


def variant_label(variant: tuple) -> str:
    """``"lam=0.1"`` of ``((tag, value), ...)``; empty for no variant."""
    return ", ".join(f"{tag}={value}" for tag, value in variant)
