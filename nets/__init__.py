"""Network builders for slim-senet (ResNet v1, SE-ResNet v1, a small CNN)."""
