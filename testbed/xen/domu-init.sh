#!/bin/sh
# /init of a nested DomU (built by testbed/xen/images.ts): the guest agent, zram swap, and the
# role given on the kernel command line (xl's extra=): hungry runs the workload after a warm-up,
# capped commits more than its kernel (booted with mem= at its creation size) can ever hold,
# so memcoop raises its target and its balloon cannot follow; idle does nothing.
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /run
. /etc/guest.env
arg() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
role=$(arg memcoop_role)
say() { echo "[guest $role $(cut -d' ' -f1 /proc/uptime)] $*"; }
say "init"
if modprobe zram num_devices=1 2>/dev/null; then
  echo "$ZRAM_ALGORITHM" > /sys/block/zram0/comp_algorithm 2>/dev/null
  echo "$ZRAM_SIZE" > /sys/block/zram0/disksize && mkswap /dev/zram0 > /dev/null && swapon /dev/zram0 && say "zram swap $ZRAM_SIZE"
fi
# The agent logs to the console: xenconsoled keeps it in Dom0 with the rest.
$AGENT_CMD &
say "agent started"
case "$role" in
  hungry)
    sleep "$WARMUP_S"
    say "workload start: $WORKLOAD"
    $WORKLOAD
    say "workload done"
    ;;
  capped)
    # Commits CAPPED_COMMIT_MIB, touches 8 MiB of it, and holds it for the rest of the phase.
    sleep 5
    say "committing $CAPPED_COMMIT_MIB MiB"
    /usr/local/bin/jvm "$CAPPED_COMMIT_MIB" 8 8 1 1 100000 > /dev/null &
    ;;
esac
while :; do sleep 3600; done
