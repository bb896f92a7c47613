#!/usr/bin/env bash
# Rewrites every package's PublicAPI.Unshipped.txt (src/*/) from the code, so that the public API the compiler sees is
# exactly what the files declare:  eng/update-public-api.sh
#
# How: each src project is compiled once with both of its API files set aside (empty), so PublicApiAnalyzers reports
# every public symbol as undeclared (RS0016); the compiler's SARIF log carries, for each one, the exact line the
# analyzer's own code fix would add (its APIName property). The new Unshipped file is then
#   everything public now that PublicAPI.Shipped.txt does not list, plus
#   *REMOVED*<entry> for each shipped entry that is no longer public (the analyzer's notation for a removal),
# sorted, after '#nullable enable'. PublicAPI.Shipped.txt is never changed (moving Unshipped into it is the release step).
# Then a normal Release build of those projects checks the result (warnings are errors: RS0016/RS0017 would fail it).
# Needs: dotnet, python3. Takes a few minutes (every package compiles twice).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
projects=(src/*/*.csproj)
saved="$work/saved"
mkdir -p "$saved" "$work/sarif" "$work/new"

# Puts back the API files set aside (on any exit before the new ones are written: a failed run leaves the tree as it was).
restore() {
  for csproj in "${projects[@]}"; do
    name="$(basename "$(dirname "$csproj")")"
    for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
      if [ -f "$saved/$name.$f" ]; then cp "$saved/$name.$f" "$(dirname "$csproj")/$f"; fi
    done
  done
}
trap 'restore; rm -rf "$work"' EXIT

for csproj in "${projects[@]}"; do
  dir="$(dirname "$csproj")"
  name="$(basename "$dir")"
  for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$f" ] || printf '#nullable enable\n' > "$dir/$f"
    cp "$dir/$f" "$saved/$name.$f"
    printf '#nullable enable\n' > "$dir/$f"
  done
done

# Every package built with every public symbol undeclared, reported as a warning (not an error) into a SARIF log per
# project (Directory.Build.props, PublicApiRegenerate). A project built already is up to date in the later invocations.
for csproj in "${projects[@]}"; do
  dotnet build "$csproj" -c Release --nologo -v q -p:PublicApiRegenerate=true -p:PublicApiLogDirectory="$work/sarif"
done

for csproj in "${projects[@]}"; do
  dir="$(dirname "$csproj")"
  name="$(basename "$dir")"
  python3 - "$work/sarif/$name.sarif" "$saved/$name.PublicAPI.Shipped.txt" "$work/new/$name.txt" <<'PY'
import json, sys
sarif, shipped_path, out = sys.argv[1:4]
with open(sarif, encoding="utf-8-sig") as f:
    log = json.load(f)
public = set()
for run in log.get("runs", []):
    for result in run.get("results", []):
        if result.get("ruleId") != "RS0016":
            continue
        props = result.get("properties", {}).get("customProperties", {})
        entry = props.get("APIName") or props.get("PublicAPIName")
        if not entry:
            sys.exit(f"{sarif}: an RS0016 result without the analyzer's entry text: {result}")
        public.add(entry)
shipped = set()
with open(shipped_path, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if line and not line.startswith("#"):
            shipped.add(line)
lines = sorted(public - shipped, key=lambda s: s.encode()) + sorted(("*REMOVED*" + s for s in shipped - public), key=lambda s: s.encode())
with open(out, "w", encoding="utf-8", newline="\n") as f:
    f.write("#nullable enable\n")
    for line in lines:
        f.write(line + "\n")
PY
done

restore
for csproj in "${projects[@]}"; do
  name="$(basename "$(dirname "$csproj")")"
  cp "$work/new/$name.txt" "$saved/$name.PublicAPI.Unshipped.txt"
done
restore

# The check: the declared API now matches (RS0016/RS0017 are errors in a normal build).
for csproj in "${projects[@]}"; do
  dotnet build "$csproj" -c Release --nologo -v q
done
# Per package: public types (an entry that is a bare type name: no member signature, no '->') and all entries, shipped and not.
for csproj in "${projects[@]}"; do
  dir="$(dirname "$csproj")"
  cat "$dir/PublicAPI.Shipped.txt" "$dir/PublicAPI.Unshipped.txt" | awk -v dir="$dir" '
    /^#/ || /^$/ || /^\*REMOVED\*/ { next }
    { entries++ } !/->/ && !/\(/ { types++ }
    END { printf "%s: %d public types, %d entries\n", dir, types, entries }'
done
