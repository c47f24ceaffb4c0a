#!/usr/bin/env bash
# RUSTC_WRAPPER for `cargo afl build`: compiles the regex engine and the hashing and Ed25519
# crates without AFL's coverage instrumentation. Their internals (regex compilation, lazy DFA
# caches, field arithmetic) are not what is fuzzed here; instrumented, they made the
# pattern-heavy targets ten times slower and their coverage unstable. Every other crate,
# countersign's own, toml, serde_json, tar and base64 included, stays instrumented.
rustc="$1"; shift
crate=""
prev=""
for a in "$@"; do
  [ "$prev" = "--crate-name" ] && crate="$a"
  prev="$a"
done
case "$crate" in
  regex | regex_automata | regex_syntax | aho_corasick | memchr | \
  curve25519_dalek | ed25519_dalek | sha2 | digest | block_buffer | crypto_common | cpufeatures)
    out=()
    skip=0
    for a in "$@"; do
      if [ "$skip" = 1 ]; then
        skip=0
        case "$a" in
          passes=sancov-module | passes=sancov | llvm-args=-sanitizer-coverage-*) continue ;;
          *) out+=("-C" "$a"); continue ;;
        esac
      fi
      if [ "$a" = "-C" ]; then skip=1; continue; fi
      case "$a" in
        -Cpasses=sancov* | -Cllvm-args=-sanitizer-coverage-*) continue ;;
      esac
      out+=("$a")
    done
    exec "$rustc" "${out[@]}"
    ;;
  *) exec "$rustc" "$@" ;;
esac
