"""`ModelConfig`: which network, in which style, fed how; no TensorFlow.

The scripts build it from their flags before TensorFlow loads, so a bad
model name or style is reported at once; `model_builder` builds the graph.

    config = ModelConfig('se_resnet_v1_14', layer_style='raw', image_size=32,
                         preprocessing_name='digits',
                         model_options={'depth_multiplier': 0.25})
    preprocessing_name(config, 'digits')     # 'digits'
"""
import dataclasses
from typing import Any, Mapping, Optional

from nets import names
from nets import options as options_lib

# Datasets whose images are preprocessed by their own style unless a
# preprocessing is named (as the trainer does): a 224x224 VGG crop of an 8x8
# digit would be meaningless.
SMALL_IMAGE_DATASETS = ('digits', 'mnist', 'cifar10')


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
      None values are dropped (the builder's default applies). Those of
      `nets.options` are checked here (the network takes them, good
      values); others are left to the factory.
    preprocessing_options: keywords of the preprocessing function, e.g. the
      torch style's `mean`, `std`, `crop_pct`, `interpolation` (from a
      converted checkpoint's sidecar).
  """
  model_name: str
  layer_style: str = names.DEFAULT_STYLE
  preprocessing_name: Optional[str] = None
  labels_offset: int = 0
  image_size: Optional[int] = None
  use_grayscale: bool = False
  weight_decay: float = 0.0
  model_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  preprocessing_options: Mapping[str, Any] = dataclasses.field(
      default_factory=dict)

  def __post_init__(self):
    names.check_network(self.model_name)
    names.check_style(self.layer_style)
    if self.labels_offset < 0:
      raise ValueError('labels_offset must be >= 0, got %r' %
                       self.labels_offset)
    options = options_lib.from_values(dict(self.model_options))
    options_lib.check(self.model_name, options)
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
