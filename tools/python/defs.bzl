"""The project's Python runtime: the virtualenv interpreter named by a command-line flag.

`tools/bazel_setup.sh` writes `build --//tools/python:interpreter=/abs/path/.venv/bin/python`
into the git-ignored `.bazelrc.local`; `venv_py_runtime` turns that flag into the
PyRuntimeInfo of the toolchain registered in WORKSPACE.
"""

InterpreterInfo = provider(
    doc = "The Python interpreter chosen with --//tools/python:interpreter.",
    fields = {"path": "absolute path of the interpreter, or '' when the flag is unset"},
)

def _interpreter_flag_impl(ctx):
    return [InterpreterInfo(path = ctx.build_setting_value)]

interpreter_flag = rule(
    implementation = _interpreter_flag_impl,
    build_setting = config.string(flag = True),
    doc = "Absolute path of the Python interpreter (a virtualenv's bin/python).",
)

def _venv_py_runtime_impl(ctx):
    path = ctx.attr.interpreter[InterpreterInfo].path
    if not path.startswith("/"):
        fail(("--//tools/python:interpreter is {}; run `tools/bazel_setup.sh [VENV]` first " +
              "(it writes the virtualenv's interpreter into .bazelrc.local).").format(
            repr(path) if path else "unset",
        ))
    return [PyRuntimeInfo(
        interpreter_path = path,
        python_version = "PY3",
        # The launcher stub runs with the same interpreter, so no system python3 is needed.
        stub_shebang = "#!" + path,
    )]

venv_py_runtime = rule(
    implementation = _venv_py_runtime_impl,
    attrs = {
        "interpreter": attr.label(mandatory = True, providers = [InterpreterInfo]),
    },
    provides = [PyRuntimeInfo],
    doc = "A PY3 runtime whose interpreter path comes from an interpreter_flag.",
)
