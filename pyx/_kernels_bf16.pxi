# _kernels_bf16.pxi -- the bfloat16 matrix products of the linear head
# (fx_bf16.h): C (+)= A B in float32 (B packed inside, a k block at a
# time), the gradient rounded to bfloat16 in the two layouts its products
# read.  Part of _kernels.pyx, included there.  bfloat16 arrays arrive as
# their uint16 bits.  The shapes are checked here (the C reads by strides
# it is given); values are the Python layer's business.


def bf16_cpu():
    """True when this CPU has AVX512-BF16 and the build has its code."""
    return bool(fx_bf16_cpu())


def bf16_ready():
    """True when the bfloat16 head runs now: bf16_cpu() and the avx512
    path selected."""
    return bool(fx_bf16_ready())


def bf16_gemm(const uint16_t[::1] A, long ars, long aks, long M, const uint16_t[:, :] B, int k_axis,
              float[:, ::1] C, bint accumulate, int nt=0):
    """C (M x N) = A B (+= with accumulate) with A read by strides (ars per
    row, aks per pair of k, in elements; every pair below (K + 1) / 2 in
    range) and B given by a bfloat16 matrix of any strides: B[k, n] =
    B_[n, k] for k_axis 1 (a torch.nn.Linear weight (V, H) for the
    logits), B_[k, n] for k_axis 0.  B is packed inside, a block of k at
    a time.  Returns (K, N)."""
    cdef long R = B.shape[0], Cn = B.shape[1]
    cdef long rs = B.strides[0] // 2, cs = B.strides[1] // 2
    cdef long K = Cn if k_axis == 1 else R
    cdef long N = R if k_axis == 1 else Cn
    cdef long sk = cs if k_axis == 1 else rs
    cdef long sn = rs if k_axis == 1 else cs
    cdef long kp2 = (K + 1) // 2
    if k_axis not in (0, 1):
        raise ValueError("fusedxent kernel: k_axis must be 0 or 1")
    if not fx_bf16_ready():
        raise RuntimeError("fusedxent kernel: the bfloat16 products need AVX512-BF16 on the avx512 path")
    if C.shape[0] < M or C.shape[1] < N:
        raise ValueError("fusedxent kernel: C is smaller than M x N")
    if M > 0 and kp2 > 0 and (M - 1) * ars + (kp2 - 1) * aks + 2 > A.shape[0]:
        raise ValueError("fusedxent kernel: A's strides reach past its end")
    if M == 0 or N == 0:
        return K, N
    with nogil:
        fx_bf16_gemm(M, N, K, &A[0] if kp2 > 0 else NULL, ars, aks, &B[0, 0] if kp2 > 0 else NULL, sk, sn,
                     &C[0, 0], C.shape[1], accumulate, nt)
    return K, N


def bf16_rows(const float[:, ::1] G, uint16_t[:, ::1] out, int nt=0):
    """out[:, :N] = bfloat16(G) rounded to nearest even, and a zero column
    after it when N is odd (out (M, N rounded up to even))."""
    cdef long M = G.shape[0], N = G.shape[1]
    if out.shape[0] != M or out.shape[1] != N + (N & 1):
        raise ValueError("fusedxent kernel: out must be (M, N rounded up to even)")
    if not fx_bf16_ready():
        raise RuntimeError("fusedxent kernel: the bfloat16 conversions need AVX512-BF16 on the avx512 path")
    if M > 0 and N > 0:
        with nogil:
            fx_bf16_rows(M, N, &G[0, 0], N, &out[0, 0], out.shape[1], nt)


def bf16_pairs(const float[:, ::1] G, uint16_t[:, :, ::1] out, int nt=0):
    """out[p, n, r] = bfloat16(G[2p + r, n]) (zero past the last row):
    out ((M + 1) // 2, N, 2)."""
    cdef long M = G.shape[0], N = G.shape[1]
    if out.shape[0] != (M + 1) // 2 or out.shape[1] != N or out.shape[2] != 2:
        raise ValueError("fusedxent kernel: out must be ((M + 1) // 2, N, 2)")
    if not fx_bf16_ready():
        raise RuntimeError("fusedxent kernel: the bfloat16 conversions need AVX512-BF16 on the avx512 path")
    if M > 0 and N > 0:
        with nogil:
            fx_bf16_pairs(M, N, &G[0, 0], N, &out[0, 0, 0], nt)
