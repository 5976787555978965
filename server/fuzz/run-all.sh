#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (10 million by default), one after the other, and
# prints libFuzzer's last status line for each. Needs cargo-fuzz; uses nightly flags on stable.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
RUNS="${RUNS:-10000000}"
for target in ${TARGETS:-ussd_dialects ussd_engine ussd_state money_parse phone_parse sms_inbound}; do
  start=$(date +%s)
  cargo fuzz run "$target" -s none -O -- -runs="$RUNS" -max_len=1024 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|.*panicked|SUMMARY)' || true
  echo "$target: $(( $(date +%s) - start )) s"
done
