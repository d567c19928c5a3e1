"""Looks up a dataset by name: `get_dataset('cifar10', 'train', dir)`.

Known datasets: cifar10, digits, flowers, imagenet, mnist, with Slim's file
patterns, feature keys, formats and split sizes, so TFRecords made by Slim's
own converters read unchanged.

    from datasets import dataset_factory
    dataset = dataset_factory.get_dataset('flowers', 'validation', '/tmp/f')
    dataset.num_samples, dataset.num_classes, dataset.labels_to_names
"""
from datasets import cifar10
from datasets import digits
from datasets import flowers
from datasets import imagenet
from datasets import mnist

DATASETS = {
    info.name: info for info in (cifar10.INFO, digits.INFO, flowers.INFO,
                                 imagenet.INFO, mnist.INFO)
}

DATASET_NAMES = sorted(DATASETS)


def get_info(name):
  """Returns the `DatasetInfo` of a dataset.

  Raises:
    ValueError: if `name` is unknown (the message lists the known names).

  Example:
    get_info('mnist').splits_to_sizes   # {'train': 60000, 'test': 10000}
  """
  try:
    return DATASETS[name]
  except KeyError:
    raise ValueError('unknown dataset %r; valid datasets: %s' %
                     (name, ', '.join(DATASET_NAMES))) from None


def get_dataset(name, split_name, dataset_dir, file_pattern=None,
                skip_bad_records=False):
  """Describes one split of a dataset stored in `dataset_dir`.

  Args:
    name: one of `DATASET_NAMES`.
    split_name: a split of that dataset ('train', 'test', 'validation').
    dataset_dir: the directory with the TFRecords and labels.txt.
    file_pattern: optional file pattern override (`%s` = the split name).
    skip_bad_records: the pipeline leaves bad records out, with a count in
      the log (default: a bad record fails the run).

  Returns:
    A `dataset_info.DatasetSplit` with `name`, `split_name`, `file_pattern`
    (the full glob), `num_samples`, `num_classes`, `labels_to_names` (None
    without labels.txt), `image_channels`, `default_format`, `image_shape`
    and `decoder`.

  Raises:
    ValueError: for an unknown dataset or split, listing the valid ones.

  Example:
    dataset = get_dataset('digits', 'test', '/tmp/digits')
    dataset.num_samples   # 360
  """
  return get_info(name).get_split(split_name, dataset_dir, file_pattern,
                                  skip_bad_records=skip_bad_records)
