"""``python -m fastloss._gpu.check``: compile every kernel the GPU backend can launch with NVRTC,
for sm_80 and sm_90, without a GPU.

For each family (``elementwise.cu``, ...) the source the backend compiles (``_runtime.source``)
goes through NVRTC once per architecture, with the backend's options, ``-Xptxas=-v`` and every
kernel name the backend launches as a name expression (a name missing from the source is an
error). Prints each kernel's registers, stack frame and spills per architecture; exits non-zero
on any compile error, any warning (NVRTC's or ptxas's), any register spill or any missing kernel.

NVRTC comes from CuPy (``cupy.cuda.nvrtc``) or NVIDIA's ``cuda.bindings``; ``pip install
"fastloss[gpu]"`` installs it (cupy-cuda12x and nvidia-cuda-nvrtc-cu12). Exit status 2: no NVRTC.
"""
import argparse
import re
import sys

from . import FAMILIES
from ._runtime import NVRTC_OPTIONS, kernel_names, source

ARCHS = ("sm_80", "sm_90")

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+)'")
_PROPS = re.compile(r"Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")


class NvrtcUnavailable(RuntimeError):
    pass


def _nvrtc_cupy():
    from cupy.cuda import nvrtc

    def compile_program(src, name, options, name_expressions):
        prog = nvrtc.createProgram(src, name, [], [])
        try:
            for expr in name_expressions:
                nvrtc.addNameExpression(prog, expr)
            ok, error = True, ""
            try:
                nvrtc.compileProgram(prog, list(options))
            except nvrtc.NVRTCError as exc:
                ok, error = False, str(exc)
            log = nvrtc.getProgramLog(prog)
            lowered = {}
            if ok:
                for expr in name_expressions:
                    try:
                        lowered[expr] = nvrtc.getLoweredName(prog, expr)
                    except nvrtc.NVRTCError:
                        lowered[expr] = None
            return ok, (log + ("\n" + error if error else "")), lowered
        finally:
            nvrtc.destroyProgram(prog)

    return compile_program, "cupy.cuda.nvrtc %d.%d" % nvrtc.getVersion()


def _nvrtc_bindings():
    from cuda.bindings import nvrtc

    def check(result):
        err = result[0]
        if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise RuntimeError(str(err))
        return result[1:] if len(result) > 2 else (result[1] if len(result) == 2 else None)

    def compile_program(src, name, options, name_expressions):
        prog = check(nvrtc.nvrtcCreateProgram(src.encode(), name.encode(), 0, [], []))
        try:
            for expr in name_expressions:
                check(nvrtc.nvrtcAddNameExpression(prog, expr.encode()))
            res = nvrtc.nvrtcCompileProgram(prog, len(options), [o.encode() for o in options])
            ok = res[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
            size = check(nvrtc.nvrtcGetProgramLogSize(prog))
            buf = b" " * size
            check(nvrtc.nvrtcGetProgramLog(prog, buf))
            log = buf.decode(errors="replace").rstrip("\x00")
            lowered = {}
            if ok:
                for expr in name_expressions:
                    try:
                        lowered[expr] = check(nvrtc.nvrtcGetLoweredName(prog, expr.encode())).decode()
                    except RuntimeError:
                        lowered[expr] = None
            return ok, log, lowered
        finally:
            nvrtc.nvrtcDestroyProgram(prog)

    major, minor = check(nvrtc.nvrtcVersion())
    return compile_program, f"cuda.bindings.nvrtc {major}.{minor}"


def nvrtc_compiler():
    """(compile_program, description); NvrtcUnavailable when neither CuPy's NVRTC nor
    cuda.bindings' can be loaded."""
    errors = []
    for loader in (_nvrtc_cupy, _nvrtc_bindings):
        try:
            return loader()
        except Exception as exc:  # ImportError, or the NVRTC library missing
            errors.append(f"{loader.__name__[7:]}: {exc}")
    raise NvrtcUnavailable("no NVRTC: " + "; ".join(errors) + ' (pip install "fastloss[gpu]")')


def parse_ptxas(log):
    """{function: {'registers', 'stack', 'spill_stores', 'spill_loads'}} from ``-Xptxas=-v`` output."""
    info = {}
    current = None
    for line in log.splitlines():
        m = _ENTRY.search(line) or _PROPS.search(line)
        if m:
            current = info.setdefault(m.group(1), {})
            continue
        if current is None:
            continue
        m = _FRAME.search(line)
        if m:
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        m = _REGS.search(line)
        if m:
            current["registers"] = int(m.group(1))
    return info


def check_family(compile_program, family, arch, text=None):
    """(problems, rows) for one family on one architecture; rows: (kernel, registers, stack, spills).
    ``text``: another source for the family's kernels (a variant; default: its own)."""
    names = kernel_names(family)
    options = list(NVRTC_OPTIONS) + [f"-arch={arch}", "-Xptxas=-v"]
    ok, log, lowered = compile_program(source(family) if text is None else text, f"{family}.cu", options, names)
    problems, rows = [], []
    if not ok:
        return [f"{family} ({arch}): compile error\n{log}"], rows
    warnings = [line for line in log.splitlines() if "warning" in line.lower()]
    if warnings:
        problems.append(f"{family} ({arch}): warnings\n" + "\n".join(warnings))
    ptxas = parse_ptxas(log)
    for name in names:
        symbol = lowered.get(name)
        if not symbol:
            problems.append(f"{family} ({arch}): kernel {name} is not defined")
            continue
        props = ptxas.get(symbol, {})
        spills = props.get("spill_stores", 0) + props.get("spill_loads", 0)
        rows.append((name, props.get("registers"), props.get("stack"), spills))
        if spills:
            problems.append(f"{family} ({arch}): {name} spills registers ({props['spill_stores']} bytes stored, "
                            f"{props['spill_loads']} loaded)")
    for symbol, props in ptxas.items():  # device functions ptxas kept as calls
        if symbol not in lowered.values() and props.get("spill_stores", 0) + props.get("spill_loads", 0):
            problems.append(f"{family} ({arch}): function {symbol} spills registers")
    return problems, rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastloss._gpu.check", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", help="architectures (default: sm_80 and sm_90)")
    parser.add_argument("--family", action="append", choices=FAMILIES, help="families (default: all)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and the summary")
    args = parser.parse_args(argv)
    try:
        compile_program, what = nvrtc_compiler()
    except NvrtcUnavailable as exc:
        print(f"fastloss._gpu.check: {exc}", file=sys.stderr)
        return 2
    archs = args.arch or list(ARCHS)
    families = args.family or list(FAMILIES)
    problems, count = [], 0
    print(f"fastloss._gpu.check: {what}; {', '.join(archs)}; families {', '.join(families)}")
    for family in families:
        for arch in archs:
            found, rows = check_family(compile_program, family, arch)
            problems += found
            count += len(rows)
            if not args.quiet:
                for name, regs, stack, spills in rows:
                    print(f"  {arch}  {name:<40s} {regs if regs is not None else '?':>4} registers  "
                          f"{stack if stack is not None else '?':>5} bytes stack  {spills} bytes spilled")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    print(f"fastloss._gpu.check: {count} kernel instantiations compiled "
          f"({len(archs)} architectures), {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
