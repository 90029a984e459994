"""Packaging: the sdist holds every source a build needs, setup.py's environment switches parse as
booleans, and the type stubs are what mypy checks user code against."""
import importlib.util
import os
import subprocess
import sys
import tarfile

import pytest

import fastloss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FROM_SOURCE_TREE = os.path.exists(os.path.join(ROOT, "setup.py"))
needs_tree = pytest.mark.skipif(not FROM_SOURCE_TREE, reason="needs the source tree")


def _setup_module():
    spec = importlib.util.spec_from_file_location("fastloss_setup", os.path.join(ROOT, "setup.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # (setup() runs only as __main__)
    return module


@needs_tree
@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("ON", True), ("yes", True),
                                             ("0", False), ("false", False), ("", False), ("no", False),
                                             ("off", False)])
def test_environment_switches_are_booleans(monkeypatch, value, expected):
    setup = _setup_module()
    monkeypatch.setenv("FASTLOSS_NO_OPENMP", value)
    assert setup.env_flag("FASTLOSS_NO_OPENMP") is expected


@needs_tree
def test_an_unknown_switch_value_is_an_error(monkeypatch):
    setup = _setup_module()
    monkeypatch.setenv("FASTLOSS_NO_OPENMP", "maybe")
    with pytest.raises(SystemExit, match="not a boolean"):
        setup.env_flag("FASTLOSS_NO_OPENMP")


@needs_tree
def test_isa_variant_choice(monkeypatch):
    setup = _setup_module()
    monkeypatch.setattr(setup.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(setup.sys, "platform", "linux")
    for var in ("FASTLOSS_NATIVE", "FASTLOSS_NO_ISA_VARIANTS", "FASTLOSS_ISA_VARIANTS"):
        monkeypatch.delenv(var, raising=False)
    assert setup.wanted_isa_variants() == ["avx512", "avx2"]
    monkeypatch.setenv("FASTLOSS_ISA_VARIANTS", "avx2")
    assert setup.wanted_isa_variants() == ["avx2"]
    monkeypatch.setenv("FASTLOSS_NO_ISA_VARIANTS", "0")  # 0 does not disable
    assert setup.wanted_isa_variants() == ["avx2"]
    monkeypatch.setenv("FASTLOSS_NO_ISA_VARIANTS", "1")
    assert setup.wanted_isa_variants() == []
    monkeypatch.setattr(setup.platform, "machine", lambda: "arm64")
    monkeypatch.delenv("FASTLOSS_NO_ISA_VARIANTS")
    assert setup.wanted_isa_variants() == []


@needs_tree
def test_sdist_contains_every_build_source(tmp_path):
    pytest.importorskip("build")
    # as a user builds it: pyproject's build requirements in an isolated environment
    result = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (archive,) = tmp_path.glob("fastloss-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    tracked = subprocess.run(["git", "ls-files", "src"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    needed = [p for p in tracked if p.endswith((".pyx", ".pyx.tp", ".pxd", ".h", ".py", ".pyi", ".cu", ".cuh",
                                                ".cpp", ".cc", "py.typed"))]
    missing = [p for p in needed if p not in names]
    assert not missing, f"the sdist lacks {missing}"
    assert {"LICENSE", "README.md", "pyproject.toml", "setup.py"} <= names
    generated = [n for n in names if n.endswith((".c", ".so")) or n.endswith(("_avx2.pyx", "_avx512.pyx"))
                 or n == "src/fastloss/_cpu/elementwise.pyx"]
    assert not generated, f"the sdist holds generated files {generated}"


def _run_mypy(path):
    pytest.importorskip("mypy")
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastloss.__file__)))
    env = dict(os.environ)
    if "site-packages" not in package_parent:  # the source tree: PEP 561 lookup needs an installed package
        env["MYPYPATH"] = package_parent
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull,
                           "--ignore-missing-imports", str(path)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_mypy_accepts_the_typed_example():
    result = _run_mypy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing_example.py"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_calls_against_the_stubs(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import fastloss as fl\n"
                      "fl.mse_loss([1.0], [2.0], reduction=3)\n"
                      "n: str = fl.get_num_threads()\n")
    result = _run_mypy(broken)
    assert result.returncode == 1, result.stdout
    assert 'Argument "reduction" to "mse_loss" has incompatible type "int"' in result.stdout
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in result.stdout


@needs_tree
def test_a_changed_build_configuration_rebuilds_everything(tmp_path):
    """The configuration stamp: another OpenMP/flag configuration than the last build's forces
    re-cythonizing and recompiling every module (an old build/ never mixes serial and OpenMP)."""
    from setuptools import Distribution

    setup = _setup_module()
    command = setup.BuildKernels(Distribution())
    command.build_temp = str(tmp_path)
    openmp = {"openmp": [["-fopenmp"], ["-fopenmp"]], "flags": ["-O3"], "link": [], "modules": ["a"],
              "compiler": "unix"}
    serial = dict(openmp, openmp=None)
    assert command._config_changed(openmp)  # no stamp yet: a first build compiles everything
    command._write_config(openmp)
    assert not command._config_changed(openmp)
    assert command._config_changed(serial)
