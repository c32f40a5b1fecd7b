#!/bin/sh
# /init of the nested Xen's Dom0 (built by testbed/xen/images.ts). Nobody is at the keyboard:
# it brings up the Xen userspace, runs each phase of /etc/scenario.env (memcoop, then the static
# allocation, in this one boot), writes everything under /results to the second disk as a tar,
# and powers off. Lines starting with "@@" are markers the host timestamps on the serial log.
export PATH=/usr/lib/xen-4.17/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /var/lib/xen /var/log/xen /var/lock /results /tmp
mount -t devpts devpts /dev/pts
rm -rf /var/run && ln -s /run /var/run
mkdir -p /run/xen /run/xenstored
. /etc/scenario.env

mark() { echo "@@ $* uptime=$(cut -d' ' -f1 /proc/uptime)"; }
finish() {
  mark "collecting"
  cp /proc/cmdline /results/dom0-cmdline.txt
  dmesg > /results/dom0-dmesg.txt 2>&1
  xl dmesg > /results/xen-dmesg.txt 2>&1
  sync
  if [ -b /dev/vda ]; then
    tar -cf /dev/vda -C /results . && sync && mark "results written to /dev/vda"
  else
    mark "no results disk; results lost"
  fi
  mark "poweroff"
  poweroff -f
}
mark "dom0 init"

for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc virtio_pci virtio_blk; do
  modprobe "$m" || mark "modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid || { mark "xenstored failed"; finish; }
xen-init-dom0 > /results/xen-init-dom0.txt 2>&1 || mark "xen-init-dom0 failed"
mkdir -p /results/console
xenconsoled --log=guest --log-dir=/results/console --timestamp=guest --pid-file=/run/xenconsoled.pid || mark "xenconsoled failed"
mark "xen userspace up"
xl info > /results/xl-info-boot.txt 2>&1

# sample PHASE_DIR: one record a second of xl list and xl info's memory lines (Dom0's clock).
sampler() {
  while :; do
    echo "T $(date +%s%N)"
    xl list 2>&1
    xl info 2>/dev/null | grep -E '^(total_memory|free_memory) '
    sleep "$SAMPLE_S"
  done > "$1/xl-samples.txt"
}

# phase NAME (memcoop|static)
phase() {
  name=$1
  dir=/results/$name
  mkdir -p "$dir"
  mark "phase $name start"
  mpid=
  if [ "$name" = memcoop ]; then
    node /opt/memcoop/memcoop.mjs run --host xen --config /etc/memcoop/memcoop.yaml --journal "$dir/journal.jsonl" > "$dir/memcoop.log" 2> "$dir/memcoop.err" &
    mpid=$!
    n=0
    until grep -q '"memcoop supervisor started"' "$dir/memcoop.log" 2>/dev/null; do
      n=$((n + 1)); [ $n -gt 600 ] && { mark "memcoop did not start"; break; }
      kill -0 $mpid 2>/dev/null || { mark "memcoop exited"; break; }
      sleep 0.2
    done
    n=0
    until grep -qE '"msg":"memory (abundant|scarce)' "$dir/memcoop.log" 2>/dev/null; do
      n=$((n + 1)); [ $n -gt 300 ] && break
      sleep 0.1
    done
    mark "memcoop first tick"
  fi
  sampler "$dir" &
  spid=$!
  for g in $GUESTS; do
    xl create -q "/etc/xen/$g.cfg" > "$dir/create-$g.txt" 2>&1 || mark "xl create $g failed"
    mark "created $g"
  done
  # The hungry guest prints "result program=..." on its console when its workload is done.
  n=0
  until grep -q 'result program=' "/results/console/guest-$HUNGRY.log" 2>/dev/null; do
    n=$((n + 1)); [ $n -gt "$WORKLOAD_TIMEOUT_S" ] && { mark "workload timeout"; break; }
    sleep 1
  done
  mark "phase $name workload done"
  sleep "$SETTLE_S"
  kill $spid 2>/dev/null
  if [ -n "$mpid" ]; then
    kill -TERM $mpid 2>/dev/null
    n=0
    while kill -0 $mpid 2>/dev/null; do n=$((n + 1)); [ $n -gt 50 ] && { kill -KILL $mpid; break; }; sleep 0.2; done
  fi
  xl list > "$dir/xl-list-end.txt" 2>&1
  for g in $GUESTS; do xl destroy "$g" > /dev/null 2>&1; done
  for g in $GUESTS; do mv "/results/console/guest-$g.log" "$dir/console-$g.log" 2>/dev/null; done
  sleep 2
  # Everything so far onto the disk now: a later phase that hangs cannot lose this one.
  [ -b /dev/vda ] && tar -cf /dev/vda -C /results . && sync
  mark "phase $name end"
}

# A watchdog: whatever hangs, the results still reach the disk before the host gives up.
( sleep "$DEADLINE_S"; mark "deadline"; finish ) &
for p in $PHASES; do phase "$p"; done
finish
