#!/usr/bin/env bash
# Installs everything imgcls needs on a fresh Debian 12 machine: npm packages (offline-safe, from
# package-lock.json), the Debian packages for the notebook, the benchmarks' PyTorch peer and the
# end-to-end tests (when run as root; otherwise it prints the apt line), and a local code-server.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  jupyter-nbconvert python3-nbclient python3-jupyter-client   # notebook tests (tslab kernel)
  chromium libkrb5-dev ripgrep                                 # VS Code end-to-end tests
  python3-torch python3-torchvision libopenblas0-pthread       # the PyTorch peer in benchmarks
  libtorch-dev g++ make                                        # the optional libtorch training engine (addon)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: run this as root, then run setup again:"
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  fi
fi

# onnxruntime-node's postinstall would try to download CUDA files; its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund

npm run build

# The optional libtorch training engine for top-k/full (a Node addon, ~1 min to compile); without libtorch-dev,
# g++ or make it is skipped with the reason and training runs on TF.js wasm.
bash scripts/build-native.sh

# The lesson notebook's kernel: tslab, registered for Jupyter (and VS Code's Jupyter extension).
# A registration of another checkout is left alone (register-kernel exits 3 and says how to switch).
bash scripts/register-kernel.sh || { code=$?; [ "$code" = 3 ] || exit "$code"; }

# A real VS Code for the end-to-end tests (code-server 4.100.3 bundles VS Code 1.100.3 and runs on Node 20).
bash scripts/install-code-server.sh

echo "setup: done. Run the tests with: npm test"
