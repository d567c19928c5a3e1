"""Slim's flag-driven image-classifier training on tf.compat.v1 graph mode.

Modules, one job each:
  config         `TrainConfig`: every setting of a run, validated.
  flags          the absl flags of `train_image_classifier.py` -> TrainConfig.
  learning_rate  fixed / exponential / polynomial schedules (Slim's).
  optimizers     the seven Slim optimizers from their flags.
  scopes         scope matching, variables to train, checkpoint names.
  warm_start     fine-tuning from a checkpoint, with a restore report.
  model          the network, its loss and the train op (`build_train_graph`).
  hooks          progress log, NaN guard, finite-checkpoint guard.
  loop           `train(config)`: the MonitoredTrainingSession loop.
  distributed    this process's part: local (clones), ps, or worker.
  shutdown       SIGTERM: stop after the step, never hang.

Evaluation is `evaluation/` (`eval_image_classifier.py`); the network, its
preprocessing and the model flags come from `modeling.model_builder` and
`modeling.model_flags`, shared by training, evaluation and export.
"""
