"""sparsecomp: sparse coding vs sparse autoencoders under superposition, in JAX.

Public API (everything a notebook needs)::

    spec = sparsecomp.make_spec(num_latents=100, k=10, n_samples=5000)
    data = sparsecomp.make_datasets(keys, spec)  # keys: [seeds] PRNG keys
    codes = sparsecomp.fista(y, D, lam=0.1)
    sparsecomp.train_and_evaluate(config, workdir)

Importing the package registers the built-in methods.
"""

from sparsecomp import (  # noqa: F401  (importing registers the methods)
    dictionary_learning,
    lista,
    oracle,
    probe,
    sae,
    sae_interventions,
)
from sparsecomp.data import (
    Dataset,
    DataSpec,
    default_input_dim,
    make_dataset,
    make_datasets,
    make_spec,
)
from sparsecomp.errors import ConfigError
from sparsecomp.methods import MethodOutput, get_method, register_method, registered_methods
from sparsecomp.solvers import fista, ista
from sparsecomp.trainer import train_and_evaluate

__all__ = [
    "ConfigError",
    "DataSpec",
    "Dataset",
    "MethodOutput",
    "default_input_dim",
    "fista",
    "get_method",
    "ista",
    "make_dataset",
    "make_datasets",
    "make_spec",
    "register_method",
    "registered_methods",
    "train_and_evaluate",
]
