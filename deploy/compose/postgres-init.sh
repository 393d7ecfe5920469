#!/bin/bash
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
# one role and one database per service and the gateway, each role owning only its database,
# so no service can read another's tables. Passwords come from the env file (deploy/.env).
set -euo pipefail

for name in customers billing tickets activity gateway; do
    variable="${name^^}_DB_PASSWORD"
    password="${!variable:?$variable must be set (see deploy/env.example)}"
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
