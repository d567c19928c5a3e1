"""SIGTERM for a training process: stop after the step, never hang.

`graceful_sigterm()` (call it from the main thread) returns two events:
`stop`, set on SIGTERM, which `hooks.StopRequestHook` turns into the end of
the run after the current step (the chief then writes its final
checkpoint), and `started`, which the caller sets once training steps run.
A process that gets SIGTERM before `started` (building its graph, or
waiting for a parameter server or the chief) has nothing to save and exits
at once; one whose step does not end within `grace_secs` (e.g. a
synchronous worker whose chief died) exits then. Either way it exits with
status 143, as if SIGTERM had not been caught.

Python runs signal handlers only between bytecodes of the main thread, and
the main thread may be blocked inside TensorFlow, so the exits are done by a
watcher thread woken through `signal.set_wakeup_fd`.

    stop, started = shutdown.graceful_sigterm()
    train(..., hooks=[hooks.StopRequestHook(stop), StartedHook(started)])
"""
import os
import signal
import threading

EXIT_STATUS = 128 + signal.SIGTERM


def graceful_sigterm(grace_secs=60.0):
  """Installs the SIGTERM handling above; returns (stop, started) events."""
  stop, started = threading.Event(), threading.Event()
  read_fd, write_fd = os.pipe()
  os.set_blocking(write_fd, False)
  signal.signal(signal.SIGTERM, lambda *_: stop.set())
  signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

  def watch():
    while True:
      data = os.read(read_fd, 64)
      if signal.SIGTERM in data:
        stop.set()
        if started.is_set():
          # Wait for the run to end by itself; os._exit if it does not.
          threading.Event().wait(grace_secs)
        os._exit(EXIT_STATUS)  # pylint: disable=protected-access

  threading.Thread(target=watch, name='sigterm-watcher', daemon=True).start()
  return stop, started
