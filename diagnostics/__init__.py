"""Command-line diagnostics: run any of them with `python -m diagnostics.<name> --help`.

inspect_checkpoint       what a checkpoint holds and whether it fits a network
make_standin_checkpoint  a random checkpoint in a trained one's layout, to try things offline
model_summary            parameters and multiply-adds of a network, per block
warm_start_distance      how far SE gates move the logits of a warm-started network
"""
