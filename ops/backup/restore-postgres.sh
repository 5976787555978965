#!/usr/bin/env bash
# Restores a backup made by backup-postgres.sh into a NEW PostgreSQL database, checks it, and
# prints how to switch mkoba to it. It never restores over an existing database: the live one may
# hold transactions the backup lacks, and it is the evidence of what went wrong.
#
#   restore-postgres.sh BACKUP [NEW_DB]
#
#   BACKUP   a dump (DEST_DIR/mkoba-<UTC stamp>.dump)
#   NEW_DB   the database to create (default mkoba_restore_<utc stamp>); refused if it exists
#
# Environment:
#   DATABASE_URL  the live database as mkoba uses it: names the server and the default owner
#   RESTORE_URL   any database on the server to restore to (default: the live server's
#                 `postgres` database); its user needs CREATEDB
#   DB_OWNER      the role that must own the restored objects (default: DATABASE_URL's user, so
#                 that mkoba can use the new database once switched to it)
#   RESTORE_JOBS  parallel pg_restore jobs (default 2)
#   MKOBA         the mkoba binary (default `mkoba` on PATH)
# plus whatever mkoba needs (MKOBA_CONFIG, MKOBA_SECURITY__PEPPER, …): the server's environment.
#
# Steps: check the dump is readable; create NEW_DB; pg_restore into it; `mkoba migrate` (so the
# schema is what this mkoba binary serves); `mkoba admin reconcile`. A database that fails to
# restore is dropped; one that restores but does not reconcile is kept for investigation.
#
# Exit status: 0 when NEW_DB is restored and reconciles; 1 otherwise.

# shellcheck source=common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '6,9{s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
case ${1:-} in -h | --help) usage ;; esac
[ $# -eq 1 ] || [ $# -eq 2 ] || usage

need "$MKOBA" pg_restore createdb dropdb mktemp
backup=$1
if [ ! -f "$backup" ] || [ ! -r "$backup" ]; then die "cannot read $backup"; fi
live_url=${DATABASE_URL:-}
[ -n "$live_url" ] || die "set DATABASE_URL to the live database (it names the server and owner)"
check_pg_url "$live_url" DATABASE_URL
server_url=${RESTORE_URL:-$(url_with_db "$live_url" postgres)}
check_pg_url "$server_url" RESTORE_URL
jobs=${RESTORE_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]?$ ]] || die "RESTORE_JOBS must be a whole number from 1 to 99"

stamp=$(utc_stamp)
new_db=${2:-mkoba_restore_${stamp,,}}
[[ $new_db =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
    die "NEW_DB must be a plain lower-case PostgreSQL name (letters, digits, _), not '$new_db'"
live_db=$(db_of_url "$live_url")
[ "$new_db" != "$live_db" ] || die "NEW_DB is the live database's name; choose another"
new_url=$(url_with_db "$server_url" "$new_db")

# Objects must belong to the role mkoba connects as, or mkoba cannot write to them after the
# switch. Restoring as that role does it; as another (e.g. postgres), --role/--owner do.
owner=${DB_OWNER:-$(user_of_url "$live_url")}
restorer=$(user_of_url "$server_url")
owner_args=()
if [ -n "$owner" ] && [ "$owner" != "$restorer" ]; then
    owner_args=(--role="$owner")
fi

pg_restore --list "$backup" >/dev/null || die "$backup is not a readable pg_dump custom-format file"

scratch=$(mktemp -d)
created=""
keep_db=""
cleanup() {
    if [ -n "$created" ] && [ -z "$keep_db" ]; then
        dropdb --if-exists --maintenance-db="$server_url" "$new_db" ||
            say "could not drop $new_db; drop it by hand"
    fi
    rm -rf -- "$scratch"
}
trap cleanup EXIT

say "creating $new_db on $(redact "$server_url")"
createdb --maintenance-db="$server_url" ${owner:+--owner="$owner"} "$new_db" ||
    die "could not create $new_db (it may exist already: this script never restores over a database)"
created=yes

say "restoring $backup"
pg_restore --no-owner --no-acl --exit-on-error --jobs="$jobs" "${owner_args[@]}" \
    --dbname="$new_url" "$backup" || die "pg_restore failed; $new_db was dropped"

# From here on the new database is kept, whatever happens: it is restored data worth looking at.
keep_db=yes
say "applying any migrations this mkoba binary has and the backup lacks"
mkoba_postgres "$new_url" "$scratch" migrate || die "mkoba migrate failed on $new_db (kept)"
say "reconciling $new_db"
if ! mkoba_postgres "$new_url" "$scratch" admin reconcile; then
    die "$new_db does NOT reconcile. Do not switch to it. It is kept for investigation."
fi

live_name=${live_db:-<live database>}
cat >&2 <<EOF

Restored into $new_db and reconciled. NOTHING HAS BEEN SWITCHED: mkoba still uses $live_name.

To switch:
  1. Stop every mkoba process (on each host: systemctl stop mkoba). Two databases must never be
     written at once.
  2. Point mkoba at the new database, one of:
     a) on every host, in /etc/mkoba/mkoba.env:
          DATABASE_URL=$(redact "$(url_with_db "$live_url" "$new_db")")
     b) or keep DATABASE_URL and swap names (needs no open connections to either database):
          psql '$(redact "$server_url")' \\
            -c 'ALTER DATABASE "$live_name" RENAME TO "${live_name}_replaced_${stamp,,}"' \\
            -c 'ALTER DATABASE "$new_db" RENAME TO "$live_name"'
  3. Start one host; check curl -s http://127.0.0.1:8384/readyz and mkoba admin reconcile; then
     start the others.
  4. Keep the replaced database until the incident is closed.

What this database lacks: everything written after the dump was taken (transactions, customers,
PIN changes). Customers may hold SMS confirmations for transactions that no longer exist; the SMS
provider's log of messages sent since the dump lists them. Messages queued in the dump will be
sent again when the servers start. If WAL archiving is set up, a point-in-time recovery of the
cluster loses far less than this; see ops/RUNBOOK.md.
EOF
