#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; `fuzz/run.sh 300` for five
# minutes, `fuzz/run.sh 60 sparkplug_payload` for one target). Seeds and regression cases
# come from fuzz/corpus/<target>/, what libFuzzer finds new is kept in fuzz/target/corpus/;
# a crash stops that target with its input in fuzz/artifacts/<target>/ (once fixed, copy it
# into fuzz/corpus/<target>/ as a regression case). Needs only the Rust toolchain:
# cargo-fuzz is installed when missing, and RUSTC_BOOTSTRAP lets the stable compiler take
# libFuzzer's instrumentation flags.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(modbus_registers sparkplug_payload plugin_package plugin_manifest quality_formula sheet_import history_chunk)
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# no sanitizer: the code under test is safe Rust, and a panic (with debug assertions: an
# overflow too) is the finding; ASan would instrument wasmtime's JIT for nothing
flags=(--sanitizer none --debug-assertions)
cargo fuzz build "${flags[@]}"
failed=()
for t in "${targets[@]}"; do
  # what libFuzzer learns goes to target/corpus/ (not committed); the repository's corpus
  # holds the seeds and the regression cases
  mkdir -p "corpus/$t" "target/corpus/$t" "artifacts/$t"
  echo "== $t: ${secs} s"
  if ! cargo fuzz run "${flags[@]}" "$t" "target/corpus/$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
      2> >(tee "artifacts/$t/last-run.log" | grep -E "^(#[0-9]+ +DONE|stat::|==|SUMMARY|thread)" >&2); then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "findings in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "no findings"
