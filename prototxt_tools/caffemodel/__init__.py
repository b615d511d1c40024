"""Binary caffemodel (NetParameter) reading and writing, blobs as numpy arrays.

    model = read_caffemodel("net.caffemodel")      # or bytes
    model.format                                    # 'V0' | 'V1' | 'V2'
    model.net                                       # NetParameter, blobs without values
    model.weights("conv1")                          # [weights, bias] as shaped float32 arrays
    write_caffemodel("out.caffemodel", model.net, model.layers)

Blob values never pass through Python lists or protobuf repeated fields: the file is
memory-mapped, scanned at the wire level, and packed values become ``np.frombuffer`` views.
"""

from ..errors import CaffemodelError
from .reader import CaffeModel, LayerWeights, iter_layer_weights, read_caffemodel
from .writer import write_caffemodel

__all__ = ["CaffeModel", "CaffemodelError", "LayerWeights", "iter_layer_weights",
           "read_caffemodel", "write_caffemodel"]
