"""Run N schedules of the fault campaign from a seed and total what happened."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import run_state_machine_as_test

from tests.faults.machine import FaultCampaign, Hooks, Totals
from tests.faults.world import TeamPool

__all__ = ["CampaignResult", "run_campaign"]

DEFAULT_STEPS = 30


@dataclass
class CampaignResult:
    totals: Totals
    seed: int
    seconds: float
    failure: str | None  # the error of the shortest failing schedule, when one failed

    @property
    def line(self) -> str:
        t = self.totals
        return (
            f"faults: schedules={t.schedules} operations={t.operations} faults={t.faults} "
            f"lost={t.lost} diverged={t.diverged} seed={self.seed}"
        )

    @property
    def ok(self) -> bool:
        return self.failure is None and self.totals.lost == 0 and self.totals.diverged == 0


def run_campaign(
    schedules: int,
    seed: int,
    *,
    steps: int = DEFAULT_STEPS,
    reuse: int = 25,
    root: Path | None = None,
    sabotage: Callable[[FaultCampaign], None] | None = None,
    shrink: bool = True,
    progress: Callable[[Totals], None] | None = None,
    healed: Callable[[FaultCampaign], None] | None = None,
    say: Callable[[str], None] = print,
) -> CampaignResult:
    """Run ``schedules`` schedules deterministically from ``seed``; a failure is shrunk and reported.

    Hypothesis prints the shortest failing schedule (its steps) through ``say``'s stream.
    """
    started = time.perf_counter()
    # Phones and server live in memory when the machine has a tmpfs: fsync is the slow part, and a
    # crash here is simulated by the phone process dying, never by the disk.
    scratch_root = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="gatepost-faults-", dir=scratch_root) as scratch:
        pool = TeamPool(root or Path(scratch), reuse=reuse)
        totals = Totals()
        hooks = Hooks(sabotage=sabotage, progress=progress, healed=healed)
        machine = type("FaultCampaign", (FaultCampaign,), {"pool": pool, "totals": totals, "hooks": hooks})
        machine = hypothesis_seed(seed)(machine)
        failure: str | None = None
        try:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=schedules,
                    stateful_step_count=steps,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    suppress_health_check=list(HealthCheck),
                    verbosity=Verbosity.normal,
                    report_multiple_bugs=False,
                    print_blob=False,
                    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])],
                ),
            )
        except Exception as error:  # the shortest failing schedule; Hypothesis has printed its steps
            failure = f"{type(error).__name__}: {error}"
            totals.failed = True
            notes = getattr(error, "__notes__", [])
            for note in notes:
                say(note)
            say(failure)
        finally:
            pool.close()
    return CampaignResult(totals, seed, time.perf_counter() - started, failure)
