"""Write pyx/fx_coeffs.h: the fitted polynomial coefficients and tables of the vector math.

Every fitted constant of the kernels is defined there once, by name, and
this script is how each set is obtained; it also states each set's error.
The kernels (fx_vecmath.h, fx_simd_math.h) and the benchmark harness
(bench/limits.c) use the names.  Exact constants (Taylor coefficients
1/n!, the atanh series' 1/(2k+1), ln 2 splits) stay where they are used:
they are their own derivation.

    python tools/fit_coefficients.py            # rewrite pyx/fx_coeffs.h
    python tools/fit_coefficients.py --check    # exit 1 if it is not what the fits give (CI)

Needs numpy and mpmath.  The fits:

- exp, float, degree 6 (the written and the portable flushing exp):
  interpolation of e^r at the 7 Chebyshev nodes of |r| <= ln2/2 in
  50-digit arithmetic, c0 then replaced by 1, rounded to float.
- exp, double, degree 11 (the vector paths' double exp): the same with 12
  nodes, c0 = c1 = 1, rounded to double.
- log1p on [0, 1], float (the AVX paths' BCE log1p): log1p(e) = e + e^2 s(e),
  s the degree-8 interpolant of (log1p(e) - e)/e^2 at the 9 Chebyshev nodes
  of [0, 1], solved in double (numpy), rounded to float.
- softplus(-a) = log1p(exp(-a)), float, AVX-512: on each of 32 intervals
  |a - k/2| <= 1/4 the degree-6 interpolant in u = a - k/2 at the 7 nodes
  cos((i + 1/2) pi / 7) / 4, solved in double (numpy), rounded to float.
- exp, float, degree 5 (the row sums' exp): not a fit this script
  reproduces -- found by a search over float coefficients for the least
  error in ULP of the float result (p(0) = 1 exactly); recorded here as
  they are, and measured.
"""
import os
import sys

import mpmath as mp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "pyx", "fx_coeffs.h")
mp.mp.dps = 50
H = mp.log(2) / 2


def _interp_mp(fun, n, lo, hi):
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos((i + mp.mpf(1) / 2) * mp.pi / n) for i in range(n)]
    a = mp.matrix([[x ** j for j in range(n)] for x in nodes])
    return mp.lu_solve(a, mp.matrix([fun(x) for x in nodes]))


def _max_rel(poly, fun, lo, hi, n=2001):
    """max |poly(x) - fun(x)| / |fun(x)| on a grid, poly evaluated in 50 digits."""
    worst = mp.mpf(0)
    for i in range(n):
        x = lo + (hi - lo) * i / (n - 1)
        f = fun(x)
        worst = max(worst, abs(poly(x) - f) / abs(f))
    return float(worst)


def _horner(coefs):
    """coefs low -> high as a polynomial in mpmath."""
    return lambda x: sum(mp.mpf(float(c)) * x ** j for j, c in enumerate(coefs))


def exp_float6():
    s = _interp_mp(mp.exp, 7, -H, H)
    c = [1.0] + [float(np.float32(float(s[j]))) for j in range(1, 7)]
    err = _max_rel(_horner(c), mp.exp, -H, H)
    return c, f"interpolation of e^r at the 7 Chebyshev nodes, c0 = 1; max relative error {err:.1e} on |r| <= ln2/2"


def exp_double11():
    s = _interp_mp(mp.exp, 12, -H, H)
    c = [1.0, 1.0] + [float(s[j]) for j in range(2, 12)]
    err = _max_rel(_horner(c), mp.exp, -H, H)
    return c, f"interpolation of e^r at the 12 Chebyshev nodes, c0 = c1 = 1; max relative error {err:.1e}"


# found by search (see the module docstring), c1..c5; c0 = 1
EXP_FLOAT5 = [float.fromhex(h) for h in ("0x1.ffffe4p-1", "0x1.fffddep-2", "0x1.55631ep-3", "0x1.5733bcp-5",
                                         "0x1.0c21bap-7")]


def exp_float5():
    c = [1.0] + EXP_FLOAT5
    err = _max_rel(_horner(c), mp.exp, -H, H)
    return c, (f"searched for the least ULP error of the float result (1.99 ULP in float arithmetic), "
               f"c0 = 1; max relative error {err:.1e} as a polynomial")


def log1p01_float():
    n = 9
    e = (1 + np.cos((np.arange(n) + 0.5) * np.pi / n)) / 2
    g = (np.log1p(e) - e) / e ** 2
    s = np.linalg.solve(np.vander(e, n, increasing=True), g).astype(np.float32).astype(np.float64)
    poly = lambda x: x + x * x * sum(mp.mpf(float(c)) * x ** j for j, c in enumerate(s))
    err = _max_rel(poly, mp.log1p, mp.mpf(2) ** -20, mp.mpf(1))
    return list(s), (f"s(e) of log1p(e) = e + e^2 s(e): interpolation of (log1p(e) - e)/e^2 at the 9 Chebyshev "
                     f"nodes of [0, 1]; max relative error {err:.1e} as a polynomial")


def softplus_table():
    n = 7
    u = np.cos((np.arange(n) + 0.5) * np.pi / n) / 4
    v = np.vander(u, n, increasing=True)
    tab = np.zeros((n, 32), np.float32)
    worst = 0.0
    for k in range(32):
        tab[:, k] = np.linalg.solve(v, np.log1p(np.exp(-(k / 2 + u)))).astype(np.float32)
        f = lambda a: mp.log1p(mp.exp(-a))
        poly = lambda a, k=k: sum(mp.mpf(float(c)) * (a - mp.mpf(k) / 2) ** j for j, c in enumerate(tab[:, k]))
        lo = max(mp.mpf(0), mp.mpf(k) / 2 - mp.mpf(1) / 4)
        worst = max(worst, _max_rel(poly, f, lo, mp.mpf(k) / 2 + mp.mpf(1) / 4, n=201))
    return tab, (f"per interval |a - k/2| <= 1/4 (k < 32) the degree-6 interpolant in u = a - k/2 at the nodes "
                 f"cos((i + 1/2) pi / 7) / 4; max relative error {worst:.1e}; row q holds u^q's coefficients")


def _float_hex(x):
    """C99 hex literal of a float32, shortest mantissa (as printf %a of a float would)."""
    if x == 0:
        return "0x0p+0f"
    m, e = np.frexp(np.float64(x))          # x = m 2^e, 0.5 <= |m| < 1
    sign = "-" if m < 0 else ""
    bits = int(round(abs(float(m)) * (1 << 24)))   # 24 significant bits
    frac = bits - (1 << 23)                  # leading 1 at bit 23
    hexd = f"{frac << 1:06x}".rstrip("0") or "0"   # 23 bits -> 6 hex digits (24 bits)
    return f"{sign}0x1.{hexd}p{e - 1:d}f" if hexd != "0" else f"{sign}0x1p{e - 1:d}f"


def _double_hex(x):
    return float(x).hex()                   # C99 hex: 0x1.af631d0059becp-26


def _comment(title, text):
    """A C comment: the title line, then text wrapped at 76 columns."""
    lines, line = [f"/* {title}"], " *"
    for w in text.split():
        if len(line) + len(w) > 76:
            lines.append(line)
            line = " *"
        line += " " + w
    return lines + [line + " */"]


def render():
    out = ['/* fx_coeffs.h -- the fitted coefficients and tables of the vector math,',
           ' * each named once.  Written by tools/fit_coefficients.py, which is how each',
           ' * set is obtained and what its error is -- do not edit; CI checks it is',
           ' * current.  Polynomials: _C<j> multiplies r^j (Horner from the highest j). */',
           '#ifndef FX_COEFFS_H', '#define FX_COEFFS_H', '']
    for name, fn, fmt, first in (("FX_EXP5F", exp_float5, _float_hex, 1), ("FX_EXP6F", exp_float6, _float_hex, 1),
                                 ("FX_EXP11D", exp_double11, _double_hex, 2),
                                 ("FX_LOG1P01F", log1p01_float, _float_hex, 0)):
        c, how = fn()
        doc = {"FX_EXP5F": "exp(r), |r| <= ln2/2, float, degree 5 (the row sums' exp on the vector paths)",
               "FX_EXP6F": "exp(r), |r| <= ln2/2, float, degree 6 (the written exp; the portable flushing exp)",
               "FX_EXP11D": "exp(r), |r| <= ln2/2, double, degree 11 (the vector paths' double exp)",
               "FX_LOG1P01F": "log1p(e), 0 <= e <= 1, float (the vector paths' BCE log1p)"}[name]
        out += _comment(f"{doc}:", how)
        for j in range(len(c) - 1, first - 1, -1):
            out.append(f"#define {name}_C{j} {fmt(c[j])}")
        out.append("")
    tab, how = softplus_table()
    out += _comment("softplus(-a) = log1p(exp(-a)), 0 <= a < 15.75, float (the AVX-512 table):", how)
    out.append("#define FX_SOFTPLUS_TABLE_INIT { \\")
    for q in range(tab.shape[0]):
        vals = [_float_hex(v) for v in tab[q]]
        rows = [", ".join(vals[i:i + 4]) for i in range(0, 32, 4)]
        body = (", \\\n     ").join(rows)
        out.append(f"    {{{body}}}{',' if q < tab.shape[0] - 1 else ''} \\")
    out.append("}")
    out += ["", "#endif /* FX_COEFFS_H */", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _generated import main
    sys.exit(main(OUT, render, __doc__.splitlines()[0]))
