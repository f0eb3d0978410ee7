# Sourced by the benchmarks that run PyTorch. torch_python NAME PACKAGE... sets $python: the
# interpreter TORCH_PYTHON names, else .venv/bin/python at the repository root when it exists,
# else python3; and stops with the command that makes .venv when one of the packages (pip names,
# imported by the same name) is missing. The CPU wheels come from the local pip index.
torch_python() {
  local name=$1
  shift
  python=${TORCH_PYTHON:-}
  if [ -z "$python" ]; then
    python=python3
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
  fi
  local imports
  imports=$(IFS=,; echo "$*")
  if ! "$python" -c "import $imports" 2>/dev/null; then
    echo "$name: $python lacks one of: $*; set TORCH_PYTHON, or run" \
      "python3 -m venv .venv && .venv/bin/pip install $*" >&2
    exit 1
  fi
}
