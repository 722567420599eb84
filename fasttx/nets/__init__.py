"""Networks: the image-transformation networks (`transformer`) and the frozen perceptual VGG (`vgg`)."""
