"""The Cython/OpenMP kernels. Kernels never validate: the Python layer above has checked
every shape, dtype and index before calling them."""
import importlib


def kernels(module_name):
    return importlib.import_module(f"{__name__}.{module_name}")
