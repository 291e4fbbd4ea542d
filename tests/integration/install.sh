#!/bin/bash
# make install into a DESTDIR (issue 20): every file where configure's folders say, nothing
# else; the configuration with this system's data-dir, passing --check-config as installed
# (the embedded Redis, HTTP on 127.0.0.1:8080, admin on 127.0.0.1:9384); the systemd unit
# with the installed paths; a second make install keeps the operator's configuration and
# puts the new one beside it as ceirgw.conf.dist; make uninstall leaves the configuration.
. "$(dirname "$0")/lib.sh"

# A make of its own, not the jobs of the make check running this test.
unset MAKEFLAGS MFLAGS MAKELEVEL
MAKE=${MAKE:-make}
root=$TEST_TMP/root
eval "$($MAKE -s -C "$top_builddir" install-paths)"
ok $? "make install-paths prints the folders"

$MAKE -C "$top_builddir" install DESTDIR="$root" >"$TEST_TMP/install.out" 2>&1
st=$?
is "$st" 0 "make install DESTDIR=... exits 0"
[ "$st" -eq 0 ] || sed 's/^/# /' "$TEST_TMP/install.out" | tail -20

expected=$(sort <<EOF2
$sbindir/ceirgw
$sbindir/ceirgwctl
$mandir/man8/ceirgw.8
$mandir/man8/ceirgwctl.8
$mandir/man5/ceirgw.conf.5
$sysconfdir/ceirgw/ceirgw.conf
$systemdsystemunitdir/ceirgw.service
$pkgdatadir/tacdb.csv
$pkgdatadir/flows/ceir.yaml
$pkgdatadir/templates/ar.yaml
$pkgdatadir/templates/en.yaml
$pkgdatadir/templates/fr.yaml
$pkgdatadir/templates/sw.yaml
$docdir/README.md
$docdir/configuration.md
$docdir/kannel.md
$docdir/examples/ceir-consumer
$docdir/examples/kannel/README.md
$docdir/examples/kannel/ceirgw-box.conf
$docdir/examples/kannel/kannel-fakesmsc.conf
$docdir/examples/kannel/kannel-smpp-ussd.conf
EOF2
)
installed=$(cd "$root" && find . -type f | sed 's/^\.//' | sort)
while IFS= read -r f; do
	[ -f "$root$f" ]
	ok $? "installed: $f"
done <<<"$expected"
# Anything else is a guide of doc/ (their list is Makefile.am's dist_doc_DATA).
extra=$(comm -13 <(echo "$expected") <(echo "$installed") | grep -v "^$docdir/[A-Za-z-]*\.md$")
is "$extra" "" "nothing installed beyond those and the guides"
[ -d "$root$localstatedir/lib/ceirgw" ]
ok $? "data-dir made: $localstatedir/lib/ceirgw"

for p in "$sbindir/ceirgw" "$sbindir/ceirgwctl" "$docdir/examples/ceir-consumer"; do
	[ -x "$root$p" ]
	ok $? "executable: $p"
done
is "$("$root$sbindir/ceirgw" --version)" "$("$CEIRGW" --version)" "the installed ceirgw runs"
conf=$root$sysconfdir/ceirgw/ceirgw.conf
is "$(stat -c %a "$conf")" 640 "ceirgw.conf: mode 0640 (it may hold secrets)"
is "$(grep '^data-dir' "$conf")" "data-dir = $localstatedir/lib/ceirgw" \
	"ceirgw.conf: data-dir is this system's"
grep -q '^tac-file' "$conf"
ok $((! $?)) "ceirgw.conf: tac-file left to the installed table"
unit=$root$systemdsystemunitdir/ceirgw.service
is "$(grep '^ExecStart=' "$unit")" "ExecStart=$sbindir/ceirgw -c $sysconfdir/ceirgw/ceirgw.conf" \
	"ceirgw.service: runs the installed ceirgw with the installed configuration"
grep -n '@[A-Za-z_]*@' "$unit" "$conf"
ok $((! $?)) "no @placeholder@ left in the unit and the configuration"
like "$(head -3 "$root$mandir/man5/ceirgw.conf.5")" "ceirgw $(cd "$top_builddir" &&
	sed -n 's/^PACKAGE_VERSION = //p' Makefile)" "ceirgw.conf.5 carries the version"

# The installed configuration as ceirgw reads it (what a package starts with).
out=$("$CEIRGW" --check-config -c "$conf" 2>"$TEST_TMP/check.err")
is $? 0 "ceirgw --check-config accepts the installed configuration"
like "$out" "data-dir = $localstatedir/lib/ceirgw" "installed: the embedded Redis under $localstatedir/lib/ceirgw"
like "$out" "redis = (unset: ceirgw starts its own redis-server in $localstatedir/lib/ceirgw)" \
	"installed: no redis: the embedded default"
like "$out" "http-listen = 127.0.0.1:8080" "installed: HTTP on 127.0.0.1:8080"
like "$out" "admin-listen = 127.0.0.1:9384" "installed: admin on 127.0.0.1:9384"

# Again, over an edited configuration: kept, the new one beside it.
echo "# the operator's edit" >>"$conf"
before=$(cat "$conf")
$MAKE -C "$top_builddir" install DESTDIR="$root" >"$TEST_TMP/install2.out" 2>&1
is $? 0 "make install again exits 0"
is "$(cat "$conf")" "$before" "make install again keeps the edited ceirgw.conf"
[ -f "$conf.dist" ]
ok $? "make install again puts the new one beside it as ceirgw.conf.dist"
like "$(cat "$TEST_TMP/install2.out")" "kept, the new one installed beside it as ceirgw.conf.dist" \
	"make install says so"

$MAKE -C "$top_builddir" uninstall DESTDIR="$root" >"$TEST_TMP/uninstall.out" 2>&1
is $? 0 "make uninstall exits 0"
[ ! -e "$root$sbindir/ceirgw" ] && [ ! -e "$root$mandir/man5/ceirgw.conf.5" ] &&
	[ ! -e "$unit" ] && [ ! -e "$root$docdir/examples/ceir-consumer" ] && [ ! -e "$conf.dist" ]
ok $? "make uninstall removes the programs, pages, unit, examples and ceirgw.conf.dist"
is "$(cat "$conf")" "$before" "make uninstall leaves the operator's ceirgw.conf"

done_testing
