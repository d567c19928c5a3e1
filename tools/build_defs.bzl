"""Macros for the root BUILD: one py_library per Python package, one py_test per test file."""

def _package_name(directory):
    return directory.replace("/", ".")

def py_package_libraries(srcs, extra_deps = {}, **kwargs):
    """Creates one py_library per directory of `srcs`, named after the dotted Python package.

    `nets/layers/raw.py` goes into `//:nets.layers`, which depends on `//:nets` (the parent
    package's `__init__.py`). A package with no .py file of its own (a namespace directory) gets
    no library; its children depend on the nearest ancestor that has one.

    Args:
      srcs: .py files below the workspace root (not at the root itself).
      extra_deps: dotted package name -> list of extra deps (labels) for that library.
      **kwargs: passed to every py_library.

    Returns:
      The labels of the libraries created, sorted.
    """
    by_dir = {}
    for src in srcs:
        directory = src.rpartition("/")[0]
        if not directory:
            fail("py_package_libraries: {} is at the workspace root".format(src))
        by_dir.setdefault(directory, []).append(src)

    labels = []
    for directory in sorted(by_dir):
        deps = []
        parent = directory.rpartition("/")[0]
        for _ in range(directory.count("/")):
            if parent in by_dir:
                deps.append(":" + _package_name(parent))
                break
            parent = parent.rpartition("/")[0]
        name = _package_name(directory)
        native.py_library(
            name = name,
            srcs = sorted(by_dir[directory]),
            srcs_version = "PY3",
            deps = deps + extra_deps.get(name, []),
            **kwargs
        )
        labels.append(":" + name)
    return labels

def pytest_test(name, src, main = "//tools:pytest_main.py", deps = [], data = [], args = [], **kwargs):
    """A py_test that runs the pytest-style test file `src` through `main` (pytest.main).

    pytest collects the test functions of `src` and its exit code (non-zero when any test fails
    or none is collected) becomes the test's result.
    """
    native.py_test(
        name = name,
        srcs = [src, main],
        main = main,
        args = ["$(location {})".format(src)] + args,
        python_version = "PY3",
        srcs_version = "PY3",
        deps = deps,
        data = data,
        **kwargs
    )

def pytest_tests(srcs, overrides = {}, deps = [], size = "medium", **kwargs):
    """One pytest_test per file of `srcs`, named after it: tests/foo_test.py -> :foo_test.

    Args:
      srcs: the test files, below tests/.
      overrides: test name -> dict of pytest_test attributes; "deps" and "data" are added to
        the common ones, anything else (size, tags, timeout, ...) replaces the default.
      deps: deps of every test.
      size: the default size.
      **kwargs: passed to every pytest_test.
    """
    for src in srcs:
        name = src[len("tests/"):-len(".py")] if src.startswith("tests/") else src[:-len(".py")]
        attrs = dict(kwargs)
        attrs["size"] = size
        extra = dict(overrides.get(name, {}))
        attrs["deps"] = deps + extra.pop("deps", [])
        attrs["data"] = attrs.get("data", []) + extra.pop("data", [])
        attrs.update(extra)
        pytest_test(name = name, src = src, **attrs)
