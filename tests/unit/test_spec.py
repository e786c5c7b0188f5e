"""The spec loader: bundled specs resolve, and every kind of bad input names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hypermodels.space import FixedParam, FloatParam, IntParam
from sweeps.errors import SpecError
from sweeps.spec import Direction, TunerKind, bundled_specs, load_spec, parse_spec

MINIMAL = "data: {name: mnist}\nhypermodel: mlp\n"


def error_of(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "my.yaml", overrides)
    return str(info.value)


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_bundled_specs_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.source == f"{name}.yaml (bundled)"
    hypermodel = __import__("hypermodels").get_hypermodel(spec.hypermodel.name)
    assert set(hypermodel.default_space) <= set(spec.search_space) <= set(hypermodel.known_space())


def test_minimal_spec_takes_hypermodel_defaults() -> None:
    spec = parse_spec(MINIMAL, "my.yaml", default_name="my")
    assert spec.name == "my"
    assert spec.tracking.experiment == "my"
    assert spec.search_space["units"] == IntParam(128, 1024, 128)
    assert spec.tuner.kind is TunerKind.HYPERBAND
    assert spec.tuner.max_trials is None  # Hyperband runs its whole plan
    # Task-neutral defaults: every task reports val_loss, and it is minimised.
    assert spec.objective.metric == "val_loss"
    assert spec.objective.direction is Direction.MIN
    assert spec.training.early_stopping.mode is Direction.MIN


def test_partial_override_keeps_default_type_and_other_keys() -> None:
    spec = parse_spec(MINIMAL + "search_space: {units: {max: 2048}, dropout: 0.25}\n", "my.yaml")
    assert spec.search_space["units"] == IntParam(128, 2048, 128)
    assert spec.search_space["dropout"] == FixedParam(0.25)


def test_an_optional_hyperparameter_joins_the_space_only_when_named() -> None:
    assert "l2" not in parse_spec(MINIMAL, "my.yaml").search_space  # no sweep's space changes
    partial = parse_spec(MINIMAL + "search_space: {l2: {max: 0.01}}\n", "my.yaml")
    assert partial.search_space["l2"] == FloatParam(1e-5, 0.01, log=True)  # mlp's optional one
    assert parse_spec(MINIMAL + "search_space: {l2: 0.001}\n", "my.yaml").search_space["l2"] \
        == FixedParam(0.001)


def test_set_overrides_are_typed_as_yaml() -> None:
    spec = load_spec("mnist_mlp", ["data.subset=500", "search_space.learning_rate.max=0.01",
                                   "training.early_stopping.min_delta=1e-3"])
    assert spec.data.subset == 500
    assert spec.search_space["learning_rate"] == FloatParam(3e-4, 0.01, log=True)
    assert spec.training.early_stopping.min_delta == 0.001


def test_tuner_max_trials_applies_to_the_chosen_kind() -> None:
    spec = load_spec("mnist_mlp", ["tuner.kind=random", "tuner.max_trials=3"])
    assert spec.tuner.kind is TunerKind.RANDOM
    assert spec.tuner.max_trials == 3
    assert spec.tuner.settings[TunerKind.BAYESIAN]["max_trials"] == 20


def test_several_objectives_for_optuna() -> None:
    spec = parse_spec(MINIMAL + "tuner: {kind: optuna}\n"
                      "objective: [{metric: val_accuracy}, {metric: params}]\n", "my.yaml")
    assert [(o.metric, o.direction) for o in spec.objectives] == [
        ("val_accuracy", Direction.MAX), ("params", Direction.MIN)]
    assert spec.objective.metric == "val_accuracy"  # the first is primary
    assert parse_spec(__import__("yaml").safe_dump(spec.to_dict()), "again.yaml") == spec.__class__(
        **{**vars(spec), "source": "again.yaml"})


@pytest.mark.parametrize(("tracking", "registered"), [
    ("", "my"), ("tracking: {register_model: null}\n", "my"),
    ("tracking: {register_model: true}\n", "my"),
    ("tracking: {register_model: digits}\n", "digits"),
    ("tracking: {register_model: false}\n", None),
])
def test_register_model_defaults_to_the_spec_name(tracking: str, registered: str | None) -> None:
    spec = parse_spec(MINIMAL + tracking, "my.yaml", default_name="my")
    assert spec.tracking.register_model == registered
    again = parse_spec(__import__("yaml").safe_dump(spec.to_dict()), "again.yaml")
    assert again.tracking.register_model == registered


def test_loss_objective_infers_min() -> None:
    spec = parse_spec(MINIMAL + "objective: {metric: val_loss}\n", "my.yaml")
    assert spec.objective.direction is Direction.MIN


def test_resolved_spec_round_trips_through_yaml() -> None:
    import yaml

    spec = load_spec("mnist_mlp", ["data.subset=1000"])
    again = parse_spec(yaml.safe_dump(spec.to_dict()), "resolved.yaml")
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data: [", "my.yaml: not valid YAML at line"),
        ("- 1\n- 2\n", "my.yaml: (top level): expected a mapping of spec keys, got a list"),
        ("hypermodel: mlp\n", "my.yaml: data: is required but missing"),
        ("data: {name: mnist}\n", "my.yaml: hypermodel: is required but missing"),
        (MINIMAL + "trainig: {}\n", 'my.yaml: trainig: unknown key (did you mean "training"?)'),
        ("data: {name: mnsit}\nhypermodel: mlp\n",
         'my.yaml: data.name: expected one of mnist, fashion_mnist, npz, csv, image_folder, '
         'digits, iris, wine, breast_cancer, diabetes, loader, arrays, got "mnsit" (did you mean "mnist"?)'),
        ("data: {name: mnist, subset: 5}\nhypermodel: mlp\n",
         "my.yaml: data.subset: expected an integer >= 20 or null, got 5"),
        ("data: {name: mnist, validation_split: 0.9}\nhypermodel: mlp\n",
         "my.yaml: data.validation_split: expected a number > 0.0 and <= 0.5, got 0.9"),
        ("data: {name: mnist}\nhypermodel: cnnn\n",
         'my.yaml: hypermodel.name: expected a bundled hypermodel (cnn, mlp, sized_mlp), an '
         'import path "module:builder" or a sweeps.hypermodels entry point, got "cnnn" (did you mean "cnn"?)'),
        ("data: {name: mnist}\nhypermodel: {name: 'no_such_module_xyz:build'}\n",
         "my.yaml: hypermodel.name: cannot find module 'no_such_module_xyz'"),
        (MINIMAL.replace("mlp", "{name: mlp, options: {units_per_layer: 3}}"),
         "my.yaml: hypermodel.options.units_per_layer: expected bool like the default true, got 3"),
        (MINIMAL + "search_space: {unit: {type: int, min: 1, max: 2}}\n",
         'my.yaml: search_space.unit: not a hyperparameter of this hypermodel (did you mean "units"?)'),
        (MINIMAL + "search_space: {l1: 0.01}\n",
         "my.yaml: search_space.l1: not a hyperparameter of this hypermodel; it has: depth, units, "
         "dropout, learning_rate (optional: l2)"),
        ("data: {name: mnist}\nhypermodel: cnn\nsearch_space: {l2: 0.01}\n",
         "my.yaml: search_space.l2: not a hyperparameter of this hypermodel; it has: blocks, filters, "
         "kernel_size, units, dropout, learning_rate"),
        (MINIMAL + "search_space: {units: {type: int, min: 64, max: big}}\n",
         'my.yaml: search_space.units.max: expected an integer, got "big"'),
        (MINIMAL + "search_space: {units: {type: int, min: 64, max: 32}}\n",
         "my.yaml: search_space.units.max: expected an integer >= min (64), got 32"),
        (MINIMAL + "search_space: {learning_rate: {min: 0.0}}\n",
         "my.yaml: search_space.learning_rate.min: expected a number > 0 when log is true, got 0.0"),
        (MINIMAL + "search_space: {learning_rate: {step: 0.1}}\n",
         "my.yaml: search_space.learning_rate.step: expected no step when log is true"),
        (MINIMAL + "search_space: {units: {type: choice, values: []}}\n",
         "my.yaml: search_space.units.values: expected a non-empty list of numbers or strings, got a list"),
        (MINIMAL + "search_space: {units: {type: integer}}\n",
         'my.yaml: search_space.units.type: expected one of int, float, choice, fixed, got "integer"'),
        (MINIMAL + "search_space: {units: [1, 2]}\n",
         "my.yaml: search_space.units: expected a mapping with `type`"),
        (MINIMAL + "tuner: {kind: bohb}\n",
         'my.yaml: tuner.kind: expected one of hyperband, random, bayesian, grid, optuna, got "bohb"'),
        (MINIMAL + "tuner: {hyperband: {factor: 1}}\n",
         "my.yaml: tuner.hyperband.factor: expected an integer >= 2, got 1"),
        (MINIMAL + "tuner: {random: {max_trial: 3}}\n",
         'my.yaml: tuner.random.max_trial: unknown key (did you mean "max_trials"?)'),
        (MINIMAL + "objective: {metric: val accuracy}\n",
         'my.yaml: objective.metric: expected a metric name (letters, digits, underscores, as '
         'Keras logs it), got "val accuracy"'),
        (MINIMAL + "objective: {metric: val_foo}\n",
         "my.yaml: objective.direction: is required: the name 'val_foo' does not say whether "
         "larger or smaller is better; give max or min"),
        (MINIMAL + "training: {early_stopping: {monitor: val_foo}}\n",
         "my.yaml: training.early_stopping.mode: is required: the name 'val_foo' does not say"),
        (MINIMAL + "task: classification\n",
         'my.yaml: task: expected one of multiclass, binary, regression, got "classification"'),
        ("data: {name: csv}\nhypermodel: mlp\n", "my.yaml: data.path: is required but missing"),
        ("data: {name: mnist, target: y}\nhypermodel: mlp\n",
         "my.yaml: data.target: is not used by data.name 'mnist' (it reads: dir), got \"y\""),
        ("data: {name: image_folder, path: imgs, image_size: [28]}\nhypermodel: mlp\n",
         "my.yaml: data.image_size: expected [height, width] in pixels, got a list"),
        ("data: {loader: not_an_import_path}\nhypermodel: mlp\n",
         'my.yaml: data.loader: expected an import path "module:function", got "not_an_import_path"'),
        (MINIMAL + "objective: [{metric: val_accuracy}, {metric: params}]\n",
         "my.yaml: objective: expected one objective for tuner 'hyperband' (several need "
         "tuner.kind: optuna), got 2: val_accuracy, params"),
        (MINIMAL + "tuner: {kind: optuna}\nobjective: [{metric: loss}, {metric: loss}]\n",
         "my.yaml: objective: expected distinct metrics, got 'loss' twice"),
        (MINIMAL + "tuner: {kind: optuna}\nobjective: [{metric: loss}, {metric: size}]\n",
         "my.yaml: objective[1].direction: is required: the name 'size' does not say"),
        (MINIMAL + "tuner: {optuna: {sampler: bohb}}\n",
         'my.yaml: tuner.optuna.sampler: expected one of tpe, random, gp, cmaes, nsga2, got "bohb"'),
        (MINIMAL + "tuner: {optuna: {pruner: asha}}\n",
         'my.yaml: tuner.optuna.pruner: expected one of hyperband, median, successive_halving, none, got "asha"'),
        (MINIMAL + "training: {batch_size: 0}\n",
         "my.yaml: training.batch_size: expected an integer >= 1, got 0"),
        (MINIMAL + "training: {max_epochs: true}\n",
         "my.yaml: training.max_epochs: expected an integer >= 1, got true"),
        (MINIMAL + "training: {lr_schedule: {decay_per: steps}}\n",
         "my.yaml: training.lr_schedule.decay_steps: is required but missing"),
        (MINIMAL + "training: {lr_schedule: {decay_steps: 100}}\n",
         "my.yaml: training.lr_schedule.decay_steps: is only used with decay_per: steps"),
        (MINIMAL + "training: {early_stopping: {patience: -1}}\n",
         "my.yaml: training.early_stopping.patience: expected an integer >= 0, got -1"),
        (MINIMAL + "seed: 1.5\n", "my.yaml: seed: expected an integer >= 0, got 1.5"),
        (MINIMAL + "tracking: {experiment: ''}\n",
         'my.yaml: tracking.experiment: expected a non-empty string, got ""'),
        (MINIMAL + "tracking: {register_model: 3}\n",
         "my.yaml: tracking.register_model: expected a model name or false, got 3"),
        (MINIMAL + "tracking: {register_model: 'team/mnist'}\n",
         "my.yaml: tracking.register_model: expected a Model Registry name without '/' or ':' "
         '(MLflow refuses them), got "team/mnist"'),
        ("name: 'a:b'\n" + MINIMAL,
         "my.yaml: tracking.register_model: expected a Model Registry name without '/' or ':' "
         '(MLflow refuses them), got "a:b" (the default is the spec\'s name, "a:b": set '
         "tracking.register_model to a name, or false)"),
    ],
)
def test_bad_spec_names_file_key_expected_and_found(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith(expected), message
    assert "\n" not in message.strip() or "not valid YAML" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.subsett=5", 'my.yaml: data.subsett: unknown key (did you mean "subset"?)'),
        ("training.max_epochs=ten", 'my.yaml: training.max_epochs: expected an integer >= 1, got "ten"'),
        ("noequals", 'my.yaml: --set expects dotted.key=value, got "noequals"'),
        ("data.name.x=1", 'my.yaml: data.name: --set data.name.x=1: data.name is "mnist", not a mapping'),
        ("hypermodel.options.translate=0.7",
         "my.yaml: hypermodel.options.translate: expected a number from 0 to 0.5, got 0.7"),
    ],
)
def test_bad_override_is_reported_like_the_file(override: str, expected: str) -> None:
    message = error_of(MINIMAL, (override,))
    assert message.startswith(expected), message
    if "=" in override and not message.startswith("my.yaml: data.name"):
        assert message.endswith(f"(set by --set {override})")


def test_missing_file_and_unknown_bundled_name(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read the file"):
        load_spec(str(tmp_path / "nope.yaml"))
    with pytest.raises(SpecError, match=r'mnist_mpl: no such spec file.*did you mean "mnist_mlp"'):
        load_spec("mnist_mpl")


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(str(path))


# -- hardening: duplicate keys, encodings, non-finite numbers, bounds, size, alias bombs ------

def test_key_given_twice_names_key_path_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(MINIMAL + "training:\n  max_epochs: 5\n  batch_size: 64\n  max_epochs: 50\n")
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    assert str(info.value) == (f"{path}: training.max_epochs: expected each key once in a "
                               "mapping, got it twice (lines 4 and 6)")
    assert "line 1, columns 2 and 10) (set by --set" in error_of(MINIMAL + "seed: 1\n",
                                                  ("search_space.units={min: 1, min: 2}",))


def test_merge_keys_may_still_be_overridden() -> None:
    # `<<` brings keys in that the mapping may override, also when the mapping merged in was
    # itself built by a merge (PyYAML flattens it in place before constructing it).
    spec = parse_spec(
        "data: {name: mnist}\nhypermodel: mlp\nsearch_space:\n"
        "  units: {<<: &base {type: int, min: 16, max: 64, step: 16}, max: 128}\n"
        "  depth: &depth {<<: *base, min: 1, max: 3, step: 1}\n"
        "  dropout: {<<: *depth, type: float, min: 0.1, max: 0.5, step: 0.1}\n", "my.yaml")
    assert spec.search_space["units"] == IntParam(16, 128, 16)
    assert spec.search_space["depth"] == IntParam(1, 3, 1)
    assert spec.search_space["dropout"] == FloatParam(0.1, 0.5, 0.1)


def test_file_that_is_not_utf8_is_one_line_with_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes((MINIMAL + "description: caf\u00e9\n").encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    offset = len(MINIMAL) + len("description: caf")
    assert str(info.value) == (f"{path}: not UTF-8 text: expected UTF-8, got byte 0xe9 at "
                               f"byte offset {offset} (line 3); save the file as UTF-8")
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + (MINIMAL + "description: caf\u00e9\n").encode())
    assert load_spec(str(bom)).description == "caf\u00e9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search_space: {dropout: .nan}\n",
         "search_space.dropout: expected a finite number with |x| <= 1e+30, got .nan"),
        ("search_space: {dropout: {type: float, min: -.inf, max: 0.5}}\n",
         "search_space.dropout.min: expected a finite number, got -.inf"),
        ("search_space: {dropout: {type: float, min: 0.1, max: .inf}}\n",
         "search_space.dropout.max: expected a finite number, got .inf"),
        ("search_space: {dropout: {type: choice, values: [0.1, .NaN]}}\n",
         "search_space.dropout.values[1]: expected a finite number with |x| <= 1e+30, got .nan"),
        ("search_space: {dropout: {type: fixed, value: .inf}}\n",
         "search_space.dropout.value: expected a finite number with |x| <= 1e+30, got .inf"),
        ("training: {early_stopping: {min_delta: .nan}}\n",
         "training.early_stopping.min_delta: expected a finite number, got .nan"),
        ("training: {lr_schedule: {decay_rate: 1e999}}\n",
         "training.lr_schedule.decay_rate: expected a finite number, got .inf"),
        ("tuner: {bayesian: {beta: .inf}}\n", "tuner.bayesian.beta: expected a finite number, got .inf"),
        ("training: {max_epochs: .inf}\n",
         "training.max_epochs: expected an integer >= 1, got .inf"),
    ],
)
def test_non_finite_numbers_are_refused_at_their_key(text: str, expected: str) -> None:
    assert error_of(MINIMAL + text) == f"my.yaml: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("training: {max_epochs: 100001}\n",
         "training.max_epochs: expected an integer >= 1 and <= 100000, got 100001"),
        ("training: {batch_size: 1048577}\n",
         "training.batch_size: expected an integer >= 1 and <= 1048576, got 1048577"),
        ("training: {early_stopping: {patience: 100001}}\n",
         "training.early_stopping.patience: expected an integer >= 0 and <= 100000"),
        ("tuner: {max_trials: 100001}\n",
         "tuner.max_trials: expected an integer >= 1 and <= 100000, got 100001"),
        ("tuner: {hyperband: {iterations: 100001}}\n",
         "tuner.hyperband.iterations: expected an integer >= 1 and <= 100000"),
        ("seed: 4294967296\n", "seed: expected an integer >= 0 and <= 2147483647"),
        ("search_space: {units: {type: int, min: 16, max: 10000000000000}}\n",
         "search_space.units.max: expected a finite number with |x| <= 1e+12, got 10000000000000"),
        ("search_space: {dropout: {type: float, min: -2e30, max: 0.5}}\n",
         "search_space.dropout.min: expected a number >= -1e+30 and <= 1e+30, got -2e+30"),
        ("search_space: {dropout: {type: choice, values: [0.1, 5.0e+30]}}\n",
         "search_space.dropout.values[1]: expected a finite number with |x| <= 1e+30, got 5e+30"),
        ("training: {lr_schedule: {decay_per: steps, decay_steps: 1000000000001}}\n",
         "training.lr_schedule.decay_steps: expected an integer >= 1 and <= 1000000000000"),
        ("search_space: {dropout: {type: float, min: 0.1, max: 0.5, step: 0}}\n",
         "search_space.dropout.step: expected a number > 0 and <= 1e+30, got 0"),
        (f"search_space: {{units: {{type: choice, values: [{', '.join(['16'] * 10001)}]}}}}\n",
         "search_space.units.values: expected at most 10000 values, got 10001"),
    ],
)
def test_absurd_magnitudes_name_the_bound(text: str, expected: str) -> None:
    assert error_of(MINIMAL + text).startswith(f"my.yaml: {expected}")


def test_spec_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    from sweeps.spec._limits import MAX_SPEC_BYTES

    path = tmp_path / "huge.yaml"
    path.write_text(MINIMAL + "description: " + "x" * MAX_SPEC_BYTES + "\n")
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    assert str(info.value) == (f"{path}: expected a spec of at most {MAX_SPEC_BYTES} bytes "
                               "(1 MiB), got more")


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    import time

    path = tmp_path / "lol.yaml"
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 10)}]" for i in range(1, 10)]
    path.write_text(MINIMAL + "\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    assert time.perf_counter() - started < 0.5
    message = str(info.value)
    assert message.startswith(f"{path}: lol4[")
    assert "expected at most 100000 YAML nodes with aliases expanded, got more (line 7;" in message
    assert "\n" not in message


def test_alias_count_and_recursive_aliases_are_refused() -> None:
    many = f"x: &x 1\nys: [{', '.join(['*x'] * 101)}]\n"
    assert error_of(MINIMAL + many) == (
        "my.yaml: ys[100]: expected at most 100 YAML aliases (*name) in a spec, got more (line 4)")
    assert error_of(MINIMAL + "loop: &l [1, *l]\n") == (
        "my.yaml: loop[1]: expected an alias to a finished node, got one inside the node it "
        "names (line 3)")
