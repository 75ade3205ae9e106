/* fx_coeffs.h -- the fitted coefficients and tables of the vector math,
 * each named once.  Written by tools/fit_coefficients.py, which is how each
 * set is obtained and what its error is -- do not edit; CI checks it is
 * current.  Polynomials: _C<j> multiplies r^j (Horner from the highest j). */
#ifndef FX_COEFFS_H
#define FX_COEFFS_H

/* exp(r), |r| <= ln2/2, float, degree 5 (the row sums' exp on the vector paths):
 * searched for the least ULP error of the float result (1.99 ULP in float
 * arithmetic), c0 = 1; max relative error 1.2e-07 as a polynomial */
#define FX_EXP5F_C5 0x1.0c21bap-7f
#define FX_EXP5F_C4 0x1.5733bcp-5f
#define FX_EXP5F_C3 0x1.55631ep-3f
#define FX_EXP5F_C2 0x1.fffddep-2f
#define FX_EXP5F_C1 0x1.ffffe4p-1f

/* exp(r), |r| <= ln2/2, float, degree 6 (the written exp; the portable flushing exp):
 * interpolation of e^r at the 7 Chebyshev nodes, c0 = 1; max relative error
 * 2.0e-08 on |r| <= ln2/2 */
#define FX_EXP6F_C6 0x1.6d7532p-10f
#define FX_EXP6F_C5 0x1.126fa6p-7f
#define FX_EXP6F_C4 0x1.5554acp-5f
#define FX_EXP6F_C3 0x1.555404p-3f
#define FX_EXP6F_C2 0x1p-1f
#define FX_EXP6F_C1 0x1p0f

/* exp(r), |r| <= ln2/2, double, degree 11 (the vector paths' double exp):
 * interpolation of e^r at the 12 Chebyshev nodes, c0 = c1 = 1; max relative
 * error 1.7e-17 */
#define FX_EXP11D_C11 0x1.af631d0059becp-26
#define FX_EXP11D_C10 0x1.28b4057f44145p-22
#define FX_EXP11D_C9 0x1.71ddf5749d126p-19
#define FX_EXP11D_C8 0x1.a01991ac8730ap-16
#define FX_EXP11D_C7 0x1.a01a01b14378fp-13
#define FX_EXP11D_C6 0x1.6c16c187fbe02p-10
#define FX_EXP11D_C5 0x1.111111110f225p-7
#define FX_EXP11D_C4 0x1.555555554f0cfp-5
#define FX_EXP11D_C3 0x1.555555555555ap-3
#define FX_EXP11D_C2 0x1.0000000000011p-1

/* log1p(e), 0 <= e <= 1, float (the vector paths' BCE log1p):
 * s(e) of log1p(e) = e + e^2 s(e): interpolation of (log1p(e) - e)/e^2 at
 * the 9 Chebyshev nodes of [0, 1]; max relative error 3.1e-08 as a
 * polynomial */
#define FX_LOG1P01F_C8 -0x1.24b298p-8f
#define FX_LOG1P01F_C7 0x1.9d455ap-6f
#define FX_LOG1P01F_C6 -0x1.11708cp-4f
#define FX_LOG1P01F_C5 0x1.d992bcp-4f
#define FX_LOG1P01F_C4 -0x1.448ee2p-3f
#define FX_LOG1P01F_C3 0x1.969cb2p-3f
#define FX_LOG1P01F_C2 -0x1.ffb95cp-3f
#define FX_LOG1P01F_C1 0x1.55540cp-2f
#define FX_LOG1P01F_C0 -0x1.fffffep-2f

/* softplus(-a) = log1p(exp(-a)), 0 <= a < 15.75, float (the AVX-512 table):
 * per interval |a - k/2| <= 1/4 (k < 32) the degree-6 interpolant in u = a -
 * k/2 at the nodes cos((i + 1/2) pi / 7) / 4; max relative error 6.9e-08;
 * row q holds u^q's coefficients */
#define FX_SOFTPLUS_TABLE_INIT { \
    {0x1.62e43p-1f, 0x1.e5747p-2f, 0x1.40c7acp-2f, 0x1.9c7e9p-3f, \
     0x1.03f2d6p-3f, 0x1.4321e2p-4f, 0x1.8e071p-5f, 0x1.e76e4cp-6f, \
     0x1.295e5p-6f, 0x1.6a0334p-7f, 0x1.b818dap-8f, 0x1.0b48ecp-8f, \
     0x1.447e36p-9f, 0x1.89d254p-10f, 0x1.dddef4p-11f, 0x1.21e534p-11f, \
     0x1.5fb2f6p-12f, 0x1.aaa924p-13f, 0x1.02cb0cp-13f, 0x1.39f088p-14f, \
     0x1.7cd564p-15f, 0x1.cdfa86p-16f, 0x1.1834a8p-16f, 0x1.53e866p-17f, \
     0x1.9c547p-18f, 0x1.f42e96p-19f, 0x1.2f603ep-19f, 0x1.700386p-20f, \
     0x1.be6c64p-21f, 0x1.0ec5p-21f, 0x1.4875c6p-22f, 0x1.8e7136p-23f}, \
    {-0x1p-1f, -0x1.829a06p-2f, -0x1.136562p-2f, -0x1.759b84p-3f, \
     -0x1.e84152p-4f, -0x1.36b712p-4f, -0x1.848344p-5f, -0x1.e04068p-6f, \
     -0x1.26afa2p-6f, -0x1.680528p-7f, -0x1.b69f68p-8f, -0x1.0abd94p-8f, \
     -0x1.441778p-9f, -0x1.8986a2p-10f, -0x1.dda738p-11f, -0x1.21d0b2p-11f, \
     -0x1.5fa3dep-12f, -0x1.aa9e08p-13f, -0x1.02c6f6p-13f, -0x1.39ed86p-14f, \
     -0x1.7cd32ep-15f, -0x1.cdf8e4p-16f, -0x1.18341p-16f, -0x1.53e7f6p-17f, \
     -0x1.9c541ep-18f, -0x1.f42e5ap-19f, -0x1.2f6026p-19f, -0x1.700376p-20f, \
     -0x1.be6c58p-21f, -0x1.0ec4fap-21f, -0x1.4875c4p-22f, -0x1.8e7134p-23f}, \
    {0x1p-3f, 0x1.e149ap-4f, 0x1.92a948p-4f, 0x1.3173b2p-4f, \
     0x1.ae0dcp-5f, 0x1.1f2514p-5f, 0x1.721652p-6f, 0x1.d22ca2p-7f, \
     0x1.2162c2p-7f, 0x1.64108ap-8f, 0x1.b3afe2p-9f, 0x1.09a7a6p-9f, \
     0x1.434a52p-10f, 0x1.88ef68p-11f, 0x1.dd37d2p-12f, 0x1.21a7aep-12f, \
     0x1.5f85aep-13f, 0x1.aa87dp-14f, 0x1.02bec8p-14f, 0x1.39e782p-15f, \
     0x1.7ccec2p-16f, 0x1.cdf5a2p-17f, 0x1.1832dcp-17f, 0x1.53e714p-18f, \
     0x1.9c5378p-19f, 0x1.f42dep-20f, 0x1.2f5ffap-20f, 0x1.700356p-21f, \
     0x1.be6c4p-22f, 0x1.0ec4f2p-22f, 0x1.4875bcp-23f, 0x1.8e712ep-24f}, \
    {-0x1.101624p-45f, -0x1.3a5408p-7f, -0x1.f032bcp-7f, -0x1.02ad32p-6f, \
     -0x1.b4b448p-7f, -0x1.44c68cp-7f, -0x1.bea596p-8f, -0x1.24905cp-8f, \
     -0x1.73f7bep-9f, -0x1.d051e6p-10f, -0x1.1e91cp-10f, -0x1.5f5274p-11f, \
     -0x1.acebacp-12f, -0x1.052b58p-12f, -0x1.3d908p-13f, -0x1.81c736p-14f, \
     -0x1.d46148p-15f, -0x1.1c3ca2p-15f, -0x1.58e83ap-16f, -0x1.a2798ap-17f, \
     -0x1.fbb202p-18f, -0x1.33f46ep-18f, -0x1.75959p-19f, -0x1.c53148p-20f, \
     -0x1.12e12ap-20f, -0x1.4d72eep-21f, -0x1.947f14p-22f, -0x1.eaae42p-23f, \
     -0x1.299d1p-23f, -0x1.69062p-24f, -0x1.b5f1cap-25f, -0x1.09a07cp-25f}, \
    {-0x1.5553d6p-8f, -0x1.071dd8p-8f, -0x1.81dca8p-10f, 0x1.567b8p-11f, \
     0x1.a85cdcp-10f, 0x1.bba492p-10f, 0x1.67b268p-10f, 0x1.01ba3cp-10f, \
     0x1.58f524p-11f, 0x1.bbcce4p-12f, 0x1.16df3cp-12f, 0x1.59976p-13f, \
     0x1.a8ac88p-14f, 0x1.0399b4p-14f, 0x1.3c6844p-15f, 0x1.80ecfcp-16f, \
     0x1.d3c0a8p-17f, 0x1.1c019p-17f, 0x1.58bcd2p-18f, 0x1.a259bp-19f, \
     0x1.fb9aacp-20f, 0x1.33ebe8p-20f, 0x1.758f6p-21f, 0x1.c52cd2p-22f, \
     0x1.12df92p-22f, 0x1.4d71d6p-23f, 0x1.947e5ap-24f, 0x1.eaadd2p-25f, \
     0x1.299cf6p-25f, 0x1.69062p-26f, 0x1.b5f1e2p-27f, 0x1.09a092p-27f}, \
    {0x1.0621f8p-41f, 0x1.c54628p-11f, 0x1.0c3244p-10f, 0x1.46cafcp-11f, \
     0x1.700bb8p-13f, -0x1.4235bcp-14f, -0x1.45655p-13f, -0x1.33c3b4p-13f, \
     -0x1.d5155ap-14f, -0x1.4365a8p-14f, -0x1.a6ab6ep-15f, -0x1.0bf2p-15f, \
     -0x1.4dbecp-16f, -0x1.9b591cp-17f, -0x1.f7cec2p-18f, -0x1.335b08p-18f, \
     -0x1.7627c2p-19f, -0x1.c6d788p-20f, -0x1.143b78p-20f, -0x1.4f596ep-21f, \
     -0x1.96fe1ep-22f, -0x1.edd96ap-23f, -0x1.2b964ap-23f, -0x1.6b74bep-24f, \
     -0x1.b8ec3ap-25f, -0x1.0b719p-25f, -0x1.446ee4p-26f, -0x1.89901ep-27f, \
     -0x1.dd6b9p-28f, -0x1.21924ep-28f, -0x1.5f44e4p-29f, -0x1.aa1c9ep-30f}, \
    {0x1.6915fp-12f, 0x1.895ce8p-13f, -0x1.22fb34p-14f, -0x1.5b4d6ap-13f, \
     -0x1.f93e48p-14f, -0x1.a56286p-15f, -0x1.df0556p-18f, 0x1.3f7b2ep-17f, \
     0x1.a09cf6p-17f, 0x1.5c51e6p-17f, 0x1.f3a15p-18f, 0x1.4d001p-18f, \
     0x1.aabb5ep-19f, 0x1.0b6034p-19f, 0x1.4ab5cep-20f, 0x1.95e3fcp-21f, \
     0x1.efdb84p-22f, 0x1.2e0a06p-22f, 0x1.6f570ap-23f, 0x1.be4ddcp-24f, \
     0x1.0ef442p-24f, 0x1.48df86p-25f, 0x1.8f152p-26f, 0x1.e436c8p-27f, \
     0x1.25ba72p-27f, 0x1.645694p-28f, 0x1.b047cep-29f, 0x1.0632eap-29f, \
     0x1.3e119ep-30f, 0x1.81d75p-31f, 0x1.d40d46p-32f, 0x1.1be38ep-32f} \
}

#endif /* FX_COEFFS_H */
