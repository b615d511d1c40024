"""The Caffe schema (our own proto/prototxt_tools_caffe.proto, BVLC master + fork extensions).

Import the generated messages from here, never from ``_proto`` directly: ``from
prototxt_tools.schema import caffe_pb2``.  The file and package name differ from pycaffe's and
OpenCV's ``caffe.proto`` so all of them can live in one process.
"""

from ._proto import prototxt_tools_caffe_pb2 as caffe_pb2

NetParameter = caffe_pb2.NetParameter
LayerParameter = caffe_pb2.LayerParameter
V1LayerParameter = caffe_pb2.V1LayerParameter
V0LayerParameter = caffe_pb2.V0LayerParameter
BlobProto = caffe_pb2.BlobProto

__all__ = ["caffe_pb2", "NetParameter", "LayerParameter", "V1LayerParameter",
           "V0LayerParameter", "BlobProto"]
