-- The PostgreSQL-only profile keeps its events and read models in a database of its own.
create database identity_pg owner identity;
