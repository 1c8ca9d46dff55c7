"""The primitive ops, one ``Function`` each, forward beside backward, the math in the
docstring. Read them in this order: unary.py, binary.py, reduce.py, movement.py, matmul.py
(shims.py holds what their backward formulas share); then the wider set built on them:
trig.py, elementwise.py, activation.py, scan.py, shape.py, linalg.py."""

from tinygrad_bp.engine.ops.activation import (
    Elu,
    Hardtanh,
    LeakyRelu,
    Softplus,
    elu,  # noqa: F401  (an op function, re-exported)
    gelu,  # noqa: F401  (an op function, re-exported)
    hardswish,  # noqa: F401  (an op function, re-exported)
    hardtanh,  # noqa: F401  (an op function, re-exported)
    leaky_relu,  # noqa: F401  (an op function, re-exported)
    mish,  # noqa: F401  (an op function, re-exported)
    relu6,  # noqa: F401  (an op function, re-exported)
    silu,  # noqa: F401  (an op function, re-exported)
    softplus,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.binary import (
    Add,
    Div,
    Maximum,
    Minimum,
    Mul,
    Pow,
    Sub,
    Where,
    maximum,  # noqa: F401  (an op function, re-exported)
    minimum,  # noqa: F401  (an op function, re-exported)
    where,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.elementwise import (
    Erf,
    Expm1,
    Log1p,
    Log2,
    Log10,
    Mod,
    Sign,
    erf,  # noqa: F401  (an op function, re-exported)
    expm1,  # noqa: F401  (an op function, re-exported)
    log1p,  # noqa: F401  (an op function, re-exported)
    log2,  # noqa: F401  (an op function, re-exported)
    log10,  # noqa: F401  (an op function, re-exported)
    mod,  # noqa: F401  (an op function, re-exported)
    sign,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.linalg import (
    einsum,  # noqa: F401  (an op function, re-exported)
    outer,  # noqa: F401  (an op function, re-exported)
    tensordot,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.matmul import MatMul, dtype_mismatch  # noqa: F401
from tinygrad_bp.engine.ops.movement import (
    BroadcastTo,
    Concatenate,
    GetItem,
    IndexAdd,
    Reshape,
    Transpose,
    concatenate,  # noqa: F401  (an op function, re-exported)
    stack,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.reduce import (
    LogSoftmax,
    LogSumExp,
    Max,
    Mean,
    Min,
    Softmax,
    Sum,
    log_softmax,  # noqa: F401  (an op function, re-exported)
    logsumexp,  # noqa: F401  (an op function, re-exported)
    softmax,  # noqa: F401  (an op function, re-exported)
    var,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.scan import (
    CumProd,
    CumSum,
    Norm2,
    Prod,
    Svdvals,
    norm,  # noqa: F401  (an op function, re-exported)
    std,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.shape import (
    Flip,
    Pad,
    Roll,
    chunk,  # noqa: F401  (an op function, re-exported)
    diag,  # noqa: F401  (an op function, re-exported)
    diagonal,  # noqa: F401  (an op function, re-exported)
    linspace,  # noqa: F401  (an op function, re-exported)
    pad,  # noqa: F401  (an op function, re-exported)
    ravel,  # noqa: F401  (an op function, re-exported)
    repeat,  # noqa: F401  (an op function, re-exported)
    rot90,  # noqa: F401  (an op function, re-exported)
    scatter_add,  # noqa: F401  (an op function, re-exported)
    split,  # noqa: F401  (an op function, re-exported)
    take_along_axis,  # noqa: F401  (an op function, re-exported)
    tile,  # noqa: F401  (an op function, re-exported)
    trace,  # noqa: F401  (an op function, re-exported)
    tril,  # noqa: F401  (an op function, re-exported)
    triu,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.sums import reduce_sum, sum_rows  # noqa: F401
from tinygrad_bp.engine.ops.trig import (
    Arccos,
    Arcsin,
    Arctan,
    Arctan2,
    Cos,
    Cosh,
    Hypot,
    Sin,
    Sinh,
    Tan,
    arccos,  # noqa: F401  (an op function, re-exported)
    arcsin,  # noqa: F401  (an op function, re-exported)
    arctan,  # noqa: F401  (an op function, re-exported)
    arctan2,  # noqa: F401  (an op function, re-exported)
    cos,  # noqa: F401  (an op function, re-exported)
    cosh,  # noqa: F401  (an op function, re-exported)
    hypot,  # noqa: F401  (an op function, re-exported)
    sin,  # noqa: F401  (an op function, re-exported)
    sinh,  # noqa: F401  (an op function, re-exported)
    tan,  # noqa: F401  (an op function, re-exported)
)
from tinygrad_bp.engine.ops.unary import (
    Abs,
    Cast,
    Clip,
    Clone,
    Exp,
    Log,
    Neg,
    Relu,
    Sigmoid,
    Sqrt,
    Tanh,
)

__all__ = [
    "Abs",
    "Add",
    "Arccos",
    "Arcsin",
    "Arctan",
    "Arctan2",
    "BroadcastTo",
    "Cast",
    "Clip",
    "Clone",
    "Concatenate",
    "Cos",
    "Cosh",
    "CumProd",
    "CumSum",
    "Div",
    "Elu",
    "Erf",
    "Exp",
    "Expm1",
    "Flip",
    "GetItem",
    "Hardtanh",
    "Hypot",
    "IndexAdd",
    "LeakyRelu",
    "Log",
    "Log1p",
    "Log2",
    "Log10",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mod",
    "Mul",
    "Neg",
    "Norm2",
    "Pad",
    "Pow",
    "Prod",
    "Relu",
    "Reshape",
    "Roll",
    "Sigmoid",
    "Sign",
    "Sin",
    "Sinh",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Sub",
    "Sum",
    "Svdvals",
    "Tan",
    "Tanh",
    "Transpose",
    "Where",
]
