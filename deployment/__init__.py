"""Deploying training: clones on one worker, parameter servers and workers."""
