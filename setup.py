"""Build the Cython kernels.

* Every ``src/fastloss/_cpu/*.pyx`` becomes an extension; ``*.pyx.tp`` files are Tempita templates
  rendered to ``.pyx`` first (the way scikit-learn generates its per-loss loops).
* OpenMP is probed by compiling a tiny program with the candidate flag; without it the build goes on
  serially (``prange`` then runs as a plain loop) and says so with a warning.
* ``-O3`` everywhere; ``FASTLOSS_NATIVE=1`` adds ``-march=native`` for local builds only (a wheel must
  run on any x86-64).
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy
from Cython.Build import cythonize
from Cython import Tempita
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CPU_DIR = os.path.join("src", "fastloss", "_cpu")


def render_templates():
    """Render each ``.pyx.tp`` to ``.pyx`` when the template is newer."""
    for template in glob.glob(os.path.join(HERE, CPU_DIR, "*.pyx.tp")):
        target = template[: -len(".tp")]
        if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(template):
            continue
        with open(template) as f:
            text = Tempita.sub(f.read())
        with open(target, "w") as f:
            f.write("# Generated from %s: edit the template, not this file.\n" % os.path.basename(template))
            f.write(text)


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) where the compiler has none."""
    if os.environ.get("FASTLOSS_NO_OPENMP"):
        return [], []
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    # (compile flags, link flags): gcc/clang, Apple clang with libomp, Intel.
    candidates = [
        (["-fopenmp"], ["-fopenmp"]),
        (["-Xpreprocessor", "-fopenmp"], ["-lomp"]),
        (["-qopenmp"], ["-qopenmp"]),
    ]
    program = textwrap.dedent(
        """
        #include <omp.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            printf("%d\\n", n > 0);
            return 0;
        }
        """
    )
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(program)
        exe = os.path.join(tmp, "probe")
        for flags, link in candidates:
            try:
                subprocess.run(cc + flags + [src, "-o", exe] + link, check=True, capture_output=True, timeout=60)
                out = subprocess.run([exe], check=True, capture_output=True, timeout=60).stdout
                if out.strip() == b"1":
                    return flags, link
            except (OSError, subprocess.SubprocessError):
                continue
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    warnings.warn("fastloss: the C compiler has no OpenMP; building serial kernels.")
    return [], []


def extensions():
    render_templates()
    omp_compile, omp_link = openmp_flags()
    compile_args = ["-O3", "-fno-math-errno", "-Wno-unused-function", "-Wno-unreachable-code"]
    if os.environ.get("FASTLOSS_NATIVE"):
        compile_args.append("-march=native")
    if sys.platform == "win32":
        compile_args = ["/O2"] + (["/openmp"] if omp_compile else [])
        omp_compile, omp_link = [], []
    exts = []
    for pyx in sorted(glob.glob(os.path.join(CPU_DIR, "*.pyx"))):
        name = os.path.splitext(os.path.relpath(pyx, "src"))[0].replace(os.sep, ".")
        exts.append(
            Extension(
                name,
                [pyx],
                include_dirs=[numpy.get_include(), CPU_DIR],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=compile_args + omp_compile,
                extra_link_args=omp_link,
            )
        )
    return cythonize(
        exts,
        include_path=["src"],
        compile_time_env={"FASTLOSS_OPENMP": bool(omp_compile)},
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=extensions())
