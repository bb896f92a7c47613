#!/usr/bin/env bash
# Installs what the tests need when it is missing, builds, runs every test project, and prints the total
# over all of them as its last line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- tools the tests talk to (real peers) ---
apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need dnsmasq dnsmasq          # real DNS server for the DNS source tests
need dig dnsutils             # queries the sandbox's cluster DNS as a pod would
need nft nftables             # the agent's kernel side (libnftables1 comes with it)
need conntrack conntrack      # UDP conntrack cleanup by the agent
need ip iproute2              # network namespaces and veth pairs for agent tests
need curl curl                # non-.NET client of agent VIPs
need python3 python3          # HTTP and UDP echo backends inside the agent test namespaces
need java default-jdk-headless # JDK java.net.http client of agent VIPs
need node nodejs              # grpc-js test peers
need npm npm
need kubectl kubernetes-client
need go golang-go              # the seed's Go PaymentClient (tests/peers/go, standard library only)
need chromium chromium        # the dashboard's browser tests (Playwright drives Debian's chromium; no browser download)
# the official Python Kubernetes client, a peer of the sandbox API server (Debian's package, for /usr/bin/python3)
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || apt_packages+=(python3-kubernetes)
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${apt_packages[*]}; run as root (or install them) so the tests can use them." >&2
  else
    echo "test.sh: installing ${apt_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null \
      || echo "test.sh: apt-get install ${apt_packages[*]} failed; tests that need them will fail and say so." >&2
    # The Debian package starts a system-wide dnsmasq; the tests start their own on loopback ports.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now dnsmasq >/dev/null 2>&1 || true; fi
    pkill -x dnsmasq >/dev/null 2>&1 || true
  fi
fi

# --- test peers that are not .NET (lock files committed) ---
for peer in tests/peers/*/package-lock.json; do
  [ -f "$peer" ] || continue
  dir=$(dirname "$peer")
  if [ ! -d "$dir/node_modules" ] || [ "$peer" -nt "$dir/node_modules" ]; then
    echo "test.sh: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || echo "test.sh: npm ci failed in $dir; its tests will fail and say so." >&2
  fi
done

# --- build everything (samples and benchmarks included, so they cannot rot) ---
if ! dotnet build ClientLb.sln -c Release -nologo -v quiet; then
  echo "test.sh: build failed" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# --- run each test project, collecting TRX results ---
results=TestResults
rm -rf "$results"
status=0
unsuccessful=()
for project in tests/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "=== $name"
  dotnet test "$project" -c Release --no-build --nologo \
      --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
      --results-directory "$results" --blame-hang-timeout 5m || { status=1; unsuccessful+=("$name"); }
done

# --- sum the TRX counters of all projects ---
passed=0; failed=0; skipped=0; found=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  found=$((found + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  own_failed=$(($(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  # A run whose test host crashed ends unsuccessfully with no failed test counted: it counts as one failure.
  name=$(basename "$trx" .trx)
  if [ "$own_failed" -eq 0 ] && [[ " ${unsuccessful[*]} " == *" $name "* ]]; then
    echo "test.sh: the $name run did not complete (test host crashed or aborted): counted as 1 failure" >&2
    own_failed=1
  fi
  failed=$((failed + own_failed))
  skipped=$((skipped + $(get notExecuted)))
done
projects=$(ls tests/*.Tests/*.csproj | wc -l)
if [ "$found" -lt "$projects" ]; then
  echo "test.sh: only $found of $projects test projects produced results" >&2
  failed=$((failed + projects - found))
  status=1
fi
[ "$failed" -gt 0 ] && status=1
if [ "$failed" -gt 0 ] && command -v python3 >/dev/null; then
  echo "test.sh: failed tests:"
  python3 eng/trx-failures.py "$results"/*.trx || true
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
