"""Errors the training code raises with messages meant for the user."""


class ConfigError(ValueError):
  """A setting is wrong; the message names the flag and what to pass."""


class TrainingDivergedError(RuntimeError):
  """The loss or the model's state became NaN or Inf.

  Attributes:
    step: the global step at which it was seen.
    first_bad_step: checkpoints of this step or later hold a bad state.
    last_good_checkpoint: the newest checkpoint left on disk, or None.
  """

  def __init__(self, message, step=None, first_bad_step=None,
               last_good_checkpoint=None):
    super().__init__(message)
    self.step = step
    self.first_bad_step = first_bad_step
    self.last_good_checkpoint = last_good_checkpoint
