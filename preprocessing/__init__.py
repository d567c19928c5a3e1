"""Image preprocessing: VGG-style (ResNet), Inception-style, small images.

    from preprocessing import preprocessing_factory
    fn = preprocessing_factory.get_preprocessing('se_resnet_v1_50')
    image = fn(uint8_image, 224, 224)
"""
