"""Sound: the same idea as for images, over spectrogram frames (docs/sound.md). Read in pipeline order: config,
audio, spectrum, data, encoder, loss, net, train, export, stylize, measure, picture."""
