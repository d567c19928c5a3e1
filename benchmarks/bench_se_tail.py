r"""Times the SE unit's tail alone: the compiled op against TensorFlow's ops.

The tail of a standard SE unit is relu(x * gates + shortcut) on conv3's
output. For each of ResNet-50's four SE shapes at a batch size, this builds
the tail (forward) and the tail with its gradients w.r.t. x, gates and
shortcut (backward, the `se_gradient='one_pass'` path), once as the compiled
ops of `nets.layers.se_tail` and once as TensorFlow's ops, and times the two
in interleaved rounds (`benchmarks.timing`). It prints, per shape and pass,
milliseconds per step of each and the median [min-max] of per-round ratios.
Tensors live in variables; only the tail runs.

Usage (from the project root):

  python -m benchmarks.bench_se_tail --batch_size=8 --rounds=7
"""
import numpy as np
from absl import app
from absl import flags

from benchmarks import process_env
from benchmarks import timing
from nets import layers
from nets.layers import se_tail
from runtime import session_config
from runtime.tf_compat import tf, v1

FLAGS = flags.FLAGS

flags.DEFINE_integer('batch_size', 8, 'Images per step.')
flags.DEFINE_integer('image_size', 224, 'ResNet-50 input size.')
flags.DEFINE_integer('rounds', 7, 'Interleaved rounds.')
flags.DEFINE_float('min_round_seconds', 0.3, 'Each side\'s share of a round.')
flags.DEFINE_bool('onednn', True, 'As bench_models.')

# (spatial divisor of the input size, channels) of ResNet-50's conv3 outputs.
UNIT_SHAPES = ((4, 256), (8, 512), (16, 1024), (32, 2048))


def _tail_step(shape, compiled, backward):
  """(session, fetch) computing the tail (and its gradients) once."""
  graph = tf.Graph()
  with graph.as_default():
    rng = np.random.RandomState(0)

    def variable(name, value):
      return tf.identity(v1.get_variable(
          name, initializer=value.astype(np.float32), trainable=False))

    x = variable('x', rng.normal(size=shape))
    shortcut = variable('shortcut', rng.normal(size=shape))
    gates = variable('gates', rng.uniform(size=(shape[0], shape[-1])))
    if compiled:
      y = layers._tail_with_squeeze_gradient(  # pylint: disable=protected-access
          x, gates, shortcut, None, 'tail')
    else:
      y = tf.nn.relu(shortcut + layers._excite_with_squeeze_gradient(  # pylint: disable=protected-access
          x, gates, None, 'tail'))
    fetch = y
    if backward:
      # Reading one channel of each gradient makes the step compute them all.
      fetch = tf.add_n([tf.reduce_sum(g[..., :1]) for g in
                        tf.gradients(y, [x, gates, shortcut], grad_ys=x)])
    init = v1.global_variables_initializer()
  graph.finalize()
  session = v1.Session(graph=graph, config=session_config.session_config())
  session.run(init)
  return session, fetch


def measure(batch_size, image_size, rounds, min_round_seconds):
  """[(shape, pass, {side: seconds per step list})] for every unit shape."""
  results = []
  for divisor, channels in UNIT_SHAPES:
    size = image_size // divisor
    shape = (batch_size, size, size, channels)
    for backward in (False, True):
      sides = {name: _tail_step(shape, name == 'compiled', backward)
               for name in ('tensorflow', 'compiled')}
      step_fns = {name: (lambda s=s, f=f: s.run(f))
                  for name, (s, f) in sides.items()}
      for step in step_fns.values():
        step()
      steps = {name: timing.calibrate_steps(fn, min_round_seconds)
               for name, fn in step_fns.items()}
      times = timing.interleaved_rounds(step_fns, steps, rounds)
      for session, _ in sides.values():
        session.close()
      results.append((shape, 'backward' if backward else 'forward', times))
  return results


def format_results(results):
  lines = ['| shape | pass | TensorFlow ops, ms (best round) | '
           'compiled, ms (best round) | compiled / TensorFlow, median '
           '[min-max] |', '|---|---|---|---|---|']
  for shape, which, times in results:
    stats = timing.ratio_stats(times['compiled'], times['tensorflow'])
    lines.append('| %s | %s | %.2f | %.2f | %.2f [%.2f-%.2f] |' % (
        'x'.join(map(str, shape)), which, 1e3 * min(times['tensorflow']),
        1e3 * min(times['compiled']), stats['median'], stats['min'],
        stats['max']))
  return '\n'.join(lines)


def main(argv):
  del argv
  process_env.ensure_onednn(FLAGS.onednn, 'benchmarks.bench_se_tail')
  v1.disable_v2_behavior()
  if se_tail.library() is None:
    raise app.UsageError('the SE tail library is not available here (see the '
                         'log); nothing to compare')
  print(format_results(measure(FLAGS.batch_size, FLAGS.image_size,
                               FLAGS.rounds, FLAGS.min_round_seconds)))


if __name__ == '__main__':
  app.run(main)
