"""The CuPy RawKernel backend (arrives with the GPU issue).

The dispatch in ``fastloss._backend`` already routes CuPy arrays here; until the GPU kernels land,
a CuPy input is refused with a clear message instead of being silently copied to the host.
"""


def kernels(module_name):
    raise NotImplementedError(
        f"fastloss: the GPU backend ({module_name} kernels) is not available in this build yet; "
        "pass NumPy arrays (e.g. cupy.asnumpy(x)) to use the CPU kernels"
    )
