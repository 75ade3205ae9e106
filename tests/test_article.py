"""The worked examples of the source article, with correct values.

The article prints sigmoid(-243) as 2.99e-98 (it substituted -226); the
right value is exp(-243)/(1+exp(-243)) = 2.93e-106.
"""
import math

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_sigmoid_examples(mod):
    x = np.array([1, 9, 424.5, -3, -243], dtype=np.float64)
    s = mod.sigmoid(x)
    np.testing.assert_allclose(s[:4], [0.7310585786300049, 0.9998766054240137, 1.0, 0.04742587317756678],
                               rtol=1e-15)
    # the article's 0.731, 0.999 (truncated: 0.99988), 1, 0.047; and 2.93e-106, not 2.99e-98
    assert s[4] == pytest.approx(2.9271224965e-106, rel=1e-9)
    assert round(s[0], 3) == 0.731 and int(s[1] * 1000) / 1000 == 0.999 and round(s[3], 3) == 0.047


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_softmax_examples(mod):
    p = mod.softmax(np.array([3.0, 0.6, 6.3]))
    e = np.exp([3.0, 0.6, 6.3])
    np.testing.assert_allclose(p, e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(p, [0.03545677, 0.00321657, 0.96132666], atol=5e-9)
    q = mod.softmax(np.array([9.8, 3.7, 0.2]))
    # the article prints these truncated: 0.997694, 0.002237, 0.000067
    np.testing.assert_allclose(q, [0.99769473, 0.00223770, 0.00006757], atol=5e-9)
    assert q.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_categorical_cross_entropy_bits(mod):
    # H(p, q) with p one-hot (cat) and q the softmax of [9.8, 3.7, 0.2]: 0.00333 bits
    q = np.array([0.997694, 0.002237, 0.000067])
    h = mod.cross_entropy(np.array([1.0, 0.0, 0.0]), q, base=2)
    assert h == pytest.approx(-math.log2(0.997694), rel=1e-12)
    assert round(h, 5) == 0.00333
    # the same loss straight from the scores
    h2 = mod.softmax_cross_entropy(np.array([[9.8, 3.7, 0.2]]), np.array([0]), base=2)
    assert round(h2, 5) == 0.00333
    assert h2 == pytest.approx(math.log2(1 + math.exp(3.7 - 9.8) + math.exp(0.2 - 9.8)), rel=1e-13)


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_binary_cross_entropy_bits(mod):
    l = mod.binary_cross_entropy(np.array([0.997694, 0.002237]), np.array([1.0, 0.0]), base=2,
                                 reduction="none")
    np.testing.assert_allclose(l, [-math.log2(0.997694), -math.log2(1 - 0.002237)], rtol=1e-12)
    assert round(l[0], 4) == 0.0033 and round(l[1], 4) == 0.0032
