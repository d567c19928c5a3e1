"""The tf.data input pipeline: Slim TFRecords to batches of preprocessed images.

    from datasets import dataset_factory, pipeline
    from preprocessing import preprocessing_factory

    with tf.Graph().as_default():
      dataset = dataset_factory.get_dataset('flowers', 'train', '/tmp/flowers')
      fn = preprocessing_factory.get_preprocessing('se_resnet_v1_50',
                                                   is_training=True)
      images, labels = pipeline.make_batches(dataset, 32, fn, 224,
                                             is_training=True, seed=1)
      # images: float32 [32, 224, 224, 3]; labels: int64 [32], raw labels
      # (subtract labels_offset yourself).

The stages, in order: list and check the files (raises `DatasetError` before any
graph is built: missing or empty directory, a pattern that matches nothing, a
first record that does not parse, each naming the path); shard across workers;
shuffle the file list; read files in parallel with `interleave`; shuffle the
records; repeat; parse, decode and preprocess in parallel with `map`; batch;
prefetch. Decoding and preprocessing run on tf.data's own threads, overlapping
the model's step, so the model never waits as long as the pipeline's images/s
exceeds the model's (benchmarks/bench_input_pipeline.py measures both).

Training (`is_training=True`) defaults: repeat forever, shuffle, drop the last
partial batch (static batch size), non-deterministic order for speed.

Evaluation (`is_training=False`) defaults: one epoch, no shuffling, the last
partial batch kept, deterministic order: every example exactly once, in the
same order on every run. The iterator raises `tf.errors.OutOfRangeError`
after the last batch (`MonitoredSession.should_stop()` turns true).

Labels are returned as stored; a `labels_offset` (ImageNet's background
class) is the caller's business.

A bad record past the first (a truncated file, an undecodable image, a label
out of range) fails the run in TensorFlow; `record_scan.explain` then names
its file and index (the scripts do). With `skip_bad_records` (the scripts'
--skip_bad_records) every record is checked once when the dataset is built,
the count of bad ones is logged, and they are left out. The normal path runs
no Python per record.
"""
import collections
import dataclasses
import os

from absl import logging

from datasets import errors
from datasets import record_scan
from datasets import tfrecord_io
from runtime.tf_compat import tf, v1

AUTOTUNE = tf.data.AUTOTUNE

# Pass as num_epochs to repeat forever, also when evaluating.
REPEAT_FOREVER = -1

# Bytes read ahead per TFRecord file.
_READ_BUFFER_BYTES = 1 << 20

Batch = collections.namedtuple('Batch', ['images', 'labels'])


def list_files(dataset, check_records=True):
  """Lists a split's files and checks them; raises before training starts.

  Args:
    dataset: a `DatasetSplit` (from `dataset_factory.get_dataset`).
    check_records: also parse the first record of every file.

  Returns:
    The sorted list of files matching `dataset.file_pattern`.

  Raises:
    DatasetError: naming the problem and the path: the directory is missing
      or empty, the pattern matches no file, every file is empty, or a file's
      first record is corrupt or not a usable Slim image Example.

  Example:
    files = list_files(dataset_factory.get_dataset('mnist', 'test', d))
  """
  pattern = dataset.file_pattern
  directory = os.path.dirname(pattern) or '.'
  if not tf.io.gfile.isdir(directory):
    raise errors.DatasetError(
        'dataset directory %s does not exist (dataset %s, split %s); %s' %
        (directory, dataset.name, dataset.split_name,
         errors.setup_hint(dataset)))
  contents = sorted(tf.io.gfile.listdir(directory))
  if not contents:
    raise errors.DatasetError(
        'dataset directory %s is empty (dataset %s, split %s); %s' %
        (directory, dataset.name, dataset.split_name,
         errors.setup_hint(dataset)))
  files = sorted(f for f in tf.io.gfile.glob(pattern)
                 if not tf.io.gfile.isdir(f))
  if not files:
    shown = ', '.join(contents[:10]) + (', ...' if len(contents) > 10 else '')
    raise errors.DatasetError(
        'no file matches %s (dataset %s, split %s); %s holds: %s' %
        (pattern, dataset.name, dataset.split_name, directory, shown))
  if check_records:
    decoder = dataset.decoder
    empty = []
    for path in files:
      first = next(tfrecord_io.iter_records(path, limit=1), None)
      if first is None:
        empty.append(path)
        continue
      reason = decoder.check_record(first, dataset.num_classes)
      if reason:
        raise errors.DatasetError(
            '%s: the first record cannot be read as a %s example: %s' %
            (path, dataset.name, reason))
    if len(empty) == len(files):
      raise errors.DatasetError('every file matching %s is empty (no records)'
                                % pattern)
  return files


def _image_size(image_size):
  if image_size is None:
    return None, None
  if isinstance(image_size, int):
    return image_size, image_size
  height, width = image_size
  return int(height), int(width)


def make_dataset(dataset,
                 batch_size,
                 preprocess_fn,
                 image_size,
                 is_training,
                 num_epochs=None,
                 shuffle=None,
                 seed=None,
                 num_parallel_calls=AUTOTUNE,
                 drop_remainder=None,
                 deterministic=None,
                 shuffle_buffer_size=None,
                 cycle_length=None,
                 num_shards=1,
                 shard_index=0,
                 prefetch_buffer_size=AUTOTUNE,
                 check_records=True,
                 skip_bad_records=None):
  """Builds the `tf.data.Dataset` of (images, labels) batches.

  Works in graph mode and eagerly; `make_batches` wraps it in a v1 iterator.

  Args:
    dataset: a `DatasetSplit` from `dataset_factory.get_dataset`.
    batch_size: examples per batch.
    preprocess_fn: `fn(image, height, width) -> float32 [height, width, C]`
      taking a uint8 [H, W, dataset.image_channels] image, e.g. from
      `preprocessing_factory.get_preprocessing`; None casts the decoded image
      to float32 unchanged (the images must then all be one size).
    image_size: output size, an int or (height, width); may be None without
      a preprocess_fn.
    is_training: picks the defaults below.
    num_epochs: passes over the data; None: forever when training, once when
      evaluating; `REPEAT_FOREVER` (-1): forever.
    shuffle: shuffle files and records; default `is_training`.
    seed: seed for both shuffles (None: different every run).
    num_parallel_calls: parallel decode/preprocess calls (AUTOTUNE).
    drop_remainder: drop the last partial batch; default `is_training`.
    deterministic: keep a fixed element order through the parallel stages;
      default `not is_training`.
    shuffle_buffer_size: records in the shuffle buffer; default
      min(num_samples, max(1024, 16 * batch_size)).
    cycle_length: files read at once; default min(number of files, 8).
    num_shards: number of input shards (e.g. worker replicas).
    shard_index: this worker's shard, in [0, num_shards).
    prefetch_buffer_size: batches prefetched (AUTOTUNE).
    check_records: parse each file's first record at build time.
    skip_bad_records: check every record once now (`record_scan`), log how
      many are bad and leave them out (a truncated file is read up to its
      last whole record); default `dataset.skip_bad_records`. Off: a bad
      record fails the run, and the caller can name it with
      `record_scan.find_first_bad`.

  Returns:
    A `tf.data.Dataset` of (images float32 [B, H, W, C], labels int64 [B]).

  Raises:
    DatasetError: see `list_files`.
    ValueError: for bad arguments.

  Example:
    ds = make_dataset(dataset, 100, fn, 32, is_training=False)
  """
  height, width = _image_size(image_size)
  _check_arguments(batch_size, num_shards, shard_index, preprocess_fn, height)
  choices = _Choices.resolve(
      dataset, batch_size, is_training, num_epochs=num_epochs,
      shuffle=shuffle, drop_remainder=drop_remainder,
      deterministic=deterministic, shuffle_buffer_size=shuffle_buffer_size,
      skip_bad_records=skip_bad_records)
  files = list_files(dataset, check_records=check_records and
                     not choices.skip_bad_records)
  ds = _read_records(dataset, files, choices, seed, cycle_length, num_shards,
                     shard_index)
  ds = _shuffle_and_repeat(ds, choices, seed)
  return _decode_and_batch(ds, dataset.decoder, preprocess_fn, (height, width),
                           batch_size, choices, num_parallel_calls,
                           prefetch_buffer_size)


def _check_arguments(batch_size, num_shards, shard_index, preprocess_fn,
                     height):
  if batch_size < 1:
    raise ValueError('batch_size must be >= 1, got %r' % batch_size)
  if not 0 <= shard_index < num_shards:
    raise ValueError('shard_index %r not in [0, %r)' % (shard_index,
                                                       num_shards))
  if preprocess_fn is not None and height is None:
    raise ValueError('image_size is needed with a preprocess_fn')


@dataclasses.dataclass(frozen=True)
class _Choices:
  """`make_dataset`'s arguments that default by `is_training`, resolved."""
  num_epochs: int
  shuffle: bool
  drop_remainder: bool
  deterministic: bool
  shuffle_buffer_size: int
  skip_bad_records: bool

  @classmethod
  def resolve(cls, dataset, batch_size, is_training, num_epochs, shuffle,
              drop_remainder, deterministic, shuffle_buffer_size,
              skip_bad_records):
    if num_epochs is None:
      num_epochs = REPEAT_FOREVER if is_training else 1
    if num_epochs != REPEAT_FOREVER and num_epochs < 1:
      raise ValueError('num_epochs must be >= 1 or REPEAT_FOREVER, got %r' %
                       num_epochs)
    if shuffle_buffer_size is None:
      shuffle_buffer_size = min(dataset.num_samples,
                                max(1024, 16 * batch_size))
    if skip_bad_records is None:
      skip_bad_records = getattr(dataset, 'skip_bad_records', False)
    return cls(
        num_epochs=num_epochs,
        shuffle=is_training if shuffle is None else shuffle,
        drop_remainder=(is_training if drop_remainder is None else
                        drop_remainder),
        deterministic=((not is_training) if deterministic is None else
                       deterministic),
        shuffle_buffer_size=max(1, shuffle_buffer_size),
        skip_bad_records=skip_bad_records)


def _read_records(dataset, files, choices, seed, cycle_length, num_shards,
                  shard_index):
  """The serialized records of `files`: this worker's shard of the files
  (or, with fewer files than shards, of the records), the file order
  shuffled, several files read at once (`interleave`); with
  `skip_bad_records`, the bad records left out."""
  shard_records = num_shards > 1 and len(files) < num_shards
  if choices.skip_bad_records:
    ds = _good_records(dataset, files, dataset.decoder)
    read = _read_good_records
  elif len(files) == 1:
    ds = tf.data.TFRecordDataset(files, buffer_size=_READ_BUFFER_BYTES)
  else:
    ds = tf.data.Dataset.from_tensor_slices(files)
    read = lambda path: tf.data.TFRecordDataset(
        path, buffer_size=_READ_BUFFER_BYTES)
  if choices.skip_bad_records or len(files) > 1:
    if num_shards > 1 and not shard_records:
      ds = ds.shard(num_shards, shard_index)
    if choices.shuffle:
      ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        read,
        cycle_length=min(len(files), cycle_length or 8),
        block_length=1,
        num_parallel_calls=AUTOTUNE,
        deterministic=choices.deterministic)
  if shard_records:
    ds = ds.shard(num_shards, shard_index)
  return ds


def _shuffle_and_repeat(ds, choices, seed):
  """Records shuffled (in a buffer), then repeated for the epochs."""
  if choices.shuffle:
    ds = ds.shuffle(choices.shuffle_buffer_size, seed=seed,
                    reshuffle_each_iteration=True)
  if choices.num_epochs == REPEAT_FOREVER:
    ds = ds.repeat()
  elif choices.num_epochs > 1:
    ds = ds.repeat(choices.num_epochs)
  return ds


def _decode_and_batch(ds, decoder, preprocess_fn, size, batch_size, choices,
                      num_parallel_calls, prefetch_buffer_size):
  """Records decoded and preprocessed in parallel, batched, prefetched."""
  height, width = size

  def parse_and_preprocess(serialized):
    image, label = decoder.decode(serialized)
    if preprocess_fn is None:
      image = tf.cast(image, tf.float32)
    else:
      image = tf.cast(preprocess_fn(image, height, width), tf.float32)
    return image, label

  ds = ds.map(parse_and_preprocess, num_parallel_calls=num_parallel_calls,
              deterministic=choices.deterministic)
  ds = ds.batch(batch_size, drop_remainder=choices.drop_remainder)
  ds = ds.prefetch(prefetch_buffer_size)
  options = tf.data.Options()
  options.deterministic = choices.deterministic
  return ds.with_options(options)


def _good_records(dataset, files, decoder):
  """(path, records to read, bad indices) per file, after a full scan."""
  scans = record_scan.scan_files(files, decoder, dataset.num_classes)
  bad = sum(len(scan.bad) for scan in scans)
  if bad:
    logging.warning('--skip_bad_records: skipping %s', record_scan.summary(
        scans))
  else:
    logging.info('--skip_bad_records: %s of %s/%s', record_scan.summary(
        scans), dataset.name, dataset.split_name)
  if not sum(scan.num_good for scan in scans):
    raise errors.DatasetError(
        'no good record in %s (%s); %s' % (
            dataset.file_pattern, record_scan.summary(scans, max_listed=3),
            errors.setup_hint(dataset, prefix='reconvert it: ')))
  limits = [-1 if scan.readable is None else scan.readable for scan in scans]
  skipped = tf.ragged.constant(
      [[b.index for b in scan.bad] for scan in scans], dtype=tf.int64,
      ragged_rank=1)
  return tf.data.Dataset.from_tensor_slices(
      (files, tf.constant(limits, tf.int64), skipped))


def _read_good_records(path, limit, bad):
  """The records of one file but those at the indices `bad`, up to `limit`."""
  ds = tf.data.TFRecordDataset(path, buffer_size=_READ_BUFFER_BYTES)
  ds = ds.take(limit).enumerate()
  ds = ds.filter(lambda index, _: tf.reduce_all(tf.not_equal(index, bad)))
  return ds.map(lambda _, record: record)


def _batch_from(next_element, batch_size, image_size, drop_remainder):
  images, labels = next_element
  height, width = _image_size(image_size)
  batch = batch_size if drop_remainder else None
  images.set_shape([batch, height, width, None])
  labels.set_shape([batch])
  return Batch(images, labels)


def _resolved_drop_remainder(kwargs, is_training):
  drop = kwargs.get('drop_remainder')
  return is_training if drop is None else drop


def _graph_dataset(caller, *args, **kwargs):
  """`make_dataset(*args, **kwargs)`, refused when executing eagerly."""
  if tf.executing_eagerly():
    raise RuntimeError('%s builds graph tensors: call it inside '
                       '`with tf.Graph().as_default():`' % caller)
  return make_dataset(*args, **kwargs)


def make_batches(dataset, batch_size, preprocess_fn, image_size, is_training,
                 **kwargs):
  """Graph tensors for the next batch, from a one-shot iterator.

  Call inside `with tf.Graph().as_default():`. Arguments as `make_dataset`
  (keyword arguments: num_epochs, shuffle, seed, num_parallel_calls,
  drop_remainder, deterministic, shuffle_buffer_size, cycle_length,
  num_shards, shard_index, prefetch_buffer_size, check_records,
  skip_bad_records).

  Returns:
    `Batch(images, labels)`, a namedtuple (unpacks as a pair): images float32
    [B, H, W, C], labels int64 [B]. B is static when drop_remainder is set.

  Raises:
    DatasetError: the data is missing or unreadable (see `list_files`).
    RuntimeError: if called eagerly.

  Example:
    with tf.Graph().as_default():
      images, labels = make_batches(dataset, 50, fn, 28, is_training=False)
      with v1.Session() as sess:
        while True:
          try:
            x, y = sess.run([images, labels])
          except tf.errors.OutOfRangeError:
            break
  """
  iterator = v1.data.make_one_shot_iterator(_graph_dataset(
      'make_batches', dataset, batch_size, preprocess_fn, image_size,
      is_training, **kwargs))
  return _batch_from(iterator.get_next(), batch_size, image_size,
                     _resolved_drop_remainder(kwargs, is_training))


def make_initializable_batches(dataset, batch_size, preprocess_fn, image_size,
                               is_training, **kwargs):
  """Like `make_batches`, from an initializable iterator.

  Run the returned initializer to (re)start the data, e.g. before each
  evaluation pass in one session.

  Returns:
    (`Batch(images, labels)`, initializer op).

  Example:
    batch, init = make_initializable_batches(dataset, 50, fn, 32, False)
    sess.run(init)
  """
  iterator = v1.data.make_initializable_iterator(_graph_dataset(
      'make_initializable_batches', dataset, batch_size, preprocess_fn,
      image_size, is_training, **kwargs))
  batch = _batch_from(iterator.get_next(), batch_size, image_size,
                      _resolved_drop_remainder(kwargs, is_training))
  return batch, iterator.initializer
