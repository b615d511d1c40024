"""prototxt-tools: read, check, fix and convert Caffe models exactly as Caffe does."""

__version__ = "0.1.0"
