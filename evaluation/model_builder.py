"""From a model description and a dataset to logits: the step training and
evaluation share.

`ModelConfig` holds what Slim's scripts spread over flags (model name, layer
style, preprocessing, labels offset, image size, builder options such as the
SE ones). `build_classifier` reads a dataset split through the tf.data
pipeline, preprocesses it for the model, subtracts the labels offset and builds
the network with `num_classes = dataset.num_classes - labels_offset`.

    config = ModelConfig('se_resnet_v1_14', layer_style='raw', image_size=32,
                         preprocessing_name='digits',
                         model_options={'depth_multiplier': 0.25})
    with tf.Graph().as_default():
      dataset = dataset_factory.get_dataset('digits', 'train', '/tmp/digits')
      model = build_classifier(config, dataset, batch_size=32,
                               is_training=True, seed=1)
      loss = v1.losses.sparse_softmax_cross_entropy(model.labels, model.logits)
"""
import collections
import dataclasses
from typing import Any, Mapping, Optional

from datasets import pipeline
from nets import layers
from nets import nets_factory
from nets.tf_compat import tf
from preprocessing import preprocessing_factory

# Datasets whose images are preprocessed by their own style unless a
# preprocessing is named (as the trainer does): a 224x224 VGG crop of an 8x8
# digit would be meaningless.
SMALL_IMAGE_DATASETS = ('digits', 'mnist', 'cifar10')

# Builder/arg-scope keywords that scripts expose as flags of the same name.
SE_OPTION_NAMES = ('se_ratio', 'se_placement', 'se_fc2_bias_init',
                   'se_blocks', 'se_use_biases')
MODEL_OPTION_NAMES = SE_OPTION_NAMES + ('depth_multiplier',
                                        'batch_norm_decay',
                                        'batch_norm_epsilon', 'topology')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Which network, in which style, fed how.

  Attributes:
    model_name: a name of `nets_factory.network_names()`.
    layer_style: 'slim', 'raw' or 'keras'.
    preprocessing_name: a preprocessing name; None uses the dataset's for
      small-image datasets (digits, mnist, cifar10), else `model_name` (the
      trainer's rule, see `preprocessing_name`).
    labels_offset: subtracted from the dataset's labels; the network gets
      `num_classes - labels_offset` logits (1 for Slim's ImageNet ResNets).
    image_size: input height and width; None uses the network's default.
    use_grayscale: feed one channel instead of RGB.
    weight_decay: L2 coefficient of the weights.
    model_options: builder and arg-scope keywords of the factory, e.g.
      `se_ratio`, `se_placement`, `depth_multiplier`, `batch_norm_decay`;
      None values are dropped (the builder's default applies).
  """
  model_name: str
  layer_style: str = layers.DEFAULT_STYLE
  preprocessing_name: Optional[str] = None
  labels_offset: int = 0
  image_size: Optional[int] = None
  use_grayscale: bool = False
  weight_decay: float = 0.0
  model_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    nets_factory.check_name(self.model_name)
    layers.get(self.layer_style)
    if self.labels_offset < 0:
      raise ValueError('labels_offset must be >= 0, got %r' %
                       self.labels_offset)
    options = {k: v for k, v in dict(self.model_options).items()
               if v is not None}
    object.__setattr__(self, 'model_options', options)

  @property
  def model_scope(self):
    """The variable scope of the network (the builders use their name)."""
    return self.model_name

  def num_logits(self, num_classes):
    """Logits of the network for a dataset with `num_classes` labels."""
    logits = num_classes - self.labels_offset
    if logits < 1:
      raise ValueError('labels_offset=%d leaves no class of %d' %
                       (self.labels_offset, num_classes))
    return logits


Classifier = collections.namedtuple('Classifier', [
    'images', 'labels', 'logits', 'end_points', 'num_classes', 'image_size',
    'iterator_initializer'
])
Classifier.__doc__ = """What `build_classifier` built.

Attributes:
  images: float32 [B, H, W, C], preprocessed.
  labels: int64 [B], the dataset's labels minus `labels_offset`.
  logits: float32 [B, num_classes].
  end_points: the network's end points.
  num_classes: logits per example (dataset classes - labels_offset).
  image_size: H (= W).
  iterator_initializer: op that (re)starts the data when built with
    `initializable=True`, else None.
"""


def network_fn(config, num_classes, is_training):
  """The factory's network function for `config` with `num_classes` logits.

  Args:
    config: a `ModelConfig`.
    num_classes: number of logits (already net of any labels offset).
    is_training: batch norm mode.

  Returns:
    `fn(images, **kwargs) -> (logits, end_points)` with `default_image_size`.

  Example:
    fn = network_fn(ModelConfig('se_resnet_v1_50'), 1000, False)
  """
  return nets_factory.get_network_fn(
      config.model_name, num_classes, weight_decay=config.weight_decay,
      is_training=is_training, style=config.layer_style,
      **config.model_options)


def image_size(config):
  """The input size: `config.image_size` or the network's default."""
  if config.image_size:
    return int(config.image_size)
  return nets_factory.networks_map[config.model_name].default_image_size


def image_channels(config):
  return 1 if config.use_grayscale else 3


def preprocessing_name(config, dataset_name=None):
  """`config.preprocessing_name`, else the dataset's name for small-image
  datasets, else the model's name.

  Example:
    preprocessing_name(ModelConfig('se_resnet_v1_14'), 'digits')  # 'digits'
  """
  if config.preprocessing_name:
    return config.preprocessing_name
  if dataset_name in SMALL_IMAGE_DATASETS:
    return dataset_name
  return config.model_name


def preprocessing_fn(config, is_training, dataset_name=None):
  """`fn(image, height, width)` of `preprocessing_name(config, dataset)`."""
  return preprocessing_factory.get_preprocessing(
      preprocessing_name(config, dataset_name), is_training=is_training,
      use_grayscale=config.use_grayscale)


def build_logits(config, images, num_classes, is_training, reuse=None):
  """Builds the network on `images`: (logits [B, num_classes], end_points).

  Args:
    config: a `ModelConfig`.
    images: float32 [B, H, W, C] preprocessed images.
    num_classes: number of logits (dataset classes - labels_offset).
    is_training: batch norm mode.
    reuse: reuse the variables of an earlier call (a second tower).

  Returns:
    (logits, end_points); logits are [B, num_classes] for every network.

  Example:
    logits, _ = build_logits(config, images, 10, is_training=False)
  """
  fn = network_fn(config, num_classes, is_training)
  kwargs = {'reuse': reuse} if reuse else {}
  logits, end_points = fn(images, **kwargs)
  if logits.shape.ndims != 2:  # e.g. spatial_squeeze=False
    logits = tf.reshape(logits, [-1, num_classes])
  return logits, end_points


def build_classifier(config, dataset, batch_size, is_training,
                     initializable=False, **pipeline_kwargs):
  """Input pipeline, preprocessing, labels offset and network, in one graph.

  Call inside `with tf.Graph().as_default():`.

  Args:
    config: a `ModelConfig`.
    dataset: a `DatasetSplit` from `dataset_factory.get_dataset`.
    batch_size: examples per batch.
    is_training: training (shuffled, repeated, random preprocessing, batch
      norm in training mode) or evaluation (one deterministic epoch, every
      example once, the last partial batch kept).
    initializable: use an initializable iterator (run
      `iterator_initializer` before each pass), e.g. to evaluate several
      checkpoints in one graph.
    **pipeline_kwargs: passed to `datasets.pipeline.make_dataset` (seed,
      num_epochs, num_shards, shard_index, num_parallel_calls, ...).

  Returns:
    A `Classifier`.

  Raises:
    DatasetError: missing or unreadable data.
    ValueError: bad names or options.

  Example:
    model = build_classifier(config, dataset, 100, is_training=False)
  """
  size = image_size(config)
  preprocess = preprocessing_fn(config, is_training, dataset.name)
  make = (pipeline.make_initializable_batches if initializable else
          pipeline.make_batches)
  built = make(dataset, batch_size, preprocess, size, is_training,
               **pipeline_kwargs)
  batch, initializer = built if initializable else (built, None)
  labels = batch.labels
  if config.labels_offset:
    labels = labels - config.labels_offset
  num_classes = config.num_logits(dataset.num_classes)
  logits, end_points = build_logits(config, batch.images, num_classes,
                                    is_training)
  return Classifier(batch.images, labels, logits, end_points, num_classes,
                    size, initializer)
