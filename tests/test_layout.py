"""The kernel layer's structural rules (docs/architecture.md), checked on
the source tree: raw intrinsics only in the vocabulary headers, kernels
that never branch on the vector width, no source file past ~1000 lines,
and a product module that does not load the testing one."""
import os
import re
import subprocess
import sys

import pytest

PYX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyx")
pytestmark = pytest.mark.skipif(not os.path.isdir(PYX), reason="needs the source tree (pyx/)")

# the files named for one instruction set, where its intrinsics may appear
# (fx_bf16.h: the linear head's product kernel, AVX512-BF16 only)
VOCABULARY = re.compile(r"^fx_vec_\w+\.h$|^fx_simde_shim\.h$|^fx_bf16\.h$")
INTRINSIC = re.compile(r"\b_mm\d*_\w+|\b__m\d+[di]?\b|\bsimde_mm\w*|\b_CMP_\w+|\b_MM_\w+")


def _sources():
    for name in sorted(os.listdir(PYX)):
        if name.endswith((".h", ".inc", ".def", ".pyx", ".pxi", ".pxd")):   # not generated .c
            with open(os.path.join(PYX, name)) as f:
                yield name, f.read()


def test_raw_intrinsics_only_in_the_vocabulary_headers():
    bad = [f"{name}:{i + 1}: {line.strip()}" for name, text in _sources() if not VOCABULARY.match(name)
           for i, line in enumerate(text.splitlines()) if INTRINSIC.search(line)]
    assert not bad, "\n".join(bad)


def test_kernels_do_not_branch_on_the_vector_width():
    # a kernel asks the vocabulary for a capability (FX_VEC_SCALEF, ...),
    # never which instruction set it is compiled for
    allowed = {"fx_isa_table.def", "fx_kernels.h", "fx_isa_row.h", "fx_isa_row_end.h"}
    bad = [f"{name}:{i + 1}: {line.strip()}" for name, text in _sources() if name not in allowed
           for i, line in enumerate(text.splitlines())
           if re.match(r"\s*#\s*(el)?if.*\b(FX_VEC_BITS|FX_ISA_LEVEL|__AVX\w*__|__F16C__)\b", line)]
    assert not bad, "\n".join(bad)


def test_no_source_file_past_a_thousand_lines():
    long = {name: text.count("\n") for name, text in _sources() if text.count("\n") > 1000}
    assert not long, long


def test_the_product_module_does_not_load_the_testing_one():
    code = "import sys, fusedxent as fx, numpy as np; fx.softmax_cross_entropy(np.zeros((2, 3), np.float32), " \
           "np.zeros(2, np.int64)); assert 'fusedxent._testing' not in sys.modules, 'loaded'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
