"""Our Caffe schema against the generator, BVLC Caffe's caffe.proto, the fork protos and the corpus.

Reference protos are compiled with protoc into FileDescriptorSets and loaded into private
descriptor pools, so nothing named ``caffe.*`` ever enters the default pool of this process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

from prototxt_tools.schema import caffe_pb2

from conftest import CORPUS, REPO, corpus_available, corpus_files, corpus_manifest

UPSTREAM_PROTO = CORPUS / "BVLC_caffe" / "src" / "caffe" / "proto" / "caffe.proto"
FORK_PROTOS = CORPUS / "fork_protos"
OUR_PACKAGE = "prototxt_tools.caffe"
PINNED = "1.76.0"


def _grpc_tools_version() -> str | None:
    try:
        return metadata.version("grpcio-tools")
    except metadata.PackageNotFoundError:
        return None


needs_grpc_tools = pytest.mark.skipif(_grpc_tools_version() is None, reason="grpcio-tools absent")
needs_corpus = pytest.mark.skipif(not corpus_available(), reason="../shared/corpus is absent")


# --------------------------------------------------------------------------- helpers

def _load_generate_script():
    spec = importlib.util.spec_from_file_location("proto_generate", REPO / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def compile_reference(proto_path: Path) -> descriptor_pb2.FileDescriptorProto:
    """protoc a reference caffe.proto into a FileDescriptorProto (never registered anywhere)."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(proto_path, Path(tmp) / "caffe.proto")
        out = Path(tmp) / "set.pb"
        status = protoc.main(["protoc", f"-I{tmp}", f"--descriptor_set_out={out}", "caffe.proto"])
        assert status == 0, f"protoc failed on {proto_path}"
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return fds.file[0]


def our_file_proto() -> descriptor_pb2.FileDescriptorProto:
    """The descriptor protoc embedded in our module (CopyToProto would re-format defaults)."""
    return descriptor_pb2.FileDescriptorProto.FromString(caffe_pb2.DESCRIPTOR.serialized_pb)


@functools.lru_cache(maxsize=None)
def reference_message_class(proto_path: Path, message: str):
    """A message class from a reference proto, built in its own private pool."""
    pool = descriptor_pool.DescriptorPool()
    fdp = compile_reference(proto_path)
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{fdp.package}.{message}"))


def messages_by_name(fdp: descriptor_pb2.FileDescriptorProto) -> dict[str, descriptor_pb2.DescriptorProto]:
    """All messages, nested ones as 'Outer.Inner'."""
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def walk(msg: descriptor_pb2.DescriptorProto, prefix: str) -> None:
        found[prefix + msg.name] = msg
        for inner in msg.nested_type:
            walk(inner, f"{prefix}{msg.name}.")

    for msg in fdp.message_type:
        walk(msg, "")
    return found


def enums_by_name(fdp: descriptor_pb2.FileDescriptorProto) -> dict[str, dict[str, int]]:
    """All enums ('Outer.Enum' when nested) as {value name: number}."""
    found = {e.name: {v.name: v.number for v in e.value} for e in fdp.enum_type}
    for name, msg in messages_by_name(fdp).items():
        for e in msg.enum_type:
            found[f"{name}.{e.name}"] = {v.name: v.number for v in e.value}
    return found


class FieldSig(NamedTuple):
    number: int
    label: str
    type: str
    type_name: str
    default: str | None
    packed: bool | None


def default_of(field: descriptor_pb2.FieldDescriptorProto) -> str | None:
    """The field's default as a canonical string.

    protoc spells float defaults differently depending on the output it writes ("1e-08" in a
    descriptor set, "9.99999994e-09" in Python gencode), so floats compare by their float32
    value and doubles by their float64 value.
    """
    if not field.HasField("default_value"):
        return None
    if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT:
        return repr(struct.unpack("<f", struct.pack("<f", float(field.default_value)))[0])
    if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE:
        return repr(float(field.default_value))
    return field.default_value


def field_sig(field: descriptor_pb2.FieldDescriptorProto, package: str) -> FieldSig:
    """Everything about a field that affects the wire or text format, package-independent."""
    type_name = field.type_name.removeprefix(f".{package}.")
    return FieldSig(
        number=field.number,
        label=descriptor_pb2.FieldDescriptorProto.Label.Name(field.label),
        type=descriptor_pb2.FieldDescriptorProto.Type.Name(field.type),
        type_name=type_name,
        default=default_of(field),
        packed=field.options.packed if field.options.HasField("packed") else None,
    )


def fields_of(msg: descriptor_pb2.DescriptorProto, package: str) -> dict[str, FieldSig]:
    return {f.name: field_sig(f, package) for f in msg.field}


# --------------------------------------------------------------------------- (a) generator

@pytest.mark.skipif(_grpc_tools_version() != PINNED, reason=f"grpcio-tools {PINNED} absent")
def test_committed_module_is_what_the_pinned_generator_produces(tmp_path: Path) -> None:
    generate = _load_generate_script()
    written = generate.generate(tmp_path)
    committed_dir = REPO / "prototxt_tools" / "_proto"
    for path in written:
        assert path.read_bytes() == (committed_dir / path.name).read_bytes(), (
            f"{path.name} is stale: run python proto/generate.py")


def test_generate_script_refuses_other_generator_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    generate = _load_generate_script()
    monkeypatch.setattr(generate, "installed_generator_version", lambda: "1.75.1")
    with pytest.raises(generate.GeneratorError, match="1.76.0"):
        generate.check_generator()
    monkeypatch.setattr(generate, "installed_generator_version", lambda: None)
    with pytest.raises(generate.GeneratorError, match="not installed"):
        generate.check_generator()


def test_module_registers_our_file_and_package() -> None:
    assert caffe_pb2.DESCRIPTOR.name == "prototxt_tools_caffe.proto"
    assert caffe_pb2.DESCRIPTOR.package == OUR_PACKAGE
    assert caffe_pb2.NetParameter.DESCRIPTOR.full_name == "prototxt_tools.caffe.NetParameter"


# --------------------------------------------------------------------------- (b) upstream identity

@needs_corpus
@needs_grpc_tools
def test_every_upstream_field_is_identical_in_ours() -> None:
    upstream = compile_reference(UPSTREAM_PROTO)
    ours = our_file_proto()
    ours_msgs = messages_by_name(ours)
    problems = []
    for name, up_msg in messages_by_name(upstream).items():
        if name not in ours_msgs:
            problems.append(f"message {name} missing")
            continue
        our_fields = fields_of(ours_msgs[name], OUR_PACKAGE)
        for field_name, up_sig in fields_of(up_msg, upstream.package).items():
            got = our_fields.get(field_name)
            if got != up_sig:
                problems.append(f"{name}.{field_name}: upstream {up_sig}, ours {got}")
    assert problems == []


@needs_corpus
@needs_grpc_tools
def test_every_upstream_enum_is_identical_in_ours() -> None:
    ours = enums_by_name(our_file_proto())
    upstream = enums_by_name(compile_reference(UPSTREAM_PROTO))
    problems = [f"{name}: upstream {values}, ours {ours.get(name)}"
                for name, values in upstream.items() if ours.get(name) != values]
    assert problems == []
    assert upstream["V1LayerParameter.LayerType"]["DECONVOLUTION"] == 39  # spot check of the walk


# --------------------------------------------------------------------------- fork fidelity

# Fork fields that deliberately do NOT keep the fork's definition (see the proto comments).
DELIBERATE_DEVIATIONS = {
    ("hszhao_PSPNet", "LayerParameter.interp_param"): "143 is upstream input_param",
    ("hszhao_PSPNet", "LayerParameter.bn_param"): "SegNet's bn_param (45) is used",
    ("hszhao_PSPNet", "BNParameter.slope_filler"): "1 is SegNet's scale_filler",
    ("hszhao_PSPNet", "BNParameter.bias_filler"): "2 is SegNet's shift_filler",
    ("hszhao_PSPNet", "BNParameter.momentum"): "3 is SegNet's bn_mode",
    ("hszhao_PSPNet", "TransformationParameter.scale_factors"): "8 is SSD's resize_param",
    ("hszhao_PSPNet", "TransformationParameter.crop_width"): "9 is SSD's noise_param",
    ("hszhao_PSPNet", "TransformationParameter.crop_height"): "10 is SSD's emit_constraint",
    ("alexgkendall_caffe-segnet", "LayerParameter.upsample_param"): "137 is upstream embed_param",
    ("alexgkendall_caffe-segnet", "LayerParameter.dense_image_data_param"): "138 is upstream tile_param",
    ("alexgkendall_caffe-segnet", "DropoutParameter.sample_weights_test"): "2 is scale_train",
    ("alexgkendall_caffe-segnet", "LossParameter.weight_by_label_freqs"): "3 is upstream normalization",
    ("weiliu89_caffe", "SolverParameter.eval_type"): "41 is upstream layer_wise_reduce",
    ("weiliu89_caffe", "SolverParameter.ap_version"): "42 is upstream weights",
    ("weiliu89_caffe", "TransformationParameter.resize_param"): "repeated, as MobileNet-YOLO",
    ("eric612_MobileNet-YOLO", "UpsampleParameter.scale"): "SegNet's uint32 default 2",
}


def fork_dirs() -> list[str]:
    return sorted(p.name for p in FORK_PROTOS.iterdir()) if FORK_PROTOS.is_dir() else []


def fork_field_differences(fork: str) -> Iterator[str]:
    """Fields of `fork` that we carry under the fork's name but with another definition.

    Fields whose name upstream also has are skipped: there upstream wins (checked above).
    """
    fork_fdp = compile_reference(FORK_PROTOS / fork / "caffe.proto")
    upstream_msgs = messages_by_name(compile_reference(UPSTREAM_PROTO))
    ours_msgs = messages_by_name(our_file_proto())
    for name, fork_msg in messages_by_name(fork_fdp).items():
        if name not in ours_msgs:
            continue
        upstream_names = {f.name for f in upstream_msgs[name].field} if name in upstream_msgs else set()
        ours = fields_of(ours_msgs[name], OUR_PACKAGE)
        for field_name, fork_sig in fields_of(fork_msg, fork_fdp.package).items():
            if field_name in upstream_names or field_name not in ours:
                continue
            if ours[field_name] != fork_sig and (fork, f"{name}.{field_name}") not in DELIBERATE_DEVIATIONS:
                yield f"{name}.{field_name}: {fork} {fork_sig}, ours {ours[field_name]}"


@needs_corpus
@needs_grpc_tools
@pytest.mark.parametrize("fork", fork_dirs())
def test_fork_fields_keep_the_fork_definition(fork: str) -> None:
    assert list(fork_field_differences(fork)) == []


@needs_corpus
@needs_grpc_tools
@pytest.mark.parametrize("fork", fork_dirs())
def test_fork_enums_are_contained_in_ours(fork: str) -> None:
    ours = enums_by_name(our_file_proto())
    upstream = enums_by_name(compile_reference(UPSTREAM_PROTO))
    problems = []
    for name, values in enums_by_name(compile_reference(FORK_PROTOS / fork / "caffe.proto")).items():
        if name in upstream or name not in ours:
            continue  # upstream enums are checked above; fork enums we do not carry are skipped
        missing = {k: v for k, v in values.items() if ours[name].get(k) != v}
        if missing:
            problems.append(f"{name}: {missing}")
    assert problems == []


@needs_corpus
@needs_grpc_tools
def test_deviation_list_names_only_real_fork_fields() -> None:
    """Keeps DELIBERATE_DEVIATIONS honest: every entry is a field the fork really has."""
    for fork, qualified in DELIBERATE_DEVIATIONS:
        message, field = qualified.rsplit(".", 1)
        fork_msgs = messages_by_name(compile_reference(FORK_PROTOS / fork / "caffe.proto"))
        assert field in {f.name for f in fork_msgs[message].field}, (fork, qualified)


# --------------------------------------------------------------------------- (c) corpus files

def _reference_proto_for(notes: str) -> Path | None:
    """The proto the MANIFEST says parses a file, or None when it names none."""
    if "BVLC caffe.proto: parses" in notes:
        return UPSTREAM_PROTO
    marker = "parses with "
    if marker in notes and " fork proto" in notes:
        owner = notes.split(marker, 1)[1].split("-", 1)[0]
        matches = sorted(FORK_PROTOS.glob(f"{owner}_*/caffe.proto"))
        return matches[0] if matches else None
    return None


def corpus_cases() -> list[tuple[str, str, Path | None]]:
    """(local path, message name, reference proto) for every prototxt / solver to parse."""
    kinds = {str(p) for p in corpus_files("prototxt-")} | {str(p) for p in corpus_files("solver")}
    cases = []
    for row in corpus_manifest():
        if str(CORPUS / row["local_path"]) not in kinds:
            continue
        if row["kind"] == "solver":
            cases.append((row["local_path"], "SolverParameter", UPSTREAM_PROTO))
        elif (ref := _reference_proto_for(row["notes"])) is not None:
            cases.append((row["local_path"], "NetParameter", ref))
    return cases


@needs_corpus
@pytest.mark.parametrize("local_path,message,reference", corpus_cases(),
                         ids=[c[0] for c in corpus_cases()])
def test_corpus_file_parses_like_its_reference_proto(local_path: str, message: str,
                                                     reference: Path) -> None:
    text = (CORPUS / local_path).read_text(encoding="utf-8", errors="surrogateescape")
    ours = text_format.Parse(text, getattr(caffe_pb2, message)())
    if _grpc_tools_version() is None:
        return
    theirs_cls = reference_message_class(reference, message)
    try:
        theirs = text_format.Parse(text, theirs_cls())
    except text_format.ParseError:
        assert message == "SolverParameter", "MANIFEST says the reference proto parses this file"
        return
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


@needs_corpus
def test_corpus_cases_cover_fork_and_upstream_files() -> None:
    references = [ref for _, _, ref in corpus_cases()]
    assert references.count(UPSTREAM_PROTO) >= 100
    assert any(ref is not None and ref.parent.name == "weiliu89_caffe" for ref in references)


# --------------------------------------------------------------------------- fork vocabularies

FORK_SNIPPET = """
layer { name: "pool" type: "Pooling"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 ceil_mode: false } }
layer { name: "bn_pspnet" type: "BN"
        bn_param { slope_filler { type: "constant" value: 1 }
                   bias_filler { type: "constant" value: 0 } frozen: true momentum: 0.95 } }
layer { name: "bn_segnet" type: "BN"
        bn_param { scale_filler { type: "constant" value: 1 }
                   shift_filler { type: "constant" value: 0.001 } bn_mode: INFERENCE } }
layer { name: "interp" type: "Interp" interp_param { zoom_factor: 8 } }
layer { name: "up" type: "Upsample" upsample_param { scale: 2 upsample_h: 45 upsample_w: 60 } }
layer { name: "shuffle" type: "ShuffleChannel" shuffle_channel_param { group: 3 } }
layer { name: "roi" type: "ROIPooling"
        roi_pooling_param { pooled_w: 7 pooled_h: 7 spatial_scale: 0.0625 } }
layer { name: "norm" type: "Normalize"
        norm_param { across_spatial: false channel_shared: false
                     scale_filler { type: "constant" value: 20 } } }
layer { name: "perm" type: "Permute" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "drop" type: "Dropout" dropout_param { dropout_ratio: 0.5 sample_weights_test: true } }
"""


def test_fork_vocabularies_parse_into_the_expected_values() -> None:
    net = text_format.Parse(FORK_SNIPPET, caffe_pb2.NetParameter())
    by_name = {layer.name: layer for layer in net.layer}
    assert by_name["pool"].pooling_param.HasField("ceil_mode")
    assert by_name["pool"].pooling_param.ceil_mode is False
    pspnet_bn = by_name["bn_pspnet"].bn_param
    assert (pspnet_bn.slope_filler.value, pspnet_bn.frozen) == (1.0, True)
    assert abs(pspnet_bn.momentum - 0.95) < 1e-7
    segnet_bn = by_name["bn_segnet"].bn_param
    assert segnet_bn.bn_mode == caffe_pb2.BNParameter.INFERENCE
    assert abs(segnet_bn.shift_filler.value - 0.001) < 1e-9
    assert by_name["interp"].interp_param.zoom_factor == 8
    assert by_name["interp"].interp_param.shrink_factor == 1  # PSPNet's default
    up = by_name["up"].upsample_param
    assert (up.scale, up.upsample_h, up.upsample_w) == (2, 45, 60)
    assert by_name["shuffle"].shuffle_channel_param.group == 3
    roi = by_name["roi"].roi_pooling_param
    assert (roi.pooled_w, roi.pooled_h, roi.spatial_scale) == (7, 7, 0.0625)
    assert by_name["norm"].norm_param.scale_filler.value == 20.0
    assert by_name["norm"].norm_param.eps == pytest.approx(1e-10)  # SSD's default
    assert list(by_name["perm"].permute_param.order) == [0, 2, 3, 1]
    assert by_name["drop"].dropout_param.sample_weights_test is True
    assert by_name["drop"].dropout_param.scale_train is True  # Faster R-CNN's default


# --------------------------------------------------------------------------- (d) coexistence

COEXIST_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
first = sys.argv[2]
if first == "upstream":
    import caffe_pb2 as upstream
    from prototxt_tools.schema import caffe_pb2 as ours
else:
    from prototxt_tools.schema import caffe_pb2 as ours
    import caffe_pb2 as upstream
from google.protobuf import descriptor_pool, text_format
text = 'name: "n" layer { name: "c" type: "Convolution" convolution_param { num_output: 3 kernel_size: 1 } }'
a = text_format.Parse(text, upstream.NetParameter())
b = text_format.Parse(text, ours.NetParameter())
assert a.SerializeToString() == b.SerializeToString()
pool = descriptor_pool.Default()
assert pool.FindFileByName("caffe.proto").package == "caffe"
assert pool.FindFileByName("prototxt_tools_caffe.proto").package == "prototxt_tools.caffe"
assert upstream.NetParameter.DESCRIPTOR.full_name == "caffe.NetParameter"
assert ours.NetParameter.DESCRIPTOR.full_name == "prototxt_tools.caffe.NetParameter"
print("coexist-ok")
"""


@needs_corpus
@needs_grpc_tools
@pytest.mark.parametrize("first", ["upstream", "ours"])
def test_module_coexists_with_upstream_caffe_pb2(tmp_path: Path, first: str) -> None:
    from grpc_tools import protoc

    shutil.copy(UPSTREAM_PROTO, tmp_path / "caffe.proto")
    assert protoc.main(["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", "caffe.proto"]) == 0
    result = subprocess.run(
        [sys.executable, "-c", COEXIST_SCRIPT, str(tmp_path), first],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "coexist-ok" in result.stdout
