#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, and the tiny end-to-end config run through it.
#
# Run as root on a throwaway Debian 12 machine or VM (it installs packages and writes
# /etc/slurm, /etc/slurm/slurmdbd.conf and a MariaDB database):
#
#     sudo tests/cluster/run.sh            # set up (or reuse) the cluster, run, compare
#     sudo tests/cluster/run.sh --stop     # stop the daemons this script started
#
# It is idempotent: packages, configuration, database, accounts and daemons are created
# only when missing, and a second run reuses them. Then it runs the tiny config of
# tests/test_workflow.py twice, in temporary copies of the workflow:
#
#   slurm: snakemake --executor slurm --profile profiles/slurm   (every job through sbatch)
#   local: snakemake --cores 2                                   (profiles/default: threads)
#
# and checks that results/recovery.tsv and results/sbc/recovery.tsv are equal in every
# column except `seconds`. It prints both durations and exits non-zero on any difference.
#
# Environment: VENV (default <repo>/.venv, created if missing, with ".[test,slurm]"),
# KEEP=1 keeps the temporary run directories, SLURM_ARGS adds arguments to the Slurm run.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$REPO/.venv}
CLUSTER=rlrecover
ACCOUNT=rlrecover
NODE=$(hostname -s)
STATE=/var/lib/rlrecover-cluster # pid files of the daemons started here
DB_PASS=rlrecover-slurmdbd       # a local test database only
export SLURM_CONF=/etc/slurm/slurm.conf

log() { printf '[cluster %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (it installs packages and starts daemons)"

# --- daemons: started here, remembered by pid, stopped only by that pid -------------------

running() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

stop_daemons() {
    local name pid
    for name in slurmd slurmctld slurmdbd mariadb munged; do
        if running "$name"; then
            pid=$(cat "$STATE/$name.pid")
            log "stopping $name (pid $pid)"
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
        rm -f "$STATE/$name.pid"
    done
}

if [[ ${1:-} == --stop ]]; then
    stop_daemons
    exit 0
fi

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 2))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "$what not ready after ${seconds}s"
}

# start NAME COMMAND...: the daemon runs in the foreground in
# the background of this shell, so its pid is known exactly.
start() {
    local name=$1
    shift
    if running "$name"; then
        log "$name already running (pid $(cat "$STATE/$name.pid"))"
        return
    fi
    log "starting $name"
    setsid "$@" >>"/var/log/rlrecover-cluster-$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

# --- packages ------------------------------------------------------------------------------

PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server rsync)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

mkdir -p "$STATE" /var/log/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /run/munge \
    /run/mysqld
chown munge:munge /run/munge
chown mysql:mysql /run/mysqld

# --- configuration ------------------------------------------------------------------------

CPUS=$(nproc)
MEM_MB=$(($(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024))
changed=0
write_conf() { # write_conf PATH MODE: stdin to PATH if different; remember the change
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if ! cmp -s "$tmp" "$1"; then
        install -m "$2" "$tmp" "$1"
        changed=1
        log "wrote $1"
    fi
    rm -f "$tmp"
}

write_conf /etc/slurm/slurm.conf 644 <<EOF
# One-node test cluster for rlrecover (tests/cluster/run.sh). Not for production.
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups in a container or a small VM.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Job accounting: the executor plugin asks sacct for job states.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageEnforce=associations,limits
# Finished jobs stay visible to squeue for 5 minutes (the default).
MinJobAge=300
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

write_conf /etc/slurm/slurmdbd.conf 600 <<EOF
# Accounting daemon of the one-node test cluster (tests/cluster/run.sh).
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF

if ((changed)) && { running slurmctld || running slurmd || running slurmdbd; }; then
    log "configuration changed: restarting the Slurm daemons"
    for name in slurmd slurmctld slurmdbd; do
        if running "$name"; then
            pid=$(cat "$STATE/$name.pid")
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
        rm -f "$STATE/$name.pid"
    done
fi

# --- munge, MariaDB, slurmdbd, accounts, slurmctld, slurmd ---------------------------------

[[ -s /etc/munge/munge.key ]] || setpriv --reuid=munge --regid=munge --init-groups mungekey --create
start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
wait_for 20 munge bash -c 'munge -n | unmunge'

start mariadb /usr/sbin/mariadbd --user=mysql --socket=/run/mysqld/mysqld.sock
wait_for 60 MariaDB mariadb-admin --socket=/run/mysqld/mysqld.sock ping
mariadb --socket=/run/mysqld/mysqld.sock <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF

start slurmdbd /usr/sbin/slurmdbd -D
wait_for 60 slurmdbd sacctmgr -n list cluster

# sacctmgr -i: no confirmation; "add" of an existing entity is a no-op we skip.
if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi
if [[ -z $(sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="rlrecover tests" \
        Organization=rlrecover >/dev/null
fi
# The user who submits (root here; already in the "root" account) gets the account as
# default, as a cluster's admin would do for a project member.
USER_NAME=$(id -un)
if [[ -z $(sacctmgr -n -P list assoc user="$USER_NAME" account="$ACCOUNT" format=user) ]]; then
    sacctmgr -i add user "$USER_NAME" Account="$ACCOUNT" >/dev/null
fi
if [[ $(sacctmgr -n -P list user "$USER_NAME" format=defaultaccount) != "$ACCOUNT" ]]; then
    sacctmgr -i modify user "$USER_NAME" set DefaultAccount="$ACCOUNT" >/dev/null
fi
log "$USER_NAME: default account $(sacctmgr -n -P list user "$USER_NAME" format=defaultaccount)"

start slurmctld /usr/sbin/slurmctld -D
wait_for 60 slurmctld scontrol ping
start slurmd /usr/sbin/slurmd -D
wait_for 60 "node $NODE" bash -c "sinfo -h -n $NODE -o %t | grep -Eq '^(idle|mix|alloc)'"
log "$(sinfo --version), node $(sinfo -h -N -o '%N %t cpus=%c mem=%mMB')"

# --- the Python environment -----------------------------------------------------------------

if [[ ! -x $VENV/bin/python ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
if ! python -c "import snakemake_executor_plugin_slurm, pytest" 2>/dev/null; then
    log "installing rlrecover with the slurm and test extras into $VENV"
    python -m pip install --quiet -e "$REPO[test,slurm]"
fi
log "$(snakemake --version | sed 's/^/snakemake /'), plugin $(pip show \
    snakemake-executor-plugin-slurm 2>/dev/null | awk '/^Version/ {print $2}')"

# --- the runs -------------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/rlrecover-cluster.XXXXXX)
if [[ ${KEEP:-0} == 1 ]]; then
    log "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

prepare() { # a copy of the workflow with the tiny config of tests/test_workflow.py
    mkdir -p "$1"
    cp "$REPO/Snakefile" "$1/"
    cp -r "$REPO/workflow" "$REPO/profiles" "$1/"
    python - "$1/config.yaml" <<EOF
import sys
import yaml
sys.path.insert(0, "$REPO/tests")
from test_workflow import TINY
with open(sys.argv[1], "w") as f:
    yaml.safe_dump(TINY, f)
EOF
}

prepare "$WORK/slurm"
prepare "$WORK/local"

# The shared file system is the local disk, so short status-check intervals are fine here;
# on a real cluster keep the profile's values.
log "slurm run: snakemake --executor slurm --profile profiles/slurm (in $WORK/slurm)"
t0=$(date +%s.%N)
status=0
(cd "$WORK/slurm" && snakemake --executor slurm --profile profiles/slurm \
    --slurm-init-seconds-before-status-checks 2 ${SLURM_ARGS:-}) \
    >"$WORK/slurm.log" 2>&1 || status=$?
t1=$(date +%s.%N)
slurm_seconds=$(python -c "print(f'{$t1 - $t0:.0f}')")
if ((status)); then
    tail -n 60 "$WORK/slurm.log"
    die "the slurm run failed (exit $status) after ${slurm_seconds}s"
fi
n_sbatch=$(sacct -n -X -P --starttime "$(date -d @"${t0%.*}" +%Y-%m-%dT%H:%M:%S)" \
    -o JobID,JobName,State | grep -c . || true)
log "slurm run: ${slurm_seconds}s, $n_sbatch Slurm jobs"

log "local run: snakemake --cores 2 (in $WORK/local)"
t0=$(date +%s.%N)
status=0
(cd "$WORK/local" && snakemake --cores 2) >"$WORK/local.log" 2>&1 || status=$?
t1=$(date +%s.%N)
local_seconds=$(python -c "print(f'{$t1 - $t0:.0f}')")
if ((status)); then
    tail -n 60 "$WORK/local.log"
    die "the local run failed (exit $status) after ${local_seconds}s"
fi
log "local run: ${local_seconds}s"

python "$REPO/tests/cluster/compare.py" "$WORK/slurm" "$WORK/local"
log "PASS: slurm ${slurm_seconds}s, local ${local_seconds}s (tiny config, $CPUS CPUs)"
