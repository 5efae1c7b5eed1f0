#!/usr/bin/env bash
# A real one-node Slurm cluster on loopback, for the sweep's tests and for trying
# `workbench sweep --slurm` on one machine (docs/sweep.md):
#   scripts/slurm/one-node-cluster.sh COMMAND [ARGS...]
# starts munged, slurmctld and slurmd inside private network and PID namespaces (as root:
# unshare -n -p -f --mount-proc), with every file under a scratch folder, runs COMMAND with
# SLURM_CONF set (sbatch, squeue, sinfo then talk to this cluster), stops the daemons by the
# PIDs it started and removes the scratch folder; exits with COMMAND's status. Nothing outlives
# it: the PID namespace ends with it. Needs slurm-wlm and munge (scripts/setup/install.sh).
# The node's name, CPUs and memory are read from this machine when it runs.
set -euo pipefail

if [[ "${WB_ONE_NODE_CLUSTER_INSIDE:-}" != 1 ]]; then
    for tool in unshare ip munged slurmctld slurmd sbatch squeue sinfo; do
        command -v "$tool" >/dev/null || {
            echo "one-node-cluster: $tool is not installed (slurm-wlm and munge: scripts/setup/install.sh)" >&2
            exit 2
        }
    done
    [[ $(id -u) -eq 0 ]] || { echo "one-node-cluster: needs root (private namespaces, daemons as root)" >&2; exit 2; }
    (( $# > 0 )) || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
    export WB_ONE_NODE_CLUSTER_INSIDE=1
    exec unshare -n -p -f --mount-proc bash "${BASH_SOURCE[0]}" "$@"
fi

# Inside the namespaces. glibc ignores 127.0.0.1 alone when it decides which address
# families exist, and the daemons then fail to bind: a second loopback address fixes it.
ip link set lo up
ip addr add 127.0.0.2/8 dev lo

scratch="$(mktemp -d "${TMPDIR:-/tmp}/wb-slurm.XXXXXX")"
pids=()
stop() {
    local status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $status -ne 0 && -n "${WB_CLUSTER_KEEP_LOGS:-}" ]]; then cp -r "$scratch/log" "$WB_CLUSTER_KEEP_LOGS" 2>/dev/null || true; fi
    rm -rf "$scratch"
    exit "$status"
}
trap stop EXIT

# munged wants every folder on its socket's path searchable by all (mktemp -d makes 700).
chmod 755 "$scratch"
mkdir -p "$scratch"/{munge-key,munge-run,state,spool,log,run}
chmod 700 "$scratch/munge-key"
chmod 755 "$scratch/munge-run"
dd if=/dev/urandom of="$scratch/munge-key/munge.key" bs=1024 count=1 status=none
chmod 400 "$scratch/munge-key/munge.key"
socket="$scratch/munge-run/munge.socket"
munged -F --key-file="$scratch/munge-key/munge.key" --socket="$socket" --pid-file="$scratch/run/munged.pid" \
    --log-file="$scratch/log/munged.log" --seed-file="$scratch/run/munged.seed" >"$scratch/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
[[ -S "$socket" ]] || { echo "one-node-cluster: munged did not start" >&2; exit 3; }

host="$(hostname -s)"
cpus="$(nproc)"
memory=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
conf="$scratch/slurm.conf"
cat >"$conf" <<EOF
ClusterName=workbench
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/run/slurmctld.pid
SlurmdPidFile=$scratch/run/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"

slurmctld -D -i -f "$conf" >"$scratch/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$conf" >"$scratch/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
deadline=$((SECONDS + 30))
while (( SECONDS < deadline )); do
    state="$(timeout 5 sinfo -h -N -o %T 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 0.1
done
if [[ "$state" != idle ]]; then
    echo "one-node-cluster: the node did not come up; slurmctld's log:" >&2
    tail -20 "$scratch/log/slurmctld.log" >&2 || true
    tail -20 "$scratch/log/slurmd.log" >&2 || true
    exit 3
fi

"$@"
