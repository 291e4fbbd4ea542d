# tests/integration/foreign_check.sh on a Redis Cluster of 3 masters and 3 replicas (backend_lib.sh).
export CEIRGW_TEST_BACKEND=cluster
exec bash "$(dirname "$0")/../foreign_check.sh"
