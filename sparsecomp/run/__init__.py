"""Running experiments: config validation, the trainer, workdirs, checkpoints, sharding."""
