# Sourced by .ci/run (issue 17): installs PostgreSQL from Debian's packages
# when missing and starts a throwaway cluster for the store's tests: initdb
# into a temporary folder as a non-root user, listening on 127.0.0.1 at a
# random high port and on a socket in that folder, trust authentication.
# It exports SCANNERGROUPER_TEST_POSTGRES (the DSN) and stops the server and
# removes the folder on exit. Without that variable the PostgreSQL tests
# skip, saying why.

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

sg_pg_start() {
  local bin user dir port try
  bin=$(pg_bindir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "ci: installing PostgreSQL"
    # The tests start their own cluster: no need for Debian's default one.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common
      echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    apt-get update -qq
    # --force-confold keeps the createcluster.conf written above without asking.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql >/dev/null
    bin=$(pg_bindir)
  fi
  if [ -z "$bin" ]; then
    echo "ci: ERROR: PostgreSQL server binaries not found after install" >&2
    return 1
  fi
  # initdb refuses to run as root: the cluster belongs to a plain user.
  user=postgres
  id -u "$user" >/dev/null 2>&1 || user=nobody
  dir=$(mktemp -d /tmp/sg-pg.XXXXXX)
  chown "$user" "$dir"
  chmod 700 "$dir"
  SG_PG_DIR=$dir SG_PG_BIN=$bin SG_PG_USER=$user
  trap sg_pg_stop EXIT
  runuser -u "$user" -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    if runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null; then
      export SCANNERGROUPER_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
      echo "ci: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') test server on 127.0.0.1:$port"
      return 0
    fi
  done
  cat "$dir/server.log" >&2
  return 1
}

sg_pg_stop() {
  if [ -n "${SG_PG_DIR:-}" ]; then
    runuser -u "$SG_PG_USER" -- "$SG_PG_BIN/pg_ctl" -D "$SG_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$SG_PG_DIR"
    SG_PG_DIR=
  fi
}
