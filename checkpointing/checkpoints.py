"""Checkpoint naming, finding and restoring: the names callers use.

One import for the package's public names, each defined in the module that
does its job:

- `checkpointing.names`: the Keras/Slim name rule (`keras_to_slim_name`,
  `slim_to_keras_name`, `slim_name`), scopes, the step in a file name;
- `checkpointing.files`: prefixes, directories and their state files,
  readers, the stored global step;
- `checkpointing.restore_plan`: the plan and its checks (missing, unused,
  mismatched variables), `RestoreReport`;
- `checkpointing.warm_start`: restoring a plan, SE-ResNet warm starts;
- `checkpointing.errors`: the errors.

Example:

    from checkpointing import checkpoints
    init_fn, report = checkpoints.warm_start_from_resnet(
        'resnet_v1_50.ckpt', v1.global_variables())
    print(report.summary())
    init_fn(session)      # after the global initializer
"""
# pylint: disable=unused-import
from checkpointing.errors import CheckpointMismatchError
from checkpointing.errors import NotACheckpointError
from checkpointing.errors import op_error_detail
from checkpointing.files import STATE_FILE
from checkpointing.files import DirectoryState
from checkpointing.files import checkpoint_exists
from checkpointing.files import directory_state
from checkpointing.files import global_step_of
from checkpointing.files import is_inside
from checkpointing.files import latest_checkpoint
from checkpointing.files import load_reader
from checkpointing.files import resolve_checkpoint
from checkpointing.files import write_directory_state
from checkpointing.names import checkpoint_step
from checkpointing.names import in_scopes
from checkpointing.names import keras_to_slim_name
from checkpointing.names import map_scope
from checkpointing.names import slim_name
from checkpointing.names import slim_named_variables
from checkpointing.names import slim_to_keras_name
from checkpointing.names import top_scopes
from checkpointing.names import variable_name
from checkpointing.restore_plan import RestoreReport
from checkpointing.restore_plan import check_same_network
from checkpointing.restore_plan import fit_problems
from checkpointing.restore_plan import plan_restore
from checkpointing.warm_start import SE_FRESH_SCOPES
from checkpointing.warm_start import resnet_warm_start_options
from checkpointing.warm_start import restore
from checkpointing.warm_start import se_fresh_scopes
from checkpointing.warm_start import warm_start_fn
from checkpointing.warm_start import warm_start_from_resnet
