#!/usr/bin/env bash
# Makes sure a Postgres answers on 127.0.0.1:5432 with trust auth for user postgres:
# uses the one that is running, starts an installed cluster, or installs one from Debian's packages.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
command -v pg_isready >/dev/null && ready && { echo "postgres is running"; exit 0; }

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main restart
for _ in $(seq 1 30); do ready && { echo "postgres started"; exit 0; }; sleep 1; done
echo "postgres did not start on 127.0.0.1:5432" >&2
exit 1
