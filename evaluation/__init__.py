"""Evaluation, export and the model-building step shared with training.

    from evaluation import model_builder, evaluator, export
    config = model_builder.ModelConfig('se_resnet_v1_50', layer_style='raw')
    result = evaluator.evaluate_once(evaluator.EvalConfig(
        checkpoint_path='/tmp/train', eval_dir='/tmp/eval',
        dataset_name='flowers', dataset_dir='/tmp/flowers', model=config))
"""
