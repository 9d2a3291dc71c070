#!/bin/sh
# Runs once, when the Postgres volume is first initialised (docker-entrypoint-initdb.d). Creates
# the role the bot runs as; POSTGRES_USER owns the schema and runs the migrations, and the bot
# grants this role only INSERT and SELECT on the audit tables after migrating.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v app_password="$OPSGRAM_APP_PASSWORD" <<'SQL'
CREATE ROLE opsgram_app LOGIN PASSWORD :'app_password';
SQL
