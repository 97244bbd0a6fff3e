"""``python -m tests.faults --schedules N --seed S``: the fault campaign at scale.

Prints totals and ends with ``faults: schedules=N operations=N faults=N lost=N diverged=N seed=S``;
exits 1 when anything was lost or diverged (after printing the shortest failing schedule).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from tests.faults.campaign import DEFAULT_STEPS, run_campaign
from tests.faults.machine import Totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=100, help="how many schedules to run (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="re-run a campaign from its seed (default: random)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="most steps per schedule")
    parser.add_argument("--reuse", type=int, default=25, help="schedules per team before a fresh organisation")
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"fault campaign: {options.schedules} schedules, seed {seed}", flush=True)
    started = time.perf_counter()

    def progress(totals: Totals) -> None:
        if totals.schedules % 100 == 0 and not totals.failed:
            print(
                f"  {totals.schedules} schedules, {totals.operations} operations, {totals.faults} faults "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )

    result = run_campaign(options.schedules, seed, steps=options.steps, reuse=options.reuse, progress=progress)
    t = result.totals
    print(
        f"  {result.seconds:.1f} s; crashes={t.crashes} notes={t.notes} replays={t.replays} "
        f"sign-ins after a lost refresh reply={t.sign_ins}"
    )
    if result.failure:
        print(f"FAILED (re-run with --seed {seed}): {result.failure.splitlines()[0]}")
        if result.failure.startswith("FlakyFailure"):
            print(
                "  It did not fail again from a new team: it needed what earlier schedules left on theirs. "
                "Re-run with --reuse 1 (every schedule from a new team) to find one that replays."
            )
    print(result.line, flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
