"""Every MLflow tag name sweeps writes or reads, in one leaf module.

The tracker (writer) and the queries, reports and ``compare`` (readers) import these names
from here, as MLflow keeps its own in ``mlflow/utils/mlflow_tags.py``: no string literal twice,
no import circle between writer and reader.
"""

from __future__ import annotations

# MLflow's own
PARENT = "mlflow.parentRunId"  # what the MLflow UI nests runs by
NOTE = "mlflow.note.content"
#: On a run's dataset inputs: what the data was used for (DATA_TRAIN, ...).
DATA_CONTEXT = "mlflow.data.context"
DATA_TRAIN = "train"
DATA_VALIDATION = "validation"
DATA_TEST = "test"
#: On the experiment: the UI opens a custom-model experiment on its training runs.
EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"

# Both kinds of run
KIND = "sweeps.kind"  # KIND_SWEEP, KIND_TRIAL or a KIND_RECHECK*
KIND_SWEEP = "sweep"
KIND_TRIAL = "trial"
OPTIMIZER = "sweeps.optimizer"  # "sweeps" (the spec's Adam + schedule) or "builder"

# The sweep run
SWEEP = "sweeps.sweep"
ENGINE = "sweeps.engine"
TUNER = "sweeps.tuner"
DATASET = "sweeps.dataset"
DATA_SOURCE = "sweeps.data_source"
HYPERMODEL = "sweeps.hypermodel"
OBJECTIVE = "sweeps.objective"
TASK = "sweeps.task"
RESUMES = "sweeps.resumes"
#: Set on resume: the current plan (the ``planned_trials`` param keeps the first: MLflow
#: params cannot change) and every budget change so far (``tuner.random.max_trials: 3 -> 5``).
PLANNED_TRIALS = "sweeps.planned_trials"
BUDGET_CHANGES = "sweeps.budget_changes"
BEST_TRIAL = "sweeps.best_trial"
BEST_RUN_ID = "sweeps.best_run_id"
PARETO_TRIALS = "sweeps.pareto_trials"
TEST_NOTE = "sweeps.test_note"

# The sweep run's final model (docs/tasks.md, "Final fit")
FINAL_MODEL = "sweeps.final_model"  # which model was logged: FINAL_RETRAINED or FINAL_BEST_TRIAL
FINAL_RETRAINED = "retrained"  # final.retrain: the best hyperparameters on train + validation
FINAL_BEST_TRIAL = "best_trial"  # the best trial's own model
FINAL_FIT_ERROR = "sweeps.final_fit_error"  # why the final fit gave no model (its loss diverged)
#: Metrics of the final fit, on the sweep run (and params of the model it logged).
FINAL_FIT_EPOCHS = "final_fit_epochs"
FINAL_FIT_EXAMPLES = "final_fit_examples"
FINAL_FIT_TIME = "final_fit_time_s"
#: Before a test metric's name: the best trial's own model, beside the final fit's
#: (``best_trial_test_accuracy`` beside ``test_accuracy``).
BEST_TRIAL_PREFIX = "best_trial_"
# The baselines tested beside the final model (sweeps.final.baselines): metrics
# ``baseline_default_test_<metric>`` and ``baseline_linear_test_<metric>``; tags that say what
# each baseline was (the default hyperparameters; the linear model and its regularisation).
BASELINE_PREFIX = "baseline_"
BASELINE_DEFAULT = "sweeps.baseline_default"
BASELINE_LINEAR = "sweeps.baseline_linear"
#: Why the final model has the defaults' configuration although a trial scored better
#: (the one-standard-error rule of sweeps.final.baselines.defaults_kept).
DEFAULTS_KEPT = "sweeps.defaults_kept"

# Trial runs
TRIAL_ID = "sweeps.trial_id"
TRIAL_NUMBER = "sweeps.trial_number"
TRIAL_STATUS = "sweeps.trial_status"
JOURNAL_ID = "sweeps.journal_id"  # a run created during a tracking outage: its placeholder id
WORKER = "sweeps.worker"  # the worker that ran the trial, "<host>/<label>" (set by the engine)
INITIAL_EPOCH = "sweeps.initial_epoch"
ERROR = "sweeps.error"
CONTINUES_RUN_ID = "sweeps.continues_run_id"
SUPERSEDED = "sweeps.superseded"
BEST = "sweeps.best"
PARETO = "sweeps.pareto"
#: Set while a trial's learning curves are being rendered after its run ended (off the
#: training path, tracking.writer); removed once they are logged. A sweep killed in between
#: leaves it, and --resume renders them from the run's metrics.
CURVES_PENDING = "sweeps.learning_curves_pending"

# Registered model versions (and the alias that marks the best so far)
CHAMPION = "champion"  # the alias, moved only to a version that beats its test metric
TEST_METRIC = "sweeps.test_metric"  # the metric versions are compared on, e.g. test_accuracy
TEST_VALUE = "sweeps.test_value"  # its value, repr(float); absent without a test set
TEST_DIGEST = "sweeps.test_digest"  # the test set's digest: values compare on the same data

#: Engine-specific tags (hyperband.bracket, optuna.trial_number) start with these.
ENGINE_TAG_PREFIXES = ("hyperband.", "optuna.")

# Re-check runs (python -m sweeps recheck): a KIND_RECHECK run under the sweep run, a
# KIND_RECHECK_CONFIG run per configuration under it, a KIND_RECHECK_SEED run per seed under that.
KIND_RECHECK = "recheck"
KIND_RECHECK_CONFIG = "recheck_configuration"
KIND_RECHECK_SEED = "recheck_seed"
RECHECK_RANKING = "sweeps.recheck_ranking"  # trial numbers, best mean first
RECHECK_REORDERED = "sweeps.recheck_reordered"  # "true" if that differs from the sweep's order
SWEEP_RANK = "sweeps.sweep_rank"  # among the sweep's distinct configurations
SAME_AS = "sweeps.same_as"  # other trials of the same values (Hyperband rounds), comma-separated
RECHECK_RANK = "sweeps.recheck_rank"
SEED = "sweeps.seed"
