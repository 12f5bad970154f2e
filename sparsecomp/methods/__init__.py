"""Methods: the registry and every method adapter (config section -> pure ``run(key, data)``)."""

from sparsecomp.methods import (  # noqa: F401  (importing an adapter registers its methods)
    dl_fista,
    dl_online,
    itkrm,
    lasso,
    linear_probe,
    lista,
    oracle,
    sae,
    sae_derived,
    softplus_adam,
)
from sparsecomp.methods.registry import (  # noqa: F401
    MethodInfo,
    MethodOutput,
    get_method,
    method_info,
    method_variants,
    register_method,
    registered_methods,
    rows_per_seed,
    with_requirements,
)
