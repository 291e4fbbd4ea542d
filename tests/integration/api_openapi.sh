#!/bin/bash
# The JSON API against its description (issue 20): GET /v1/openapi.yaml serves doc/openapi.yaml
# byte for byte, without a key; the document parses as OpenAPI 3.0; and a real response of
# each endpoint, the success and every error (400 with and without a reason, 401, 404, 405,
# 429, 503), has exactly the properties its schema declares, in CAMARA's error shape, with
# the headers it declares as required (tests/tools/openapi_check.py).
. "$(dirname "$0")/lib.sh"

SPEC=$top_srcdir/doc/openapi.yaml
CHECK="/usr/bin/python3 $top_srcdir/tests/tools/openapi_check.py $SPEC"
KEY=k3y-0f-partner-a-0123456789

redis_start
ok $? "redis is up"
hport=$(free_port)
url=http://127.0.0.1:$hport
echo "partner-a $KEY" >"$TEST_TMP/api.keys"
gw_conf "redis = redis://127.0.0.1:$rport" info "api-keys-file = api.keys" "api-key-quota = 4/60"
gw_start
ok $? "ceirgw is up"

# get NAME CURL-ARGS...: the response's status; its body in NAME.body, its headers in NAME.h.
get() {
	local name=$1
	shift
	curl -s -o "$TEST_TMP/$name.body" -D "$TEST_TMP/$name.h" -w '%{http_code}' "$@"
}
# conforms NAME PATH METHOD STATUS DESCRIPTION: the response NAME checked against the document.
conforms() {
	local out
	out=$($CHECK "$2" "$3" "$4" "$TEST_TMP/$1.body" "$TEST_TMP/$1.h" 2>&1)
	is "$out" ok "$5"
}

# ---- the document ---------------------------------------------------------------------------
is "$(get doc "$url/v1/openapi.yaml")" 200 "GET /v1/openapi.yaml without a key: 200"
cmp -s "$TEST_TMP/doc.body" "$SPEC"
ok $? "the served document is doc/openapi.yaml byte for byte"
grep -qi '^Content-Type: application/yaml' "$TEST_TMP/doc.h"
ok $? "as application/yaml"
out=$(/usr/bin/python3 - "$TEST_TMP/doc.body" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
assert d["openapi"].startswith("3.0."), d["openapi"]
assert set(d["paths"]) == {"/v1/imei/{imei}", "/v1/openapi.yaml"}, list(d["paths"])
err = d["components"]["schemas"]["ErrorInfo"]
assert err["required"] == ["status", "code", "message"], err["required"]
print("parsed")
EOF
)
is "$out" parsed "it parses as OpenAPI 3.0 with both paths and CAMARA's ErrorInfo"
is "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -I "$url/v1/openapi.yaml")" "200 0" \
	"HEAD: the headers only"
is "$(get docpost -X POST -d x=1 "$url/v1/openapi.yaml")" 405 "POST /v1/openapi.yaml: 405"
conforms docpost /v1/openapi.yaml get 405 "405 of /v1/openapi.yaml: ErrorInfo, Allow"

# ---- /v1/imei/{imei}: success ----------------------------------------------------------------
is "$(get ok200 -H "Authorization: Bearer $KEY" "$url/v1/imei/356938035643809")" 200 \
	"a known IMEI: 200"
conforms ok200 "/v1/imei/{imei}" get 200 "200: exactly ImeiCheck's properties"
like "$(cat "$TEST_TMP/ok200.body")" '"maker":"Nokia"' "(a real answer: its maker)"

# A national report: status blocked and reported_on, the optional property.
R HSET 'rep:{353321005555555}' ref 1000000017 state blocked owner +254712345678 \
	reason stolen created "$(date -u -d 2026-11-03T10:00:00Z +%s)" >/dev/null
is "$(get rep -H "X-API-Key: $KEY" "$url/v1/imei/353321005555555")" 200 \
	"a reported IMEI (X-API-Key): 200"
like "$(cat "$TEST_TMP/rep.body")" '"reported_on":"2026-11-03"' "with reported_on"
conforms rep "/v1/imei/{imei}" get 200 "... which the schema declares"
# The quota is 4 a minute: two used.

# ---- errors -----------------------------------------------------------------------------------
is "$(get bad -H "Authorization: Bearer $KEY" "$url/v1/imei/356938035643808")" 400 \
	"a bad check digit: 400"
conforms bad "/v1/imei/{imei}" get 400 "400: CAMARA's ErrorInfo with its reason"
like "$(cat "$TEST_TMP/bad.body")" '"code":"INVALID_ARGUMENT"' "code INVALID_ARGUMENT"
like "$(cat "$TEST_TMP/bad.body")" '"reason":"bad_check_digit"' "reason bad_check_digit"
is "$(get empty -H "Authorization: Bearer $KEY" "$url/v1/imei/")" 400 "nothing after /v1/imei/: 400"
conforms empty "/v1/imei/{imei}" get 400 "... ErrorInfo without a reason"
is "$(get nokey "$url/v1/imei/356938035643809")" 401 "no key: 401"
conforms nokey "/v1/imei/{imei}" get 401 "401: ErrorInfo (UNAUTHENTICATED), WWW-Authenticate"
is "$(get wrongkey -H "X-API-Key: not-a-key-of-ours-0000" "$url/v1/imei/356938035643809")" 401 \
	"an unknown key: 401"
is "$(get post -X POST -H "Authorization: Bearer $KEY" -d x=1 "$url/v1/imei/356938035643809")" 405 \
	"POST: 405"
conforms post "/v1/imei/{imei}" get 405 "405: ErrorInfo (METHOD_NOT_ALLOWED), Allow"
is "$(get nf -H "Authorization: Bearer $KEY" "$url/v1/nothing")" 404 "another path under /v1/: 404"
is "$($CHECK --schema ErrorInfo 404 "$TEST_TMP/nf.body" 2>&1)" ok "404: ErrorInfo"
like "$(cat "$TEST_TMP/nf.body")" '"code":"NOT_FOUND"' "code NOT_FOUND"
for _ in 1 2 3; do get quota -H "Authorization: Bearer $KEY" "$url/v1/imei/356938035643809" \
	>"$TEST_TMP/quota.code"; done
is "$(cat "$TEST_TMP/quota.code")" 429 "past the key's 4 requests a minute: 429"
conforms quota "/v1/imei/{imei}" get 429 "429: ErrorInfo (QUOTA_EXCEEDED)"
grep -qi '^Retry-After: [0-9]' "$TEST_TMP/quota.h"
ok $? "with Retry-After"

# Redis gone: 503.
kill "$redis_pid"
wait "$redis_pid" 2>/dev/null
unavailable() { [ "$(get down -H "Authorization: Bearer $KEY" "$url/v1/imei/356938035643809")" = 503 ]; }
wait_for 20 unavailable
ok $? "Redis gone: 503"
conforms down "/v1/imei/{imei}" get 503 "503: ErrorInfo (UNAVAILABLE)"
is "$(get doc2 "$url/v1/openapi.yaml")" 200 "the document is served without Redis"

gw_stop
sanitizer_clean
done_testing
