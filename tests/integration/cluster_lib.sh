# A real Redis Cluster for the tests (issue 16): redis-server processes on loopback, made a
# cluster by redis-cli --cluster create, with a short cluster-node-timeout so that a killed
# master's replica takes over within seconds. Sourced after lib.sh, not run.
#
#   cluster_start MASTERS REPLICAS   starts MASTERS*(1+REPLICAS) nodes and waits until every
#                                    slot is served; sets CLUSTER_PORTS (masters first, as
#                                    created), CLUSTER_SEEDS ("127.0.0.1:P,127.0.0.1:P,...")
#   RC ARGS...                       redis-cli -c on a live node (follows redirections)
#   cluster_port_of_key KEY          the port of the master that serves KEY now
#   cluster_masters                  the ports of the masters now, one per line
#   cluster_wait_ok SECONDS          waits until every live node says cluster_state:ok and
#                                    all 16384 slots are served by live masters
#   cluster_kill PORT                SIGKILLs the node on PORT (kept from cleanup's list)
#   cluster_restart PORT             starts a killed node again with its nodes.conf (empty:
#                                    no persistence): it rejoins, as a replica of whoever
#                                    took its slots over, and waits until it answers
#   cluster_replicas_online N        every master has N replicas online (first sync done)
#   cluster_id PORT                  the node id of the node on PORT
#   cluster_migrate_held KEY TO SECONDS
#                                    moves the slot of KEY to the master on port TO by hand
#                                    (SETSLOT IMPORTING/MIGRATING, MIGRATE of its keys), and
#                                    holds it half-way, the keys moved and the slot still
#                                    migrating, until the target was sent an ASKING (at most
#                                    SECONDS), then ends it (SETSLOT NODE on every master);
#                                    returns 1 when no ASKING came
#   cluster_redirects                "ASK a MOVED m TRYAGAIN t ASKING n": the redirections
#                                    the live nodes answered (INFO errorstats) and the
#                                    ASKING they were sent (INFO commandstats), summed
#   cluster_reshard FROM TO SLOTS [PIPELINE]
#                                    redis-cli --cluster reshard: SLOTS slots of the master
#                                    on port FROM to the master on port TO, PIPELINE keys a
#                                    MIGRATE (redis-cli's default 10), once the nodes
#                                    agree (cluster_agree: redis-cli --cluster check)

REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli)}
: "${CLUSTER_NODE_TIMEOUT:=1000}"
CLUSTER_PORTS=""
CLUSTER_SEEDS=""
declare -A cluster_pid

# A port for a node: free, and so is its cluster bus port (the port + 10000), both below the
# kernel's ephemeral range, where no client socket can be holding the bus port when the node
# binds it.
cluster_free_port() {
	local p
	# (an ephemeral range starting below 30100 leaves no such ports: any free port then)
	[ "$eph_low" -gt 30100 ] || { free_port; return; }
	while p=$(free_port); do
		[ $((p + 10000)) -lt "$eph_low" ] || continue
		(exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null && continue
		echo "$p"
		return
	done
}

# cluster_node_start PORT: the redis-server of a node (its folder made), in the background.
# repl-diskless-sync-delay 0: a replica's first sync at once, not after the 5 s a master waits
# by default for more replicas to share one transfer.
cluster_node_start() {
	"$REDIS_SERVER" --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
		--cluster-enabled yes --cluster-config-file "nodes-$1.conf" \
		--cluster-node-timeout "$CLUSTER_NODE_TIMEOUT" \
		--cluster-require-full-coverage no --cluster-replica-validity-factor 0 \
		--enable-debug-command local --repl-diskless-sync-delay 0 \
		--dir "$TEST_TMP/cluster/$1" >>"$TEST_TMP/cluster/$1/redis.log" 2>&1 &
	cluster_pid[$1]=$!
	test_pids="$test_pids $!"
}

cluster_start() {
	local masters=$1 replicas=$2 n i p addrs=""
	n=$((masters * (1 + replicas)))
	for ((i = 0; i < n; i++)); do
		p=$(cluster_free_port)
		mkdir -p "$TEST_TMP/cluster/$p"
		cluster_node_start "$p"
		CLUSTER_PORTS="$CLUSTER_PORTS $p"
		addrs="$addrs 127.0.0.1:$p"
	done
	CLUSTER_PORTS=${CLUSTER_PORTS# }
	for p in $CLUSTER_PORTS; do
		wait_for 20 "$REDIS_CLI" -p "$p" ping || {
			echo "# cluster_start: node $p does not answer"
			tail -5 "$TEST_TMP/cluster/$p/redis.log" | sed 's/^/# /'
			return 1
		}
	done
	# shellcheck disable=SC2086
	"$REDIS_CLI" --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes \
		>"$TEST_TMP/cluster/create.log" 2>&1 || { cat "$TEST_TMP/cluster/create.log"; return 1; }
	CLUSTER_SEEDS=$(echo "$addrs" | sed -e 's/^ //' -e 's/ /,/g')
	cluster_wait_ok 60 || {
		echo "# cluster_start: not every slot served in 60 s"
		"$REDIS_CLI" -p "${CLUSTER_PORTS%% *}" cluster info | sed 's/^/# /'
		return 1
	}
	wait_for 60 cluster_replicas_online "$replicas" ||
		{ echo "# cluster_start: replicas not in sync in 60 s"; return 1; }
}

# Every master has N replicas online (their first sync done).
cluster_replicas_online() {
	local p
	for p in $(cluster_masters); do
		[ "$("$REDIS_CLI" -p "$p" info replication | grep -c 'state=online')" -ge "$1" ] ||
			return 1
	done
}

# A port of a node that answers.
cluster_live_port() {
	local p
	for p in $CLUSTER_PORTS; do
		if "$REDIS_CLI" -p "$p" ping >/dev/null 2>&1; then echo "$p"; return 0; fi
	done
	return 1
}

RC() { "$REDIS_CLI" -c -p "$(cluster_live_port)" "$@"; }

# "port first-last first-last ..." for each master that is not failed, from CLUSTER NODES.
cluster_master_slots() {
	"$REDIS_CLI" -p "$(cluster_live_port)" cluster nodes |
		awk '$3 ~ /master/ && $3 !~ /fail/ {
			split($2, a, "[:@]"); line = a[2]
			for (i = 9; i <= NF; i++) if ($i !~ /^\[/) line = line " " $i
			print line }'
}

cluster_port_of_key() {
	local slot
	slot=$("$REDIS_CLI" -p "$(cluster_live_port)" cluster keyslot "$1")
	cluster_master_slots | awk -v s="$slot" '{
		for (i = 2; i <= NF; i++) {
			n = split($i, r, "-"); lo = r[1] + 0; hi = (n == 2 ? r[2] : r[1]) + 0
			if (lo <= s && s <= hi) { print $1; exit }
		} }'
}

cluster_masters() {
	"$REDIS_CLI" -p "$(cluster_live_port)" cluster nodes |
		awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "[:@]"); print a[2] }' | sort -n
}

cluster_ok_once() {
	local p info covered=0 port ranges
	for p in $CLUSTER_PORTS; do
		"$REDIS_CLI" -p "$p" ping >/dev/null 2>&1 || continue
		info=$("$REDIS_CLI" -p "$p" cluster info 2>/dev/null) || return 1
		case $info in *cluster_state:ok*) ;; *) return 1 ;; esac
	done
	# Every slot served by a master that answers.
	while read -r port ranges; do
		"$REDIS_CLI" -p "$port" ping >/dev/null 2>&1 || return 1
		covered=$((covered + $(echo "$ranges" | awk '{ for (i = 1; i <= NF; i++) {
			n = split($i, r, "-"); t += (n == 2 ? r[2] - r[1] + 1 : 1) } } END { print t + 0 }')))
	done < <(cluster_master_slots)
	[ "$covered" -eq 16384 ]
}

cluster_wait_ok() { wait_for "$1" cluster_ok_once; }

cluster_kill() {
	kill -9 "${cluster_pid[$1]}" 2>/dev/null
	wait "${cluster_pid[$1]}" 2>/dev/null
	return 0
}

cluster_restart() {
	cluster_node_start "$1"
	wait_for 10 "$REDIS_CLI" -p "$1" ping
}

cluster_id() { "$REDIS_CLI" -p "$1" cluster myid; }

# Every node agrees on the slots, none is open (redis-cli --cluster check).
cluster_agree() {
	local out
	out=$("$REDIS_CLI" --cluster check "127.0.0.1:$(cluster_live_port)" 2>&1) || return 1
	case $out in *ERR*|*WARNING*) return 1 ;; esac
}

# (waits until the nodes agree first: redis-cli refuses to reshard before)
cluster_reshard() {
	wait_for 10 cluster_agree || return 1
	"$REDIS_CLI" --cluster reshard "127.0.0.1:$1" --cluster-from "$(cluster_id "$1")" \
		--cluster-to "$(cluster_id "$2")" --cluster-slots "$3" \
		--cluster-pipeline "${4:-10}" --cluster-yes \
		>>"$TEST_TMP/cluster/reshard.log" 2>&1
}

cluster_redirects() {
	local p
	for p in $CLUSTER_PORTS; do
		"$REDIS_CLI" -p "$p" info errorstats 2>/dev/null
		"$REDIS_CLI" -p "$p" info commandstats 2>/dev/null | sed -n '/^cmdstat_asking:/p'
	done | tr -d '\r' | awk -F'[:=,]' '
		/^errorstat_/ { n[substr($1, 11)] += $3 }
		/^cmdstat_asking:/ { n["ASKING"] += $3 }
		END { printf "ASK %d MOVED %d TRYAGAIN %d ASKING %d\n", n["ASK"], n["MOVED"],
			n["TRYAGAIN"], n["ASKING"] }'
}

cluster_asking() {
	"$REDIS_CLI" -p "$1" info commandstats | tr -d '\r' |
		awk -F'[:=,]' '$1 == "cmdstat_asking" { n = $3 } END { print n + 0 }'
}

cluster_asking_above() { [ "$(cluster_asking "$1")" -gt "$2" ]; }

# cluster_move_keys SLOT FROM TO: MIGRATEs the keys of SLOT still on FROM to TO.
cluster_move_keys() {
	local keys
	while keys=$("$REDIS_CLI" -p "$2" cluster getkeysinslot "$1" 100) && [ -n "$keys" ]; do
		# shellcheck disable=SC2086	# the keys are words
		"$REDIS_CLI" -p "$2" migrate 127.0.0.1 "$3" "" 0 5000 KEYS $keys >/dev/null || return 1
	done
}

cluster_migrate_held() {
	local slot from to=$2 ask0 held p
	slot=$("$REDIS_CLI" -p "$to" cluster keyslot "$1")
	from=$(cluster_port_of_key "$1")
	[ -n "$from" ] && [ "$from" != "$to" ] || return 1
	ask0=$(cluster_asking "$to")
	"$REDIS_CLI" -p "$to" cluster setslot "$slot" importing "$(cluster_id "$from")" >/dev/null &&
	"$REDIS_CLI" -p "$from" cluster setslot "$slot" migrating "$(cluster_id "$to")" >/dev/null &&
	cluster_move_keys "$slot" "$from" "$to" || return 1
	wait_for "$3" cluster_asking_above "$to" "$ask0"
	held=$?
	cluster_move_keys "$slot" "$from" "$to" || return 1
	for p in "$to" "$from" $(cluster_masters); do
		"$REDIS_CLI" -p "$p" cluster setslot "$slot" node "$(cluster_id "$to")" >/dev/null
	done
	return "$held"
}
