#!/bin/bash
# src/feed/note against an implementation that shares no code with it: tests/unit/note_kat.py,
# the C2SP signed-note, tlog-cosignature and Go key-line formats written again in Python on
# python3-cryptography's Ed25519. ceirgwctl feed keygen makes a key; Python derives the same
# verifier keys from the key file; notes and cosignatures made by either side verify on the
# other, Go's known answer is made alike by both, and a changed byte is refused.
. "$(dirname "$0")/../integration/lib.sh"

NOTE_TOOL=$top_builddir/tests/unit/note_tool
PY="python3 $top_srcdir/tests/unit/note_kat.py"
if ! python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null; then
	echo "1..0 # SKIP python3-cryptography is not installed (contrib/debian-packages)"
	exit 0
fi
T=$TEST_TMP

# ---- ceirgwctl feed keygen
out=$("$CEIRGWCTL" feed keygen --origin ceir.example.ke/feed --out "$T/log.key")
is $? 0 "feed keygen: exit 0"
is "$(stat -c %a "$T/log.key")" 600 "feed keygen: the key file has mode 0600"
like "$(cat "$T/log.key")" "PRIVATE+KEY+ceir.example.ke/feed+" "feed keygen: a signer key line"
is "$(wc -l <"$T/log.key")" 1 "feed keygen: one line"
vkey=$(echo "$out" | sed -n 1p)
cvkey=$(echo "$out" | sed -n 's/^cosignature\/v1: //p')
like "$vkey" "ceir.example.ke/feed+" "feed keygen: prints the verifier key"
like "$cvkey" "ceir.example.ke/feed+" "feed keygen: prints the cosignature verifier key, labelled"
case $out in *PRIVATE*) ok 1 "feed keygen: the private key is not printed" ;;
*) ok 0 "feed keygen: the private key is not printed" ;; esac
before=$(cat "$T/log.key")
err=$("$CEIRGWCTL" feed keygen --origin other --out "$T/log.key" 2>&1)
is $? 1 "feed keygen: exit 1 when the file exists"
like "$err" "never overwritten" "feed keygen: says why"
is "$(cat "$T/log.key")" "$before" "feed keygen: the existing key is untouched"
"$CEIRGWCTL" feed keygen --origin 'a b' --out "$T/bad.key" 2>/dev/null
is $? 2 "feed keygen: exit 2 for an origin with a space"
[ ! -e "$T/bad.key" ]
ok $? "feed keygen: no file for a refused origin"
"$CEIRGWCTL" feed keygen --out "$T/x.key" 2>/dev/null
is $? 2 "feed keygen: exit 2 without --origin"
help=$("$CEIRGWCTL" feed keygen --help)
is $? 0 "feed keygen --help: exit 0"
like "$help" "--origin ORIGIN" "feed keygen --help: shows the options"

# ---- Python derives the same verifier keys (key IDs: SHA-256 of name, newline, type, key)
is "$($PY keys "$T/log.key")" "$vkey
$cvkey" "python: the same verifier keys from the key file"

# ---- C signs, Python verifies
printf 'ceir.example.ke/feed\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n' >"$T/cp"
"$NOTE_TOOL" sign "$T/log.key" ed25519 0 <"$T/cp" >"$T/c.note"
is $? 0 "C signs a checkpoint"
is "$($PY verify "$vkey" <"$T/c.note")" "verified" "python verifies C's signature"
"$NOTE_TOOL" sign "$T/log.key" cosignature 1700000000 <"$T/cp" >"$T/c.cosig"
is $? 0 "C cosigns a checkpoint"
is "$($PY verify "$cvkey" <"$T/c.cosig")" "verified time 1700000000" \
	"python verifies C's cosignature and reads its time"

# ---- Python signs, C verifies
pyv=$($PY keygen witness.example.org/w1 "$T/py.key")
is $? 0 "python makes a key"
pyvkey=$(echo "$pyv" | sed -n 1p)
pycvkey=$(echo "$pyv" | sed -n 2p)
$PY sign "$T/py.key" ed25519 0 <"$T/cp" >"$T/py.note"
is "$("$NOTE_TOOL" open "$pyvkey" <"$T/py.note")" "verified 1 bad 0 unknown 0 textlen 69" \
	"C verifies Python's signature"
$PY sign "$T/py.key" cosignature 1679315147 <"$T/cp" >"$T/py.cosig"
is "$("$NOTE_TOOL" open "$pycvkey" <"$T/py.cosig")" "verified 1 bad 0 unknown 0 textlen 69
time 0 1679315147" "C verifies Python's cosignature and reads its time"
# the log's note with the witness's cosignature appended: both verify, in either order
{ cat "$T/c.note"; tail -n 1 "$T/py.cosig"; } >"$T/both"
is "$("$NOTE_TOOL" open "$pycvkey" "$vkey" <"$T/both")" "verified 3 bad 0 unknown 0 textlen 69
time 0 1679315147" "C verifies a note signed by C and cosigned by Python"
is "$($PY verify "$vkey" <"$T/both")" "verified" "python verifies the log's signature in it"
# C's signer reads Python's key file too, and makes the same bytes (Ed25519 is deterministic)
"$NOTE_TOOL" sign "$T/py.key" ed25519 0 <"$T/cp" | cmp -s - "$T/py.note"
ok $? "C and Python sign alike with the same key"
"$NOTE_TOOL" sign "$T/py.key" cosignature 1679315147 <"$T/cp" | cmp -s - "$T/py.cosig"
ok $? "C and Python cosign alike with the same key and time"

# ---- Go's known answer (golang.org/x/mod/sumdb/note), made by both
printf 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n' \
	>"$T/go.key"
chmod 600 "$T/go.key"
printf "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n" >"$T/go.txt"
want="$(cat "$T/go.txt")

— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
is "$("$NOTE_TOOL" sign "$T/go.key" ed25519 0 <"$T/go.txt")" "$want" "C makes Go's known note"
is "$($PY sign "$T/go.key" ed25519 0 <"$T/go.txt")" "$want" "python makes Go's known note"

# ---- refusals
sed '2s/42/43/' "$T/py.note" >"$T/py.forged"
"$NOTE_TOOL" open "$pyvkey" <"$T/py.forged" >"$T/out"
is $? 1 "C refuses Python's note with a changed text"
like "$(cat "$T/out")" "bad 1" "and calls it a bad signature"
sed '2s/42/43/' "$T/c.note" >"$T/c.forged"
$PY verify "$vkey" <"$T/c.forged" >/dev/null
is $? 1 "python refuses C's note with a changed text"
sed 's/$/\r/' "$T/py.note" >"$T/py.crlf"
"$NOTE_TOOL" open "$pyvkey" <"$T/py.crlf" >/dev/null
is $? 2 "C refuses a note with CRLF line ends as malformed"
chmod 644 "$T/log.key"
err=$("$NOTE_TOOL" sign "$T/log.key" ed25519 0 <"$T/cp" 2>&1)
is $? 1 "a key file of mode 0644 is refused"
like "$err" "log.key: mode 0644, must be 0600 or stricter" "and the message says so"
case $err in *PRIVATE*|*KEY+*) ok 1 "the message does not show the key" ;;
*) ok 0 "the message does not show the key" ;; esac

done_testing
