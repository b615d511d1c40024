"""Layers without bottoms: Input, DummyData, Parameter and the data readers.

A reader's shape often comes from its data (a database record, an image, an HDF5 file); then
the rule raises ShapeUnknown with what *is* known (batch size, crop) as a partial shape, and
the label top, which is always (batch_size,), as a known one.
"""

from __future__ import annotations

from .common import has, require
from .registry import LayerShapes, ShapeUnknown, shape_rule


def _blob_shape(shape_message) -> tuple:
    return tuple(int(d) for d in shape_message.dim)


@shape_rule("Input", bottoms=(0, 0), tops=(1, None))
def input_(layer, bottoms):
    """Net inputs from input_param.shape: once for all tops, once per top, or not at all."""
    shapes = list(layer.input_param.shape)
    tops = len(layer.top)
    require(len(shapes) in (0, 1, tops), f"Must specify 'shape' once, once per top blob, or not "
            f"at all: {tops} tops vs. {len(shapes)} shapes.", ("input_param", "shape"),
            "count-mismatch")
    if not shapes:
        raise ShapeUnknown("Input layer without input_param.shape: the caller reshapes the "
                           "blobs at run time", code="runtime-input", partial=[None] * tops)
    return LayerShapes([_blob_shape(shapes[0 if len(shapes) == 1 else i]) for i in range(tops)])


@shape_rule("DummyData", bottoms=(0, 0), tops=(1, None))
def dummy_data(layer, bottoms):
    """Filler-made blobs: `shape` (once or per top), or legacy num/channels/height/width."""
    param = layer.dummy_data_param
    tops = len(layer.top)
    field = ("dummy_data_param",)
    require(len(param.data_filler) in (0, 1, tops), "Number of data fillers must be 0, 1 or the "
            "number of tops", field + ("data_filler",), "count-mismatch")
    legacy = [list(getattr(param, n)) for n in ("num", "channels", "height", "width")]
    if any(legacy):
        require(len(param.shape) == 0, "Both shape and legacy fields were specified",
                field + ("shape",), "conflicting-params")
        for name, given in zip(("num", "channels", "height", "width"), legacy):
            require(len(given) in (1, tops), f"Must specify '{name}' once, or once per top blob "
                    f"({tops}); specified {len(given)}.", field + (name,), "count-mismatch")
        return LayerShapes([tuple(g[0 if len(g) == 1 else i] for g in legacy)
                            for i in range(tops)])
    shapes = list(param.shape)
    require(len(shapes) in (1, tops), f"Must specify 'shape' once, or once per top blob ({tops}); "
            f"specified {len(shapes)}.", field + ("shape",), "count-mismatch")
    return LayerShapes([_blob_shape(shapes[0 if len(shapes) == 1 else i]) for i in range(tops)])


@shape_rule("Parameter", bottoms=(0, 0), tops=(1, 1))
def parameter(layer, bottoms):
    """Exposes a learned blob of parameter_param.shape as its top."""
    shape = _blob_shape(layer.parameter_param.shape)
    return LayerShapes([shape], [shape])


def _crop(layer) -> tuple | None:
    """DataTransformer::InferBlobShape's crop (crop_size; some forks add crop_h/crop_w)."""
    transform = layer.transform_param
    if has(transform, "crop_h") or has(transform, "crop_w"):
        return (transform.crop_h, transform.crop_w)
    if transform.crop_size:
        return (transform.crop_size, transform.crop_size)
    return None


def _reader_unknown(layer, batch: int, channels, height, width, reason: str):
    tops = [(batch, channels, height, width)]
    if len(layer.top) > 1:
        tops.append((batch,))
    raise ShapeUnknown(reason, code="needs-data-source", partial=tops)


@shape_rule("Data", bottoms=(0, 0), tops=(1, 2))
def data(layer, bottoms):
    """LMDB/LevelDB records: (batch, C, H, W) from the first Datum (after crop); label (batch,)."""
    batch = layer.data_param.batch_size
    crop = _crop(layer)
    _reader_unknown(layer, batch, None, *(crop or (None, None)),
                    "Data layer: channels (and height/width unless cropped) come from the "
                    "first database record")


@shape_rule("ImageData", bottoms=(0, 0), tops=(1, 2),
            restrictions="known when transform_param crops or new_height/new_width resize; "
                         "channels from is_color (3 or 1)")
def image_data(layer, bottoms):
    """Images listed in a text file: (batch, 3|1, crop|new_h, crop|new_w); label (batch,)."""
    param = layer.image_data_param
    require((param.new_height == 0 and param.new_width == 0) or
            (param.new_height > 0 and param.new_width > 0),
            "Current implementation requires new_height and new_width to be set at the same "
            "time.", ("image_data_param", "new_height"), "conflicting-params")
    require(param.batch_size > 0, "Positive batch size required",
            ("image_data_param", "batch_size"), "invalid-param")
    channels = 3 if param.is_color else 1
    size = _crop(layer)
    if size is not None and param.new_height:
        require(param.new_height >= size[0] and param.new_width >= size[1],
                f"crop {size} is larger than the resized image "
                f"{param.new_height}x{param.new_width}", ("transform_param", "crop_size"),
                "crop-out-of-bounds")
    size = size or ((param.new_height, param.new_width) if param.new_height else None)
    if size is None:
        _reader_unknown(layer, param.batch_size, channels, None, None,
                        "ImageData without crop or resize: height and width are the first "
                        "image's")
    tops = [(param.batch_size, channels) + tuple(size)]
    if len(layer.top) > 1:
        tops.append((param.batch_size,))
    return LayerShapes(tops, [], 0, ["Caffe reads the image list and first image at setup"])


@shape_rule("WindowData", bottoms=(0, 0), tops=(1, 2))
def window_data(layer, bottoms):
    """R-CNN windows: (batch, C, crop, crop) with C read from the window file; label (batch,)."""
    crop = layer.transform_param.crop_size
    require(crop > 0, "WindowData needs transform_param.crop_size > 0",
            ("transform_param", "crop_size"), "missing-param")
    _reader_unknown(layer, layer.window_data_param.batch_size, None, crop, crop,
                    "WindowData: channels come from the window file")


@shape_rule("MemoryData", bottoms=(0, 0), tops=(2, 2))
def memory_data(layer, bottoms):
    """Arrays fed from code: (batch, channels, height, width) and labels (batch,)."""
    param = layer.memory_data_param
    shape = (param.batch_size, param.channels, param.height, param.width)
    require(all(d > 0 for d in shape), "batch_size, channels, height, and width must be "
            f"specified and positive in memory_data_param; got {shape}", ("memory_data_param",),
            "invalid-param")
    return LayerShapes([shape, (param.batch_size,)])


@shape_rule("HDF5Data", bottoms=(0, 0), tops=(1, None))
def hdf5_data(layer, bottoms):
    """Datasets named like the tops, read from the files listed in source: shapes from the files."""
    raise ShapeUnknown("HDF5Data: top shapes are the datasets' shapes in the listed HDF5 files",
                       code="needs-data-source", partial=[None] * len(layer.top))


@shape_rule("HDF5Output", bottoms=(2, 2), tops=(0, 0))
def hdf5_output(layer, bottoms):
    """Writes data and label to an HDF5 file; no tops."""
    return LayerShapes([])


@shape_rule("Python", bottoms=(0, None), tops=(0, None))
def python(layer, bottoms):
    """A Python class decides its tops in its own reshape(): unknown without running it."""
    module = layer.python_param.module
    name = layer.python_param.layer
    raise ShapeUnknown(f"Python layer {module}.{name}: its reshape() sets the top shapes",
                       code="python-layer", partial=[None] * len(layer.top))

