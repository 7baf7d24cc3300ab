#!/bin/sh
# The image's two roles. Each execs exactly what the README runs (`npm run api` / `npm run worker`), so node
# replaces this shell as tini's only child and receives SIGTERM directly (the worker then drains).
set -eu
role="${1:-api}"
[ "$#" -gt 0 ] && shift
case "$role" in
  api) exec node apps/api/dist/main.js "$@" ;;
  worker) exec node apps/worker/dist/main.js "$@" ;;
  *)
    echo "usage: docker-entrypoint.sh api|worker (got '$role')" >&2
    exit 64
    ;;
esac
