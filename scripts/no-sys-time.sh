#!/bin/sh
# Runs a command with CAP_SYS_TIME out of reach (bounding and inheritable
# sets), so no test or benchmark can change this machine's clock, even as
# root. Without the capability in the first place there is nothing to drop.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
  exec setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- "$@"
fi
exec "$@"
