#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/screenshots/*.png) from a real run of the dashboard's
# browser tests. `npm test` takes the same screenshots into the ignored apps/web/e2e/.artifacts, so
# running the tests never changes the checkout; this is the one command that changes the committed ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
LOOKOUT_SCREENSHOTS_DIR="$PWD/docs/screenshots" pnpm --filter @lookout/web run --silent e2e
printf '\033[1;34m[lookout]\033[0m %s\n' "screenshots refreshed in docs/screenshots; review them with git diff --stat docs/screenshots and commit" >&2
