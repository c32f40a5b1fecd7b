#!/bin/sh
# /init of a nested DomU (built by testbed/xen/domu-image.ts): the guest agent, zram swap, and the
# role given on the kernel command line (xl's extra=): hungry runs the workload after a warm-up,
# pinned fills its RAM-backed root with a file it can never give back, idle does nothing.
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
if [ "$role" != pinned ] && modprobe zram num_devices=1 2>/dev/null; then
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
  pinned)
    # ramfs pages are never reclaimed or swapped, and they are not in Committed_AS: the guest
    # looks as if it needed little, but its balloon cannot take these pages back.
    mkdir -p /pinned && mount -t ramfs ramfs /pinned
    dd if=/dev/zero of=/pinned/fill bs=1M count="$PINNED_MIB" 2>/dev/null
    say "pinned $PINNED_MIB MiB"
    ;;
esac
while :; do sleep 3600; done
