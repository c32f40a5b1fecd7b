#!/bin/sh
# A minimal guest agent in shell over XenStore (docs/agent-protocol.md, transport 1), used in the
# nested DomUs only when the C agent (native/agent, `npm run build:agent`) is not built: hello
# once, then a report every INTERVAL seconds. It does not follow memcoop/mode (Dom0 steers the
# balloon either way). Needs xenstore-write with its libraries in the initramfs.
INTERVAL=${1:-1}
xenstore-write data/memcoop/hello "protocol=1 selfAdjust=1"
while :; do
  r=$(grep -E '^(MemTotal|MemFree|MemAvailable|Committed_AS|SwapTotal|SwapFree):' /proc/meminfo | tr -s ' ')
  v=$(grep -E '^(pswpin|pswpout|pgmajfault) ' /proc/vmstat | sed 's/ /: /')
  xenstore-write data/memcoop/meminfo "$r
$v"
  sleep "$INTERVAL"
done
