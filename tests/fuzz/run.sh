#!/usr/bin/env bash
# Runs one SharpFuzz harness under afl++ for a while:  tests/fuzz/run.sh TARGET SECONDS
# Targets: dns, watch, kubeconfig, servicename, address, nft (see ClientLb.Fuzz/Targets.cs).
#   tests/fuzz/run.sh TARGET --build    only publish and instrument (CI checks that the harness builds)
#   tests/fuzz/run.sh TARGET --replay   run the committed corpus and any findings once, without afl (regression check)
# Output: tests/fuzz/out/TARGET/findings (afl++'s queue, crashes, hangs, fuzzer_stats); the last lines of
# fuzzer_stats are printed at the end. Needs afl++ (Debian package afl++) and the SharpFuzz.CommandLine tool
# (dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:?usage: run.sh TARGET SECONDS|--build|--replay}"
seconds="${2:?usage: run.sh TARGET SECONDS|--build|--replay}"
case "$target" in dns|watch|kubeconfig|servicename|address|nft) ;; *) echo "run.sh: unknown target '$target'" >&2; exit 2;; esac
out="$here/out/$target"
bin="$out/bin"
export PATH="$PATH:$HOME/.dotnet/tools"

# Each target gets its own published, instrumented copy, so parallel runs never share a binary being rebuilt.
# A replay runs uninstrumented code: instrumented code outside afl (no Fuzzer.Run) has no trace memory to write to.
mkdir -p "$here/out"
[ "$seconds" = "--replay" ] && bin="$out/replay-bin"
(
  flock 9 # one publish at a time: parallel runs share the project's obj/ directory
  rm -rf "$bin"
  dotnet publish "$here/ClientLb.Fuzz/ClientLb.Fuzz.csproj" -c Release -o "$bin" -v q --nologo >/dev/null
) 9>"$here/out/.publish.lock"
if [ "$seconds" != "--replay" ]; then
  command -v sharpfuzz >/dev/null || { echo "run.sh: sharpfuzz not found: dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0" >&2; exit 1; }
  for dll in "$bin"/ClientLb.dll "$bin"/ClientLb.Dns.dll "$bin"/ClientLb.Kubernetes.dll "$bin"/ClientLb.Agent.dll; do
    sharpfuzz "$dll" >/dev/null
  done
fi
case "$seconds" in
  --build) echo "run.sh: $target harness built and instrumented in $bin"; exit 0;;
  --replay)
    inputs=("$here/corpus/$target"/*)
    if [ -d "$out/findings/default/crashes" ]; then inputs+=($(find "$out/findings/default/crashes" "$out/findings/default/hangs" -type f -name 'id:*' 2>/dev/null)); fi
    exec dotnet "$bin/ClientLb.Fuzz.dll" "$target" "${inputs[@]}";;
esac

command -v afl-fuzz >/dev/null || { echo "run.sh: afl-fuzz not found: apt-get install afl++" >&2; exit 1; }
# A .NET target is not an afl-instrumented ELF: skip that check; no CPU pinning (the machine is shared); resume
# the previous run of this target when there is one, so counts accumulate.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
input="$here/corpus/$target"
if [ -f "$out/findings/default/fuzzer_stats" ]; then input="-"; fi
mkdir -p "$out/findings"
# FUZZ_EXECS=N also stops the run after about N executions (afl-fuzz -E), whichever limit comes first.
limit=(-V "$seconds"); [ -n "${FUZZ_EXECS:-}" ] && limit+=(-E "$FUZZ_EXECS")
nice -n "${FUZZ_NICE:-10}" afl-fuzz -i "$input" -o "$out/findings" "${limit[@]}" -t 5000 -m none -- dotnet "$bin/ClientLb.Fuzz.dll" "$target" > "$out/afl.log" 2>&1 || {
  echo "run.sh: afl-fuzz failed; the end of $out/afl.log:" >&2; tail -20 "$out/afl.log" >&2; exit 1; }
stats="$out/findings/default/fuzzer_stats"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|stability|bitmap_cvg) ' "$stats"
crashes=$(awk '/^saved_crashes/ {print $3}' "$stats"); hangs=$(awk '/^saved_hangs/ {print $3}' "$stats")
[ "$crashes" = 0 ] && [ "$hangs" = 0 ] || { echo "run.sh: $target: $crashes crash(es), $hangs hang(s) in $out/findings/default" >&2; exit 1; }
