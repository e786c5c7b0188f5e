"""The limits every spec is checked against (``MAX_*``), in one place for the loader and the
section parsers alike; docs/data.md lists them in a table.
"""

from __future__ import annotations

__all__ = ["MAX_BATCH_SIZE", "MAX_CHOICES", "MAX_EPOCHS", "MAX_EXECUTIONS", "MAX_FOLDS",
           "MAX_INTEGER", "MAX_MAGNITUDE", "MAX_MODEL_NAME", "MAX_SEED", "MAX_SPEC_BYTES",
           "MAX_TRIALS", "MAX_YAML_ALIASES", "MAX_YAML_NODES"]

# Bounds on what a spec may ask for, each kept here only; an error names the bound it broke.
# They are far above any sensible sweep, and stop a typo (or a hostile file) from asking for
# a billion epochs, a batch larger than memory, or a YAML document that expands without end.
MAX_SPEC_BYTES = 1 << 20  #: spec text, checked before it is parsed
MAX_YAML_ALIASES = 100  #: uses of ``*alias`` in one spec
MAX_YAML_NODES = 100_000  #: YAML nodes, every alias counted at its expanded size
MAX_EPOCHS = 100_000  #: training.max_epochs and early_stopping.patience
MAX_BATCH_SIZE = 1 << 20  #: training.batch_size
MAX_TRIALS = 100_000  #: every tuner integer: max_trials, num_initial_points, factor, ...
MAX_CHOICES = 10_000  #: values of one ``choice`` hyperparameter
MAX_SEED = 2**31 - 1  #: trial n uses seed + n, which must stay a 32-bit seed
MAX_INTEGER = 10**12  #: |n| of every other integer: search-space values and steps, subset, ...
#: |x| of every other float: search-space values and steps, alpha, min_delta, ... Well inside
#: float32 (Keras's dtype, up to 3.4e38), yet loose enough for a learning rate meant to diverge.
MAX_MAGNITUDE = 1e30
MAX_MODEL_NAME = 256  #: tracking.register_model: the length MLflow's registry stores
MAX_FOLDS = 100  #: validation.folds
MAX_EXECUTIONS = 100  #: training.executions_per_trial
