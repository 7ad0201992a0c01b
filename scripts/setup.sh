#!/usr/bin/env bash
# Installs what Lookout needs, idempotently: pnpm 10, the system tools sandboxes use (bubblewrap,
# git, Chromium for browser tests), the workspace's packages, and the built bridge and dashboard.
# Safe to run on every start; it only does work when something is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m[lookout]\033[0m %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is required (found $(node -v 2>/dev/null || echo none)). Install it from https://nodejs.org and retry."
  exit 1
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm -v | cut -d. -f1)" != "10" ]; then
  say "installing pnpm 10"
  npm install --global --silent pnpm@10 >/dev/null
fi

missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing system packages with sudo: ${missing[*]}"
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]} — install them (e.g. 'sudo apt-get install ${missing[*]}') for sandboxes and browser tests."
  fi
fi

stamp=node_modules/.lookout-install-stamp
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "installing packages"
  CI=true pnpm install --frozen-lockfile --reporter=silent
  touch "$stamp"
fi

say "building the bridge bundle and the dashboard"
pnpm exec turbo run build --output-logs=errors-only >&2

# OpenCode's packages for the sandbox image, installed once per checkout (a no-op when current), so no
# gateway installs them while it starts; without a registry, sandboxes fall back to installing them.
pnpm exec tsx packages/sandbox/scripts/prepare-opencode-config.ts >&2 ||
  say "could not prepare OpenCode's packages for sandboxes; each sandbox will download them at start"
