#!/bin/sh
# npm run prebuild:<x64|arm64|armv7>: the production addon through
# prebuildify (prebuilds/linux-<arch>/, N-API, stripped), then the tools addon
# (load generator and conversion bindings, native/tools_addon.cc) for the same
# architecture into prebuilds/linux-<arch>/tools/. prebuildify takes the first
# .node it finds in build/Release, so its build leaves the tools target out
# (CLOCKTOWER_TOOLS=0, binding.gyp). Cross builds take CC, CXX and STRIP from
# the environment (package.json sets them).
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
  x64) flags="--arch x64"; gyp_arch=x64; dir=linux-x64 ;;
  arm64) flags="--arch arm64 --strip-bin ${STRIP}"; gyp_arch=arm64; dir=linux-arm64 ;;
  armv7) flags="--arch arm --armv 7 --tag-armv --strip-bin ${STRIP}"; gyp_arch=arm; dir=linux-arm ;;
  *) echo "usage: prebuild.sh x64|arm64|armv7" >&2; exit 2 ;;
esac
CLOCKTOWER_TOOLS=0 node_modules/.bin/prebuildify --napi --strip $flags
node_modules/.bin/node-gyp rebuild --arch="$gyp_arch" --release >/dev/null
mkdir -p "prebuilds/$dir/tools"
cp build/Release/tools/clocktower_tools.node "prebuilds/$dir/tools/clocktower_tools.node"
"${STRIP:-strip}" --strip-all "prebuilds/$dir/tools/clocktower_tools.node"
