"""The variables (Slim names and shapes) the target network has.

Built by the real builder in a throwaway graph (`nets_factory.variable_shapes`),
in the raw style (the fastest to build; every style has the same Slim names
and shapes), with the topology the checkpoint is for (a strided unit's
shortcut may be a projection), so that a converted checkpoint is checked
against the network itself, not against a second description of it.

Example:

    shapes = target.variable_shapes('se_resnet_v1_50', 1000,
                                    {'depth_multiplier': 1.0,
                                     'topology': 'caffe'})
    shapes['se_resnet_v1_50/logits/weights']   # [1, 1, 2048, 1000]
"""
from nets import nets_factory


def variable_shapes(model_name, num_classes, model_options):
  """{slim name: shape list} of `model_name`'s variables.

  Args:
    model_name: a network name of `nets.nets_factory`.
    num_classes: classes of the logits layer.
    model_options: builder keywords (`depth_multiplier`, `topology`, ...).
  """
  return nets_factory.variable_shapes(model_name, num_classes, style='raw',
                                      image_size=64, **model_options)
