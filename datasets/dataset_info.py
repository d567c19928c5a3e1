"""What a dataset is (`DatasetInfo`) and one split of it (`DatasetSplit`).

Each dataset module (cifar10, flowers, mnist, imagenet, digits) defines one
`DatasetInfo` with Slim's facts: the file pattern, the split sizes, the number
of classes, the Slim reader's default `image/format` and the image shape.
`DatasetInfo.get_split` turns it into a `DatasetSplit` for a directory: the
description the input pipeline and the scripts use.

    split = cifar10.INFO.get_split('train', '/tmp/cifar10')
    split.file_pattern   # '/tmp/cifar10/cifar10_train.tfrecord'
    split.num_samples    # 50000
"""
import dataclasses
import os
from typing import Mapping, Optional, Tuple

from datasets import dataset_files


@dataclasses.dataclass(frozen=True)
class DatasetInfo(object):
  """The facts of one dataset, independent of where it is stored.

  Attributes:
    name: the dataset name, e.g. 'cifar10'.
    file_pattern: the file name (glob) pattern with one `%s` for the split.
    splits_to_sizes: the published number of examples per split.
    num_classes: number of labels (ImageNet: 1001, 0 is background).
    default_format: Slim's reader default for a missing `image/format`.
    image_channels: channels the images decode to (1: grayscale, 3: RGB).
    image_shape: (height, width, channels) when every image has it, else None.
    items_to_descriptions: Slim's human-readable item descriptions.
  """
  name: str
  file_pattern: str
  splits_to_sizes: Mapping[str, int]
  num_classes: int
  default_format: str
  image_channels: int
  image_shape: Optional[Tuple[int, int, int]] = None
  items_to_descriptions: Mapping[str, str] = dataclasses.field(
      default_factory=dict)

  @property
  def split_names(self):
    """The valid split names, sorted."""
    return sorted(self.splits_to_sizes)

  def get_split(self, split_name, dataset_dir, file_pattern=None,
                skip_bad_records=False):
    """Describes one split stored in `dataset_dir`.

    Args:
      split_name: one of `split_names`.
      dataset_dir: the directory holding the TFRecords and labels.txt.
      file_pattern: an override for `self.file_pattern` (`%s` = split).
      skip_bad_records: let the input pipeline leave bad records out (see
        `DatasetSplit.skip_bad_records`).

    Returns:
      A `DatasetSplit`. Nothing on disk is required yet: the input pipeline
      checks the files when it is built.

    Raises:
      ValueError: if `split_name` is not a split of this dataset.

    Example:
      mnist.INFO.get_split('test', '/tmp/mnist').num_samples  # 10000
    """
    if split_name not in self.splits_to_sizes:
      raise ValueError('dataset %r has no split %r; valid splits: %s' %
                       (self.name, split_name, ', '.join(self.split_names)))
    pattern = file_pattern or self.file_pattern
    if '%s' in pattern:
      pattern = pattern % split_name
    pattern = os.path.join(dataset_dir, pattern)
    recorded = dataset_files.read_splits_file(dataset_dir).get(split_name)
    num_samples = (recorded if recorded is not None else
                   self.splits_to_sizes[split_name])
    return DatasetSplit(
        name=self.name,
        split_name=split_name,
        dataset_dir=dataset_dir,
        file_pattern=pattern,
        num_samples=num_samples,
        num_classes=self.num_classes,
        labels_to_names=dataset_files.read_label_file(dataset_dir),
        image_channels=self.image_channels,
        default_format=self.default_format,
        image_shape=self.image_shape,
        items_to_descriptions=dict(self.items_to_descriptions),
        skip_bad_records=skip_bad_records)


@dataclasses.dataclass(frozen=True)
class DatasetSplit(object):
  """One split of a dataset in one directory: what the pipeline reads.

  Attributes:
    name: dataset name.
    split_name: e.g. 'train'.
    dataset_dir: the directory.
    file_pattern: full glob of the split's TFRecord files.
    num_samples: examples in the split (from our converter's splits.txt when
      present, else the dataset's published size).
    num_classes: number of labels.
    labels_to_names: {id: name} from labels.txt, or None if it is missing.
    image_channels: 1 (mnist, digits) or 3.
    default_format: Slim's default for a missing `image/format`.
    image_shape: fixed (height, width, channels), or None.
    items_to_descriptions: Slim's item descriptions.
    skip_bad_records: the input pipeline checks every record once and
      leaves the bad ones out, logging how many (default: a bad record fails
      the run, and the scripts name it).
  """
  name: str
  split_name: str
  dataset_dir: str
  file_pattern: str
  num_samples: int
  num_classes: int
  labels_to_names: Optional[Mapping[int, str]]
  image_channels: int
  default_format: str
  image_shape: Optional[Tuple[int, int, int]]
  items_to_descriptions: Mapping[str, str]
  skip_bad_records: bool = False

  @property
  def data_sources(self):
    """Slim's name for `file_pattern`."""
    return self.file_pattern

  @property
  def decoder(self):
    """An `ExampleDecoder` for this dataset's records."""
    from datasets import example_decoder  # pylint: disable=g-import-not-at-top
    return example_decoder.ExampleDecoder(
        self.default_format, self.image_channels, self.image_shape)
