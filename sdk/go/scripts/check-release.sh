#!/usr/bin/env bash
# Release checks for the Go SDK (a dry run of publishing: Go modules are published by tagging).
#   - go.mod declares the module path users import (with /vN for major versions >= 2);
#   - VERSION is semver X.Y.Z and equals the Version constant in doc.go;
#   - the release tag is sdk/go/vX.Y.Z, the form the Go module proxy expects for a module in the
#     sdk/go subdirectory. Pass the tag to check as $1 (CI passes the pushed tag), otherwise the
#     tag that would be created is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-release: $*" >&2; exit 1; }

version=$(tr -d '[:space:]' < VERSION)
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] ||
    fail "VERSION must be X.Y.Z, got '$version'"
major=${BASH_REMATCH[1]}

expected_module="github.com/geoledger/geoledger/sdk/go"
if (( major >= 2 )); then expected_module="$expected_module/v$major"; fi
module=$(awk '$1 == "module" { print $2; exit }' go.mod)
[[ "$module" == "$expected_module" ]] ||
    fail "go.mod declares module '$module', expected '$expected_module' for version $version"

constant=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' doc.go)
[[ "$constant" == "$version" ]] ||
    fail "doc.go says Version = '$constant', VERSION says '$version'"

tag="sdk/go/v$version"
if [[ $# -ge 1 ]]; then
    [[ "$1" == "$tag" ]] || fail "tag '$1' does not match VERSION: expected '$tag'"
fi
echo "check-release: module $module, version $version, tag $tag: ok"
