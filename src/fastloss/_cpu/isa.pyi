"""Type stubs of the compiled module fastloss._cpu.isa (internal: kernels never validate)."""
from typing import Any

from numpy.typing import NDArray

def has_avx2() -> bool: ...
def has_avx512() -> bool: ...
