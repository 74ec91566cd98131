#!/usr/bin/env bash
# Builds the optional libtorch training engine (native/libtorch → native/libtorch/build/Release/imgcls_torch.node).
# Needs Debian's libtorch-dev, a C++ compiler and make, plus node-gyp and node-addon-api (devDependencies).
# When any is missing it says why and exits 0: imgcls then trains top-k/full on TF.js wasm.
set -uo pipefail
cd "$(dirname "$0")/../native/libtorch"
root=../..

skip() {
  echo "build-native: skipped: $1 (imgcls trains on TF.js wasm; imgcls doctor reports the engine)"
  exit 0
}
[ -f /usr/include/torch/csrc/api/include/torch/torch.h ] || skip "libtorch headers missing (apt-get install -y --no-install-recommends libtorch-dev)"
command -v g++ >/dev/null || skip "no C++ compiler (apt-get install -y --no-install-recommends g++ make)"
command -v make >/dev/null || skip "no make (apt-get install -y --no-install-recommends make)"
[ -f "$root/node_modules/node-gyp/bin/node-gyp.js" ] || skip "node-gyp is not installed (a devDependency: run npm ci in the repository)"
[ -d "$root/node_modules/node-addon-api" ] || skip "node-addon-api is not installed (a devDependency: run npm ci in the repository)"
nodedir=()
[ -f /usr/include/node/node_api.h ] && nodedir=(--nodedir=/usr)

started=$(date +%s)
# node-gyp 'rebuild' needs Node's headers: Debian's /usr/include/node when present, else node-gyp's cache (no download offline)
if ! node "$root/node_modules/node-gyp/bin/node-gyp.js" rebuild "${nodedir[@]}" --jobs=1 >build.log 2>&1; then
  tail -20 build.log
  echo "build-native: FAILED (full log: native/libtorch/build.log); imgcls trains on TF.js wasm until this builds"
  exit 1
fi
size=$(du -k build/Release/imgcls_torch.node | cut -f1)
echo "build-native: built native/libtorch/build/Release/imgcls_torch.node (${size} KB) in $(( $(date +%s) - started )) s"
