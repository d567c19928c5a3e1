r"""Input pipeline images/s next to the model's training images/s.

For each case the pipeline runs alone (training mode: shuffle, repeat,
parallel decode and preprocessing, batching, prefetch) and its images/s is
compared with se_resnet_v1_50's forward+backward images/s at the same batch
size and image size, fed from a constant tensor, in the same run. The target is
pipeline >= 5x the model, so the pipeline needs at most a fifth of the CPU and
never starves the model. The end-to-end figure trains the model from the
pipeline itself, to show what the pipeline costs the model.

Cases:
  digits   the embedded dataset (8x8x1 PNGs), small-image preprocessing to
           --image_size RGB;
  flowers  flowers-like JPEGs (synthetic photos of flower_photos' sizes,
           converted by the flowers converter), VGG preprocessing.

    python -m benchmarks.bench_input_pipeline                # everything
    python -m benchmarks.bench_input_pipeline --nomodel      # pipeline only
    python -m benchmarks.bench_input_pipeline --cases=digits --batch_size=32
"""
import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

from datasets import dataset_factory
from datasets import download_and_convert_digits
from datasets import download_and_convert_flowers
from datasets import pipeline
from tests import upstream_fakes
from runtime.tf_compat import tf, v1
from preprocessing import preprocessing_factory

FLAGS = flags.FLAGS

flags.DEFINE_list('cases', ['digits', 'flowers'], 'Cases to run.')
flags.DEFINE_integer('batch_size', 8, 'Batch size of pipeline and model.')
flags.DEFINE_integer('image_size', 224, 'Network input size.')
flags.DEFINE_string('model_name', 'se_resnet_v1_50', 'Network to compare.')
flags.DEFINE_bool('model', True, 'Also time the model (needs nets_factory).')
flags.DEFINE_bool('end_to_end', True, 'Also train the model from the pipeline.')
flags.DEFINE_integer('pipeline_batches', 60, 'Timed pipeline batches.')
flags.DEFINE_integer('model_steps', 8, 'Timed model steps.')
flags.DEFINE_integer('num_photos', 240, 'Flowers-like JPEGs to generate.')
flags.DEFINE_string('work_dir', None, 'Where the data is made (reused if '
                    'present); default a fresh temporary directory.')
flags.DEFINE_integer('intra_op_threads', 2, 'Session intra-op threads.')
flags.DEFINE_integer('inter_op_threads', 1, 'Session inter-op threads.')

# flower_photos' common sizes (height, width).
_PHOTO_SIZES = ((240, 320), (333, 500), (375, 500), (500, 375), (240, 240))


def _load_average():
  try:
    return ' '.join('%.2f' % x for x in os.getloadavg())
  except OSError:
    return 'unknown'


def _cpu_seconds():
  times = os.times()
  return times.user + times.system


def session_config():
  return v1.ConfigProto(intra_op_parallelism_threads=FLAGS.intra_op_threads,
                        inter_op_parallelism_threads=FLAGS.inter_op_threads)


def make_digits(work_dir):
  directory = os.path.join(work_dir, 'digits')
  download_and_convert_digits.run(directory)
  return dataset_factory.get_dataset('digits', 'train', directory)


def make_flowers(work_dir, num_photos):
  """Flowers-like JPEG shards, through the real converter."""
  directory = os.path.join(work_dir, 'flowers')
  archive = os.path.join(work_dir, 'flower_photos.tgz')
  if not os.path.exists(archive):
    rng = np.random.RandomState(0)
    classes = ('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips')
    photos = {name: [] for name in classes}
    for i in range(num_photos):
      height, width = _PHOTO_SIZES[i % len(_PHOTO_SIZES)]
      photos[classes[i % 5]].append(
          upstream_fakes.synthetic_photo(rng, height, width))
    upstream_fakes.write_flowers_tarball(archive, photos)
  download_and_convert_flowers.run(directory, archive_path=archive,
                                   num_validation=num_photos // 10)
  return dataset_factory.get_dataset('flowers', 'train', directory)


CASES = {
    'digits': ('digits', lambda work_dir: make_digits(work_dir)),
    'flowers': ('vgg', lambda work_dir: make_flowers(work_dir,
                                                     FLAGS.num_photos)),
}


class Rate(object):
  """Images per wall-clock second and per CPU second (all threads)."""

  def __init__(self, images, wall_seconds, cpu_seconds):
    self.per_second = images / wall_seconds
    self.per_cpu_second = images / max(cpu_seconds, 1e-9)


def _timed_runs(sess, fetch, warmup, timed, images_per_run):
  for _ in range(warmup):
    sess.run(fetch)
  start_wall, start_cpu = time.perf_counter(), _cpu_seconds()
  for _ in range(timed):
    sess.run(fetch)
  return Rate(timed * images_per_run, time.perf_counter() - start_wall,
              _cpu_seconds() - start_cpu)


def pipeline_rate(dataset, preprocessing_name, batch_size, image_size,
                  num_batches):
  """`Rate` of the training input pipeline alone."""
  fn = preprocessing_factory.get_preprocessing(preprocessing_name,
                                               is_training=True)
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, batch_size, fn, image_size,
                                  is_training=True, seed=0)
    with v1.Session(config=session_config()) as sess:
      return _timed_runs(sess, batch, max(5, num_batches // 5), num_batches,
                         batch_size)


def _train_op(images, labels, num_classes):
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  network_fn = nets_factory.get_network_fn(FLAGS.model_name, num_classes,
                                           weight_decay=1e-4,
                                           is_training=True)
  logits, _ = network_fn(images)
  v1.losses.sparse_softmax_cross_entropy(labels, logits)
  loss = v1.losses.get_total_loss()
  optimizer = v1.train.MomentumOptimizer(0.01, 0.9)
  with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
    return optimizer.minimize(loss)


def model_rate(batch_size, image_size, num_classes, num_steps):
  """Forward+backward `Rate` of the model, fed from a constant."""
  with tf.Graph().as_default():
    images = tf.constant(np.random.RandomState(0).uniform(
        -1, 1, [batch_size, image_size, image_size, 3]).astype(np.float32))
    labels = tf.constant(np.arange(batch_size) % num_classes, tf.int64)
    train_op = _train_op(images, labels, num_classes)
    with v1.Session(config=session_config()) as sess:
      sess.run(v1.global_variables_initializer())
      return _timed_runs(sess, train_op, 2, num_steps, batch_size)


def end_to_end_rate(dataset, preprocessing_name, batch_size, image_size,
                    num_steps):
  """Training `Rate` of the model fed by the pipeline."""
  fn = preprocessing_factory.get_preprocessing(preprocessing_name,
                                               is_training=True)
  with tf.Graph().as_default():
    images, labels = pipeline.make_batches(dataset, batch_size, fn,
                                           image_size, is_training=True,
                                           seed=0)
    train_op = _train_op(images, labels, dataset.num_classes)
    with v1.Session(config=session_config()) as sess:
      sess.run(v1.global_variables_initializer())
      return _timed_runs(sess, train_op, 2, num_steps, batch_size)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  unknown = set(FLAGS.cases) - set(CASES)
  if unknown:
    raise app.UsageError('unknown cases %s; valid: %s' %
                         (sorted(unknown), ', '.join(sorted(CASES))))
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix='bench_input_')
  size, batch = FLAGS.image_size, FLAGS.batch_size
  print('batch %d, image %dx%d, session threads intra %d / inter %d, '
        'data in %s' % (batch, size, size, FLAGS.intra_op_threads,
                        FLAGS.inter_op_threads, work_dir))
  print('load average at start: %s' % _load_average())
  start_wall, start_cpu = time.perf_counter(), _cpu_seconds()
  model = None
  if FLAGS.model:
    model = model_rate(batch, size, 10, FLAGS.model_steps)
    print('%s forward+backward: %.2f images/s, %.2f images/CPU-s' %
          (FLAGS.model_name, model.per_second, model.per_cpu_second))
  header = '%-8s %-8s %10s %10s' % ('case', 'preproc', 'img/s', 'img/CPU-s')
  if model:
    header += ' %10s %12s %10s' % ('ratio', 'CPU ratio', 'fed/model')
  rows = [header]
  worst = None
  for case in FLAGS.cases:
    preprocessing_name, make = CASES[case]
    dataset = make(work_dir)
    rate = pipeline_rate(dataset, preprocessing_name, batch, size,
                         FLAGS.pipeline_batches)
    row = '%-8s %-8s %10.1f %10.1f' % (case, preprocessing_name,
                                       rate.per_second, rate.per_cpu_second)
    if model:
      ratio = rate.per_second / model.per_second
      cpu_ratio = rate.per_cpu_second / model.per_cpu_second
      worst = min([ratio, cpu_ratio] + ([worst] if worst else []))
      row += ' %9.1fx %11.1fx' % (ratio, cpu_ratio)
      if FLAGS.end_to_end:
        fed = end_to_end_rate(dataset, preprocessing_name, batch, size,
                              FLAGS.model_steps)
        row += ' %10.2f' % (fed.per_second / model.per_second)
    rows.append(row)
    print(row)
  print('\n'.join([''] + rows))
  if model:
    print('ratio = pipeline img/s / model img/s (wall clock); CPU ratio = the '
          'same per CPU-second of this process, robust to other load; '
          'fed/model = model img/s fed by the pipeline / fed by a constant')
    print('pipeline >= 5x the model: %s (worst %.1fx)' %
          ('yes' if worst >= 5 else 'NO', worst))
  cores = (_cpu_seconds() - start_cpu) / (time.perf_counter() - start_wall)
  print('load average at end: %s; this process used %.2f of %d cores on '
        'average (below %d, other processes took CPU: trust the CPU ratio)' %
        (_load_average(), cores, os.cpu_count(), os.cpu_count()))


if __name__ == '__main__':
  app.run(main)
