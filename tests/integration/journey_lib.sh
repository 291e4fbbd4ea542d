# The journey tests' side of ceirgw (journeys.sh, journeys_lang.sh, journeys_restart.sh,
# trust.sh, cluster_journeys_lib.sh, and the Kannel tests' USSD over HTTP): the operator data
# imported, and callers of its USSD and SMS callbacks as an aggregator and Kannel call them.
# Sourced after lib.sh (and backend_lib.sh where the test has one), not run.
#
#   import_data           import_pairings and import_kyc (lib.sh), a TAP line each
#   ussd SESSION CALLER TEXT  one aggregator callback to $url/ussd, the reply body
#   walk SESSION CALLER INPUT...
#                         dials, then sends each input as the aggregator does (all inputs so
#                         far joined by '*'); prints the last reply
#   dial SESSION CALLER, then press INPUT...
#                         one step at a time, as a user does; press prints the reply to the
#                         last input. The inputs so far live in a file, $TEST_TMP/session.text:
#                         $(press ...) is a subshell
#   sms CALLER TEXT       an SMS to the short code 384, as Kannel's get-url passes it to
#                         $url/sms; the reply body
#   fresh CALLER          forgets the report CALLER left at a resumable screen, as session-ttl
#                         would: its next plain dial shows the menu, not the offer to continue
#                         (issue 18; journeys_resume.sh tests the offer)
#   queued                how many requests are on ceir:requests
#   ref_in TEXT           the first reference (10 digits) in TEXT
#   imei_of BODY14        the IMEI with its check digit, as ceirgwctl computes it
#   (waiting and waiting_back, the screens past the start with their back and home lines,
#   are lib.sh's, next to render)
#
# shellcheck disable=SC2154 # (url: the test's, set before it calls these)

import_data() {
	import_pairings >/dev/null
	ok $? "pairings imported"
	import_kyc >/dev/null
	ok $? "KYC imported"
}

ussd() {
	curl -s -X POST "$url/ussd" --data-urlencode "sessionId=$1" \
		--data-urlencode "phoneNumber=$2" --data-urlencode "serviceCode=*384#" \
		--data-urlencode "text=$3" --data-urlencode "networkCode=63902"
}

walk() {
	local sid=$1 who=$2 text="" r i
	shift 2
	r=$(ussd "$sid" "$who" "")
	for i in "$@"; do
		text=${text:+$text*}$i
		r=$(ussd "$sid" "$who" "$text")
	done
	printf '%s' "$r"
}

dial() {
	printf '%s\n%s\n' "$1" "$2" >"$TEST_TMP/session"
	: >"$TEST_TMP/session.text"
	ussd "$1" "$2" ""
}

press() {
	local r sid who text i
	{ read -r sid; read -r who; } <"$TEST_TMP/session"
	text=$(cat "$TEST_TMP/session.text")
	for i in "$@"; do
		text=${text:+$text*}$i
		r=$(ussd "$sid" "$who" "$text")
	done
	printf '%s' "$text" >"$TEST_TMP/session.text"
	printf '%s' "$r"
}

sms() {
	curl -s "$url/sms" --get --data-urlencode "from=$1" --data-urlencode "to=384" \
		--data-urlencode "text=$2" --data-urlencode "smsc=fake"
}

fresh() { R DEL "s:{lang:$1}:resume" >/dev/null; }

queued() { R XLEN ceir:requests; }

ref_in() { printf '%s' "$1" | grep -o '[0-9]\{10\}' | head -n1; }

imei_of() { "$CEIRGWCTL" imei "$1" | awk '$1 == "imei" { print $2 }'; }

