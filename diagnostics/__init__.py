"""Command-line diagnostics: run any of them with `python -m diagnostics.<name> --help`.

inspect_checkpoint   what a checkpoint holds and whether it fits a network
model_summary        parameters and multiply-adds of a network, per block
warm_start_distance  how far SE gates move the logits of a warm-started network
"""
