#!/usr/bin/env bash
# Registers the tslab (TypeScript) Jupyter kernel for this checkout, so the lesson notebook runs in
# Jupyter and in VS Code, and links notebooks/node_modules/imgcls to the repository so the notebook
# imports the built library by its package name (tslab resolves modules the Node 10 way, which has
# no package self-reference).
# Usage: bash scripts/register-kernel.sh [--force] [JUPYTER_DATA_DIR]   (default: ~/.local/share/jupyter)
# Tests pass a temporary folder and run Jupyter with JUPYTER_PATH set to it.
# A registration that points at another checkout is a user-wide setting someone relies on: it is left
# alone (exit 3, saying where it points) unless --force is given. `imgcls doctor` shows where it points.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
data_dir="${1:-${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}}"
kernel_dir="$data_dir/kernels/tslab"
tslab="$repo/node_modules/tslab/bin/tslab"

if [ ! -f "$tslab" ]; then
  echo "register-kernel: $tslab not found. Install the npm packages first: npm ci" >&2
  exit 1
fi
node_bin="$(command -v node)"

existing="$kernel_dir/kernel.json"
if [ -f "$existing" ] && [ "$force" = 0 ]; then
  points_at="$("$node_bin" -e 'try { process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).argv[1] ?? "")) } catch {}' "$existing")"
  if [ -n "$points_at" ] && [ "$points_at" != "$tslab" ]; then
    echo "register-kernel: the tslab kernel in $kernel_dir already points at another checkout:" >&2
    echo "  $points_at" >&2
    echo "  left unchanged. To point it at this checkout ($repo): bash scripts/register-kernel.sh --force" >&2
    exit 3
  fi
fi

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
