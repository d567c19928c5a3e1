"""Timing helpers for benchmarks that compare things side by side.

The machines are shared and noisy, so a benchmark never reports an absolute
time alone: it runs the things it compares in one process, interleaved in
rounds (A B C, then C B A, ...), and reports per-round ratios as
median / min / max. `interleaved_rounds` does the interleaving,
`ratio_stats` the ratios.

Example:

    steps = {name: calibrate_steps(fn, min_seconds=1.0) for name, fn in fns}
    times = interleaved_rounds(fns, steps, rounds=5)   # name -> [s/step] * 5
    ratio_stats(times['ours'], times['theirs'])        # {'median': 0.98, ...}
"""
import math
import os
import resource
import statistics
import sys
import time


def summarize(values):
  """{'median', 'min', 'max'} of a non-empty sequence of numbers."""
  values = list(values)
  if not values:
    raise ValueError('summarize() needs at least one value')
  return {'median': statistics.median(values), 'min': min(values),
          'max': max(values)}


def time_steps(step_fn, steps):
  """Seconds per call of `step_fn()`, averaged over `steps` back-to-back calls."""
  start = time.perf_counter()
  for _ in range(steps):
    step_fn()
  return (time.perf_counter() - start) / steps


def calibrate_steps(step_fn, min_seconds, max_steps=1000):
  """How many calls of a warmed-up `step_fn` take at least `min_seconds`.

  Times one call; returns at least 1.
  """
  once = time_steps(step_fn, 1)
  if once <= 0:
    return max_steps
  return int(min(max_steps, max(1, math.ceil(min_seconds / once))))


def interleaved_rounds(step_fns, steps, rounds):
  """Times every function in every round, alternating the order.

  Round r runs the functions in the given order when r is even and in reverse
  when r is odd, so no function always runs right after the same neighbour.

  Args:
    step_fns: dict name -> zero-argument callable (one step).
    steps: dict name -> calls per round (from `calibrate_steps`).
    rounds: number of rounds.

  Returns:
    dict name -> list of `rounds` seconds-per-step values, in round order.
  """
  names = list(step_fns)
  times = {name: [] for name in names}
  for r in range(rounds):
    for name in (names if r % 2 == 0 else reversed(names)):
      times[name].append(time_steps(step_fns[name], steps[name]))
  return times


def per_round_ratios(numerator, denominator):
  """[a / b for each round] of two equally long per-round lists."""
  if len(numerator) != len(denominator):
    raise ValueError('per-round lists differ in length: %d vs %d' %
                     (len(numerator), len(denominator)))
  return [a / b for a, b in zip(numerator, denominator)]


def ratio_stats(numerator, denominator):
  """Median/min/max of per-round ratios, with the ratios themselves."""
  ratios = per_round_ratios(numerator, denominator)
  return dict(summarize(ratios), ratios=ratios)


def peak_rss_bytes():
  """This process's resident-memory high-water mark, from the OS.

  On Linux this is `VmHWM` of /proc/self/status: the peak of the current
  address space. `getrusage().ru_maxrss` is the fallback elsewhere; on Linux
  it is not used because it survives `execve`, so a child started with
  fork+exec reports at least its parent's size at the fork.
  """
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) * 1024  # Reported in kB.
  except OSError:
    pass
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  # ru_maxrss is in kilobytes on Linux, bytes on macOS.
  return peak if sys.platform == 'darwin' else peak * 1024


def load_average():
  """The 1, 5 and 15 minute load averages (machine-wide), or None."""
  try:
    return list(os.getloadavg())
  except OSError:
    return None
