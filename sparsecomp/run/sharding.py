"""The seed axis spread over devices with ``jax.sharding``.

Every per-seed array the trainer builds (PRNG keys, datasets, restored
parameters) has the seed axis first. ``SeedSharding`` places that axis over a
one-dimensional ``Mesh`` of local devices (``NamedSharding(mesh, P("seed"))``)
and maps a per-seed ``run`` over it with ``jax.shard_map(jax.vmap(run))``:
every device runs the single-device program on its own slice of seeds, with
no change to the method code. (Letting ``jit`` partition ``vmap(run)`` by the
input shardings instead gives an SPMD program that rounds differently from
the single-device one.) On XLA:CPU, single-device programs also use YNNPACK
fusions that multi-device ones do not, so the last bit can still differ and
500 SAE epochs amplify it (up to 0.06 mcc_ood); with
``--xla_cpu_experimental_ynn_fusion_type=`` the programs are bitwise equal. A
seed count that does not divide the device count is padded by repeating the
last seed; the padding is dropped before anything is evaluated or saved.

In a multi-process run (``sparsecomp.run.distributed``) the mesh holds the
devices of every process, so each process computes its own devices' seeds;
``sparsecomp.run.distributed.fetch`` gathers the results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sparsecomp.errors import ConfigError

SEED_AXIS = "seed"


class SeedSharding:
    """How ``num_seeds`` seeds are laid out over ``devices`` devices."""

    def __init__(self, num_seeds: int, devices: int = 0):
        """Args:
        num_seeds: real seeds (>= 1).
        devices: devices to use; 0 means all of them. In one process, the
          first ``devices`` local devices; in a multi-process run, all devices
          of all processes (0 or ``jax.device_count()``).

        Raises:
          ConfigError: if ``devices`` is not in ``[0, jax.local_device_count()]``
            (one process) or not 0 or ``jax.device_count()`` (several).
        """
        multi_process = jax.process_count() > 1
        available = jax.device_count() if multi_process else jax.local_device_count()
        valid = (0, available) if multi_process else range(available + 1)
        if isinstance(devices, bool) or not isinstance(devices, int) or devices not in valid:
            choices = (f"{available} (all devices of the {jax.process_count()} processes)"
                       if multi_process else f"1..{available}")
            raise ConfigError(f"devices={devices!r} is invalid: use 0 (all devices) or {choices}")
        count = devices or available
        self.num_seeds = num_seeds
        self.num_devices = count
        self.padded = -(-num_seeds // count) * count  # seeds incl. padding
        all_devices = jax.devices() if multi_process else jax.local_devices()
        mesh = Mesh(np.asarray(all_devices[:count]), (SEED_AXIS,))
        self.sharding = NamedSharding(mesh, PartitionSpec(SEED_AXIS))

    def pad_seeds(self, seeds: tuple[int, ...]) -> tuple[int, ...]:
        """``seeds`` followed by copies of the last one, ``padded`` in all."""
        return tuple(seeds) + (seeds[-1],) * (self.padded - len(seeds))

    def pad(self, tree: Any) -> Any:
        """Pads every leaf's seed axis (first) from ``num_seeds`` to ``padded`` rows."""
        extra = self.padded - self.num_seeds

        def pad_leaf(x):
            if extra == 0:
                return x
            last = x[-1:]
            return jnp.concatenate([x, jnp.repeat(last, extra, axis=0)], axis=0)

        return jax.tree.map(pad_leaf, tree)

    def map_seeds(self, run: Callable) -> Callable:
        """``run`` mapped over the seed axis of every argument and output.

        ``jax.vmap(run)`` on one device; on several, ``jax.shard_map`` of it
        over the seed mesh (arguments placed by ``place``).
        """
        mapped = jax.vmap(run)
        if self.num_devices == 1:
            return mapped
        seed_spec = PartitionSpec(SEED_AXIS)
        return jax.shard_map(
            mapped, mesh=self.sharding.mesh, in_specs=seed_spec, out_specs=seed_spec,
            check_vma=False,  # every device computes on its own seeds only
        )

    def place(self, tree: Any) -> Any:
        """Puts every leaf (seed axis first, already padded) on the seed mesh.

        Every process passes the same values; PRNG key arrays travel as their
        key data (``device_put`` refuses typed keys for a multi-process mesh).
        """
        if self.num_devices == 1:
            return tree

        def place_leaf(x):
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                data = jax.device_put(jax.random.key_data(x), self.sharding)
                return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
            return jax.device_put(x, self.sharding)

        return jax.tree.map(place_leaf, tree)

    def unpad(self, tree: Any) -> Any:
        """Drops the padding seeds of every leaf (seed axis first)."""
        return jax.tree.map(lambda x: x[: self.num_seeds], tree)
