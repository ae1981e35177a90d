"""The same batch on a local Ray instance: identical EXRs, the same manifest and resume.

One Ray instance for the whole session (``ray.init(num_cpus=2)``): its start-up
is the slow part, so every Ray test shares it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("opentimelineio")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_batch_local import EXPECTED, frame_numbers, make_media, sha256s, write_cut  # noqa: E402

from segmatte.server.batch import manifest as mf  # noqa: E402
from segmatte.server.batch.driver import run_batch  # noqa: E402
from segmatte.server.batch.plan import BatchSettings  # noqa: E402
from segmatte.server.batch.runner_local import InProcessRunner  # noqa: E402
from segmatte.server.batch.runner_ray import EngineKeeper, RayRunner, RaySettings  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("batch-ray-media"))


def test_ray_batch_matches_the_local_batch_byte_for_byte(ray_instance: None, media: Path,
                                                         tmp_path: Path) -> None:
    cut = write_cut(tmp_path, media)
    shots = read_shots(cut, handles=1)
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local = run_batch(shots, BatchSettings(output=local_out), InProcessRunner(), input_path=str(cut))
    runner = RayRunner(RaySettings(address=None, workers=2, num_gpus=0))
    try:
        remote = run_batch(shots, BatchSettings(output=ray_out), runner, input_path=str(cut))
        stats = runner.stats()
    finally:
        runner.close()
    assert remote.manifest.runner == "ray"
    assert {k: r.state for k, r in remote.manifest.shots.items()} == \
        {k: r.state for k, r in local.manifest.shots.items()}
    failed = {r.id: r.reason for r in remote.manifest.failed()}
    assert len(failed) == 2 and failed == {r.id: r.reason for r in local.manifest.failed()}
    for name, (first, last) in EXPECTED.items():
        assert frame_numbers(ray_out / name, name) == list(range(first - 1, last + 2))
    a, b = sha256s(local_out), sha256s(ray_out)
    assert a and a == b
    # weights once per worker: each worker kept one engine whatever its number of shots
    assert sum(s["shots"] for s in stats) == 3
    assert all(s["engines"] == (1 if s["shots"] else 0) for s in stats)

    # resume semantics are the batch's: a second run on Ray has nothing to do
    runner = RayRunner(RaySettings(address=None, workers=1, num_gpus=0))
    try:
        again = run_batch(shots, BatchSettings(output=ray_out), runner, input_path=str(cut))
    finally:
        runner.close()
    assert again.ran == 0 and mf.load(ray_out).counts() == {"done": 3, "failed": 2}


def test_engine_keeper_reuses_an_engine_per_settings() -> None:
    from segmatte.models import registry

    cls = registry.get("key")
    keeper = EngineKeeper()

    def plan(**options):  # what the keeper reads of a JobPlan
        return SimpleNamespace(engine_cls=cls, options=cls.Options(**options),
                               spec=SimpleNamespace(model=None))

    a = keeper.engine(plan(), "cpu")
    a.close()
    b = keeper.engine(plan(), "cpu")
    c = keeper.engine(plan(tolerance=0.3), "cpu")
    assert a._engine is b._engine and c._engine is not a._engine
    assert len(keeper) == 2 and b.temporal is False
    keeper.close()
    assert len(keeper) == 0


def test_a_dead_worker_fails_its_shot_and_is_replaced(ray_instance: None, media: Path,
                                                      tmp_path: Path) -> None:
    cut = write_cut(tmp_path, media, bad=False)
    shots = read_shots(cut)
    out = tmp_path / "out"
    runner = RayRunner(RaySettings(address=None, workers=1, num_gpus=0))
    try:
        ray.kill(runner.workers[0])  # as if its node were lost
        first = run_batch(shots, BatchSettings(output=out), runner, input_path=str(cut))
        assert first.manifest.counts() == {"failed": 1, "done": 2}
        (failed,) = first.manifest.failed()
        assert "worker died" in failed.reason
        again = run_batch(shots, BatchSettings(output=out), runner, input_path=str(cut),
                          retry_failed=True)
    finally:
        runner.close()
    assert again.ran == 1 and again.manifest.counts() == {"done": 3}


def test_asking_for_gpus_the_cluster_lacks_is_one_sentence(ray_instance: None) -> None:
    with pytest.raises(RuntimeError, match="--num-gpus 0"):
        RayRunner(RaySettings(address=None, workers=1, num_gpus=1))
