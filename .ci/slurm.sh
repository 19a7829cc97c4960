#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm executor's tests and benchmark row.
#
# Installs Debian's slurm-wlm and munge when missing, writes /etc/slurm/slurm.conf for this one node
# (its hostname on 127.0.0.1, the CPUs and memory `slurmd -C` finds), starts munged, slurmctld and slurmd
# directly (there is no systemd here) and waits until `sinfo` shows the node idle. Idempotent: a cluster
# already up with this configuration is left as it is; a changed configuration restarts the daemons.
# Runs as root. Prints how long it took.
set -euo pipefail
started=$SECONDS
say() { echo "[slurm $((SECONDS - started))s] $*"; }

missing=""
command -v slurmctld >/dev/null 2>&1 || missing="$missing slurmctld"
command -v slurmd >/dev/null 2>&1 || missing="$missing slurmd"
command -v sbatch >/dev/null 2>&1 || missing="$missing slurm-client"
command -v munged >/dev/null 2>&1 || missing="$missing munge"
if [ -n "$missing" ]; then
  say "installing$missing"
  # Debian's packages try to start their services: there is no init system to start them here.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# munge: the key the daemons authenticate with (Debian's package makes one; make it where it did not).
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null >/dev/null 2>&1; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
fi

# The node as slurmd sees it (CPUs, sockets, cores, memory), reachable on the loopback.
node=$(slurmd -C | head -n 1)
name=$(hostname -s)
# Processes are tracked in cgroups where this machine's cgroup v1 freezer can be written (Slurm then kills
# every process of a job when it ends, even one that left its session); else by ancestry. Either way,
# autoresearch's job runner kills every process of a run before it reports (docs/parallel.md).
proctrack=proctrack/linuxproc
if [ -w /sys/fs/cgroup/freezer ]; then
  proctrack=proctrack/cgroup
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf=$(cat <<EOF
# Written by .ci/slurm.sh: one node on this machine, tuned for short jobs (see docs/parallel.md).
ClusterName=autoresearch
SlurmctldHost=$name(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=$proctrack
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
# No accounting daemon: finished jobs stay known to squeue for MinJobAge seconds, where the executor
# reads how they ended.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
# Short jobs: schedule a submitted batch job at once (the default waits up to 3 s to batch them),
# run the backfill pass often, and give a job stopped at its time limit 5 s between SIGTERM and SIGKILL.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1,default_queue_depth=100
KillWait=5
InactiveLimit=0
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)
if [ "$proctrack" = proctrack/cgroup ]; then
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=no\nConstrainRAMSpace=no\n' \
    >/etc/slurm/cgroup.conf
fi

changed=0
if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]; then
  printf '%s\n' "$conf" >/etc/slurm/slurm.conf
  changed=1
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {
  if running "$1"; then
    kill "$(cat "$1")"
    for _ in $(seq 50); do running "$1" || return 0; sleep 0.1; done
    kill -9 "$(cat "$1")" 2>/dev/null || true
  fi
}
if [ "$changed" = 1 ]; then
  stop /run/slurmd.pid
  stop /run/slurmctld.pid
fi
if ! running /run/slurmctld.pid; then
  say "starting slurmctld ($proctrack)"
  slurmctld
fi
if ! running /run/slurmd.pid; then
  say "starting slurmd"
  slurmd
fi

for _ in $(seq 300); do
  state=$(sinfo --noheader --nodes="$name" --format=%t 2>/dev/null || true)
  case "$state" in
    idle|mix|alloc) say "node $name is $state"; exit 0 ;;
    drain*|down*) scontrol update nodename="$name" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.1
done
echo "the Slurm node $name did not become idle (state: ${state:-unknown}); see /var/log/slurm/" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
