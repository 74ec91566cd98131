#!/usr/bin/env bash
# Registers the tslab (TypeScript) Jupyter kernel for this checkout, so the lesson notebook runs in
# Jupyter and in VS Code, and links notebooks/node_modules/imgcls to the repository so the notebook
# imports the built library by its package name (tslab resolves modules the Node 10 way, which has
# no package self-reference).
# Usage: bash scripts/register-kernel.sh [JUPYTER_DATA_DIR]   (default: ~/.local/share/jupyter)
# Tests pass a temporary folder and run Jupyter with JUPYTER_PATH set to it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${1:-${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}}"
kernel_dir="$data_dir/kernels/tslab"
tslab="$repo/node_modules/tslab/bin/tslab"

if [ ! -f "$tslab" ]; then
  echo "register-kernel: $tslab not found. Install the npm packages first: npm ci" >&2
  exit 1
fi
node_bin="$(command -v node)"

# kernel.json written by hand: `tslab install` would need IPython, which Debian's Jupyter lacks here.
mkdir -p "$kernel_dir"
tmp="$(mktemp "$kernel_dir/.kernel.json.XXXXXX")"
NODE_BIN="$node_bin" TSLAB="$tslab" "$node_bin" -e '
  const spec = {
    argv: [process.env.NODE_BIN, process.env.TSLAB, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript",
    language: "typescript",
  };
  process.stdout.write(JSON.stringify(spec, null, 1) + "\n");
' > "$tmp"
mv -f "$tmp" "$kernel_dir/kernel.json"

# Atomic replace (rename), so concurrent runs never see a missing link.
mkdir -p "$repo/notebooks/node_modules"
link="$repo/notebooks/node_modules/imgcls"
if [ "$(readlink "$link" 2>/dev/null || true)" != "../.." ]; then
  ln -s ../.. "$link.tmp.$$"
  mv -Tf "$link.tmp.$$" "$link"
fi
echo "register-kernel: tslab kernel in $kernel_dir; notebooks/node_modules/imgcls -> repository"
