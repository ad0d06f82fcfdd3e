#!/bin/sh
# Regenerates the table in common/README.md ("Against the peers") from a fresh run of the
# compare bench, with the machine and load it ran on: `sh common/benches/table.sh`.
# BENCH_RUNS (default 7) sets the interleaved runs per row. Only the lines between the two
# marker comments in the README change. `sh common/benches/table.sh FILE` takes the table from
# a run's saved output instead (`compare -- --markdown > FILE`, e.g. on a quieter machine).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
readme="$here/../README.md"
out=$(mktemp)
trap 'rm -f "$out" "$out.md"' EXIT INT TERM
if [ $# -ge 1 ]; then
    cp "$1" "$out"
else
    cargo bench -q -p common --bench compare -- --markdown >"$out"
fi
{
    echo "<!-- compare table: begin (sh common/benches/table.sh) -->"
    # The header line names the machine and the load; the rows follow it.
    head -n 1 "$out"
    echo
    grep '^|' "$out"
    echo
    grep '^(load average' "$out" || true
    echo "<!-- compare table: end -->"
} >"$out.md"
# Replace what lies between the markers (inclusive) with the new block.
awk -v block="$out.md" '
    /<!-- compare table: begin/ { while ((getline line < block) > 0) print line; skip = 1; next }
    /<!-- compare table: end -->/ { skip = 0; next }
    !skip { print }
' "$readme" >"$readme.new"
mv "$readme.new" "$readme"
echo "common/README.md: table replaced ($(grep -c '^|' "$out") lines)"
