#!/bin/busybox sh
# /init of a memcoop testbed guest (busybox initramfs, no udev). Loads the virtio modules, names
# the virtio-serial ports, enables swap on the virtio-blk disk, starts the memcoop agent when the
# image has one, then serves the host's commands on the control port (see docs/testbed.md):
#   run <tag> <program> [args...]  ->  out <tag> <program's result line> / stats <tag> ... / done <tag> <exit code> <ms>
#   warmup <tag> <MiB>             ->  done <tag> <exit code> <ms>   (touches MiB of RAM once, untimed by the benchmark)
#   ping                           ->  pong
#   poweroff                       ->  bye, then the guest powers off (QEMU exits)
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/workloads

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "memcoop-testbed: $*" > /dev/console; }

for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m" || say "insmod $m failed"
done

# No udev: the symlinks udev would make for named virtio-serial ports.
mkdir -p /dev/virtio-ports
for i in 1 2 3 4 5 6 7 8 9 10; do
  [ -e /sys/class/virtio-ports ] && break
  sleep 0.2
done
for p in /sys/class/virtio-ports/*; do
  [ -f "$p/name" ] || continue
  ln -sf "/dev/${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
done

# Swap on the virtio-blk disk (a raw file the host truncated: made a swap area at each boot).
if [ -b /dev/vda ]; then
  mkswap /dev/vda > /dev/null && swapon /dev/vda && say "swap on /dev/vda"
fi

AGENT_PORT=/dev/virtio-ports/org.memcoop.agent.0
if [ -x /bin/memcoop-agent ] && [ -e "$AGENT_PORT" ]; then
  # shellcheck disable=SC2046
  /bin/memcoop-agent $(cat /etc/memcoop/agent.args 2>/dev/null) > /dev/console 2>&1 &
  say "agent started (pid $!)"
else
  say "no agent in this image or no agent port"
fi

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
vmstat_line() {
  awk '$1 == "pswpin" || $1 == "pswpout" || $1 == "pgmajfault" || $1 == "oom_kill" { printf "%s=%s ", $1, $2 }' /proc/vmstat
}

# One job: runs a workload, then reports its output line, the /proc/vmstat deltas and its time.
job() {
  tag=$1; shift
  before=$(vmstat_line)
  t0=$(now_ms)
  "$@" > "/tmp/$tag.out" 2> "/tmp/$tag.err"
  code=$?
  t1=$(now_ms)
  after=$(vmstat_line)
  result=$(grep '^result ' "/tmp/$tag.out" | tail -n 1)
  [ -n "$result" ] && echo "out $tag $result" >&3
  echo "stats $tag before $before" >&3
  echo "stats $tag after $after" >&3
  echo "done $tag $code $((t1 - t0))" >&3
}

CONTROL=/dev/virtio-ports/org.memcoop.control
say "ready"
if [ ! -e "$CONTROL" ]; then
  say "no control port: idle"
  while true; do sleep 3600; done
fi
# Held open for the guest's whole life: a port closed and reopened loses what the host sent.
exec 3<> "$CONTROL"
echo "ready" >&3
while read -r cmd tag rest <&3; do
  case "$cmd" in
    run)
      set -- $rest
      prog=$1; shift 2>/dev/null
      case "$prog" in
        *[!a-z0-9_-]* | '') echo "done $tag 127 0" >&3 ;;
        *) if [ -x "/workloads/$prog" ]; then job "$tag" "/workloads/$prog" "$@" &
           else echo "done $tag 127 0" >&3; fi ;;
      esac ;;
    warmup)
      job "$tag" /workloads/jvm "$rest" "$rest" "$rest" 1 1 & ;;
    ping) echo "pong" >&3 ;;
    poweroff)
      echo "bye" >&3
      sync
      poweroff -f ;;
    '') ;;
    *) echo "error unknown command" >&3 ;;
  esac
done
say "control port closed"
while true; do sleep 3600; done
