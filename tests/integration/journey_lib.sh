# The journey tests' side of ceirgw (journeys.sh, journeys_lang.sh, journeys_restart.sh,
# trust.sh, cluster_journeys_lib.sh, and the Kannel tests' USSD over HTTP): the operator data
# imported, and callers of its USSD and SMS callbacks as an aggregator and Kannel call them.
# Sourced after lib.sh (and backend_lib.sh where the test has one), not run.
#
#   journey_start         hport and url (ceirgw's HTTP on a free port), the back-end started
#                         (backend_lib.sh's backend_start), today (the date, UTC)
#   import_data           import_pairings and import_kyc (lib.sh), a TAP line each
#   journey_gw LEVEL [LINE...]
#                         gw_conf on the back-end (LINE...: more settings), CONF its file,
#                         import_data, a sendsms endpoint on $pport (a free port when unset;
#                         user ceirgw, password secret) that adds each SMS's to and text to
#                         sms.log, gw_start; TAP lines: the two imports, "ceirgw is up"
#   burst KIND FILE       sends every line of FILE at once, 50 connections at a time, one
#                         request each; prints each reply on one line (newlines as '|'), in
#                         any order. A line is "CALLER<TAB>TEXT": KIND sms sends TEXT as an SMS
#                         from CALLER, KIND ussd as one USSD callback of a new session whose
#                         inputs are TEXT, KIND ussd1 the same with one session id for all
#                         (the next step of one session, sent many times at once);
#                         journeys_restart.sh has a burst of its own
#   lang_phones           per shipped language (LANGS: en fr sw ar) an owner's phone, as the
#                         tests of every language use it: its TAC (P_TAC) with the maker and
#                         model data/tacdb.csv gives it (P_MAKER, P_MODEL), and the owner's ID
#                         (NATID)
#   language_menu         the language menu as the flows show it: every shipped language by
#                         its name, in the order of their codes
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
# shellcheck disable=SC2034 # (today, CONF, lang_phones's arrays: the test's to use)

journey_start() {
	hport=$(free_port)
	url=http://127.0.0.1:$hport
	backend_start
	today=$(date -u +%F)
}

import_data() {
	import_pairings >/dev/null
	ok $? "pairings imported"
	import_kyc >/dev/null
	ok $? "KYC imported"
}

journey_gw() {
	local level=$1
	shift
	: "${pport:=$(free_port)}"
	gw_conf "$BACKEND_REDIS_CONF" "$level" "$@"
	CONF=$TEST_TMP/ceirgw.conf
	import_data
	sendsms_start "$pport" "$TEST_TMP/sms.log" --auth ceirgw:secret to text
	gw_start
	ok $? "ceirgw is up"
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

burst() {
	python3 - "$url" "$1" "$2" <<'EOF'
import sys, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [l.rstrip('\n').split('\t', 1) for l in open(path) if l.strip()]
def one(i_line):
    i, (who, text) = i_line
    try:
        if kind == 'sms':
            q = urllib.parse.urlencode({'from': who, 'to': '384', 'text': text})
            req = urllib.request.Request(url + '/sms?' + q)
        else:
            sid = 'one' if kind == 'ussd1' else 'burst%d' % i
            body = urllib.parse.urlencode({'sessionId': sid, 'phoneNumber': who,
                                           'serviceCode': '*384#', 'text': text}).encode()
            req = urllib.request.Request(url + '/ussd', data=body)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode().replace('\n', '|')
    except Exception as e:
        return 'ERROR %s' % e
with ThreadPoolExecutor(50) as ex:
    for r in ex.map(one, enumerate(lines)):
        print(r)
EOF
}

lang_phones() {
	LANGS=(en fr sw ar)
	P_TAC=(35693803 35675904 35250500 01194800)
	P_MAKER=(Nokia Oppo Nokia Apple)
	P_MODEL=(N900 N1 6820 "iPhone 3GS")
	NATID=(31415926 A2718281 16180339 14142135)
}

language_menu() {
	local f j=0 menu=""
	for f in $(cd "$top_srcdir/templates" && printf '%s\n' *.yaml | LC_ALL=C sort); do
		j=$((j + 1))
		menu="$menu${menu:+$'\n'}$j $(sed -n 's/^name: *//p' "$top_srcdir/templates/$f")"
	done
	printf '%s' "$menu"
}
