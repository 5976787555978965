#!/usr/bin/env bash
# Logical backup of mkoba's PostgreSQL database, verified by restoring it and reconciling the copy.
#
#   backup-postgres.sh DEST_DIR
#
#   DEST_DIR   where backups go: DEST_DIR/mkoba-<UTC stamp>.dump (pg_dump's custom format), with a
#              verification report DEST_DIR/mkoba-<UTC stamp>.dump.verify.txt beside each
#
# Environment:
#   DATABASE_URL  the database to back up (postgres://…), as mkoba uses it
#   DUMP_URL      dump from here instead (e.g. a streaming replica, to spare the primary; on a
#                 replica, a long dump can be cancelled by recovery conflicts unless the replica
#                 allows it: max_standby_streaming_delay, hot_standby_feedback)
#   VERIFY_URL    any database on the server where a scratch copy is restored for verification;
#                 default: the dumped server's `postgres` database. Its user needs CREATEDB. Point
#                 it at a spare server to keep the restore's load off production.
#   KEEP          verified backups to keep (default 14)
#   MKOBA         the mkoba binary (default `mkoba` on PATH)
#   RESTORE_JOBS  parallel pg_restore jobs for the verification restore (default 2)
# plus whatever mkoba needs to start (MKOBA_CONFIG, MKOBA_SECURITY__PEPPER, …): run it with the
# server's environment (ops/RUNBOOK.md shows how).
#
# What it does: pg_dump (one consistent snapshot; writers keep running) to a temporary name;
# restore that into a new scratch database; run `mkoba admin reconcile` against the scratch
# database, which checks the whole ledger against its journal and exits non-zero on a mismatch;
# drop the scratch database. Only a verified dump gets its final name and counts towards KEEP;
# one that fails is kept as mkoba-<stamp>.dump.unverified and the script exits 1.
#
# pg_dump and pg_restore must be at least the server's major version. Passwords in a URL are
# visible in the process list while pg_dump runs; libpq (which mkoba uses too) also reads
# PGPASSWORD and ~/.pgpass, which keeps them out of URLs.
#
# A nightly dump is not the whole answer for PostgreSQL: everything after the last dump is lost
# when restoring from it. Production also needs WAL archiving for point-in-time recovery and
# replicas (ops/SCALING.md, ops/RUNBOOK.md).
#
# Exit status: 0 when a verified backup was written, 1 otherwise.

# shellcheck source=common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '3,7{s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
[ $# -eq 1 ] || usage
case $1 in -h | --help) usage ;; esac

keep=$(keep_count)
jobs=${RESTORE_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]?$ ]] || die "RESTORE_JOBS must be a whole number from 1 to 99"
need "$MKOBA" pg_dump pg_restore createdb dropdb mktemp sync
dump_url=${DUMP_URL:-${DATABASE_URL:-}}
[ -n "$dump_url" ] || die "set DATABASE_URL (or DUMP_URL) to the database to back up"
check_pg_url "$dump_url" "DATABASE_URL/DUMP_URL"
verify_url=${VERIFY_URL:-$(url_with_db "$dump_url" postgres)}
check_pg_url "$verify_url" VERIFY_URL

mkdir -p -- "$1"
dest_dir=$(cd -- "$1" && pwd -P)
[ -w "$dest_dir" ] || die "$dest_dir is not writable"
lock_dir "$dest_dir"

stamp=$(utc_stamp)
final="$dest_dir/mkoba-$stamp.dump"
partial="$dest_dir/.mkoba-$stamp.dump.partial"
report="$dest_dir/.mkoba-$stamp.dump.verify.partial"
[ ! -e "$final" ] || die "$final already exists"
# A name no one else uses: PostgreSQL folds unquoted names to lower case, so use lower case.
scratch_db="mkoba_verify_${stamp,,}_$$"
scratch_url=$(url_with_db "$verify_url" "$scratch_db")
scratch_dir=$(mktemp -d)
created=""

cleanup() {
    if [ -n "$created" ]; then
        dropdb --if-exists --maintenance-db="$verify_url" "$scratch_db" ||
            say "could not drop the scratch database $scratch_db; drop it by hand"
    fi
    rm -rf -- "$scratch_dir"
    rm -f -- "$partial" "$report"
}
trap cleanup EXIT

say "dumping $(redact "$dump_url")"
pg_dump --format=custom --no-owner --file="$partial" "$dump_url"
[ -s "$partial" ] || die "pg_dump wrote nothing"

fail() {
    mv -f -- "$partial" "$final.unverified"
    [ ! -e "$report" ] || mv -f -- "$report" "$final.unverified.verify.txt"
    die "verification FAILED ($1); the dump is kept as $final.unverified (not counted as a backup)"
}

say "restoring into the scratch database $scratch_db on $(redact "$verify_url")"
createdb --maintenance-db="$verify_url" "$scratch_db" || fail "could not create $scratch_db"
created=yes
# --no-owner --no-acl: the scratch copy belongs to whoever restores it; production's roles need
# not exist there. --exit-on-error: a dump that does not restore cleanly is not a backup.
pg_restore --no-owner --no-acl --exit-on-error --jobs="$jobs" --dbname="$scratch_url" "$partial" ||
    fail "pg_restore refused the dump"

say "reconciling the copy"
if ! mkoba_postgres "$scratch_url" "$scratch_dir" admin reconcile >"$report" 2>&1; then
    cat -- "$report" >&2
    fail "mkoba admin reconcile found a mismatch or could not run"
fi

sync -- "$partial" "$report"
mv -f -- "$report" "$final.verify.txt"
mv -f -- "$partial" "$final"
sync -- "$dest_dir"
say "verified backup $final ($(du -h -- "$final" | cut -f1))"

prune "$dest_dir" .dump "$keep"
