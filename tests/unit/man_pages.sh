#!/bin/bash
# The man pages ceirgw(8), ceirgwctl(8) and ceirgw.conf(5) as make wrote them: groff reads
# them without a warning, and they say what the programs do: every variable
# `ceirgw --check-config` prints is in ceirgw.conf(5) with the same default, every option of
# `ceirgw --help` in ceirgw(8), every command of `ceirgwctl --help` in ceirgwctl(8).
. "$(dirname "$0")/../integration/lib.sh"

MAN=$top_builddir/doc/man
cd "$TEST_TMP" || exit 1

for page in ceirgw.8 ceirgwctl.8 ceirgw.conf.5; do
	[ -s "$MAN/$page" ]
	ok $? "$page: written by make"
	warnings=$(groff -man -Tutf8 -ww -z "$MAN/$page" 2>&1)
	ok $? "$page: groff -man -ww reads it"
	is "$warnings" "" "$page: no groff warning"
	grep -n '@[A-Za-z_]*@' "$MAN/$page"
	ok $((! $?)) "$page: every @placeholder@ filled in"
done
like "$(groff -man -Tutf8 "$MAN/ceirgw.conf.5" 2>&1)" "ceirgw.conf - configuration" \
	"ceirgw.conf.5: renders its NAME line"

# roff's escapes undone, for comparing a page's words with a program's.
unroff() { sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g'; }

# ---- ceirgw.conf(5): every variable, with the program's own default
conf5=$TEST_TMP/ceirgw.conf.5.txt
unroff <"$MAN/ceirgw.conf.5" >"$conf5"
"$CEIRGW" --check-config >"$TEST_TMP/defaults" 2>/dev/null
ok $? "ceirgw --check-config (the built-in defaults) exits 0"
nvars=0
while IFS= read -r line; do
	name=${line%% = *}
	value=${line#* = }
	nvars=$((nvars + 1))
	# The entry of the variable: from its tag line to the next .TP or section.
	entry=$(awk -v tag="\\\\fB$name\\\\fR = " '
		index($0, tag) == 1 { on = 1; next }
		on && /^\.(TP|SH)/ { exit }
		on { print }' "$conf5")
	if [ -z "$entry" ]; then
		ok 1 "ceirgw.conf.5 documents $name"
		continue
	fi
	ok 0 "ceirgw.conf.5 documents $name"
	page_default=$(printf '%s\n' "$entry" | sed -n 's/^Default: \\fB\(.*\)\\fR\.$/\1/p')
	if [ "$value" = "(unset)" ]; then
		like "$entry" "Default: unset." "ceirgw.conf.5: $name unset by default"
	elif [ -n "$page_default" ]; then
		is "$page_default" "$value" "ceirgw.conf.5: default of $name"
	fi	# else unset in the table and derived by the program (paths, country): the help says how
done < <(grep -E '^[a-z0-9-]+ = ' "$TEST_TMP/defaults")
[ "$nvars" -ge 50 ]
ok $? "ceirgw --check-config printed the variables ($nvars)"
is "$(sed -n '/^\.SH VARIABLES/,/^\.SH [^V]/p' "$MAN/ceirgw.conf.5" | grep -c '^\.TP$')" \
	"$nvars" "ceirgw.conf.5: as many entries as variables"

# ---- ceirgw(8): every option of --help
opts=$("$CEIRGW" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ]
ok $? "ceirgw --help lists options"
for o in $opts; do
	grep -q -- "$o" <(unroff <"$MAN/ceirgw.8")
	ok $? "ceirgw.8 documents $o"
done

# ---- ceirgwctl(8): every command of --help (two words for import and feed)
cmds=$("$CEIRGWCTL" --help | sed -n '/^Commands:/,/^$/p' |
	awk '/^  [a-z]/ { if ($1 == "import" || $1 == "feed") print $1 " " $2; else print $1 }' |
	sort -u)
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 10 ]
ok $? "ceirgwctl --help lists its commands"
while IFS= read -r c; do
	grep -qE "^\.B ${c%%|*}( |\\\\|\$)" <(unroff <"$MAN/ceirgwctl.8")
	ok $? "ceirgwctl.8 documents $c"
done <<<"$cmds"

done_testing
