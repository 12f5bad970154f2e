"""sparsecomp: sparse coding vs sparse autoencoders under superposition, in JAX.

Public API (everything a notebook needs)::

    spec = sparsecomp.make_spec(num_latents=100, k=10, n_samples=5000)
    data = sparsecomp.make_datasets(keys, spec)  # keys: [seeds] PRNG keys
    codes = sparsecomp.fista(y, D, lam=0.1)
    mcc = sparsecomp.latent_mcc(z_true, codes, ood=True)
    rows = sparsecomp.train_and_evaluate(config, workdir)
    print(sparsecomp.summarise(rows))

Importing the package registers the built-in methods and changes nothing
else in the process (no environment variables, no thread counts): the
trainer limits OpenBLAS to one thread only while it runs
(``sparsecomp.run.threads``).
"""

from sparsecomp import methods  # noqa: F401  (importing it registers every built-in method)
from sparsecomp.coding.fista import fista, ista
from sparsecomp.data import (
    Dataset,
    DataSpec,
    default_input_dim,
    make_dataset,
    make_datasets,
    make_spec,
)
from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.methods.registry import (
    MethodOutput,
    get_method,
    register_method,
    registered_methods,
)
from sparsecomp.methods.sae_derived import TrainedSAE
from sparsecomp.metrics import dictionary_match, latent_mcc
from sparsecomp.metrics.rows import evaluate
from sparsecomp.report.summary import summarise
from sparsecomp.run.trainer import train_and_evaluate

__all__ = [
    "ConfigError",
    "DataSpec",
    "Dataset",
    "MethodOutput",
    "TrainedSAE",
    "WorkdirError",
    "default_input_dim",
    "dictionary_match",
    "evaluate",
    "fista",
    "get_method",
    "ista",
    "latent_mcc",
    "make_dataset",
    "make_datasets",
    "make_spec",
    "register_method",
    "registered_methods",
    "summarise",
    "train_and_evaluate",
]
