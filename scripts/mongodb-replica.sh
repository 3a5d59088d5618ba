#!/bin/bash
# Compose's MongoDB as a single-node replica set (rs0), so a write acknowledged with
# w: "majority" (every write of the services, common/store/client.py) is in the set's
# journal before the user hears "accepted". Mounted into the mongo:7 container:
#   mongodb-replica.sh          start mongod (through the image's own entrypoint)
#   mongodb-replica.sh health   initiate the set once, then healthy while it is primary
# The member is 127.0.0.1:27017: clients connect directly to the one host they are given
# (Store.connect adds directConnection=true to a one-host URL), so no client needs to
# resolve the name the set knows itself by.
set -euo pipefail

auth=()
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
  auth=(-u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD"
        --authenticationDatabase admin)
fi

if [ "${1:-}" = "health" ]; then
  exec mongosh --quiet "${auth[@]}" --eval '
    try { rs.status(); } catch (e) {
      rs.initiate({_id: "rs0", members: [{_id: 0, host: "127.0.0.1:27017"}]});
    }
    quit(db.hello().isWritablePrimary ? 0 : 1);'
fi

args=(mongod --replSet rs0 --bind_ip_all)
if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
  # With authentication a replica set wants a key file, even with one member (the image's
  # entrypoint drops it, and --replSet, while it creates the root user).
  key=/data/configdb/replica.key
  if [ ! -s "$key" ]; then
    head -c 756 /dev/urandom | base64 -w 0 > "$key"
  fi
  chmod 400 "$key"
  chown mongodb:mongodb "$key"
  args+=(--keyFile "$key")
fi
exec docker-entrypoint.sh "${args[@]}"
