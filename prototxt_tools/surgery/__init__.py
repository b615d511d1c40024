"""Net surgery on prototxt files and their weights.

- :func:`convert_fc_to_conv` (+ :func:`write_fc_to_conv_weights`): every InnerProduct becomes
  the equivalent Convolution, by minimal text edits, weights reshaped into a new caffemodel;
- :func:`make_deploy`: a train_val net becomes its deploy net (TEST phase, Input layers instead
  of data layers, no loss/accuracy layers, the activation a loss applied (Softmax/Sigmoid
  ``prob``) after the classifier).
"""

from ..fileio import refuse_overwriting, same_file
from .deploy import DeployResult, make_deploy
from .fc_to_conv import (FcConversion, FcToConvResult, convert_fc_to_conv, fc_to_conv_edits,
                         plan_fc_to_conv, verify_conversion)
from .fc_weights import (NAMES_KEPT, OLD_WEIGHTS_WONT_FIT, convert_fc_weights, fc_to_conv_files,
                         reshape_fc_blobs, write_fc_to_conv_weights)
from .output import write_net_text

__all__ = [
    "FcConversion", "FcToConvResult", "convert_fc_to_conv", "fc_to_conv_edits",
    "plan_fc_to_conv", "verify_conversion", "convert_fc_weights", "fc_to_conv_files", "reshape_fc_blobs",
    "write_fc_to_conv_weights", "same_file", "refuse_overwriting", "write_net_text", "NAMES_KEPT", "OLD_WEIGHTS_WONT_FIT",
    "DeployResult", "make_deploy",
]
