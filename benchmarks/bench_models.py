r"""Benchmarks our ResNets against tf_slim's and Keras', side by side.

Graph mode on CPU: forward (inference batch norm) and training-step
(SGD momentum, softmax cross-entropy, UPDATE_OPS) images/s of our
resnet_v1_50 in the slim, raw and keras styles, our se_resnet_v1_50,
`tf_slim.nets.resnet_v1.resnet_v1_50` and `tf_keras.applications.ResNet50`,
timm's seresnet50 / resnet50 in PyTorch when a Python with torch and timm is
at hand (a child process, stepped in the same rounds; see
`benchmarks.torch_peer`), plus a 2048^3 matmul as the machine's ceiling, all
timed in interleaved rounds in one process (oneDNN ops on by default: the
script re-executes itself once with TF_ENABLE_ONEDNN_OPTS=1). It prints markdown tables of per-round ratios (median
[min, max]) and peak resident memory per variant and shape, and writes
everything, per-round times included, to --json_out.

Usage (from the project root):

  python -m benchmarks.bench_models                  # full run, many minutes
  python -m benchmarks.bench_models --quick          # batch 8 at 224, 3 rounds
  python -m benchmarks.bench_models --models=resnet_v1_14 --styles=slim \
      --peers=tf_slim --batch_sizes=2 --image_size=32 --extra_shapes= \
      --repetitions=2 --json_out=/tmp/bench.json
  # Ours vs PyTorch (timm's seresnet50), both in timm's arrangement.
  python -m benchmarks.bench_models --models=se_resnet_v1_50 --styles=slim \
      --peers=timm --topology=torch --torch_python=/path/to/torchenv/bin/python
"""
import json
import sys

from absl import app
from absl import flags

from benchmarks import model_bench
from benchmarks import model_variants
from benchmarks import process_env
from nets import options
from runtime import session_config
from runtime.tf_compat import v1

FLAGS = flags.FLAGS

flags.DEFINE_list('models', ['resnet_v1_50', 'se_resnet_v1_50'],
                  'Our networks (nets_factory names), each built in every '
                  'style of --styles.')
flags.DEFINE_list('styles', ['slim', 'raw', 'keras'], 'Layer styles.')
flags.DEFINE_list('peers', list(model_variants.PEERS),
                  'Peers built for each of --models they have: tf_slim '
                  '(tf_slim.nets.resnet_v1) and keras_applications '
                  '(tf_keras.applications.ResNet50/101/152) for plain '
                  'resnet_v1_<depth>; timm (PyTorch: resnet50, seresnet50, '
                  '... in a child process; skipped without torch and timm, '
                  'see --torch_python) also for se_resnet_v1_<depth>. Empty '
                  'for none.')
options.define_flags(FLAGS, only=('topology',), help_notes={
    'topology': 'The timm peer is always compared with ours in topology '
                'torch (timm\'s arrangement), an extra variant unless this '
                'is torch.'})
flags.DEFINE_string('torch_python', None,
                    'A Python with torch and timm for the timm peer (e.g. '
                    'another virtualenv\'s bin/python); default '
                    '$SLIM_SENET_TORCH_PYTHON, else this Python if it has '
                    'them.')
flags.DEFINE_list('batch_sizes', ['1', '8', '32'],
                  'Batch sizes, each at --image_size.')
flags.DEFINE_integer('image_size', 224, 'Image height and width.')
flags.DEFINE_list('extra_shapes', ['32x112'],
                  'More BATCHxSIZE shapes measured after the others.')
flags.DEFINE_list('modes', list(model_variants.MODES),
                  'forward and/or train.')
flags.DEFINE_integer('repetitions', 7,
                     'Interleaved rounds per shape and mode.')
flags.DEFINE_float('min_round_seconds', 1.0,
                   'Each variant runs enough steps per round to last this.')
flags.DEFINE_integer('warmup_steps', 2, 'Untimed steps per variant first.')
flags.DEFINE_integer('intra_op_threads', 0,
                     'Session intra-op threads; 0 = the CPUs this process may '
                     'use (runtime.session_config).')
flags.DEFINE_integer('inter_op_threads', 0,
                     'Session inter-op threads; 0 = 1 (runtime.session_config).')
flags.DEFINE_integer('num_classes', 1000, 'Logits size.')
flags.DEFINE_float('weight_decay', 0.0,
                   'L2 for ours and tf_slim (Keras applications have none, so '
                   '0 keeps the comparison like for like).')
flags.DEFINE_integer('matmul_size', 2048, 'n of the n^3 ceiling matmul.')
flags.DEFINE_bool('memory', True,
                  'Measure peak RSS per variant and shape, each in a fresh '
                  'process (adds a process start and two builds per row).')
flags.DEFINE_integer('memory_jobs', 0,
                     'Memory probes run at once, after all timing; 0 = the '
                     'CPUs this process may use.')
flags.DEFINE_bool('quick', False,
                  'Batch 8 at 224 only, 3 rounds, no memory probes (flags '
                  'given explicitly still win).')
flags.DEFINE_bool('disable_v2_behavior', True,
                  'Run with tf.compat.v1.disable_v2_behavior(), as the '
                  'training and evaluation scripts do (ref variables, TF1 '
                  'control flow); false keeps TF2 behaviour in the graphs.')
flags.DEFINE_enum('cpu_allocator', 'bfc', list(session_config.CPU_ALLOCATORS),
                  'TensorFlow CPU allocator for this process (and the memory '
                  'probes): bfc reuses freed blocks, system (TF\'s default) '
                  'page-faults large tensors in on every step. '
                  'TF_CPU_ALLOCATOR_USE_BFC in the environment wins.')
flags.DEFINE_bool('aa_control', True,
                  'Also time a second, independently built copy of the first '
                  'variant; its ratio to the original (ideally 1) shows the '
                  'noise floor of the run.')
flags.DEFINE_bool('folding_control', True,
                  'Also time the first variant with inference batch norm '
                  'unfolded (Slim\'s Conv2D -> FusedBatchNorm): what folding '
                  'buys, forward.')
flags.DEFINE_list('se_controls', ['tf_ops'],
                  'SE paths also timed for each SE model in the first style '
                  '(model_variants.SE_PATHS): tf_ops (TensorFlow\'s ops for '
                  'the SE tail, squeeze of conv3\'s output: the SE unit '
                  'before the compiled tail), late_squeeze (the compiled '
                  'tail, squeeze of conv3\'s output). Empty for none.')
flags.DEFINE_bool('onednn', True,
                  'Run TensorFlow with oneDNN ops (TF_ENABLE_ONEDNN_OPTS=1; '
                  'TF leaves them off on CPUs without AVX-512). The script '
                  're-executes itself once to set it; the variable in the '
                  'environment wins.')
flags.DEFINE_string('json_out', None, 'Write all results here as JSON.')
flags.DEFINE_string('probe_variant', None,
                    'Internal: measure the peak RSS of this one variant and '
                    'print it as JSON (the memory probe run in a fresh '
                    'process).')
flags.DEFINE_integer('probe_batch_size', 8, 'Internal: the probe\'s batch.')
flags.DEFINE_integer('probe_image_size', 224, 'Internal: the probe\'s size.')

_QUICK = {'batch_sizes': ['8'], 'image_size': 224, 'extra_shapes': [],
          'repetitions': 3, 'memory': False}


def _flag(name):
  """The flag's value, or its --quick value when --quick and not given."""
  if FLAGS.quick and name in _QUICK and not FLAGS[name].present:
    return _QUICK[name]
  return FLAGS[name].value


def _parse_shape(text):
  batch, sep, size = text.lower().partition('x')
  if not sep or not batch.isdigit() or not size.isdigit():
    raise app.UsageError('--extra_shapes takes BATCHxSIZE items, e.g. 32x112; '
                         'got %r' % text)
  return int(batch), int(size)


def settings_from_flags():
  """The `BenchSettings` the command line asks for."""
  try:
    batch_sizes = [int(b) for b in _flag('batch_sizes')]
  except ValueError:
    raise app.UsageError('--batch_sizes takes integers, got %s' %
                         _flag('batch_sizes'))
  image_size = _flag('image_size')
  shapes = [(b, image_size) for b in batch_sizes]
  shapes += [_parse_shape(s) for s in _flag('extra_shapes')]
  try:
    return model_bench.BenchSettings(
        models=FLAGS.models, styles=FLAGS.styles, peers=FLAGS.peers,
        shapes=shapes, modes=FLAGS.modes, rounds=_flag('repetitions'),
        min_round_seconds=FLAGS.min_round_seconds,
        warmup_steps=FLAGS.warmup_steps,
        intra_op_threads=FLAGS.intra_op_threads,
        inter_op_threads=FLAGS.inter_op_threads,
        num_classes=FLAGS.num_classes, weight_decay=FLAGS.weight_decay,
        matmul_size=FLAGS.matmul_size, memory=_flag('memory'),
        memory_jobs=FLAGS.memory_jobs,
        disable_v2_behavior=FLAGS.disable_v2_behavior,
        cpu_allocator=session_config.cpu_allocator(),
        onednn=process_env.onednn_enabled(), aa_control=FLAGS.aa_control,
        folding_control=FLAGS.folding_control,
        se_controls=tuple(FLAGS.se_controls), topology=FLAGS.topology,
        torch_python=FLAGS.torch_python)
  except ValueError as e:
    raise app.UsageError(str(e))


def _log(message):
  print(message, file=sys.stderr, flush=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Unexpected arguments: %s' % ' '.join(argv[1:]))
  process_env.ensure_onednn(FLAGS.onednn, 'benchmarks.bench_models')
  session_config.use_cpu_allocator(FLAGS.cpu_allocator)
  settings = settings_from_flags()
  if FLAGS.disable_v2_behavior:
    v1.disable_v2_behavior()
  if FLAGS.probe_variant:
    record = model_bench.probe_memory(
        model_variants.variant_from_name(FLAGS.probe_variant),
        FLAGS.probe_batch_size, FLAGS.probe_image_size, settings)
    print(json.dumps(record))
    return
  results = model_bench.run(settings, log=_log)
  print(model_bench.format_report(results))
  if FLAGS.json_out:
    with open(FLAGS.json_out, 'w') as f:
      json.dump(results, f, indent=1)
    _log('wrote %s' % FLAGS.json_out)


if __name__ == '__main__':
  app.run(main)
