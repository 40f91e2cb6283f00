#!/bin/sh
# clang-format over the addon's sources (native/, fuzz targets included) and
# the link emulator: --check fails on a file that is not formatted, --write
# rewrites them. Style: .clang-format.
set -eu
cd "$(dirname "$0")/.."
files=$(ls native/*.cc native/*.h native/fuzz/*.cc test/tools/*.c 2>/dev/null)
case "${1:---check}" in
  --check) clang-format --dry-run --Werror $files ;;
  --write) clang-format -i $files ;;
  *) echo "usage: clang-format.sh [--check|--write]" >&2; exit 2 ;;
esac
