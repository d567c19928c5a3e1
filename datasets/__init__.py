"""Slim-format datasets: descriptions, converters, the tf.data input pipeline.

    from datasets import dataset_factory, pipeline
    dataset = dataset_factory.get_dataset('digits', 'train', '/tmp/digits')
    images, labels = pipeline.make_batches(dataset, 32, preprocess_fn, 32, True)
"""
