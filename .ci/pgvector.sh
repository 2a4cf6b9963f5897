#!/usr/bin/env bash
# Install the pgvector extension into the local PostgreSQL server (Debian's postgresql-NN),
# built from Debian's own source package. Idempotent: exits at once when the server already
# has the extension (vector.control in its extension folder).
#
#   bash .ci/pgvector.sh          # as root (apt-get, make install)
#
# Why from source: Debian bookworm ships no pgvector binary package (trixie and PGDG do, as
# postgresql-NN-pgvector). Adding trixie's binary sources to a bookworm machine would pull a
# newer libc, so this adds a deb-src entry for trixie only for the download (apt verifies it
# against the signed release files), removes it again, and builds the extension with PGXS
# against the installed server's headers (postgresql-server-dev-NN).
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ]; then
  echo "pgvector: PostgreSQL server binaries not found (apt-get install -y postgresql)" >&2
  exit 1
fi
PG_MAJOR=$(basename "$(dirname "$PG_BIN")")
PG_CONFIG="$PG_BIN/pg_config"
if [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]; then
  echo "pgvector: already installed for PostgreSQL $PG_MAJOR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" build-essential >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" build-essential >/dev/null; }

WORK=$(mktemp -d /tmp/pgvector-build.XXXXXX)
if id _apt >/dev/null 2>&1; then chown _apt "$WORK"; fi  # apt downloads as _apt
SOURCES=/etc/apt/sources.list.d/analytics-pgvector-src.sources
cleanup() { rm -f "$SOURCES"; rm -rf "$WORK"; }
trap cleanup EXIT
# The machine's own Debian mirror (the first URI of its main Debian source).
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
if [ -z "$MIRROR" ]; then
  echo "pgvector: no Debian mirror found in the apt sources" >&2
  exit 1
fi
cat > "$SOURCES" <<EOF
Types: deb-src
URIs: $MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Refresh only this source's index (the machine's other sources are left as they are).
apt-get update -qq -o Dir::Etc::sourcelist="$SOURCES" -o Dir::Etc::sourceparts=- \
  -o APT::Get::List-Cleanup=0
(cd "$WORK" && apt-get source -qq --download-only pgvector)
rm -f "$SOURCES"

tar -xzf "$WORK"/pgvector_*.orig.tar.gz -C "$WORK"
SRC=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -1)
# OPTFLAGS="": a portable build (pgvector's default is -march=native), as Debian builds it.
make -C "$SRC" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
make -C "$SRC" -s install PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
echo "pgvector: $(basename "$SRC") installed for PostgreSQL $PG_MAJOR"
