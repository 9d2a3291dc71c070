#!/usr/bin/env bash
# The one test command (README): unit tier, then the integration tier against real services that
# the integration globalSetup installs (when missing), starts on loopback, and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
npx vitest run --project unit
npx vitest run --project integration
