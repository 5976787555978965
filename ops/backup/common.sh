# shellcheck shell=bash
# Helpers shared by the backup and restore scripts in this directory; sourced, never run.

set -euo pipefail
# Byte order for globs and sorting: backup names then sort by their UTC timestamps.
export LC_ALL=C
# Backups hold PIN hashes and personal data: readable by their owner only.
umask 077

# The mkoba binary. The variable is MKOBA, not MKOBA_BIN: mkoba reads every MKOBA_… variable as
# a configuration key and refuses to start on an unknown one.
MKOBA=${MKOBA:-mkoba}

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    say "$*"
    exit 1
}

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH"
    done
}

# The name every backup carries: UTC, sortable, no characters a shell or URL minds.
utc_stamp() { date -u +%Y%m%dT%H%M%SZ; }

# How many verified backups to keep (KEEP, default 14).
keep_count() {
    local keep=${KEEP:-14}
    [[ $keep =~ ^[1-9][0-9]{0,3}$ ]] || die "KEEP must be a whole number from 1 to 9999, not '$keep'"
    printf '%s\n' "$keep"
}

# prune DIR SUFFIX KEEP: keeps the newest KEEP verified backups named mkoba-<stamp><SUFFIX> in DIR
# and deletes older ones with their verification reports. Unverified and partial files have other
# names, so they are never counted: a bad night cannot push a good backup out.
prune() {
    local dir=$1 suffix=$2 keep=$3 old
    local -a found
    shopt -s nullglob
    found=("$dir"/mkoba-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z"$suffix")
    shopt -u nullglob
    local excess=$((${#found[@]} - keep))
    ((excess > 0)) || return 0
    for old in "${found[@]:0:excess}"; do
        rm -f -- "$old" "$old.verify.txt"
        say "removed $old"
    done
}

# lock_dir DIR: one backup or restore at a time per directory (a slow run and the next cron run
# could otherwise overlap and prune each other's files). The lock goes with the process.
lock_dir() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$1/.mkoba-backup.lock"
    flock -n 9 || die "another backup or restore holds $1/.mkoba-backup.lock"
}

# refuse_root_for DIR: as root, SQLite would create the database's -wal and -shm files, and mkoba
# its generated secrets, owned by root; the service user could then no longer open them.
refuse_root_for() {
    local dir=$1
    if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %u "$dir")" -ne 0 ]; then
        die "run this as the owner of $dir, e.g.: runuser -u $(stat -c %U "$dir") -- $0 …"
    fi
}

# mkoba_sqlite DATA_DIR ARGS…: runs mkoba on the SQLite database DATA_DIR/mkoba.db, whatever the
# configuration file says. DATABASE_URL is removed: it and MKOBA_DATABASE__URL name the same
# setting, and which of the two wins would depend on the order of the environment.
mkoba_sqlite() {
    local dir=$1
    shift
    env -u DATABASE_URL MKOBA_DATA_DIR="$dir" MKOBA_DATABASE__URL="sqlite://$dir/mkoba.db" \
        "$MKOBA" "$@"
}

# mkoba_postgres URL DATA_DIR ARGS…: runs mkoba on the PostgreSQL database at URL. DATA_DIR is a
# scratch directory: if the environment configures no pepper or tokens, mkoba generates them into
# its data directory at start-up, and they must not land in a real one.
mkoba_postgres() {
    local url=$1 dir=$2
    shift 2
    env -u MKOBA_DATABASE__URL DATABASE_URL="$url" MKOBA_DATA_DIR="$dir" "$MKOBA" "$@"
}

# verify_sqlite FILE WORK_DIR: runs `mkoba admin verify-backup` on a copy of FILE made in
# WORK_DIR, with a throwaway mkoba database there too. FILE itself is never opened: opening an
# SQLite file can create -wal and -shm files beside it and switch its journal mode, and a backup
# must stay byte for byte what was written. Every admin command also opens its own configured
# database first; that one must be neither the live database nor a real data directory, where
# mkoba would generate secrets if none are configured. Logs below error level are left out: the
# throwaway start-up warns about exactly those generated secrets, which means nothing here.
verify_sqlite() {
    local file=$1 work=$2
    mkdir -p -- "$work/data" || return 1
    cp -- "$file" "$work/copy.db" || return 1
    MKOBA_LOG__FILTER=error mkoba_sqlite "$work/data" admin verify-backup --from "$work/copy.db"
}

# is_sqlite FILE: whether FILE starts with SQLite's header ("SQLite format 3" and a NUL).
is_sqlite() {
    [ -f "$1" ] && [ "$(head -c 15 -- "$1")" = "SQLite format 3" ]
}

# PostgreSQL URLs: postgres[ql]://[user[:password]@]host[:port][,host2…][/dbname][?params].
# Reserved characters in a password must be percent-encoded, as libpq requires anyway.
check_pg_url() {
    [[ $1 =~ ^postgres(ql)?:// ]] || die "$2 must be a postgres:// URL"
}

# url_with_db URL NAME: the same server, user and parameters, naming database NAME.
url_with_db() {
    local url=$1 name=$2 scheme rest query=""
    scheme=${url%%://*}
    rest=${url#*://}
    if [[ $rest == *\?* ]]; then
        query="?${rest#*\?}"
        rest=${rest%%\?*}
    fi
    printf '%s://%s/%s%s\n' "$scheme" "${rest%%/*}" "$name" "$query"
}

# db_of_url URL: the database a URL names (empty when it names none).
db_of_url() {
    local rest=${1#*://}
    rest=${rest%%\?*}
    [[ $rest == */* ]] && printf '%s\n' "${rest#*/}" || printf '\n'
}

# user_of_url URL: the user a URL names (empty: libpq's default, the operating-system user).
user_of_url() {
    local rest=${1#*://}
    rest=${rest%%/*}
    if [[ $rest == *@* ]]; then
        rest=${rest%@*}
        printf '%s\n' "${rest%%:*}"
    else
        printf '\n'
    fi
}

# redact URL: the URL with its password replaced, for messages.
redact() {
    # shellcheck disable=SC2001 # a regular expression is clearer than parameter expansion here
    sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"
}
