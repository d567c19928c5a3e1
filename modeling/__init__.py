"""The model description shared by training, evaluation, export and the diagnostics.

A `ModelConfig` names a network and its options; `model_builder` turns it into
logits and preprocessing; `model_flags` defines the flags that fill it in.

    from modeling import model_builder
    config = model_builder.ModelConfig('se_resnet_v1_50', layer_style='raw')
"""
