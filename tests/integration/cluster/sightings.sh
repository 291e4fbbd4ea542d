# tests/integration/sightings.sh on a Redis Cluster of 3 masters and 3 replicas
# (backend_lib.sh): the index shards, the report's sighting keys and the stream each on its slot.
export CEIRGW_TEST_BACKEND=cluster
exec bash "$(dirname "$0")/../sightings.sh"
