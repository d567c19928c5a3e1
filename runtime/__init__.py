"""What every package may import: the TensorFlow shim, session settings, script exit codes.

    from runtime.tf_compat import tf, v1, slim, tf_keras
    from runtime import session_config, script_util

Nothing here imports another package of the project.
"""
