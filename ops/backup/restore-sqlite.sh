#!/usr/bin/env bash
# Restores mkoba's embedded SQLite database from a backup made by backup-sqlite.sh.
#
#   restore-sqlite.sh [--force] BACKUP DATA_DIR
#
#   BACKUP     a backup file (DEST_DIR/mkoba-<UTC stamp>.db)
#   DATA_DIR   mkoba's data directory; the database there is DATA_DIR/mkoba.db
#   --force    skip the checks that the server is stopped and that a pepper is available
#
# Environment: MKOBA (the mkoba binary, default `mkoba` on PATH); SERVICE (the systemd unit to
# check, default mkoba); SERVER_ADDR (host:port where a running server would answer, default
# 127.0.0.1:8384); and whatever mkoba needs (MKOBA_CONFIG, MKOBA_SECURITY__PEPPER, …): run it with
# the server's environment, as the user that owns DATA_DIR.
#
# Steps, each of which must succeed before the next:
#   1. refuse if the server looks alive: the systemd unit is active, a process has the database
#      open, or something answers on SERVER_ADDR (--force skips this; never use it to restore
#      under a running server, which would keep writing to the file it has open);
#   2. refuse if no pepper is configured and DATA_DIR/pepper is missing: mkoba would generate a
#      new one on start and every customer's correct PIN would then count as wrong;
#   3. copy BACKUP into DATA_DIR under a temporary name and verify it with
#      `mkoba admin verify-backup` (on a second copy, so the file put in place is one no process
#      has opened; the current database is still untouched);
#   4. move the current database aside, with its -wal and -shm files (they belong to it and would
#      corrupt any other database), as DATA_DIR/mkoba.db.replaced-<UTC stamp>[-wal|-shm];
#   5. put the verified copy in place and run `mkoba admin reconcile` on it.
# Nothing is deleted; the replaced database stays until someone removes it.
#
# Exit status: 0 when the restored database is in place and reconciles; 1 otherwise (the message
# says what state DATA_DIR was left in).

# shellcheck source=common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '3,8{s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
force=""
case ${1:-} in
-h | --help) usage ;;
--force)
    force=yes
    shift
    ;;
esac
[ $# -eq 2 ] || usage

need "$MKOBA" mktemp sync cp
backup=$1
is_sqlite "$backup" || die "$backup is not an SQLite database"
[ -d "$2" ] || die "no data directory $2"
data_dir=$(cd -- "$2" && pwd -P)
db="$data_dir/mkoba.db"
refuse_root_for "$data_dir"
lock_dir "$data_dir"

# 1. Is a server running on this database?
server_alive() {
    local service=${SERVICE:-mkoba} addr=${SERVER_ADDR:-127.0.0.1:8384} file
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
        say "the systemd unit $service is active (systemctl stop $service)"
        return 0
    fi
    if command -v fuser >/dev/null 2>&1; then
        for file in "$db" "$db-wal" "$db-shm"; do
            if [ -e "$file" ] && fuser -s "$file" 2>/dev/null; then
                say "a process has $file open (fuser -v $file)"
                return 0
            fi
        done
    fi
    # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
    if timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${addr%:*}" "${addr##*:}" 2>/dev/null; then
        say "something accepts connections on $addr"
        return 0
    fi
    return 1
}
if [ -z "$force" ] && server_alive; then
    die "stop the server first (or, if the check is wrong, use --force)"
fi

# 2. Will the restored database be usable with this machine's pepper?
if [ -z "$force" ] && [ -z "${MKOBA_SECURITY__PEPPER:-}" ] && [ ! -s "$data_dir/pepper" ]; then
    die "no pepper: MKOBA_SECURITY__PEPPER is unset and $data_dir/pepper is missing. Restore the
pepper the backup was made with (from the secret store) first; if it is set in the configuration
file instead, use --force"
fi

stamp=$(utc_stamp)
staged="$data_dir/.mkoba.db.restoring-$stamp"
work=$(mktemp -d -p "$data_dir" .mkoba-verify.XXXXXX)
cleanup() {
    rm -rf -- "$work"
    rm -f -- "$staged"
}
trap cleanup EXIT

# 3. Copy and verify before anything is touched.
say "copying $backup"
cp -- "$backup" "$staged"
chmod 0600 -- "$staged"
sync -- "$staged"
say "verifying the copy"
verify_sqlite "$staged" "$work" ||
    die "verification FAILED: $backup does not reconcile; $db was not touched"

# 4. Move the current database aside (a rename: same directory, nothing is copied or lost).
aside="$db.replaced-$stamp"
if [ -e "$db" ]; then
    for suffix in "" -wal -shm; do
        if [ -e "$db$suffix" ]; then
            mv -- "$db$suffix" "$aside$suffix"
        fi
    done
    say "the previous database is now $aside"
else
    aside=""
fi

# 5. The verified copy takes its place.
mv -- "$staged" "$db"
sync -- "$data_dir"
say "restored $backup to $db; reconciling"
if ! mkoba_sqlite "$data_dir" admin reconcile; then
    undo="mv $db $db.failed-$stamp"
    [ -z "$aside" ] || undo="$undo && mv $aside $db (and its -wal/-shm files, if any)"
    die "the restored database does NOT reconcile. Do not start the server on it. To undo: $undo"
fi

cat >&2 <<EOF

Restored. Before starting the server:
  - Everything written after the backup was taken is NOT in this database: transactions, new
    customers, PIN changes. Customers may hold SMS confirmations for transactions that no longer
    exist; the SMS provider's log of messages sent after the backup lists them.
  - Messages still queued in the backup will be sent when the server starts, including some that
    were already delivered before the failure.
  - The pepper must be the one in use when the backup was made (see ops/RUNBOOK.md).
Then: systemctl start ${SERVICE:-mkoba}; curl -s http://${SERVER_ADDR:-127.0.0.1:8384}/readyz
The previous database: ${aside:-none (there was none)}
EOF
