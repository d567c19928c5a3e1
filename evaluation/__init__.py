"""Evaluation and export of trained networks.

    from evaluation import evaluator, export
    from modeling import model_builder
    config = model_builder.ModelConfig('se_resnet_v1_50', layer_style='raw')
    result = evaluator.evaluate_once(evaluator.EvalConfig(
        checkpoint_path='/tmp/train', eval_dir='/tmp/eval',
        dataset_name='flowers', dataset_dir='/tmp/flowers', model=config))
"""
