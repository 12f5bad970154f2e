"""Every matrix product of data generation and of every built-in method runs at HIGHEST.

Accelerators may run float32 products at reduced precision (TF32 on NVIDIA
GPUs) unless a product asks for ``Precision.HIGHEST``; the algorithms decide
per computation (docs/methods.md, "Numerics on accelerators") and all need
full float32. This walks the traced programs, gradients and loops included,
at smoke sizes, so a product added without a precision is caught on CPU.
"""

import jax
import numpy as np
import pytest

import sparsecomp
from sparsecomp.methods.registry import method_info, registered_methods
from sparsecomp.run.defaults import base_config, shrink_for_smoke

HIGHEST = (jax.lax.Precision.HIGHEST, jax.lax.Precision.HIGHEST)
SPEC = sparsecomp.make_spec(num_latents=20, k=3, n_samples=300)


def _jaxprs(value):
    """The jaxprs inside an equation parameter (a jaxpr, or a tuple of them)."""
    if isinstance(value, jax.extend.core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jax.extend.core.Jaxpr):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _jaxprs(item)


def loose_products(jaxpr, where=()) -> list[str]:
    """Where the ``dot_general``s of ``jaxpr`` and its sub-jaxprs lack HIGHEST."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general" and eqn.params["precision"] != HIGHEST:
            found.append(" / ".join((*where, str(eqn.source_info.traceback).split("\n")[0]))
                         if eqn.source_info.traceback else "/".join(where))
        for value in eqn.params.values():
            for sub in _jaxprs(value):
                found += loose_products(sub, (*where, eqn.primitive.name))
    return found


def test_the_walk_finds_products_in_loops_and_gradients():
    def loss(w, x):
        def body(h, _):
            return jax.numpy.tanh(h @ w), None

        return jax.lax.scan(body, x, None, length=2)[0].sum()

    w, x = np.ones((3, 3), np.float32), np.ones((2, 3), np.float32)
    jaxpr = jax.make_jaxpr(jax.grad(loss))(w, x)
    assert len(loose_products(jaxpr.jaxpr)) >= 3  # forward and backward, inside the scan
    exact = jax.make_jaxpr(lambda w, x: jax.numpy.matmul(x, w, precision="highest"))(w, x)
    assert loose_products(exact.jaxpr) == []


def _config():
    config = shrink_for_smoke(base_config())
    config.sweep.num_latents = (SPEC.num_latents,)
    return config


def _args(name, config, keys, data):
    inputs = {req: jax.eval_shape(jax.vmap(method_info(req).factory(config, SPEC)),
                                  *_args(req, config, keys, data)).params
              for req in method_info(name).requires}
    return (keys, data, inputs) if inputs else (keys, data)


def test_data_generation_products_are_highest():
    keys = jax.vmap(jax.random.key)(np.arange(2, dtype=np.uint32))
    jaxpr = jax.make_jaxpr(lambda k: sparsecomp.make_datasets(k, SPEC))(keys)
    assert loose_products(jaxpr.jaxpr) == []


@pytest.mark.parametrize("name", registered_methods())
def test_method_products_are_highest(name):
    config = _config()
    keys = jax.vmap(jax.random.key)(np.arange(2, dtype=np.uint32))
    data = jax.eval_shape(lambda k: sparsecomp.make_datasets(k, SPEC), keys)
    run = jax.vmap(method_info(name).factory(config, SPEC))
    jaxpr = jax.make_jaxpr(run)(*_args(name, config, keys, data))
    assert loose_products(jaxpr.jaxpr) == [], name
