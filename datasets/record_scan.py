"""Finds the bad records of a TFRecord split, file by file, record by record.

The input pipeline reads records in TensorFlow and fails mid-run on a bad
one without naming it. This module names it: a file truncated or corrupt
after some record, a record that is not a usable Slim Example (checked in
Python by `ExampleDecoder.check_record`: keys, format, label range, PNG
size), and a record whose image does not decode (checked by running the
pipeline's own `ExampleDecoder.decode` over the file in a graph of its own).

It runs only when asked: after a run failed (`find_first_bad`, to turn the
TensorFlow error into one line naming the file and record), or once before
reading with `--skip_bad_records` (`scan_files`, which the pipeline uses to
leave those records out). The normal input path never calls it.

    scans = scan_files(files, dataset.decoder, dataset.num_classes)
    sum(len(s.bad) for s in scans)        # bad records in the split
    bad = find_first_bad(files, dataset.decoder, dataset.num_classes)
    if bad: print(describe(bad))          # 'f.tfrecord: record 500 ...'
"""
import collections
import itertools

from absl import logging

from datasets import errors
from runtime import script_util
from runtime.tf_compat import tf, v1

BadRecord = collections.namedtuple('BadRecord', ['path', 'index', 'reason'])
BadRecord.__doc__ = """One bad record: its file, its 0-based index, why."""

FileScan = collections.namedtuple('FileScan', ['path', 'readable', 'bad',
                                               'num_good'])
FileScan.__doc__ = """What `scan_file` found in one file.

Attributes:
  path: the file.
  readable: records that can be read before the file is truncated or
    corrupt, or None if the whole file reads.
  bad: the `BadRecord`s among the readable records (and the truncation
    itself, at index `readable`), in index order.
  num_good: the records left when the bad ones are skipped.
"""

# Records decoded per session call when looking for undecodable images.
_DECODE_BATCH = 256


def error_line(error):
  """The first line of an error that says what went wrong (no node names,
  no stack of the op), e.g. 'Invalid PNG. Failed to initialize decoder.'."""
  return script_util.message_lines(error)[0]


_message = error_line


def _python_pass(path, decoder, num_classes, stop_at_first):
  """Reads the file in Python; returns (readable or None, [BadRecord],
  records read)."""
  bad = []
  count = 0
  try:
    for record in v1.io.tf_record_iterator(path):
      reason = decoder.check_record(record, num_classes)
      if reason:
        bad.append(BadRecord(path, count, reason))
        if stop_at_first:
          return None, bad, count + 1
      count += 1
  except tf.errors.OpError as e:
    bad.append(BadRecord(
        path, count, 'the file is truncated or corrupt from here on (%s)' %
        _message(e)))
    return count, bad, count
  return None, bad, count


def _readable_records(path, readable):
  """The records of a file, up to `readable` of them (None: all)."""
  records = v1.io.tf_record_iterator(path)
  return records if readable is None else itertools.islice(records, readable)


def _undecodable(path, decoder, readable, skip):
  """Indices of the records whose image does not decode, with the reason."""
  with tf.Graph().as_default():
    ds = tf.data.TFRecordDataset(path)
    if readable is not None:
      ds = ds.take(readable)
    ds = ds.enumerate().map(
        # reduce_max uses the pixels, so the decode really runs (a shape
        # would be a constant for a dataset of fixed-size images).
        lambda index, record: (index,
                               tf.reduce_max(decoder.decode(record)[0])),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # A record whose decode fails is dropped: the indices missing from the
    # output are the undecodable ones.
    ds = ds.ignore_errors().map(lambda index, _: index).batch(_DECODE_BATCH)
    next_indices = v1.data.make_one_shot_iterator(ds).get_next()
    serialized = v1.placeholder(tf.string, [])
    decoded = decoder.decode(serialized)[0]
    decoded_ok = set()
    with v1.Session() as session:
      while True:
        try:
          decoded_ok.update(int(i) for i in session.run(next_indices))
        except tf.errors.OutOfRangeError:
          break
      missing = set()
      for index, _ in enumerate(_readable_records(path, readable)):
        if index not in decoded_ok and index not in skip:
          missing.add(index)
      found = []
      if missing:
        for index, record in enumerate(_readable_records(path, readable)):
          if index in missing:
            try:
              session.run(decoded, {serialized: record})
              reason = 'the image does not decode'
            except tf.errors.OpError as e:
              reason = 'the image does not decode: %s' % _message(e)
            found.append(BadRecord(path, index, reason))
            if len(found) == len(missing):
              break
  return found


def scan_file(path, decoder, num_classes, stop_at_first=False):
  """Checks every record of one TFRecord file.

  Args:
    path: the file.
    decoder: the dataset's `ExampleDecoder`.
    num_classes: labels must be in [0, num_classes).
    stop_at_first: return as soon as one bad record is known.

  Returns:
    A `FileScan`.

  Example:
    scan = scan_file('/tmp/digits/digits_train.tfrecord', dataset.decoder, 10)
  """
  readable, bad, count = _python_pass(path, decoder, num_classes,
                                      stop_at_first)
  if bad and stop_at_first:
    return FileScan(path, readable, bad[:1], None)
  known = {b.index for b in bad}
  bad += _undecodable(path, decoder, readable, known)
  bad.sort(key=lambda b: b.index)
  num_good = count - sum(1 for b in bad if b.index != readable)
  if stop_at_first:
    bad = bad[:1]
  return FileScan(path, readable, bad, num_good)


def scan_files(files, decoder, num_classes):
  """`scan_file` of every file; returns the list of `FileScan`s."""
  return [scan_file(path, decoder, num_classes) for path in files]


def find_first_bad(files, decoder, num_classes):
  """The first bad record of the first file that has one, or None.

  The cheap Python checks (truncation, keys, labels) run over every file
  before any image is decoded.

  Example:
    bad = find_first_bad(pipeline.list_files(dataset), dataset.decoder, 10)
  """
  for path in files:
    _, bad, _ = _python_pass(path, decoder, num_classes, True)
    if bad:
      return bad[0]
  for path in files:
    found = _undecodable(path, decoder, None, set())
    if found:
      return found[0]
  return None


def describe(bad):
  """'<path>: record <index> (counting from 0): <reason>'."""
  return '%s: record %d (counting from 0): %s' % (bad.path, bad.index,
                                                  bad.reason)


def summary(scans, max_listed=10):
  """One line: how many bad records in how many files, the first listed."""
  bad = [b for s in scans for b in s.bad]
  if not bad:
    return 'no bad records in %d files' % len(scans)
  shown = '; '.join(describe(b) for b in bad[:max_listed])
  more = ' and %d more' % (len(bad) - max_listed) if len(bad) > max_listed \
      else ''
  return '%d bad record%s in %d of %d files: %s%s' % (
      len(bad), '' if len(bad) == 1 else 's', len({b.path for b in bad}),
      len(scans), shown, more)


# Ops whose failure a bad record causes: the input iterator (reading,
# decoding) and the trainer's label range check.
_DATA_OP_TYPES = ('IteratorGetNext', 'IteratorGetNextSync')
_LABEL_CHECK_NAME = 'check_labels'


def _from_the_data(error):
  """Whether `error` may come from a record (not, e.g., a checkpoint)."""
  op = getattr(error, 'op', None)
  if not isinstance(error, tf.errors.OpError) or op is None:
    return True  # e.g. the evaluator's label check, in Python
  return op.type in _DATA_OP_TYPES or _LABEL_CHECK_NAME in op.name


def explain(dataset, error):
  """A `DatasetError` naming the bad record behind a failed run, or None.

  Scans the split's files (see `find_first_bad`) if `error` was raised by
  the input iterator or the label check; None if it was not, or if every
  record is good (`error` came from something else).

  Args:
    dataset: the `DatasetSplit` the run read.
    error: the exception the run raised (only logged).

  Example:
    except tf.errors.OpError as e:
      raise record_scan.explain(dataset, e) or e
  """
  if not _from_the_data(error):
    return None
  files = sorted(f for f in tf.io.gfile.glob(dataset.file_pattern)
                 if not tf.io.gfile.isdir(f))
  logging.info('The run failed (%s); looking for a bad record in the %d '
               'files of %s/%s', error_line(error), len(files), dataset.name,
               dataset.split_name)
  bad = find_first_bad(files, dataset.decoder, dataset.num_classes)
  if bad is None:
    return None
  return errors.DatasetError(
      '%s. Reconvert the dataset (%s), or pass --skip_bad_records to leave '
      'out the bad records' % (describe(bad).rstrip('.'),
                               errors.setup_hint(dataset, prefix='')))
