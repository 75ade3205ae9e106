/* fx_simd_rows.h -- the row kernels written once against the row's
 * vector vocabulary (fx_vec_<isa>.h): one row (or two) at a time, along
 * the classes -- the maximum, the first argmax, the exp-sums (with the
 * label's term skipped, with evaluate's extra statistics, with the exps
 * written out), and the two-pass kernel of mid-size rows where the
 * vocabulary asks for it.  Each sets FX_HAS_<name>; fx_rows.h skips its
 * portable twin.  Included by fx_kernels.h after fx_simd_math.h. */

/* ---------------------------------------------------------------- row primitives */

#define FX_HAS_rowmax 1
/* max_j x_j, NaN skipped (max_ps returns its second operand for a NaN:
 * the running maximum is always that operand). */
static FX_T FN(rowmax)(const FX_T *x, ptrdiff_t n)
{
    VT m0 = VSET(-FX_INF), m1 = m0, m2 = m0, m3 = m0;
    ptrdiff_t j = 0;
    for (; j + 4 * VL <= n; j += 4 * VL) {
        m0 = VMAX(VLOADU(x + j), m0);
        m1 = VMAX(VLOADU(x + j + VL), m1);
        m2 = VMAX(VLOADU(x + j + 2 * VL), m2);
        m3 = VMAX(VLOADU(x + j + 3 * VL), m3);
    }
    for (; j + VL <= n; j += VL) m0 = VMAX(VLOADU(x + j), m0);
    if (j < n) m1 = VMAX(VLOADM(x + j, MTAIL(n - j), -FX_INF), m1);
    return VHMAX(VMAX(VMAX(m0, m1), VMAX(m2, m3)));
}

#define FX_HAS_first_eq 1
/* First j with x_j == m, or -1. */
static ptrdiff_t FN(first_eq)(const FX_T *x, ptrdiff_t n, FX_T m)
{
    const VT vm = VSET(m);
    ptrdiff_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        MT a = VEQ(VLOADU(x + j), vm), b = VEQ(VLOADU(x + j + VL), vm);
        unsigned ba = MBITS(a), bb = MBITS(b);
        if (ba | bb)
            return ba ? j + __builtin_ctz(ba) : j + VL + __builtin_ctz(bb);
    }
    for (; j < n; j += VL) {
        MT t = n - j >= VL ? VEQ(VLOADU(x + j), vm)
                           : VEQ(VLOADM(x + j, MTAIL(n - j), (FX_T)NAN), vm);
        unsigned bt = MBITS(t);
        if (bt) return j + __builtin_ctz(bt);
    }
    return -1;
}

#define FX_HAS_sumexp_skip 1
/* sum over j in [j0, j1) of exp(x_j - m), whole vectors (j1 - j0 a
 * multiple of VL), runs of 8 vectors folded into double */
FX_INLINE void FN(vsum_run)(const FX_T *x, ptrdiff_t j0, ptrdiff_t j1, const VT vm, DT *d0, DT *d1,
                            const FX_T *pf)
{
    DT e0 = *d0, e1 = *d1;
    ptrdiff_t j = j0;
    for (; j + 8 * VL <= j1; j += 8 * VL) {
        if (pf)      /* the next row streams in while this one computes */
            for (int q = 0; q < 8 * VL; q += 64 / (int)sizeof(FX_T)) FX_PREFETCH(pf + j + q, FX_PF_LOCALITY);
        VT a0 = FN(vexp_sum)(VSUB(VLOADU(x + j), vm));
        VT a1 = FN(vexp_sum)(VSUB(VLOADU(x + j + VL), vm));
        a0 = VADD(a0, FN(vexp_sum)(VSUB(VLOADU(x + j + 2 * VL), vm)));
        a1 = VADD(a1, FN(vexp_sum)(VSUB(VLOADU(x + j + 3 * VL), vm)));
        a0 = VADD(a0, FN(vexp_sum)(VSUB(VLOADU(x + j + 4 * VL), vm)));
        a1 = VADD(a1, FN(vexp_sum)(VSUB(VLOADU(x + j + 5 * VL), vm)));
        a0 = VADD(a0, FN(vexp_sum)(VSUB(VLOADU(x + j + 6 * VL), vm)));
        a1 = VADD(a1, FN(vexp_sum)(VSUB(VLOADU(x + j + 7 * VL), vm)));
        DFOLD(e, a0);
        DFOLD(e, a1);
    }
    if (j < j1) {
        VT a0 = VZERO();
        for (; j < j1; j += VL) a0 = VADD(a0, FN(vexp_sum)(VSUB(VLOADU(x + j), vm)));
        DFOLD(e, a0);
    }
    *d0 = e0;
    *d1 = e1;
}

/* sum over j != k of exp(x_j - m) with the summing exp (k < 0 or >= n:
 * skip nothing); pf: the next row, prefetched while this one computes.
 * The vector holding k is summed on its own with lane k masked out. */
static double FN(sumexp_skip)(const FX_T *x, ptrdiff_t n, FX_T m, ptrdiff_t k, const FX_T *pf)
{
    const VT vm = VSET(m);
    DT d0 = DZERO(), d1 = DZERO();
    const ptrdiff_t nv = n - n % VL;                     /* whole vectors */
    const ptrdiff_t kv = k >= 0 && k < nv ? k - k % VL : nv;
    FN(vsum_run)(x, 0, kv, vm, &d0, &d1, pf);
    if (kv < nv) {
        VT e = VSEL(MLANE(k - kv), VZERO(), FN(vexp_sum)(VSUB(VLOADU(x + kv), vm)));
        DFOLD(d, e);
        FN(vsum_run)(x, kv + VL, nv, vm, &d0, &d1, pf);
    }
    if (nv < n) {            /* the tail; padding lanes load m (exp(0) = 1), masked to 0 */
        MT t = MTAIL(n - nv);
        VT e = VZMASK(t, FN(vexp_sum)(VSUB(VLOADM(x + nv, t, m), vm)));
        if (k >= nv && k < n) e = VSEL(MLANE(k - nv), VZERO(), e);
        DFOLD(d, e);
    }
    return DHSUM(d0) + DHSUM(d1);
}

#ifdef FX_VEC_MID_C          /* the sets where this kernel measured faster (the vocabulary says) */
#define FX_HAS_stats_mid 1
/* longer rows: stats_row, chunk by chunk */
#define FX_MID_C FX_VEC_MID_C
/* One vector of the exp-sum pass of a row (column j first): s += exp(x -
 * m) where x != m; the ties counted, k the first (branch-free: a branch
 * here mispredicts once a row).  Padding lanes load -inf: never a tie,
 * and their term is exactly 0 with vscalef (vexp_sum clamps, then
 * vscalefps), about FLT_MIN / DBL_MIN without (see stats_mid). */
#define MID_TERM(xv, vm, s, ties, first, k, j)                                    \
    do {                                                                          \
        const VT x_ = (xv);                                                       \
        const MT q_ = VEQ(x_, vm);                                   \
        s = VADD_UNLESS(s, q_, FN(vexp_sum)(VSUB(x_, vm)));                       \
        const uint64_t b_ = MBITS(q_);                                            \
        ties += (uint64_t)__builtin_popcountll(b_);                               \
        k = first ? k : (j) + __builtin_ctzll(b_ | (1ull << 63));                 \
        first |= b_;                                                              \
    } while (0)
#define MID_OUT(i, m, d, ties, first, k)                                          \
    do {                                                                          \
        m_out[i] = (double)(m);                                                   \
        k_out[i] = first ? k : 0;                                                 \
        s_out[i] = isfinite(m) && first ? DHSUM(d) + (double)(ties - 1) : NAN;    \
    } while (0)
/* m, k, s (fx_stats) of n rows of FX_SMALL_C < C <= FX_MID_C
 * classes, a row (two rows of at most 8 vectors) at a time in two passes
 * over it: the maximum (four chains; the pass that reads the row from
 * memory), then one pass that sums exp(x_j - m) over the lanes where x_j
 * != m and counts the lanes where x_j == m.  A tie's term is exactly 1
 * (vexp_sum(0) = 1), so the sum over j != k is that sum plus (ties - 1),
 * and the first argmax k is the first tie's lane: no third pass for k, no
 * test for k's vector in the loop.  Rows are independent, so the
 * out-of-order core runs one row's reductions beside the next row's
 * loads, and the hardware prefetcher sees one sequential stream (four
 * rows read side by side, a page each at 1000 classes, kept it from
 * running ahead).  A single row's sum pass (it reads from L1) prefetches
 * the next row into L1, so the memory does not idle while it computes;
 * with that prefetch this kernel beats stats_row up to its chunk, hence
 * FX_MID_C.  On AVX2 (FX_VEC_MID_C) only the two-rows loop: there
 * stats_row (one row: max, first_eq, the exp-sum with the next row
 * prefetched) measured as fast as a four-rows-in-flight kernel, or faster,
 * and faster than this one's single-row loop at 300 classes.  Without
 * vscalef (AVX2) a padding lane's term is about FLT_MIN / DBL_MIN, not 0:
 * far below the flush guard's bound, under which row_stats redoes the row.
 * (Figures: the performance log.)
 * Rows whose maximum is not finite (or that hold a NaN) come out with
 * s = NaN (through exp of NaN, or explicitly); row_stats redoes them. */
static void FN(stats_mid)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, double *m_out, double *s_out, int64_t *k_out,
                          ptrdiff_t pfd)
{
    const ptrdiff_t ahead = pfd ? pfd : C * (ptrdiff_t)sizeof(FX_T);    /* fx_stats.pfd, or the next row */
    const ptrdiff_t nv = C - C % VL;
    const MT t = MTAIL(C - nv);
    ptrdiff_t i = 0;
    if (C * (ptrdiff_t)sizeof(FX_T) <= 512)
        /* rows of at most 512 bytes (8 vectors of AVX-512, 16 of AVX2) two
         * at a time, side by side: one row's reductions (max, sum, their
         * folds) are too short a chain to keep the core busy (a minimal
         * kernel measured it at 100 classes; no gain at 300: the
         * performance log) */
        for (; i + 2 <= n; i += 2) {
            const FX_T *pa = x + i * C, *pb = pa + C;
            if (pfd)        /* the next block's raw rows (fx_stats.pfd); else the hardware prefetcher's */
                for (ptrdiff_t q = 0; q < 2 * C * (ptrdiff_t)sizeof(FX_T); q += 64)
                    FX_PREFETCH(FX_PF_AT(pa, pfd + q), FX_PF_LOCALITY);
            const FX_T ma = FN(rowmax)(pa, C), mb = FN(rowmax)(pb, C);
            const VT va = VSET(ma), vb = VSET(mb);
            VT sa = VZERO(), sb = VZERO();
            uint64_t ta = 0, fa = 0, tb = 0, fb = 0;       /* ties, a tie seen */
            ptrdiff_t ka = 0, kb = 0;
            for (ptrdiff_t j = 0; j < nv; j += VL) {
                MID_TERM(VLOADU(pa + j), va, sa, ta, fa, ka, j);
                MID_TERM(VLOADU(pb + j), vb, sb, tb, fb, kb, j);
            }
            if (nv < C) {
                MID_TERM(VLOADM(pa + nv, t, -FX_INF), va, sa, ta, fa, ka, nv);
                MID_TERM(VLOADM(pb + nv, t, -FX_INF), vb, sb, tb, fb, kb, nv);
            }
            DT da = DZERO(), db = DZERO();                /* <= 17 terms a lane in float */
            FN(dfold1)(&da, sa);
            FN(dfold1)(&db, sb);
            MID_OUT(i, ma, da, ta, fa, ka);
            MID_OUT(i + 1, mb, db, tb, fb, kb);
        }
    for (; i < n; i++) {
        const FX_T *p = x + i * C;
        const FX_T m = FN(rowmax)(p, C);
        const VT vm = VSET(m);
        DT d0 = DZERO();
        uint64_t ties = 0, first = 0;
        ptrdiff_t k = 0;
        ptrdiff_t j = 0;
        while (j < nv) {
            const ptrdiff_t end = j + 16 * VL < nv ? j + 16 * VL : nv;   /* runs of <= 8 terms a lane */
            VT s0 = VZERO(), s1 = VZERO();
            for (; j + 2 * VL <= end; j += 2 * VL) {
                for (int q = 0; q < 2 * VL; q += 64 / (int)sizeof(FX_T))    /* the next row (see above) */
                    FX_PREFETCH(FX_PF_AT(p + j + q, ahead), FX_PF_LOCALITY);
                MID_TERM(VLOADU(p + j), vm, s0, ties, first, k, j);
                MID_TERM(VLOADU(p + j + VL), vm, s1, ties, first, k, j + VL);
            }
            if (j < end) {
                MID_TERM(VLOADU(p + j), vm, s0, ties, first, k, j);
                j += VL;
            }
            FN(dfold1)(&d0, VADD(s0, s1));     /* <= 16 terms a lane in float, then double */
        }
        if (nv < C) {
            VT s0 = VZERO();
            MID_TERM(VLOADM(p + nv, t, -FX_INF), vm, s0, ties, first, k, nv);
            FN(dfold1)(&d0, s0);
        }
        MID_OUT(i, m, d0, ties, first, k);
    }
}
#undef MID_TERM
#undef MID_OUT
#endif

#define FX_HAS_stats_exp 1
/* One row's m, k and s (fx_stats), and e_j = exp(x_j - m) written out with
 * the written exp (vexp_write: flushed to 0 below the normal range), or
 * x_j - m when shifted; s is the sum of those exps over j != k.  The
 * softmax and the gradient then scale e in cache instead of computing
 * every exp a second time (a separate exp_affine pass after row_stats
 * costs about as much again as row_stats).  k
 * comes from first_eq (a pass over the row, now in L1, that stops at the
 * maximum); lane k is masked out of its vector's sum.  pf: the next row,
 * prefetched into L1 during the exp pass, which reads this row from L1 and
 * would leave the memory idle.  log_softmax stores x - m in the same pass
 * and subtracts l in cache after it: the writes' misses then overlap the
 * exps.  e must not overlap
 * x.  Rows whose maximum is not finite (or that hold a NaN) come out with
 * s = NaN and e unspecified: the callers redo their statistics and scale
 * them by NaN. */
static void FN(stats_exp_row)(const FX_T *x, FX_T *e, ptrdiff_t n, const FX_T *pf, double *m_out, double *s_out,
                              int64_t *k_out, const int shifted)
{
    const FX_T m = FN(rowmax)(x, n);
    const ptrdiff_t k = FN(first_eq)(x, n, m);
    const VT vm = VSET(m);
    const ptrdiff_t nv = n - n % VL;
    const ptrdiff_t kv = k >= 0 ? k - k % VL : -1;          /* the vector holding k */
    DT d0 = DZERO();
    ptrdiff_t j = 0;
    while (j < nv) {
        const ptrdiff_t end = j + 16 * VL < nv ? j + 16 * VL : nv;   /* runs of <= 8 terms a lane */
        VT s0 = VZERO(), s1 = VZERO();
        for (; j + 2 * VL <= end; j += 2 * VL) {
            for (int q = 0; q < 2 * VL; q += 64 / (int)sizeof(FX_T))
                FX_PREFETCH(pf + j + q, FX_PF_LOCALITY);
            VT e0 = FN(vexp_write)(VSUB(VLOADU(x + j), vm));
            VT e1 = FN(vexp_write)(VSUB(VLOADU(x + j + VL), vm));
            VSTOREU(e + j, shifted ? VSUB(VLOADU(x + j), vm) : e0);
            VSTOREU(e + j + VL, shifted ? VSUB(VLOADU(x + j + VL), vm) : e1);
            if (j == kv) e0 = VSEL(MLANE(k - j), VZERO(), e0);
            if (j + VL == kv) e1 = VSEL(MLANE(k - j - VL), VZERO(), e1);
            s0 = VADD(s0, e0);
            s1 = VADD(s1, e1);
        }
        if (j < end) {
            VT e0 = FN(vexp_write)(VSUB(VLOADU(x + j), vm));
            VSTOREU(e + j, shifted ? VSUB(VLOADU(x + j), vm) : e0);
            if (j == kv) e0 = VSEL(MLANE(k - j), VZERO(), e0);
            s0 = VADD(s0, e0);
            j += VL;
        }
        FN(dfold1)(&d0, VADD(s0, s1));     /* <= 16 terms a lane in float, then double */
    }
    if (nv < n) {              /* the tail: padding lanes load m (a term of 1), masked to 0 */
        const MT t = MTAIL(n - nv);
        VT e0 = FN(vexp_write)(VSUB(VLOADM(x + nv, t, m), vm));
        VSTOREM(e + nv, shifted ? VSUB(VLOADM(x + nv, t, m), vm) : e0, t);
        e0 = VZMASK(t, e0);
        if (nv == kv) e0 = VSEL(MLANE(k - nv), VZERO(), e0);
        FN(dfold1)(&d0, e0);
    }
    *m_out = (double)m;
    *k_out = k < 0 ? 0 : k;
    *s_out = isfinite(m) && k >= 0 ? DHSUM(d0) : NAN;
}

#define FX_HAS_sumexp_extras 1
/* The exp-sum pass of one row with the statistics of evaluate in the same
 * pass (fx_stats): s = sum over j != k of e_j = exp(x_j - m), s2 = sum of
 * e_j^2, sx = sum of e_j (m - x_j) -- one FMA each per element -- sxx =
 * sum of e_j (m - x_j)^2 and sum of e_j (m - x_j)^3 into sxx_out[0..1]
 * when sxx_out is not NULL, and,
 * when want_rank, #{j : x_j > xy} (the ties before y are added by the
 * caller).  (m - x_j) is taken at the exp's own clamp, so a -inf logit
 * adds 0, not 0 * inf.  pf: the next row, prefetched (NULL: none). */
static void FN(sumexp_extras)(const FX_T *x, ptrdiff_t n, FX_T m, ptrdiff_t k, FX_T xy, int want_rank,
                              double *s_out, double *s2_out, double *sx_out, double *sxx_out, double *gt_out,
                              const FX_T *pf)
{
    const VT vm = VSET(m), vxy = VSET(xy), one = VSET((FX_T)1), floor_ = VSET((FX_T)XP_MIN);
    DT d = DZERO(), d2 = DZERO(), dx = DZERO(), dg = DZERO(), dq = DZERO(), dc = DZERO();
    const int want_xx = sxx_out != NULL;
    const ptrdiff_t kv = k >= 0 && k < n ? k - k % VL : -1;
    ptrdiff_t j = 0;
    while (j < n) {
        /* runs of <= 8 terms a lane in each of two accumulator sets: two
         * vectors an iteration, so the four sums' add latencies overlap */
        const ptrdiff_t end = j + 16 * VL < n ? j + 16 * VL : n;
        VT a = VZERO(), a2 = VZERO(), ax = VZERO(), ag = VZERO(), aq = VZERO(), ac = VZERO();
        VT b = VZERO(), b2 = VZERO(), bx = VZERO(), bg = VZERO(), bq = VZERO(), bc = VZERO();
        for (; j + 2 * VL <= end; j += 2 * VL) {
            if (pf)      /* the next row streams in while this one computes */
                for (int q = 0; q < 2 * VL; q += 64 / (int)sizeof(FX_T))
                    FX_PREFETCH(pf + j + q, FX_PF_LOCALITY);
            const VT v0 = VLOADU(x + j), v1 = VLOADU(x + j + VL);
            const VT d0 = VSUB(v0, vm), d1 = VSUB(v1, vm);
            VT e0 = FN(vexp_sum)(d0), e1 = FN(vexp_sum)(d1);
            if (j == kv) e0 = VSEL(MLANE(k - j), VZERO(), e0);
            if (j + VL == kv) e1 = VSEL(MLANE(k - j - VL), VZERO(), e1);
            a = VADD(a, e0);
            b = VADD(b, e1);
            a2 = VFMA(e0, e0, a2);
            b2 = VFMA(e1, e1, b2);
            const VT c0 = VMAX(floor_, d0), c1 = VMAX(floor_, d1);     /* -(m - x), at the clamp */
            ax = VFNMA(e0, c0, ax);
            bx = VFNMA(e1, c1, bx);
            if (want_xx) {                 /* e d^2 and e d^3 (c = -d) */
                const VT q0 = VMUL(VMUL(e0, c0), c0), q1 = VMUL(VMUL(e1, c1), c1);
                aq = VADD(aq, q0);
                bq = VADD(bq, q1);
                ac = VFNMA(q0, c0, ac);
                bc = VFNMA(q1, c1, bc);
            }
            if (want_rank) {
                ag = VADD(ag, VZMASK(VGT(v0, vxy), one));
                bg = VADD(bg, VZMASK(VGT(v1, vxy), one));
            }
        }
        a = VADD(a, b);            /* <= 16 terms a lane, each <= 1: exact enough in FX_T */
        a2 = VADD(a2, b2);
        ax = VADD(ax, bx);
        ag = VADD(ag, bg);
        aq = VADD(aq, bq);
        ac = VADD(ac, bc);
        for (; j < end; j += VL) {
            const int left = (int)(n - j);
            const MT t = left >= VL ? VEQ(vm, vm) : MTAIL(left);
            const VT v = left >= VL ? VLOADU(x + j) : VLOADM(x + j, t, m);
            const VT dd = VSUB(v, vm);
            VT e = FN(vexp_sum)(dd);
            if (left < VL) e = VZMASK(t, e);
            if (j == kv) e = VSEL(MLANE(k - j), VZERO(), e);
            a = VADD(a, e);
            a2 = VFMA(e, e, a2);
            const VT cc = VMAX(floor_, dd);
            ax = VFNMA(e, cc, ax);                             /* e (m - x), at the clamp */
            if (want_xx) {
                const VT q = VMUL(VMUL(e, cc), cc);
                aq = VADD(aq, q);
                ac = VFNMA(q, cc, ac);
            }
            if (want_rank) {             /* padding lanes hold m: never counted */
                VT g = VZMASK(VGT(v, vxy), one);
                ag = VADD(ag, left < VL ? VZMASK(t, g) : g);
            }
        }
        FN(dfold1)(&d, a);
        FN(dfold1)(&d2, a2);
        FN(dfold1)(&dx, ax);
        if (want_rank) FN(dfold1)(&dg, ag);
        if (want_xx) {
            FN(dfold1)(&dq, aq);
            FN(dfold1)(&dc, ac);
        }
    }
    *s_out = DHSUM(d);
    *s2_out = DHSUM(d2);
    *sx_out = DHSUM(dx);
    if (want_xx) {
        sxx_out[0] = DHSUM(dq);
        sxx_out[1] = DHSUM(dc);
    }
    *gt_out = want_rank ? DHSUM(dg) : 0.0;
}

