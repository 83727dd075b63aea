#!/bin/sh
# Copies the files the Custom UI resources share into each resource directory: Forge uploads
# every resource directory (manifest `resources[].path`) on its own, so a page cannot load
# ../shared/. The copies are committed; nothing is built or fetched at deploy time.
#
#   forge-ui/build.sh           refresh the copies (shared/bridge.js; the Connect pages'
#                               ingress/static/app.css and page.js, so that both kinds of page
#                               look and word things the same; and the Connect rules page's own
#                               script, ingress/static/rules.js)
#   forge-ui/build.sh --check   exit 1 if any copy differs from its source (run by
#                               ingress/tests/forge_ui_browser.rs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
resources="rules activity"
# The rules page runs the Connect page's own script.
shared_scripts="rules"

pairs() {
  for resource in $resources; do
    echo "$here/shared/bridge.js $here/$resource/bridge.js"
    echo "$here/../ingress/static/app.css $here/$resource/app.css"
    echo "$here/../ingress/static/page.js $here/$resource/page.js"
  done
  for script in $shared_scripts; do
    echo "$here/../ingress/static/$script.js $here/$script/$script.js"
  done
}

if [ "${1:-}" = "--check" ]; then
  stale=0
  pairs | while read -r source copy; do
    if ! cmp -s "$source" "$copy"; then
      echo "stale copy: $copy (run forge-ui/build.sh)" >&2
      exit 1
    fi
  done || stale=1
  exit "$stale"
fi

pairs | while read -r source copy; do
  cp "$source" "$copy"
done
echo "forge-ui: copies refreshed"
