#!/usr/bin/env bash
# Online backup of mkoba's embedded SQLite database, verified before it counts.
#
#   backup-sqlite.sh DATA_DIR DEST_DIR
#
#   DATA_DIR   mkoba's data directory (data_dir; the database is DATA_DIR/mkoba.db)
#   DEST_DIR   where backups go: DEST_DIR/mkoba-<UTC stamp>.db, with a verification report
#              DEST_DIR/mkoba-<UTC stamp>.db.verify.txt beside each
#
# Environment: KEEP (verified backups to keep, default 14), MKOBA (the mkoba binary, default
# `mkoba` on PATH), and whatever mkoba itself needs (MKOBA_CONFIG, MKOBA_SECURITY__PEPPER, …):
# run it with the server's environment, as the user that owns DATA_DIR (ops/RUNBOOK.md shows how).
#
# Safe while the server runs: `mkoba admin backup` copies through SQLite's online backup API, which
# yields one consistent snapshot even while the server writes. The copy is written under a
# temporary name, then `mkoba admin verify-backup` reconciles it (the whole ledger against its
# journal) and exits non-zero on any mismatch; it runs on a second, throwaway copy, so the file
# kept is exactly what the backup API wrote (this needs room for two copies in DEST_DIR while it
# runs). Only a verified copy gets its final name and counts towards KEEP; one that fails is kept as mkoba-<stamp>.db.unverified for inspection and
# the script exits 1, so a cron job or timer reports it.
#
# The backup holds the database only. The pepper (DATA_DIR/pepper when it is not configured) and
# the generated tokens are not in it, on purpose: with a 4-digit PIN, the pepper is all that stops
# someone holding a copy of the database from finding every PIN. Keep the pepper in the secret
# store, once, never next to these files.
#
# Exit status: 0 when a verified backup was written, 1 otherwise.

# shellcheck source=common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '3,8{s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
[ $# -eq 2 ] || usage
case $1 in -h | --help) usage ;; esac

keep=$(keep_count)
need "$MKOBA" mktemp sync cp
[ -d "$1" ] || die "no data directory $1"
data_dir=$(cd -- "$1" && pwd -P)
[ -f "$data_dir/mkoba.db" ] || die "no database at $data_dir/mkoba.db"
mkdir -p -- "$2"
dest_dir=$(cd -- "$2" && pwd -P)
[ -w "$dest_dir" ] || die "$dest_dir is not writable"
refuse_root_for "$data_dir"
lock_dir "$dest_dir"

stamp=$(utc_stamp)
final="$dest_dir/mkoba-$stamp.db"
partial="$dest_dir/.mkoba-$stamp.db.partial"
report="$dest_dir/.mkoba-$stamp.db.verify.partial"
[ ! -e "$final" ] || die "$final already exists"

# Work space on the destination's file system: a verification copy must fit where the backup does.
work=$(mktemp -d -p "$dest_dir" .mkoba-verify.XXXXXX)
cleanup() {
    rm -rf -- "$work"
    rm -f -- "$partial" "$report"
}
trap cleanup EXIT

say "backing up $data_dir/mkoba.db"
mkoba_sqlite "$data_dir" admin backup --to "$partial"
[ -s "$partial" ] || die "mkoba admin backup wrote nothing to $partial"

say "verifying the copy"
if ! verify_sqlite "$partial" "$work" >"$report" 2>&1; then
    mv -f -- "$partial" "$final.unverified"
    mv -f -- "$report" "$final.unverified.verify.txt"
    cat -- "$final.unverified.verify.txt" >&2
    die "verification FAILED; the copy is kept as $final.unverified (not counted as a backup)"
fi

sync -- "$partial" "$report"
mv -f -- "$report" "$final.verify.txt"
mv -f -- "$partial" "$final"
sync -- "$dest_dir"
say "verified backup $final ($(du -h -- "$final" | cut -f1))"

prune "$dest_dir" .db "$keep"
