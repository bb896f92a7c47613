#!/usr/bin/env bash
# The agent's load test as the release runs it: the agent's code precompiled (ReadyToRun, as the publish profiles of
# src/ClientLb.Cli make it), so the cold sync and the restart measure the agent and the kernel, not the JIT.
#   sudo eng/agent-bench.sh [SERVICES] [ENDPOINTS] [--no-iptables] [--no-latency] [--jit]
# --jit runs the plain Release build instead (tests/ClientLb.Agent.Tests/bin/Release), for a same-run comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
jit=0
for a in "$@"; do
  if [ "$a" = "--jit" ]; then jit=1; else args+=("$a"); fi
done
if [ "$jit" = 1 ]; then
  dotnet build tests/ClientLb.Agent.Tests -c Release -nologo -v q >/dev/null
  exec dotnet tests/ClientLb.Agent.Tests/bin/Release/net10.0/ClientLb.Agent.Tests.dll agent-bench "${args[@]}"
fi
out=tests/ClientLb.Agent.Tests/bin/Release/net10.0/linux-x64/r2r
dotnet publish tests/ClientLb.Agent.Tests -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$out" -nologo -v q >/dev/null
exec dotnet "$out/ClientLb.Agent.Tests.dll" agent-bench "${args[@]}"
