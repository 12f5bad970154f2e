"""Dictionary learning: pure algorithms of arrays and numbers (no config, no registry).

``atoms`` holds what the learners share (initial dictionaries, the
least-squares update, atom statistics and replacement); ``dl_fista``,
``softplus_adam``, ``itkrm`` and ``online`` are the learners. Their method
adapters live in ``sparsecomp.methods``.
"""
