# tests/integration/ctl_admin.sh on a Redis Cluster of 3 masters and 3 replicas
# (backend_lib.sh): queue, report, outbox and unlock read and clear each key on its slot's master.
export CEIRGW_TEST_BACKEND=cluster
exec bash "$(dirname "$0")/../ctl_admin.sh"
