# tests/integration/ctl_feed.sh with the publisher on a Redis Cluster of 3 masters and 3
# replicas (backend_lib.sh): feed status and export read the feed's keys by their slot.
export CEIRGW_TEST_BACKEND=cluster
exec bash "$(dirname "$0")/../ctl_feed.sh"
