"""Build the Cython kernels.

* Every ``src/fastloss/_cpu/*.pyx`` becomes an extension; ``*.pyx.tp`` files are Tempita templates
  rendered to ``.pyx`` first (the way scikit-learn generates its per-loss loops).
* OpenMP is probed by compiling a tiny program with the candidate flag; without it the build goes on
  serially (``prange`` then runs as a plain loop) and says so with a warning.
* ``-O3`` everywhere; ``FASTLOSS_NATIVE=1`` adds ``-march=native`` for local builds only (a wheel must
  run on any x86-64).
* On x86-64 with GCC/Clang each kernel module is also built for AVX2 and AVX-512 (``<name>_avx2``,
  ``<name>_avx512``, from copies of its source) and ``fastloss._cpu.kernels`` loads the best variant
  the CPU runs: the exp/log-bound kernels get 2-4x the SIMD lanes, and a portable wheel still runs
  everywhere.
  ``-ffp-contract=off`` keeps both variants' arithmetic identical (no fused multiply-adds).
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

import platform

import numpy
from Cython.Build import cythonize
from Cython import Tempita
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CPU_DIR = os.path.join("src", "fastloss", "_cpu")

# Modules that are not kernels (run-time queries, test hooks) get no ISA variants.
NO_VARIANTS = {"threads", "isa", "vecmath_check"}
# The best first; fastloss._cpu.best_isa() checks the same features at run time. GCC's generic
# tuning would keep AVX-512 code at 256-bit vectors: ask for the full width.
ISA_VARIANTS = {
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mprefer-vector-width=512"],
    "avx2": ["-mavx2"],
}


def isa_variants_supported():
    return (platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"
            and not os.environ.get("FASTLOSS_NATIVE") and not os.environ.get("FASTLOSS_NO_ISA_VARIANTS"))


def write_isa_variant_sources():
    """``<name>_<isa>.pyx``: a copy of each kernel module's source under the variant's module name."""
    variants = []
    for pyx in sorted(glob.glob(os.path.join(HERE, CPU_DIR, "*.pyx"))):
        base = os.path.splitext(os.path.basename(pyx))[0]
        if base in NO_VARIANTS or any(base.endswith("_" + isa) for isa in ISA_VARIANTS):
            continue
        for isa, flags in ISA_VARIANTS.items():
            target = os.path.join(os.path.dirname(pyx), f"{base}_{isa}.pyx")
            with open(pyx) as f:
                text = f.read()
            header = f"# Generated: {base}.pyx compiled for {isa}; edit {base}.pyx, not this file.\n"
            if not os.path.exists(target) or open(target).read() != header + text:
                with open(target, "w") as f:
                    f.write(header + text)
            variants.append((os.path.relpath(target, HERE), flags))
    return dict(variants)


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


def compiler_accepts(flag):
    """Whether the C compiler takes ``flag`` (an option only some compilers know)."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        result = subprocess.run(cc + ["-Werror", flag, "-c", src, "-o", os.path.join(tmp, "probe.o")],
                                capture_output=True, timeout=60)
        return result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extensions():
    render_templates()
    variant_flags = write_isa_variant_sources() if isa_variants_supported() else {}
    omp_compile, omp_link = openmp_flags()
    compile_args = ["-O3", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-function", "-Wno-unreachable-code"]
    # The generated elementwise module holds hundreds of kernels: at GCC's default unit growth
    # limit (40%) the inliner stops inlining the exp/log helpers into the last kernels it meets, and
    # their loops do not vectorise (which ones depends on every line of the file).
    if sys.platform != "win32" and compiler_accepts("--param=inline-unit-growth=200"):
        compile_args.append("--param=inline-unit-growth=200")
    if os.environ.get("FASTLOSS_NATIVE"):
        compile_args.append("-march=native")
    if sys.platform == "win32":
        compile_args = ["/O2"] + (["/openmp"] if omp_compile else [])
        omp_compile, omp_link = [], []
    exts = []
    for pyx in sorted(glob.glob(os.path.join(CPU_DIR, "*.pyx"))):
        name = os.path.splitext(os.path.relpath(pyx, "src"))[0].replace(os.sep, ".")
        if pyx.endswith(tuple(f"_{isa}.pyx" for isa in ISA_VARIANTS)) and pyx not in variant_flags:
            continue  # a variant copy left by an earlier build: without its flags it is not that variant
        exts.append(
            Extension(
                name,
                [pyx],
                include_dirs=[numpy.get_include(), CPU_DIR],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=compile_args + omp_compile + variant_flags.get(pyx, []),
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
