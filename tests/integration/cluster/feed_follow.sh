# tests/integration/feed_follow.sh with TZ's Redis a Redis Cluster of 3 masters and 3 replicas
# (backend_lib.sh); KE and UG keep a redis-server each.
export CEIRGW_TEST_BACKEND=cluster
exec bash "$(dirname "$0")/../feed_follow.sh"
