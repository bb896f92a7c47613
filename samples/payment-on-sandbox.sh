#!/usr/bin/env bash
# One command for seed 003 on the embedded sandbox: PaymentService on every pod of payment-service.finance (the seed's
# Service: port 80 -> targetPort 8080), then the .NET PaymentClient through ClientLb's Kubernetes watch.
#   samples/payment-on-sandbox.sh [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet build -c Release samples/PaymentService >/dev/null
dotnet build -c Release samples/PaymentClient >/dev/null
dotnet samples/PaymentService/bin/Release/net10.0/PaymentService.dll --sandbox --kubeconfig-out "$work/kubeconfig" >"$work/service.log" 2>&1 &
service=$!
for _ in $(seq 1 120); do
  grep -q '^kubeconfig:' "$work/service.log" && break
  kill -0 "$service" 2>/dev/null || { cat "$work/service.log"; exit 1; }
  sleep 0.5
done
head -3 "$work/service.log"
dotnet samples/PaymentClient/bin/Release/net10.0/PaymentClient.dll --kubeconfig "$work/kubeconfig" --requests "${1:-12}"
