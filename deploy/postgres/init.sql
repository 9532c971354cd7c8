-- One database per service plus the platform directory (API keys, jurisdictions),
-- all owned by the onestop role (POSTGRES_USER). Run once by the postgres image
-- on an empty data directory (/docker-entrypoint-initdb.d). Schemas are created
-- by `onestop migrate` (Alembic), not here.
CREATE DATABASE directory OWNER onestop;
CREATE DATABASE intake OWNER onestop;
CREATE DATABASE dispatch OWNER onestop;
CREATE DATABASE visits OWNER onestop;
CREATE DATABASE scoring OWNER onestop;
CREATE DATABASE archive OWNER onestop;
