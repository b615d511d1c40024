"""Fields our schema carries that BVLC Caffe's does not, by message and fork (for rule W001).

The schema (proto/prototxt_tools_caffe.proto) adds fork fields so fork models parse; BVLC Caffe
refuses them.  This table names the fork of each; tests compare it with the upstream caffe.proto
in the corpus, so a field added to the schema without an entry here fails the build.
"""

from __future__ import annotations

from .layer_types import FASTER_RCNN, MOBILENET_YOLO, PSPNET, RFCN, SEGNET, SHUFFLENET, SSD

CEIL_MODE_FORKS = "forks that took the unmerged upstream ceil_mode proposal"

FORK_FIELDS: dict[str, dict[str, str]] = {
    "LayerParameter": {
        **dict.fromkeys(("annotated_data_param", "multibox_loss_param", "permute_param",
                         "prior_box_param", "detection_output_param", "detection_evaluate_param",
                         "norm_param", "video_data_param"), SSD),
        "roi_pooling_param": FASTER_RCNN, "smooth_l1_loss_param": FASTER_RCNN,
        "psroi_pooling_param": RFCN,
        "bn_param": f"{SEGNET} / {PSPNET}", "dense_image_data_param": SEGNET,
        "interp_param": PSPNET,
        **dict.fromkeys(("reorg_param", "upsample_param", "relu6_param", "region_loss_param",
                         "yolo_detection_output_param", "yolov3_detection_output_param",
                         "yolov3_param", "yolo_seg_param", "segmentation_evaluate_param"),
                        MOBILENET_YOLO),
        "shuffle_channel_param": SHUFFLENET,
    },
    "TransformationParameter": {
        **dict.fromkeys(("resize_param", "noise_param", "emit_constraint", "crop_h", "crop_w",
                         "distort_param", "expand_param"), SSD),
        **dict.fromkeys(("enable_classf_aug", "min_scaling_factor", "max_scaling_factor",
                         "max_rotation_angle", "contrast_brightness_adjustment",
                         "smooth_filtering", "min_contrast", "max_contrast",
                         "max_brightness_shift", "max_smooth", "max_color_shift", "min_side_min",
                         "min_side_max", "min_side", "apply_probability", "debug_params",
                         "cvt_bgr2rgb"), MOBILENET_YOLO),
        "scale_factors": PSPNET, "crop_width": f"{SEGNET} / {PSPNET}",
        "crop_height": f"{SEGNET} / {PSPNET}",
    },
    "LossParameter": {"weight_by_label_freqs": SEGNET, "class_weighting": SEGNET},
    "BatchNormParameter": {"update_global_stats": PSPNET},
    "DropoutParameter": {"scale_train": FASTER_RCNN, "sample_weights_test": SEGNET},
    "ImageDataParameter": {"ignore_label": PSPNET, "label_type": PSPNET},
    "PoolingParameter": {"ceil_mode": CEIL_MODE_FORKS},
    "Datum": {"seg_label": MOBILENET_YOLO},
    "SolverParameter": {
        **dict.fromkeys(("eval_type", "ap_version", "show_per_class_result", "plateau_winsize"),
                        SSD),
        "stagelr": MOBILENET_YOLO, "stageiter": MOBILENET_YOLO,
    },
    "SolverState": {"minimum_loss": SSD, "iter_last_event": SSD},
}

FORK_ONLY_PARAMS: dict[str, str] = {
    # Fork layer parameters our schema leaves out because their field numbers clash with more
    # widely used ones; the reader skips them as unknown fields.
    **dict.fromkeys(("bias_channel_param", "adaptive_bias_channel_param", "dense_crf_param",
                     "domain_transform_param", "mat_read_param", "mat_write_param",
                     "seg_accuracy_param", "unique_label_param"), PSPNET),
}

