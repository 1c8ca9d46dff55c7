"""The primitive ops, one ``Function`` each, forward beside backward, the math in the
docstring. Read them in this order: unary.py, binary.py, reduce.py, movement.py, matmul.py
(shims.py holds what their backward formulas share)."""

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
from tinygrad_bp.engine.ops.sums import reduce_sum, sum_rows  # noqa: F401
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
    "BroadcastTo",
    "Cast",
    "Clip",
    "Clone",
    "Concatenate",
    "Div",
    "Exp",
    "GetItem",
    "IndexAdd",
    "Log",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "Pow",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Where",
]
