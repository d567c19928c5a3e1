r"""Where a benchmark variant spends its step, by op type (TF step stats).

Runs a few traced steps (`RunOptions.FULL_TRACE`) of one `bench_models`
variant and prints each op type's share of the summed op time, its op count,
and optionally the slowest single ops. Shares are robust to a busy machine in
a way absolute times are not; use it to find what to fix, then confirm the fix
with `bench_models` ratios.

Usage (from the project root):

  python -m benchmarks.profile_model --variant=se_resnet_v1_50/slim \
      --mode=train --batch_size=8 --image_size=224 --top_ops=15
  python -m benchmarks.profile_model --variant=tf_slim.nets/resnet_v1_50 \
      --timeline=/tmp/timeline.json     # chrome://tracing file
"""
import collections

from absl import app
from absl import flags

from benchmarks import model_variants
from benchmarks import process_env
from runtime import session_config
from runtime.tf_compat import v1

FLAGS = flags.FLAGS

flags.DEFINE_string('variant', 'resnet_v1_50/slim',
                    'A bench_models variant name, e.g. resnet_v1_50/raw, '
                    'tf_slim.nets/resnet_v1_50, tf_keras.applications/ResNet50.')
flags.DEFINE_enum('mode', 'forward', list(model_variants.MODES), 'What to run.')
flags.DEFINE_integer('batch_size', 8, 'Images per step.')
flags.DEFINE_integer('image_size', 224, 'Image height and width.')
flags.DEFINE_integer('steps', 3, 'Traced steps (after 2 untraced ones).')
flags.DEFINE_integer('top_ops', 0, 'Also list this many slowest single ops.')
flags.DEFINE_string('timeline', None, 'Write the last step as a Chrome trace.')
flags.DEFINE_bool('disable_v2_behavior', True, 'As bench_models.')
flags.DEFINE_enum('cpu_allocator', 'bfc', list(session_config.CPU_ALLOCATORS),
                  'As bench_models.')
flags.DEFINE_bool('onednn', True, 'As bench_models.')


def op_times(run_metadata):
  """[(op name, op type, microseconds)] of one traced step (CPU ops)."""
  result = []
  for device in run_metadata.step_stats.dev_stats:
    for node in device.node_stats:
      if node.node_name in ('_SOURCE', '_SINK'):
        continue
      # timeline_label reads 'name = Type(inputs)'; the type is what we want.
      label = node.timeline_label
      op_type = label.split('=', 1)[1].split('(', 1)[0].strip() if (
          '=' in label) else node.node_name
      result.append((node.node_name, op_type,
                     node.all_end_rel_micros or node.op_end_rel_micros))
  return result


def profile(built, steps, timeline_path=None):
  """Traced op times of `steps` steps of a `model_variants.Built`.

  Returns:
    (by_type, by_op): Counters of microseconds summed over the steps, keyed
    by op type and by (op name, op type); and op counts per type per step.
  """
  options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
  by_type, by_op, counts = (collections.Counter(), collections.Counter(),
                            collections.Counter())
  metadata = None
  for _ in range(steps):
    metadata = v1.RunMetadata()
    built.session.run(built.op, options=options, run_metadata=metadata)
    step_counts = collections.Counter()
    for name, op_type, micros in op_times(metadata):
      by_type[op_type] += micros
      by_op[(name, op_type)] += micros
      step_counts[op_type] += 1
    counts = step_counts
  if timeline_path and metadata is not None:
    from tensorflow.python.client import timeline  # pylint: disable=g-import-not-at-top
    with open(timeline_path, 'w') as f:
      f.write(timeline.Timeline(metadata.step_stats).generate_chrome_trace_format())
  return by_type, by_op, counts


def format_profile(by_type, by_op, counts, steps, top_ops=0):
  """A text table of op-type shares (and the slowest ops)."""
  total = float(sum(by_type.values())) or 1.0
  lines = ['summed op time per step: %.1f ms' % (total / steps / 1e3),
           '%-34s %7s %9s %6s' % ('op type', 'share', 'ms/step', 'count')]
  for op_type, micros in by_type.most_common():
    lines.append('%-34s %6.1f%% %9.2f %6d' % (
        op_type, 100 * micros / total, micros / steps / 1e3, counts[op_type]))
  if top_ops:
    lines += ['', 'slowest ops:']
    for (name, op_type), micros in by_op.most_common(top_ops):
      lines.append('%6.1f%% %8.2f ms  %s (%s)' % (
          100 * micros / total, micros / steps / 1e3, name, op_type))
  return '\n'.join(lines)


def main(argv):
  del argv
  process_env.ensure_onednn(FLAGS.onednn, 'benchmarks.profile_model')
  session_config.use_cpu_allocator(FLAGS.cpu_allocator)
  if FLAGS.disable_v2_behavior:
    v1.disable_v2_behavior()
  variant = model_variants.variant_from_name(FLAGS.variant)
  with model_variants.build(variant, FLAGS.mode, FLAGS.batch_size,
                            FLAGS.image_size,
                            session_config.session_config()) as built:
    for _ in range(2):
      built.step()
    by_type, by_op, counts = profile(built, FLAGS.steps, FLAGS.timeline)
  print('%s, %s, batch %d at %d, %s allocator, oneDNN %s' % (
      variant.name, FLAGS.mode, FLAGS.batch_size, FLAGS.image_size,
      session_config.cpu_allocator(), process_env.onednn_enabled()))
  print(format_profile(by_type, by_op, counts, FLAGS.steps, FLAGS.top_ops))


if __name__ == '__main__':
  app.run(main)
