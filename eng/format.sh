#!/usr/bin/env bash
# Formats the whole tree to the root .editorconfig: layout and using order, and the code-style rules it sets to warning
# (their ids below: file-scoped namespaces, usings outside the namespace, braces, explicit types, accessibility
# modifiers, field names). CI runs the same check with --verify-no-changes (.ci/run).
#   eng/format.sh                        rewrite every C# file of ClientLb.sln that differs
#   eng/format.sh --verify-no-changes    change nothing; list what differs and fail if anything does
#   eng/format.sh --include src/X/ ...   only some folders (any other `dotnet format` option passes through)
# IDE1006 (field names) has no automatic fix: dotnet format reports it, and the field is renamed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the analyzers behind these rules run, not every analyzer of every project.
rules=(IDE0008 IDE0011 IDE0040 IDE0065 IDE0161 IDE1006)
exec dotnet format ClientLb.sln --severity warn --diagnostics "${rules[@]}" "$@"
