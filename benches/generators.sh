# Sourced by benches/load.sh and benches/orsan.sh: installs the load generators when missing
# (wrk from Debian's packages, oha with cargo install).
if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if ! command -v oha >/dev/null; then
  echo "installing oha (cargo install, a few minutes)..." >&2
  cargo install oha --locked --quiet
fi
