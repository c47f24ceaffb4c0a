#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with cargo-afl (stable Rust). See README.md.
#
#   crates/countersign-fuzz/afl.sh build                 # instrumented build of every fuzz_* binary
#   crates/countersign-fuzz/afl.sh run <target> [execs] [seconds]
#                                                        # fuzz until <execs> executions (default 10M)
#                                                        # or <seconds> of fuzzing, whichever is first
#   crates/countersign-fuzz/afl.sh stats <target>        # execs, speed, corpus, crashes, hangs
#                                                        # per instance, and the campaign's total
#
# Environment: FUZZ_TARGET_DIR (default /tmp/countersign-fuzz-target; never the normal target
# dir, so the instrumented build does not invalidate it), FUZZ_OUT (default
# /tmp/countersign-fuzz-out), CARGO_LOCK (a file to flock around cargo, if set),
# FUZZ_INSTANCE (e.g. "-M main", or "-S s1" for a second core in the same campaign),
# FUZZ_MAX_LEN (AFL++'s -G input cap in bytes, e.g. 4096 for codeowners).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${FUZZ_TARGET_DIR:-/tmp/countersign-fuzz-target}"
out="${FUZZ_OUT:-/tmp/countersign-fuzz-out}"

cargo_locked() {
  if [ -n "${CARGO_LOCK:-}" ]; then flock "$CARGO_LOCK" cargo "$@"; else cargo "$@"; fi
}

case "${1:-}" in
  build)
    command -v cargo-afl >/dev/null || cargo_locked install cargo-afl
    cargo afl config --build >/dev/null 2>&1 || true   # builds AFL++ once; a no-op afterwards
    cd "$root"
    # The regex engine and the hash/Ed25519 crates are built without instrumentation
    # (see uninstrumented-rustc.sh).
    RUSTC_WRAPPER="$here/uninstrumented-rustc.sh" CARGO_TARGET_DIR="$target_dir" \
      cargo_locked afl build --release --features afl -p countersign-fuzz
    ;;
  run)
    t="${2:?target}"
    execs="${3:-10000000}"
    limit=()
    [ -n "${4:-}" ] && limit=(-V "$4")
    bin="$target_dir/release/fuzz_$t"
    [ -x "$bin" ] || { echo "build first: $0 build" >&2; exit 2; }
    dict=()
    case "$t" in
      policy_toml) dict=(-x "$here/dict/policy_toml.dict") ;;
      codeowners) dict=(-x "$here/dict/codeowners.dict") ;;
      commit_message) dict=(-x "$here/dict/commit_message.dict") ;;
      signed_note) dict=(-x "$here/dict/signed_note.dict") ;;
      gh_pr_json | record_json | dsse_envelope) dict=(-x "$here/dict/json.dict") ;;
    esac
    mkdir -p "$out"
    # Resume an earlier run of this target if there is one.
    input="$here/corpus/$t"
    instance=()
    [ -n "${FUZZ_INSTANCE:-}" ] && read -r -a instance <<<"$FUZZ_INSTANCE"
    name="${instance[1]:-default}"
    [ -d "$out/$t/$name/queue" ] && input=-
    maxlen=()
    [ -n "${FUZZ_MAX_LEN:-}" ] && maxlen=(-G "$FUZZ_MAX_LEN")
    export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
    exec nice -n 19 cargo afl fuzz -i "$input" -o "$out/$t" "${instance[@]}" -E "$execs" "${limit[@]}" "${maxlen[@]}" "${dict[@]}" "$bin"
    ;;
  stats)
    t="${2:?target}"
    total=0
    for stats in "$out/$t"/*/fuzzer_stats; do
      echo "== $(basename "$(dirname "$stats")")"
      grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|stability|bitmap_cvg)\b' "$stats"
      total=$((total + $(sed -n 's/^execs_done *: *//p' "$stats")))
    done
    echo "campaign execs_done (all instances): $total"
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
