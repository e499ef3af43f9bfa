"""Learning-rate schedules and the time budget of one fit.

The step size of a fit is ``learning_rate_init`` times a factor of the *budget fraction* spent so far,
``max(steps / (max_iter * steps per epoch), elapsed / max_time)``: with ``max_time`` set, a decaying
schedule reaches zero at the deadline rather than at ``max_iter``. The factor is recomputed before
every optimizer step (a float written into each ``param_group["lr"]``: no device work, no sync), so a
fit of a few epochs decays smoothly too.
"""

import math
import time

__all__ = ["LEARNING_RATES", "PLATEAU_FACTOR", "PLATEAU_FLOOR", "StepSchedule", "clock", "decay_factor"]

LEARNING_RATES = ("constant", "linear_decay", "cosine", "plateau")
# The schedules whose factor depends on the budget fraction.
_DECAYING = ("linear_decay", "cosine")
# "plateau": the step is divided by this factor at each plateau of the monitored quantity ...
PLATEAU_FACTOR = 5.0
# ... and training stops (as converged) at the plateau that would take it below this fraction of
# learning_rate_init: after four divisions (learning_rate_init / 625), the fifth plateau stops.
PLATEAU_FLOOR = 1e-3


def decay_factor(learning_rate, fraction, decay_start=0.0):
    """The multiplier of ``learning_rate_init`` at budget ``fraction`` (0 at the start, 1 at the end).

    "linear_decay" and "cosine" hold 1 until ``decay_start`` and then fall to 0 at fraction 1,
    linearly or along half a cosine; the other schedules do not depend on the fraction (1).

    >>> decay_factor("linear_decay", 0.75), decay_factor("linear_decay", 0.75, decay_start=0.5)
    (0.25, 0.5)
    >>> round(decay_factor("cosine", 0.5), 6), decay_factor("constant", 0.9)
    (0.5, 1.0)
    """
    if learning_rate not in _DECAYING or fraction <= decay_start:
        return 1.0
    t = min(1.0, (fraction - decay_start) / (1.0 - decay_start))
    if learning_rate == "linear_decay":
        return 1.0 - t
    return 0.5 * (1.0 + math.cos(math.pi * t))


def clock():
    """The clock of ``max_time`` (seconds, monotonic)."""
    return time.perf_counter()


class StepSchedule:
    """The step size and the clock of one call to ``fit`` (or one ``partial_fit`` epoch).

    ``before_step`` sets the step size of the next optimizer step; ``after_step`` counts it and says
    whether the time budget is spent; ``plateau`` divides the step ("plateau" schedule) and says
    whether training may go on.
    """

    def __init__(self, learning_rate, learning_rate_init, decay_start, total_steps, max_time, start=None):
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.decay_start = decay_start
        self.total_steps = max(1, total_steps)
        self.max_time = max_time
        self.decays = learning_rate in _DECAYING
        self.steps = 0
        self.elapsed = 0.0
        self.scale = 1.0  # the plateau divisions so far
        # ``start``: when the fit began (see :func:`clock`), so that its set-up (pretraining) counts.
        self.start = clock() if start is None else start

    def fraction(self):
        """The budget fraction spent: steps over the step budget, or time over max_time if larger."""
        done = self.steps / self.total_steps
        if self.max_time is not None:
            done = max(done, self.elapsed / self.max_time)
        return done

    def lr(self):
        """The step size of the next optimizer step."""
        return self.learning_rate_init * self.scale * decay_factor(
            self.learning_rate, self.fraction(), self.decay_start
        )

    def apply(self, optimizer):
        for group in optimizer.param_groups:
            group["lr"] = self.lr()

    def before_step(self, optimizer):
        if self.decays:
            self.apply(optimizer)

    def after_step(self):
        """Count the step; True when the time budget is spent (training should stop)."""
        self.steps += 1
        if self.max_time is None:
            return False
        self.elapsed = time.perf_counter() - self.start
        return self.elapsed >= self.max_time

    def plateau(self, optimizer):
        """The monitored quantity stopped improving: True if training goes on (with a smaller step).

        Only the "plateau" schedule goes on, until its step would fall below
        ``PLATEAU_FLOOR * learning_rate_init``; the others stop (converged).
        """
        if self.learning_rate != "plateau" or self.scale / PLATEAU_FACTOR < PLATEAU_FLOOR:
            return False
        self.scale /= PLATEAU_FACTOR
        self.apply(optimizer)
        return True
