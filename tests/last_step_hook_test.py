"""LastStepHook: a worker sharing the global step stops once the step,
read after its own step, reaches the last step, even when other workers'
updates land during that step (where StopAtStepHook runs on)."""
from tensorflow.python.training import training_util  # pylint: disable=g-direct-tensorflow-import

from runtime.tf_compat import tf, v1
from training import hooks


def _final_step(stop_hook_fn, last_step=10):
  """Runs steps that add 2 to the global step (this worker's update and one
  of another worker landing during the step) until the hook stops them."""
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    # The value StopAtStepHook fetches during the step, read here before
    # both updates land (in a real step the order is not fixed).
    with tf.control_dependencies(
        [training_util._get_or_create_global_step_read()]):  # pylint: disable=protected-access
      train_op = v1.assign_add(global_step, 2)
    hook = stop_hook_fn(global_step, last_step)
    runs = 0
    with v1.train.MonitoredSession(hooks=[hook]) as session:
      while not session.should_stop() and runs < 100:
        session.run(train_op)
        runs += 1
    return runs * 2


def test_last_step_hook_stops_on_the_fresh_global_step():
  assert _final_step(hooks.LastStepHook) == 10


def test_stop_at_step_hook_misses_the_last_step_when_updates_interleave():
  # What the hook fixes: the value read during the step is stale.
  final = _final_step(
      lambda step, last: v1.train.StopAtStepHook(last_step=last))
  assert final == 12
