# What the feed tests share (issue 19): reports a CEIR decides on, seeded straight into a
# country's Redis as the report journey leaves them, and the CEIR's results for them. Sourced
# after lib.sh, not run.
#   feed_reports TAC FIRST COUNT   "IMEI REF REASON" lines: COUNT IMEIs of TAC numbered from
#                      FIRST (valid check digits), references 8 and the number (Luhn), every
#                      tenth reason lost, the others stolen
#   feed_seed < REPORTS            redis-cli commands that open each in state sent, owner and
#                      reporter +254711000001, with its reference
#   feed_results RESULT < REPORTS  redis-cli commands: the CEIR's RESULT (blocked, unblocked)
#                      for each, on ceir:results

feed_reports() {
	python3 - "$top_srcdir/tests/tools" "$@" <<'PY'
import sys

sys.path.insert(0, sys.argv.pop(1))
from feed_proxy import luhn  # noqa: E402 (the feed tests' one check digit)

tac, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + count):
    body = tac + "%06d" % i
    ref = "8%08d" % i
    print(body + luhn(body), ref + luhn(ref), "lost" if i % 10 == 0 else "stolen")
PY
}

feed_seed() {
	local imei ref reason
	while read -r imei ref reason; do
		echo "HSET rep:{$imei} ref $ref state sent reason $reason owner +254711000001" \
			"reporter +254711000001 lang en channel ussd created 1 updated 1"
		echo "SET ref:{$ref} $imei"
	done
}

feed_results() {
	local imei ref
	while read -r imei ref _; do
		echo "XADD ceir:results * ref $ref imei $imei result $1 reason ok"
	done
}
