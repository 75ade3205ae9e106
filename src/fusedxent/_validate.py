"""Input checks and layout shared by the public API and the reference.

Everything a kernel must not have to think about happens here: dtypes,
shapes, option values, label ranges.  Errors follow NumPy's split:
TypeError for the wrong kind of array, ValueError for wrong shapes, values
and options, each message naming the argument.
"""
import math
import numbers
import operator

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def is_bfloat16(dtype):
    """ml_dtypes' bfloat16 (what JAX and TPU pipelines hand to NumPy),
    recognized without importing ml_dtypes."""
    return dtype.kind == "V" and dtype.itemsize == 2 and dtype.name == "bfloat16"


def is_real(dtype):
    """A dtype whose values are read as real weights or targets: bool,
    integers, NumPy floats and bfloat16 (read as its values, as float16 is)."""
    return dtype.kind in "biuf" or is_bfloat16(dtype)


def is_half(dtype):
    """The 16-bit float types the kernels convert to float32 block by block."""
    return dtype == np.float16 or is_bfloat16(dtype)


def float_array(x, name, allow_0d=True):
    """`x` as an ndarray of a float dtype (float16, bfloat16, float32,
    float64); integer and bool input becomes float64, other floats
    (longdouble) float64."""
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, not None")
    try:
        a = np.asarray(x)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"{name} could not be converted to an array: {e}") from None
    kind = a.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
    if kind in "biu":
        a = a.astype(np.float64)
    elif kind == "f":
        if a.dtype.itemsize > 8:
            a = a.astype(np.float64)
        elif not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
    elif not is_bfloat16(a.dtype):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype}")
    if not allow_0d and a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the class axis), got a 0-d array")
    return a


def compute_dtype(dtype):
    """Kernels run in float32 or float64; the 16-bit types compute in float32."""
    return np.dtype(np.float32) if is_half(dtype) else np.dtype(dtype)


def partner_dtype(target_dtype, logits_dtype):
    """The dtype the kernels read targets (soft CE, BCE) in: the logits'
    dtype -- except beside 16-bit logits, where 16-bit targets stay as they
    are (converted exactly with the logits) and any other target is read as
    float32, never rounded to 16 bits."""
    if is_half(logits_dtype):
        return target_dtype if is_half(target_dtype) else np.dtype(np.float32)
    return np.dtype(logits_dtype)


def axis_index(axis, ndim, name="axis"):
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(axis).__name__}") from None
    if not -ndim <= ax < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return ax % ndim


def reduction(r):
    if r not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {r!r}")
    return r


def log_base(base):
    """1/ln(base): the factor that turns nats into units of `base`."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a positive real number or None, got {type(base).__name__}")
    b = float(base)
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ValueError(f"base must be positive, finite and != 1, got {base!r}")
    return 1.0 / math.log(b)


def unit_interval(v, name, lo_open=False, hi_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    v = float(v)
    ok = (v > 0 if lo_open else v >= 0) and (v < 1 if hi_open else v <= 1)
    if not ok:
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {lb}0, 1{rb}, got {v!r}")
    return v


def nonneg(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    v = float(v)
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    return v


def common_float(a, b):
    """The float dtype of a call on two float operands: theirs when equal,
    float64 when either is, else float32 (mixed 16-bit types compute and
    return float32)."""
    if a == b:
        return np.dtype(a)
    if a == np.float64 or b == np.float64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def machine_eps(dtype):
    """np.finfo(dtype).eps, bfloat16 included (8 significant bits: 2**-7)."""
    return 2.0 ** -7 if is_bfloat16(np.dtype(dtype)) else float(np.finfo(dtype).eps)


def clip_eps(eps, dtype):
    if isinstance(eps, str):
        if eps != "auto":
            raise ValueError(f"eps must be 'auto' or a number in (0, 0.5), got {eps!r}")
        return machine_eps(dtype)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be 'auto' or a real number, got {type(eps).__name__}")
    e = float(eps)
    if not 0 < e < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
    return e


MAX_THREADS = 1024


def num_threads(n):
    """None (the OpenMP default) or 1..MAX_THREADS.  Results never depend
    on the thread count, so the bound only keeps a typo (2**31) from
    reaching OpenMP as a request for that many threads."""
    if n is None:
        return None
    n = positive_int(n, "num_threads", "a positive integer or None")
    if n > MAX_THREADS:
        raise ValueError(f"num_threads must be at most {MAX_THREADS}, got {n}")
    return n


def weight_vector(w, n, name, what):
    """A real 1-D float64 vector of length n (a scalar is broadcast)."""
    a = np.asarray(w)
    if not is_real(a.dtype):
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        a = np.broadcast_to(a, (n,))
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) ({what}), got {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64)


def check_sample_weight(a, shape):
    """dtype and shape of a sample weight (anything with .dtype and .shape)."""
    if not is_real(a.dtype):
        raise TypeError(f"sample_weight must be real numbers, got dtype {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"sample_weight must have shape {tuple(shape)} (one weight per row), got {a.shape}")


def sample_weight(sw, shape):
    a = np.asarray(sw)
    check_sample_weight(a, shape)
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def class_labels(target, C, ignore_index, name="target", check=True):
    """Integer labels as a flat int64 array, every value in [0, C) or equal
    to ignore_index; the first offending position and value are named.
    check=False leaves the range to the caller (the kernels check it tile
    by tile; the caller calls again with check=True to name an offender)."""
    y = np.asarray(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    flat = y.reshape(-1)
    if flat.size:
        if y.dtype == np.uint64 and flat.max() > np.iinfo(np.int64).max:
            pos = int(np.argmax(flat > np.iinfo(np.int64).max))
            raise ValueError(f"{name} value {int(flat[pos])} at index {_at(y, pos)} is out of range [0, {C})")
        lo, hi = (flat.min(), flat.max()) if check else (0, 0)
        if lo < 0 or hi >= C:
            # in chunks, so that checking labels never allocates more than
            # a few hundred kB whatever the batch size
            for c0 in range(0, flat.size, 1 << 16):
                part = flat[c0:c0 + (1 << 16)]
                bad = ((part < 0) | (part >= C)) & (part != ignore_index)
                if bad.any():
                    pos = c0 + int(np.argmax(bad))
                    raise ValueError(f"{name} value {int(flat[pos])} at index {_at(y, pos)} is out of range "
                                     f"[0, {C}) and is not ignore_index={ignore_index}")
    return np.ascontiguousarray(flat, dtype=np.int64)


def _at(a, pos):
    idx = np.unravel_index(pos, a.shape) if a.ndim else ()
    return tuple(int(i) for i in idx) if a.ndim != 1 else int(idx[0])


def ignore_index(v):
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"ignore_index must be an integer, got {type(v).__name__}") from None
    if not -(1 << 63) <= i < (1 << 63):
        raise ValueError(f"ignore_index must fit in int64, got {i}")
    return i


def out_array(out, shape, dtype, name):
    """Check a caller's out=/grad_out= array before anything is written."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def as_kernel_layout(a, dtype):
    """`a` in `dtype`, native byte order, aligned and C-contiguous (what the
    kernels' memoryviews take); copies only when one of those fails."""
    if a.dtype != dtype or not a.dtype.isnative or not a.flags.aligned or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


def rows_view(x, axis):
    """(2-D (rows, classes) view or copy with the class axis last, moved shape)."""
    xm = x if axis == x.ndim - 1 else np.moveaxis(x, axis, -1)   # moveaxis costs ~8 us
    rows = -1 if xm.shape[-1] else int(np.prod(xm.shape[:-1]))   # -1 is ambiguous with no classes
    return xm.reshape(rows, xm.shape[-1]), xm.shape


def target_kind(target, shape, idx_shape, ax):
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        if t.shape != tuple(idx_shape):
            raise ValueError(f"integer target (class indices) must have shape {tuple(idx_shape)}, "
                             f"the logits' shape {tuple(shape)} without axis {ax}; got {t.shape}")
        return "index", t
    if t.dtype.kind == "f" or is_bfloat16(t.dtype):
        if t.shape == tuple(shape):
            return "prob", t
        if t.shape == tuple(idx_shape):
            raise TypeError(f"target of shape {t.shape} looks like class indices but has float dtype "
                            f"{t.dtype}: class indices must be integers (probability targets need "
                            f"the logits' shape {tuple(shape)})")
        raise ValueError(f"float target (class probabilities) must have the logits' shape {tuple(shape)}; "
                         f"got {t.shape}")
    raise TypeError(f"target must be integer class indices or float probabilities, got dtype {t.dtype}")


def bce_target(target, shape):
    t = np.asarray(target)
    if not is_real(t.dtype):
        raise TypeError(f"target must be real numbers (0/1 labels or probabilities), got dtype {t.dtype}")
    if t.shape != tuple(shape):
        raise ValueError(f"target must have the logits' shape {tuple(shape)}, got {t.shape}")
    return t


def bce_weight(weight, shape, name):
    if weight is None:
        return None
    w = np.asarray(weight)
    check_bce_weight(w, shape, name)
    return w.astype(np.float64, copy=False)   # a float64 broadcast view stays a view


def check_bce_weight(w, shape, name):
    """dtype of an element weight and that it broadcasts to `shape`."""
    if not is_real(w.dtype):
        raise TypeError(f"{name} must be real numbers, got dtype {w.dtype}")
    try:
        np.broadcast_shapes(w.shape, tuple(shape))
        if np.broadcast_shapes(w.shape, tuple(shape)) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ValueError(f"{name} of shape {w.shape} does not broadcast to the logits' shape {tuple(shape)}") from None


def pos_weight(pos_weight, shape):
    if pos_weight is None:
        return None
    pw = np.asarray(pos_weight)
    if not is_real(pw.dtype):
        raise TypeError(f"pos_weight must be real numbers, got dtype {pw.dtype}")
    L = shape[-1] if len(shape) else 1
    if pw.ndim > 1 or (pw.ndim == 1 and pw.shape[0] not in (1, L)):
        raise ValueError(f"pos_weight must be a scalar or have shape ({L},) (the logits' last axis), "
                         f"got {pw.shape}")
    return pw.astype(np.float64)


def npy_file(path, what):
    """Check a `.npy` file before it is memory-mapped: it exists, starts
    with NumPy's magic string, has a readable header, holds no Python
    objects and is as long as its header says.  Returns (shape, dtype,
    fortran_order); raises FileNotFoundError or a ValueError naming the file
    and what is wrong (np.load's own messages -- "mmap length is greater
    than file size", "pickled data" -- name neither)."""
    import os
    from numpy.lib import format as npf

    p = os.fspath(path)
    with open(p, "rb") as f:          # FileNotFoundError names the path itself
        head = f.read(npf.MAGIC_LEN)
        if head[:2] == b"PK":
            raise ValueError(f"{what} file {p!r} is a .npz archive (several arrays); "
                             f"pass one of its arrays saved as .npy")
        if len(head) < npf.MAGIC_LEN or not head.startswith(npf.MAGIC_PREFIX):
            raise ValueError(f"{what} file {p!r} is not a .npy file: the magic string "
                             f"{npf.MAGIC_PREFIX!r} is missing")
        f.seek(0)
        try:
            version = npf.read_magic(f)
            read = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
            shape, fortran, dtype = read(f)
        except (ValueError, SyntaxError) as e:
            raise ValueError(f"{what} file {p!r} has a damaged .npy header: {e}") from None
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{what} file {p!r} holds Python objects (dtype {dtype}): not supported "
                         f"(it cannot be memory-mapped; save numbers)")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = os.path.getsize(p)
    if actual < expected:
        raise ValueError(f"{what} file {p!r} is truncated: its header promises shape {shape} of "
                         f"{dtype}, expected {expected} bytes, the file has {actual}")
    return shape, dtype, fortran


MAX_TOPK = 16
MAX_BINS = 1 << 20     # bin indices stay exact in float32 arithmetic and int32


def positive_int(v, name, what="a positive integer"):
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be {what}, got {type(v).__name__}") from None
    if i < 1:
        raise ValueError(f"{name} must be >= 1, got {i}")
    return i


def eval_options(topk, calibration_bins, per_class, C=None):
    """(sorted unique top-k values, bins or None, per_class as False, True
    or "confusion") of evaluate, checked."""
    if isinstance(topk, (str, bytes)) or not hasattr(topk, "__iter__"):
        topk = (topk,)
    ks = tuple(sorted({positive_int(q, "topk values") for q in topk}))
    if not ks:
        raise ValueError("topk must hold at least one k")
    if sum(1 for q in ks if q > 1) > MAX_TOPK:
        raise ValueError(f"topk holds at most {MAX_TOPK} values above 1, got {len(ks)}")
    B = None if calibration_bins is None else positive_int(calibration_bins, "calibration_bins")
    if B is not None and B > MAX_BINS:
        raise ValueError(f"calibration_bins must be at most {MAX_BINS}, got {B}")
    if isinstance(per_class, str):
        if per_class != "confusion":
            raise ValueError(f'per_class must be False, True or "confusion", got {per_class!r}')
    else:
        per_class = bool(per_class)
    if per_class == "confusion" and C is not None and C > 1024:
        raise ValueError(f'per_class="confusion" needs at most 1024 classes (a C x C matrix), got {C}')
    return ks, B, per_class


def linear_operands(hidden, linear_weight, target, linear_bias):
    """Validated (h2 (N, H), W (V, H), y (N,) int64 (None for target None),
    b or None, the compute dtype, hidden's shape and dtype) -- every check
    before any work."""
    h = float_array(hidden, "hidden")
    W = float_array(linear_weight, "linear_weight")
    if h.ndim < 1:
        raise ValueError("hidden must have at least one dimension (the feature axis H), got a 0-d array")
    if W.ndim != 2:
        raise ValueError(f"linear_weight must be 2-D (V, H) as torch.nn.Linear stores it, got shape {W.shape}")
    Vn, H = W.shape
    if h.shape[-1] != H:
        raise ValueError(f"hidden has {h.shape[-1]} features on its last axis, linear_weight {W.shape} has {H}")
    if Vn == 0:
        raise ValueError("linear_weight has zero classes (V = 0)")
    b = None
    if linear_bias is not None:
        b = float_array(linear_bias, "linear_bias")
        if b.shape != (Vn,):
            raise ValueError(f"linear_bias must have shape ({Vn},) (one per class of linear_weight), got {b.shape}")
    if compute_dtype(h.dtype) != compute_dtype(W.dtype) or (
            b is not None and compute_dtype(b.dtype) != compute_dtype(W.dtype)):
        raise TypeError(f"hidden ({h.dtype}), linear_weight ({W.dtype}) and linear_bias "
                        f"({None if b is None else b.dtype}) must compute in one precision (float32, with "
                        f"float16/bfloat16 beside it, or float64)")
    dt = compute_dtype(W.dtype)
    idx_shape = h.shape[:-1]
    if target is None:          # (distillation without a hard term)
        return h.reshape(math.prod(idx_shape), H), W, None, b, dt, h.shape, h.dtype
    y = np.asarray(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices (linear_cross_entropy takes no "
                        f"probability targets), got dtype {y.dtype}")
    if y.shape != idx_shape:
        raise ValueError(f"target must have shape {idx_shape} (hidden's shape without its last axis), got {y.shape}")
    # the row count spelled out: reshape(-1, 0) is ambiguous when H = 0
    return h.reshape(math.prod(idx_shape), H), W, y, b, dt, h.shape, h.dtype


def bf16_bits(a):
    """A 2-D array's values as bfloat16 bits (uint16, C-contiguous):
    bfloat16 as stored, else rounded from float32 to nearest even (NaN
    kept NaN), as vcvtneps2bf16 and ml_dtypes round."""
    if is_bfloat16(a.dtype):
        return np.ascontiguousarray(a).view(np.uint16)
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    r = ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    if nan.any():
        r[nan] = (u[nan] >> 16).astype(np.uint16) | 0x40
    return r


def bf16_round(a):
    """a rounded to bfloat16 values, as float32 (the inputs of
    compute_dtype="bfloat16" where the CPU has no bfloat16 products)."""
    return (bf16_bits(a).astype(np.uint32) << 16).view(np.float32)


def check_compute_dtype(cd, dtype):
    """compute_dtype's value `cd`, and that "bfloat16" has float32 (or
    16-bit) inputs to round."""
    if cd not in (None, "float32", "bfloat16"):
        raise ValueError(f"compute_dtype must be None, 'float32' or 'bfloat16', got {cd!r}")
    if cd == "bfloat16" and compute_dtype(dtype) != np.float32:
        raise TypeError(f"compute_dtype='bfloat16' rounds float32 (or 16-bit) inputs, got {dtype}")
