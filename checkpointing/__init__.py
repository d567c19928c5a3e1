"""Checkpoint naming, finding and restoring: the one Keras/Slim name rule, plans that
say which variables are missing, unused or of the wrong shape, and checkpoint
directories (state file, steps).

    from checkpointing import checkpoints
    checkpoints.restore(sess, '/tmp/resnet_v1_50.ckpt', checkpoint_model_scope='resnet_v1_50')
"""
