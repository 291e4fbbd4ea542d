#!/bin/bash
# ceirgwctl flows check: the flow checker (src/flow/flow.c) against small fixture sets, each a
# flow folder and its texts: tests/data/flows/good passes, and every other set there is the
# good one with one thing broken, which must exit 1 and name the fault precisely (screen and
# language where there are some, file:line:col for what the loader refuses). Only the last
# test reads the shipped flows/ and templates/.
. "$(dirname "$0")/lib.sh"

data=$top_srcdir/tests/data/flows

# check SET: runs the checker on tests/data/flows/SET; sets out (stdout) and status.
check() {
	out=$("$CEIRGWCTL" flows check --flows "$data/$1/flow" --templates "$data/$1/templates")
	status=$?
}

# fault SET LINE: exit 1 and LINE in the output.
fault() {
	check "$1"
	is "$status" 1 "$1: exit 1"
	like "$out" "$2" "$1: $3"
}

# problems SET N: the checker's closing line counts N problems (nothing else was reported).
problems() {
	local s=s
	[ "$2" = 1 ] && s=
	like "$out" "$data/$1/flow/$1.yaml: $2 problem$s with the flow and its texts" \
		"$1: $2 problem$s in all"
}

# ---- the good set ------------------------------------------------------------------------
check good
is "$status" 0 "good: exit 0"
is "$out" "flow mini: 11 screens, 1 SMS commands, 3 languages: no problems" \
	"good: no problems, with its figures"

# ---- what the checker finds in a flow that loads -----------------------------------------
fault unreachable "flow mini, screen lost_screen: unreachable: no dial, command or screen leads here" \
	"names the unreachable screen"
problems unreachable 1

fault dead_loop "flow mini, screen loop_a: dead end: no way from here to an end screen" \
	"a loop of inputs with no way out: names loop_a"
like "$out" "flow mini, screen loop_b: dead end: no way from here to an end screen" \
	"dead_loop: names loop_b"
problems dead_loop 2

fault dead_outcome "flow mini, screen loop_a: dead end: no way from here to an end screen" \
	"an outcome into a loop: names loop_a"
like "$out" "flow mini, screen loop_b: dead end: no way from here to an end screen" \
	"dead_outcome: names loop_b"
case $out in *"screen handsets_run"*) r=1 ;; *) r=0 ;; esac
ok $r "dead_outcome: the action, which has other ways out, is not blamed"
problems dead_outcome 2

fault dead_action "flow mini, screen lost_run: dead end: no way from here to an end screen" \
	"an action whose only outcome goes into a loop is a dead end itself"
like "$out" "flow mini, screen loop_a: dead end" "dead_action: names loop_a"
problems dead_action 3

fault sms_input "flow mini, screen check_ask: an SMS command reaches this screen, which waits for input: SMS cannot answer it" \
	"a command leading to an input screen"
problems sms_input 1

fault sms_via_action "flow mini, screen menu: an SMS command reaches this screen, which waits for input" \
	"a command whose action leads to a menu"
problems sms_via_action 1

fault sms_help_input "flow mini, screen check_ask: an SMS command reaches this screen, which waits for input" \
	"sms-help leading to an input screen"
problems sms_help_input 1

fault unmapped_outcome "flow mini, screen check_run: dead end: outcome limited of action check leads nowhere" \
	"an outcome left unmapped: names the screen, the outcome and the action"
problems unmapped_outcome 1

fault missing_text "flow mini, screen check_ask, language fr: text check.ask: missing (en has it)" \
	"a text missing in one language: names the screen, the language and the key"
case $out in *"language en"* | *"language ar"*) r=1 ;; *) r=0 ;; esac
ok $r "missing_text: the languages that have it are not blamed"
problems missing_text 1		# once: not by the flow's check and the texts' both

fault missing_text_all "flow mini, screen check_ask, language en: text check.prompt is missing" \
	"a text no language has: reported for en"
like "$out" "flow mini, screen check_ask, language fr: text check.prompt is missing" \
	"missing_text_all: and for fr"
like "$out" "flow mini, screen check_ask, language ar: text check.prompt is missing" \
	"missing_text_all: and for ar"
problems missing_text_all 3

fault too_long_gsm "flow mini, screen menu, language en: text menu.main: screen needs up to 189 GSM-7 septets, 182 fit" \
	"a screen over 182 GSM-7 septets in English"
problems too_long_gsm 1

fault too_long_ucs2 "flow mini, screen check_reported, language ar: text check.reported: screen needs up to 98 UCS-2 units, 80 fit" \
	"a screen fine in English, over 80 UCS-2 units in Arabic"
problems too_long_ucs2 1

fault missing_keywords "flow mini, language en: text kw.status is missing" \
	"keywords of a command no language has: reported for en"
like "$out" "flow mini, language fr: text kw.status is missing" "missing_keywords: and for fr"
like "$out" "flow mini, language ar: text kw.status is missing" "missing_keywords: and for ar"
problems missing_keywords 3

fault missing_keywords_one "flow mini, language ar: text kw.check: missing (en has it)" \
	"keywords missing in one language: names the language and the key"
case $out in *"language en"* | *"language fr"*) r=1 ;; *) r=0 ;; esac
ok $r "missing_keywords_one: the languages that have them are not blamed"
problems missing_keywords_one 1

fault many_languages "flow mini, screen check_ask, language tr: text check.prompt is missing" \
	"seventeen languages: the seventeenth is checked too"
problems many_languages 17

# ---- invalid input (issue 18): the menus' note, the rules' missing and invalid screens ------
fault invalid_choice_long "flow mini, screen menu, language ar: text menu.main: with common.invalid_choice above it, screen needs up to" \
	"the invalid-choice text above a menu that then does not fit: names the menu and language"
case $out in *"language en"* | *"language fr"*) r=1 ;; *) r=0 ;; esac
ok $r "invalid_choice_long: the languages where it fits are not blamed"
problems invalid_choice_long 1

# Back and home (issue 18): the back line below every screen past the start fits in every
# language; a choice typed like back or home, a start that offers a way back, a line that
# does not start with its input, back and home typed alike: each refused by name.
fault back_long "flow mini, screen check_ask, language ar: text check.ask: with common.back below it, screen needs up to 88 UCS-2 units, 80 fit" \
	"a back line that makes a screen too long in one language: names the screen, the language"
case $out in *"language en"* | *"language fr"* | *"screen menu"*) r=1 ;; *) r=0 ;; esac
ok $r "back_long: the languages where it fits and the start (no back line) are not blamed"
problems back_long 1
fault back_choice "flow mini, screen lost_menu: choice 0 is typed like back, which takes it first: the choice is never chosen" \
	"a choice 0 on a screen with back: refused"
problems back_choice 1
fault back_start "flow mini, screen menu: the start has nothing to go back to: say so with no-back" \
	"the start without no-back: refused"
problems back_start 1
fault back_text "flow mini, language fr: back: text common.back is not one line that starts with '0 '" \
	"a back line that does not start with its input: names the language"
problems back_text 1
fault back_same "back_same.yaml:10:7: back and home: both are typed 0" \
	"back and home typed alike: refused at load"

fault invalid_choice_missing "flow mini, language en: text common.nope is missing" \
	"an invalid-choice text no language has: reported for en"
like "$out" "flow mini, language ar: text common.nope is missing" \
	"invalid_choice_missing: and for ar"
problems invalid_choice_missing 3

fault sms_missing_input "flow mini, screen check_ask: an SMS command reaches this screen, which waits for input" \
	"a command whose missing screen waits for input"
problems sms_missing_input 1

# ---- keywords an SMS could never match, per language -------------------------------------
fault keywords_empty "flow mini, language fr: keywords kw.check: empty: the command at line 12 never matches in this language" \
	"keywords empty in one language: names the language, the key and the command"
problems keywords_empty 1

fault keyword_empty_item "flow mini, language en: keywords kw.check: an empty keyword (two commas, or one at an end)" \
	"an empty keyword between two commas"
problems keyword_empty_item 1

fault keywords_long "flow mini, language en: keywords kw.check: 560 bytes, over the 511 the SMS matcher reads: the command at line 13 never matches in this language" \
	"keywords over 511 bytes"
case $out in *"language fr"*) r=1 ;; *) r=0 ;; esac
ok $r "keywords_long: 511 bytes exactly (fr) are fine"
problems keywords_long 1

# The SMS help is one SMS part in every language: 161 GSM-7 septets (en) and 71 UCS-2 units
# (ar) are one too many; 160 exactly (fr) fits.
fault help_long "flow mini, screen sms_help, language en: text sms.help: SMS needs up to 161 GSM-7 septets, one part holds 160" \
	"the SMS help over one GSM-7 part"
like "$out" "flow mini, screen sms_help, language ar: text sms.help: SMS needs up to 71 UCS-2 units, one part holds 70" \
	"help_long: the SMS help over one UCS-2 part"
echo "$out" | grep -q "language fr: text sms.help"
ok $((!$?)) "help_long: 160 septets exactly (fr) fit"
problems help_long 2

fault keyword_space "flow mini, language en: keywords kw.check: 'CHECK PHONE' holds a space, a ';' or a control character, where an SMS is cut into words: no word is ever that keyword" \
	"a keyword with a space: names it"
problems keyword_space 1

fault keyword_placeholder "flow mini, language en: keywords kw.check: a placeholder, which the SMS matcher never fills: the command at line 13 never matches in this language" \
	"keywords with a placeholder"
problems keyword_placeholder 3

# ---- what the loader refuses: the first fault, with its file, line and column ------------
loaded() {
	fault "$1" "$data/$1/flow/$1.yaml:$2" "$3"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "$1: one line, the load error"
}
loaded unknown_action "28:13: unknown action 'frobnicate'" "an unknown action"
loaded unknown_outcome "31:7: action check: no outcome 'stolenish'" "an unknown outcome"
loaded unknown_variable "24:12: unknown variable 'colour' (imei, owner, id, reason, police, ref, pin, pick)" \
	"an unknown variable"
loaded no_such_screen "20:10: no screen named check_nowhere" "a screen that does not exist"
loaded screen_twice "45:3: duplicate key check_clean (first at line 44)" "a screen defined twice"
loaded yaml_syntax "9:9: did not find expected ',' or ']'" "not YAML"
loaded choice_key "20:7: choices: a key is one digit, 0 to 9" "a choice key of two digits"
loaded choice_letter "20:7: choices: a key is one digit, 0 to 9" "a choice key that is a letter"
loaded set_variable "21:36: set: only reason can be set by a flow" "set of imei"
loaded set_value "21:44: set: reason is stolen or lost" "set of reason to another value"
loaded input_no_invalid "23:5: screen check_ask: an input needs invalid (where a bad one goes)" \
	"an input without invalid"
loaded action_text "28:5: screen check_run: an action screen has only action and on" \
	"an action screen with a text"
loaded end_choices "48:41: screen lost_advice: an end screen waits for nothing" \
	"an end screen with choices"
loaded dial_no_args "8:5: a dial shortcut needs args" "a dial shortcut without args"
loaded no_start "3:1: start: the first screen is missing" "no start"
loaded outcome_twice "31:7: duplicate key clean (first at line 30)" "an outcome mapped twice"
loaded dup_next "27:5: duplicate key next (first at line 25)" "next twice in one screen"
loaded dup_commands "53:1: duplicate key commands (first at line 11)" \
	"a second commands: list at the end of the file"
loaded dup_keywords "15:15: command kw.check: the command at line 12 has the same keywords and takes every SMS that starts with them" \
	"two commands with the same keywords"
loaded command_no_keywords "15:5: a command without keywords only ever matches a message that is an IMEI alone: its args must be [imei]" \
	"a command without keywords whose args are not [imei]"
loaded command_bare_twice "17:5: a second command without keywords: the one at line 15 takes every message that is an IMEI alone" \
	"two commands without keywords"
loaded args_twice "13:18: args: imei twice: the second would overwrite the first" \
	"a variable twice in args"
loaded rest_no_imei "14:11: rest: only after args with an imei (it takes the fewest words that make one; the rest is what follows)" \
	"a rest after args without an imei"
loaded rest_is_arg "14:11: rest: police is one of the args" "a rest that is one of the args"
loaded args_and_set "12:5: reason is both an argument and set: the set would overwrite what was typed" \
	"a variable both in args and set"
loaded dial_reason "8:12: args: a dial carries digits, never a reason (the word stolen or lost)" \
	"a dial shortcut taking a reason"
loaded screen_name_dot "21:17: expected a screen name (1 to 32 of a-z, 0-9 and '_')" \
	"a screen name with a '.'"
loaded flow_name_dash "3:7: flow: expected a name (1 to 32 of a-z, 0-9 and '_')" \
	"a flow name with a '-'"
loaded text_key_dash "23:11: text: expected a template key ([a-z0-9_] segments joined by '.', at most 64 bytes)" \
	"a text key with a '-'"
loaded end_yes "44:41: end: expected true or false, lowercase and unquoted (not 'yes')" \
	"end: yes (a boolean to YAML 1.1 only)"
loaded end_quoted "44:41: end: expected true or false, lowercase and unquoted (not 'true')" \
	"end: \"true\" (a string)"
loaded end_false "48:16: screen lost_advice: neither choices, input, action nor end" \
	"end: false is read: the screen is no end"
loaded invalid_text_input "26:5: screen check_ask: invalid-text is a menu's (choices, or input pick)" \
	"an invalid-text on an input screen"
loaded rule_invalid_arg "18:15: invalid: pin is not one of the rule's args" \
	"a rule's invalid: naming a variable that is not one of its args"

# ---- resuming a journey (issue 18) -------------------------------------------------------
check resume_ok
is "$status" 0 "resume_ok: a resume screen and a resumable prompt: exit 0"
fault resume_no_continue "flow mini, screen check_resume: the resume screen is a menu (no input, not resumable itself) with one choice 'continue' and another" \
	"a resume screen without its continue choice"
problems resume_no_continue 1
fault resume_placeholder "flow mini, screen check_resume, language fr: the resume screen shows a placeholder: it must show nothing of the journey" \
	"a resume screen that would show something of the journey"
problems resume_placeholder 3
fault resume_continue_elsewhere "flow mini, screen menu: 'continue' is a choice of the flow's resume screen only" \
	"continue on another screen"
problems resume_continue_elsewhere 1
fault resume_none_resumable "flow mini, screen check_resume: a resume screen, and no screen is resumable" \
	"a resume screen with nothing to resume"
problems resume_none_resumable 1
fault resumable_no_resume "flow mini: screens are resumable, and the flow names no resume screen" \
	"resumable screens and no resume screen"
problems resumable_no_resume 1
loaded resumable_action "37:16: screen check_run: only a screen that waits for input is resumable" \
	"an action marked resumable"
loaded screen_continue "30:3: 'continue' is reserved (a choice's: where a journey stopped)" \
	"a screen named continue"

# ---- the flow folder ---------------------------------------------------------------------
check two_flows
is "$status" 1 "two_flows: exit 1"
is "$out" "$data/two_flows/flow: more than one flow (*.yaml): a gateway runs one" \
	"two_flows: a gateway runs one"
check no_flow
is "$status" 1 "no_flow: exit 1"
is "$out" "$data/no_flow/flow: no flow (*.yaml) in it" "no_flow: says there is none"

out=$("$CEIRGWCTL" flows check --flows "$TEST_TMP/nonexistent" --templates "$data/good/templates")
is $? 1 "a flow folder that does not exist: exit 1"
like "$out" "$TEST_TMP/nonexistent: " "it is named"
out=$("$CEIRGWCTL" flows check --flows "$data/good/flow" --templates "$TEST_TMP/nonexistent")
is $? 1 "a templates folder that does not exist: exit 1"
like "$out" "$TEST_TMP/nonexistent" "it is named"

# ---- usage -------------------------------------------------------------------------------
"$CEIRGWCTL" flows >/dev/null 2>&1
is $? 2 "flows without check: exit 2"
"$CEIRGWCTL" flows check extra >/dev/null 2>&1
is $? 2 "flows check with an argument: exit 2"
"$CEIRGWCTL" flows check --frobnicate >/dev/null 2>&1
is $? 2 "flows check with an unknown option: exit 2"

# ---- the shipped flow and texts, from the default folders --------------------------------
out=$("$CEIRGWCTL" flows check)
is $? 0 "the shipped flows and templates: exit 0"
like "$out" "no problems" "the shipped flows and templates: no problems"

done_testing
