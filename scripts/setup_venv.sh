#!/usr/bin/env bash
# Create the project-local virtual environment (.venv) and install evo-mt with its lab
# (torch, fairseq, export, benchmarks), test tools and Ray (the cluster extra, whose local Ray
# instance the tests start); the runtime alone is `pip install .`.
# Idempotent: returns at once when nothing it installs has changed.
#   TORCH_SPEC   the torch to install (default torch==2.13.0), e.g. TORCH_SPEC="torch==2.13.0+cu128"
#   PYTHON       the interpreter for the venv (default python3)
#   VENV         where the venv lives (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
FAIRSEQ_SPEC=fairseq-fixed==0.12.3.1

stamp="$VENV/.evo-mt-installed"
want="$TORCH_SPEC $FAIRSEQ_SPEC $(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Quiet pip. Hidden: local indexes named by this machine's pip config that may be absent, and
# pip's complaint that fairseq-fixed's torchaudio is missing (deliberately; see above).
noise='^WARNING: Location|dependency resolver does not currently|requires torchaudio|BuildBackendWarning|editable|^\s*(!!|\*+|Please be careful|name as your package|with strategy|return|$)'
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -Ev "$noise" >&2); }
pip install --upgrade pip setuptools wheel
# torch, numpy and cython first: fairseq's C extensions are compiled against them.
pip install "$TORCH_SPEC" "numpy>=1.24,<2.3" "cython>=3"
if ! "$VENV/bin/python" -m pip show -q fairseq-fixed >/dev/null 2>&1; then
    echo "setup: building $FAIRSEQ_SPEC (about 3 minutes the first time)" >&2
    pip install --no-deps --no-build-isolation "$FAIRSEQ_SPEC"
fi
pip install --no-build-isolation -e ".[lab,test,cluster]"
"$VENV/bin/python" -c "import evo_mt, fairseq_cli.train, fairseq_cli.generate" 2>/dev/null \
    || { echo "setup: the environment in $VENV does not import fairseq and evo_mt" >&2; exit 1; }
echo "$want" > "$stamp"
