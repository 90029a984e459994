"""Build the Cython kernels.

* Every ``src/fastloss/_cpu/*.pyx`` becomes an extension; ``*.pyx.tp`` files are Tempita templates
  rendered to ``.pyx`` first (the way scikit-learn generates its per-loss loops). No source found,
  or a build that produced no extension, is an error: never a pure-Python wheel that cannot import.
* Compiler flags per compiler (set in ``build_ext``, once the compiler is known): GCC/Clang
  ``-O3 -g0 -fno-math-errno -ffp-contract=off`` (no debug info; ``-s`` strips at link on Linux),
  MSVC ``/O2``. ``FASTLOSS_NATIVE=1`` adds ``-march=native`` for local builds only (a wheel must
  run on any x86-64).
* OpenMP: a C compiler is checked first (so a missing one is reported as that), then OpenMP is
  probed by compiling and running a tiny program with each candidate flag, through the same
  compiler object as the extensions (so CC, CFLAGS, CPPFLAGS and LDFLAGS apply: Homebrew's
  libomp via ``CPPFLAGS=-I$(brew --prefix libomp)/include LDFLAGS=-L$(brew --prefix libomp)/lib``):
  GCC ``-fopenmp``, Apple Clang ``-Xpreprocessor -fopenmp`` + ``-lomp``, Intel ``-qopenmp``,
  MSVC ``/openmp``. Without it the build goes on serially (``prange`` runs as a plain loop) and
  says so. ``FASTLOSS_NO_OPENMP=1`` forces a serial build (``0``/``false``/empty do not).
* One-thread parallel regions skip the OpenMP runtime where GCC/libgomp and GNU ld allow it
  (probed): ``fastloss_serial_regions.h`` says why and how. ``FASTLOSS_NO_SERIAL_REGIONS=1``
  turns that off.
* The configuration (OpenMP or not, ISA variants, flags) is stamped in the build directory: when
  it changes, every module is re-cythonized and recompiled, so an old ``build/`` never mixes
  serial and OpenMP modules.
* On x86-64 with GCC/Clang the kernel modules are also built for AVX2 and AVX-512
  (``<name>_avx2``, ``<name>_avx512``, from copies of their source) and ``fastloss._cpu.kernels``
  loads the best variant the CPU runs. ``-ffp-contract=off`` leaves no multiply-add to the
  compiler's choice: the variants (built with ``-mfma``) evaluate vecmath.h's polynomials, and
  classification's float32 softmax exp, with explicit fused multiply-adds, the baseline with a
  product and a sum. The AVX2 and AVX-512 variants agree bit
  for bit; the baseline can differ from them in the last bit (see the README's build section).
  ``FASTLOSS_ISA_VARIANTS=avx2`` (or ``avx512``, or ``none``) builds fewer copies, for a faster
  local build (``FASTLOSS_NO_ISA_VARIANTS=1`` is the same as ``none``).
"""
import glob
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import textwrap

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CPU_DIR = os.path.join("src", "fastloss", "_cpu")

# Modules that are not kernels (run-time queries) get no ISA variants. vecmath_check (the accuracy
# tests' hook) gets them: the tests measure the exp/log/log1p the kernels run.
NO_VARIANTS = {"threads", "isa"}
# The best first; fastloss._cpu.best_isa() checks the same features at run time. GCC's generic
# tuning would keep AVX-512 code at 256-bit vectors: ask for the full width.
ISA_VARIANTS = {
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma", "-mprefer-vector-width=512"],
    "avx2": ["-mavx2", "-mfma"],
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def env_flag(name):
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off/empty (anything else: error)."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SystemExit(f"setup.py: {name}={os.environ[name]!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def wanted_isa_variants():
    """The ISA variants to build: none off x86-64, on Windows (MSVC) or with FASTLOSS_NATIVE."""
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32" or env_flag("FASTLOSS_NATIVE"):
        return []
    if env_flag("FASTLOSS_NO_ISA_VARIANTS"):
        return []
    chosen = os.environ.get("FASTLOSS_ISA_VARIANTS", "avx2,avx512").strip().lower()
    names = [n.strip() for n in chosen.split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in ISA_VARIANTS]
    if unknown:
        raise SystemExit(f"setup.py: FASTLOSS_ISA_VARIANTS names unknown ISAs {unknown} "
                         f"(known: {sorted(ISA_VARIANTS)})")
    return [isa for isa in ISA_VARIANTS if isa in names]


def render_templates():
    """Render each ``.pyx.tp`` to ``.pyx`` when the template is newer."""
    from Cython import Tempita

    for template in glob.glob(os.path.join(HERE, CPU_DIR, "*.pyx.tp")):
        target = template[: -len(".tp")]
        if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(template):
            continue
        with open(template) as f:
            text = Tempita.sub(f.read())
        with open(target, "w") as f:
            f.write("# Generated from %s: edit the template, not this file.\n" % os.path.basename(template))
            f.write(text)


def kernel_sources():
    """The kernel modules' own ``.pyx`` files (not ISA copies left by an earlier build)."""
    sources = []
    for pyx in sorted(glob.glob(os.path.join(CPU_DIR, "*.pyx"))):
        base = os.path.splitext(os.path.basename(pyx))[0]
        if not any(base.endswith("_" + isa) for isa in ISA_VARIANTS):
            sources.append(pyx)
    return sources


def variant_path(pyx, isa):
    base = os.path.splitext(os.path.basename(pyx))[0]
    return os.path.join(os.path.dirname(pyx), f"{base}_{isa}.pyx")


def write_isa_variant_source(pyx, isa):
    """``<name>_<isa>.pyx``: a copy of a kernel module's source under the variant's module name
    (written when building, not by sdist)."""
    base = os.path.splitext(os.path.basename(pyx))[0]
    target = variant_path(pyx, isa)
    with open(pyx) as f:
        text = f"# Generated: {base}.pyx compiled for {isa}; edit {base}.pyx, not this file.\n" + f.read()
    if not os.path.exists(target) or open(target).read() != text:
        with open(target, "w") as f:
            f.write(text)
    return target


def remove_stale_variants(keep):
    """Variant copies (sources, generated C, in-place builds) of an earlier build that this build
    does not make: compiled without their ISA flags, or left stale, they must not be loaded."""
    for isa in ISA_VARIANTS:
        for path in glob.glob(os.path.join(CPU_DIR, f"*_{isa}.*")):
            source = os.path.join(CPU_DIR, os.path.basename(path).split(".")[0] + ".pyx")
            if source not in keep and path.endswith((".pyx", ".c", ".so", ".pyd")):
                os.remove(path)


def module_name(pyx):
    return os.path.splitext(os.path.relpath(pyx, "src"))[0].replace(os.sep, ".")


def extensions():
    render_templates()
    sources = kernel_sources()
    if not sources:
        raise SystemExit(f"setup.py: no Cython sources (*.pyx, *.pyx.tp) under {CPU_DIR}: this source tree or "
                         "sdist is incomplete, and a build without its compiled kernels would not import")
    exts = []
    for pyx in sources:
        exts.append(Extension(module_name(pyx), [pyx]))
        base = os.path.splitext(os.path.basename(pyx))[0]
        if base in NO_VARIANTS:
            continue
        for isa in wanted_isa_variants():
            copy = variant_path(pyx, isa)
            ext = Extension(module_name(copy), [copy])
            ext.fastloss_isa, ext.fastloss_source = isa, pyx
            exts.append(ext)
    return exts


# --------------------------------------------------------------------------------------------
# Compiler checks through the build's own compiler object.

_OPENMP_PROGRAM = textwrap.dedent(
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


def _try_program(compiler, source, compile_flags, link_flags, run=False):
    """Compile (and link, and run) ``source`` with ``compiler``; True when it all works."""
    import subprocess

    tmp = tempfile.mkdtemp(prefix="fastloss-probe-")
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(source)
        objects = compiler.compile(["probe.c"], extra_postargs=compile_flags)
        if compiler.compiler_type != "msvc":
            # setuptools applies CFLAGS/CPPFLAGS to compiling and LDFLAGS to shared objects only
            link_flags = shlex.split(os.environ.get("LDFLAGS", "")) + link_flags
        compiler.link_executable(objects, "probe", extra_postargs=link_flags)
        if run:
            exe = os.path.join(tmp, "probe.exe" if sys.platform == "win32" else "probe")
            out = subprocess.run([exe], check=True, capture_output=True, timeout=60).stdout
            return out.strip() == b"1"
        return True
    except Exception:
        return False
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def openmp_flags(compiler):
    """(compile_args, link_args) for OpenMP, or None where the compiler has none."""
    if env_flag("FASTLOSS_NO_OPENMP"):
        return None
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    else:
        # (compile flags, link flags): GCC/Clang, Apple Clang with libomp, Intel.
        candidates = [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"]),
                      (["-qopenmp"], ["-qopenmp"])]
    for flags, link in candidates:
        if _try_program(compiler, _OPENMP_PROGRAM, flags, link, run=True):
            return flags, link
    return None


# The probe for fastloss_serial_regions.h: the wrapped GOMP_parallel runs a one-thread region's
# body directly (its nesting level inside is 0, where a libgomp team of one would give 1), with a
# worksharing loop and a barrier as Cython's prange emits them, and passes a two-thread region on.
_SERIAL_REGIONS_PROGRAM = textwrap.dedent(
    """
    #include "fastloss_serial_regions.h"
    #include <stdio.h>
    int main(void) {
        int level = -1, sum = 0, team = 0, i;
        #pragma omp parallel num_threads(1) reduction(+:sum)
        {
            level = omp_get_level();
            #pragma omp for schedule(static)
            for (i = 0; i < 100; i++) sum += i;
            #pragma omp barrier
        }
        #pragma omp parallel num_threads(2) reduction(+:team)
        team += omp_get_level();
        printf("%d\\n", level == 0 && sum == 4950 && team >= 1);
        return 0;
    }
    """
)


def serial_regions_flags(compiler, omp):
    """(compile_args, link_args) that make one-thread regions skip the OpenMP runtime
    (fastloss_serial_regions.h), or ([], []) where the toolchain cannot (not GCC/libgomp, no
    GNU ld --wrap, FASTLOSS_NO_SERIAL_REGIONS=1)."""
    if omp is None or compiler.compiler_type == "msvc" or env_flag("FASTLOSS_NO_SERIAL_REGIONS"):
        return [], []
    header = os.path.join(os.path.abspath(CPU_DIR), "fastloss_serial_regions.h")
    flags = ["-I" + os.path.abspath(CPU_DIR)] + omp[0]
    link = ["-Wl,--wrap=GOMP_parallel"] + omp[1]
    if _try_program(compiler, _SERIAL_REGIONS_PROGRAM, flags, link, run=True):
        return ["-include", header], ["-Wl,--wrap=GOMP_parallel"]
    return [], []


def compile_flags(compiler):
    if compiler.compiler_type == "msvc":
        return ["/O2"], []
    flags = ["-O3", "-g0", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-function", "-Wno-unreachable-code"]
    # The generated elementwise module holds hundreds of kernels: at GCC's default unit growth
    # limit (40%) the inliner stops inlining the exp/log helpers into the last kernels it meets, and
    # their loops do not vectorise (which ones depends on every line of the file). Clang has no such
    # parameter (it refuses it under -Werror).
    growth = "--param=inline-unit-growth=200"
    if _try_program(compiler, "int main(void) { return 0; }\n", ["-Werror", growth], []):
        flags.append(growth)
    if env_flag("FASTLOSS_NATIVE"):
        flags.append("-march=native")
    link = ["-s"] if sys.platform.startswith("linux") else []  # strip the symbol tables too
    return flags, link


class BuildKernels(build_ext):
    """Probe the compiler, set each extension's flags, cythonize, compile; check every module was built."""

    def build_extensions(self):
        import numpy
        from Cython.Build import cythonize

        compiler = self.compiler
        if not _try_program(compiler, "int main(void) { return 0; }\n", [], []):
            raise SystemExit("setup.py: no working C compiler: fastloss's kernels are C (Cython) extensions. Install "
                             "one (gcc or clang; on Windows the MSVC build tools), or set CC to it.")
        omp = openmp_flags(compiler)
        if omp is None:
            print("fastloss: " + ("FASTLOSS_NO_OPENMP is set" if env_flag("FASTLOSS_NO_OPENMP") else
                                  "the C compiler has no OpenMP") + "; building serial kernels "
                  "(on macOS: brew install libomp, then CPPFLAGS=-I$(brew --prefix libomp)/include "
                  "LDFLAGS=-L$(brew --prefix libomp)/lib)", file=sys.stderr)
        omp_compile, omp_link = omp or ([], [])
        serial_compile, serial_link = serial_regions_flags(compiler, omp)
        omp_compile, omp_link = omp_compile + serial_compile, omp_link + serial_link
        flags, link = compile_flags(compiler)
        if compiler.compiler_type == "msvc":
            self.extensions = [e for e in self.extensions if not getattr(e, "fastloss_isa", None)]
        variants = [write_isa_variant_source(e.fastloss_source, e.fastloss_isa)
                    for e in self.extensions if getattr(e, "fastloss_isa", None)]
        remove_stale_variants(variants)
        for ext in self.extensions:
            isa = getattr(ext, "fastloss_isa", None)
            ext.include_dirs = [numpy.get_include(), CPU_DIR]
            ext.define_macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
            ext.extra_compile_args = flags + omp_compile + (ISA_VARIANTS[isa] if isa else [])
            ext.extra_link_args = link + omp_link
        config = {"openmp": omp, "serial_regions": bool(serial_link), "flags": flags, "link": link,
                  "modules": sorted(e.name for e in self.extensions),
                  "compiler": compiler.compiler_type}
        changed = self._config_changed(config)
        cythonized = cythonize(
            self.extensions,
            include_path=["src"],
            compile_time_env={"FASTLOSS_OPENMP": omp is not None},
            force=changed or self.force,
            quiet=True,
            compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                                 "cdivision": True, "initializedcheck": False},
        )
        c_sources = {e.name: e.sources for e in cythonized}
        for ext in self.extensions:  # keep setuptools' own Extension objects, with the C sources
            ext.sources = c_sources[ext.name]
        if changed:
            self.force = True  # recompile every module: none is left from another configuration
        super().build_extensions()
        missing = [e.name for e in self.extensions if not os.path.exists(self.get_ext_fullpath(e.name))]
        if missing or not self.extensions:
            raise SystemExit(f"setup.py: the build produced no extension for {missing or 'any module'}")
        self._write_config(config)

    def _config_path(self):
        return os.path.join(self.build_temp, "fastloss-build-config.json")

    def _config_changed(self, config):
        try:
            with open(self._config_path()) as f:
                return json.load(f) != json.loads(json.dumps(config))
        except (OSError, ValueError):
            return True

    def _write_config(self, config):
        os.makedirs(self.build_temp, exist_ok=True)
        with open(self._config_path(), "w") as f:
            json.dump(config, f)


if __name__ == "__main__":  # (setuptools' build backend runs this file as __main__ too)
    setup(ext_modules=extensions(), cmdclass={"build_ext": BuildKernels})
