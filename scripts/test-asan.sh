#!/bin/sh
# npm run test:asan: the addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer (g++), in out/asan so the normal build/ stays as
# it is, then the native test tier against it (CLOCKTOWER_ADDON). Node itself
# is not instrumented, so the ASan runtime is preloaded; leak checking is off
# (V8 keeps allocations alive at exit by design), every other report is fatal.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
dir=$root/out/asan
mkdir -p "$dir"
ln -sfn "$root/native" "$dir/native"
ln -sfn "$root/node_modules" "$dir/node_modules"
cp "$root/binding.gyp" "$dir/binding.gyp"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
(
  cd "$dir"
  CXXFLAGS="$san" CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" \
    npm_config_nodedir=${npm_config_nodedir:-/usr} "$root/node_modules/.bin/node-gyp" rebuild -j 2 >"$dir/build.log" 2>&1 \
    || { tail -n 30 "$dir/build.log"; echo "test:asan: the sanitizer build failed"; echo "0 passed, 1 failed"; exit 1; }
)
addon=$dir/build/Release/clocktower.node
nm -D "$addon" | grep -q __asan_ || { echo "test:asan: $addon is not instrumented"; echo "0 passed, 1 failed"; exit 1; }
asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export CLOCKTOWER_ADDON="$addon"
export CLOCKTOWER_TOOLS_ADDON="$dir/build/Release/tools/clocktower_tools.node"
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
exec sh scripts/no-sys-time.sh node --import tsx test/run.ts native "$@"
