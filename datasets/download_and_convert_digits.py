"""Builds the `digits` dataset from scikit-learn's bundled handwritten digits.

No network: `sklearn.datasets.load_digits()` ships the 1797 8x8 images (UCI
"Optical Recognition of Handwritten Digits", 0..16 intensities) inside the
package. The images are scaled to 0..255 uint8 (`round(v * 255 / 16)`),
stratified by class and split with a fixed numpy seed into train 1437 / test
360 (the split is ours, not scikit-learn's, so it does not change with
scikit-learn versions), PNG-encoded as 8x8x1, and written to
`digits_train.tfrecord` / `digits_test.tfrecord` with `labels.txt` (`0:0` ..
`9:9`). scikit-learn is needed by this converter only.

    run('/tmp/digits')   # about a second
"""
import numpy as np

from datasets import conversion
from datasets import digits
from datasets import errors


def output_filename(split_name):
  return digits.INFO.file_pattern % split_name


def load_sklearn_digits():
  """Returns (images uint8 [1797, 8, 8, 1] in 0..255, labels int64 [1797]).

  Example:
    images, labels = load_sklearn_digits()
  """
  try:
    # pylint: disable=g-import-not-at-top
    from sklearn import datasets as sk_datasets
  except ImportError:
    raise errors.DatasetError(
        'the digits dataset is built from scikit-learn: pip install '
        'scikit-learn') from None
  bunch = sk_datasets.load_digits()
  images = np.round(np.asarray(bunch.images) * (255.0 / 16.0))
  images = np.clip(images, 0, 255).astype(np.uint8)[..., None]
  return images, np.asarray(bunch.target, dtype=np.int64)


def stratified_split(labels, num_test, seed=digits.SPLIT_SEED):
  """Indices (train, test) with `num_test` test examples, stratified.

  Each class gets its share of the test set by largest remainder, so the
  total is exactly `num_test`; within a class the choice is a seeded
  permutation. Both index lists are returned shuffled (same seed).

  Example:
    train_idx, test_idx = stratified_split(labels, 360)
  """
  labels = np.asarray(labels)
  rng = np.random.RandomState(seed)
  classes = np.unique(labels)
  sizes = np.array([np.sum(labels == c) for c in classes])
  exact = sizes * float(num_test) / len(labels)
  quota = np.floor(exact).astype(int)
  short = num_test - quota.sum()
  # Largest remainders first; ties by class order (stable sort).
  order = np.argsort(-(exact - quota), kind='stable')
  quota[order[:short]] += 1
  train, test = [], []
  for c, q in zip(classes, quota):
    members = np.flatnonzero(labels == c)
    members = members[rng.permutation(len(members))]
    test.extend(members[:q])
    train.extend(members[q:])
  train = np.array(train)[rng.permutation(len(train))]
  test = np.array(test)[rng.permutation(len(test))]
  return train, test


def run(dataset_dir, archive_path=None, source_url=None):
  """Builds digits; skips if the outputs exist.

  Args:
    dataset_dir: where the TFRecords and labels.txt go.
    archive_path: unused (the data ships with scikit-learn).
    source_url: unused.

  Returns:
    {'train': 1437, 'test': 360}.

  Example:
    run('/tmp/digits')
  """
  del archive_path, source_url  # The data is embedded.
  conversion.make_dataset_dir(dataset_dir)
  outputs = [output_filename(s) for s in ('train', 'test')]
  if conversion.outputs_exist(dataset_dir, outputs):
    return conversion.existing_counts(dataset_dir)
  images, labels = load_sklearn_digits()
  train, test = stratified_split(labels, digits.NUM_TEST)
  counts = {}
  for split, index in (('train', train), ('test', test)):
    counts[split] = conversion.write_split(
        dataset_dir, output_filename(split),
        conversion.png_records(images[index], labels[index]))
  return conversion.finish(dataset_dir, digits.CLASS_NAMES, counts)
