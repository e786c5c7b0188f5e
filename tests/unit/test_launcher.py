"""What ``--workers`` decides without starting anything: GPUs per worker, the refusal of
keras-tuner engines, the command's exit status."""

from __future__ import annotations

import io

import pytest

from sweeps.launcher import _exit_code, gpu_assignment, refusal, visible_gpus
from sweeps.spec import TunerKind, load_spec


def test_gpus_go_round_robin_and_none_without_gpus() -> None:
    assert gpu_assignment(5, ["0", "1"]) == ["0", "1", "0", "1", "0"]
    assert gpu_assignment(2, ["3", "5", "7"]) == ["3", "5"]
    assert gpu_assignment(3, []) == [None, None, None]


@pytest.mark.parametrize(("value", "gpus"), [
    ("0,1", ["0", "1"]), (" 2 , 3 ", ["2", "3"]), ("", []), ("-1", []),
    ("GPU-1a2b,GPU-3c4d", ["GPU-1a2b", "GPU-3c4d"]),
])
def test_visible_gpus_honour_cuda_visible_devices(value: str, gpus: list[str]) -> None:
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": value}) == gpus


@pytest.mark.parametrize("kind", [k for k in TunerKind if k is not TunerKind.OPTUNA])
def test_each_keras_tuner_engine_is_refused_with_a_loadable_optuna_configuration(kind) -> None:
    spec = load_spec("mnist_mlp", [f"tuner.kind={kind.value}"])
    why = refusal(spec)
    assert why is not None and "\n" not in why and f"keras-tuner's {kind.value}" in why
    # The configuration it names is a valid spec: a user can paste it.
    sets = why.split("`--tuner optuna ")[1].split(" --workers N`")[0].split("--set ")[1:]
    optuna_spec = load_spec("mnist_mlp", ["tuner.kind=optuna", *(s.strip() for s in sets)])
    assert optuna_spec.tuner.kind is TunerKind.OPTUNA
    assert refusal(optuna_spec) is None


@pytest.mark.parametrize(("codes", "expected"), [
    ({"w1": 0, "w2": 0}, 0),
    ({"w1": 0, "w2": -9}, 0),        # killed: the others ran its trial again
    ({"w1": -9, "w2": -9}, 1),       # nobody finished the sweep
    ({"w1": 130, "w2": 130}, 130),   # Ctrl-C reached every worker
    ({"w1": 0, "w2": 2}, 2),         # a worker failed on its own: say so
])
def test_the_exit_status_is_zero_only_when_the_sweep_ended(codes, expected) -> None:
    stream = io.StringIO()
    assert _exit_code(codes, stream) == expected
    assert ("SIGKILL" in stream.getvalue()) == any(c == -9 for c in codes.values())


def test_the_python_api_refuses_as_the_cli_does_before_anything_starts(tmp_path) -> None:
    import sweeps
    from sweeps.errors import SweepsError

    with pytest.raises(SweepsError, match=r"not keras-tuner's random: .*--tuner optuna"):
        sweeps.run_workers("mnist_mlp", workers=2, tuner="random", work_dir=tmp_path)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        sweeps.run_workers("mnist_mlp", workers=2, trials=3)
    assert not list(tmp_path.iterdir())
