/* The actions' outcomes, one table (X-macros, as Kannel's msg-decl.h): each action with its
 * name in the flows and its outcomes, in the order of the flow's screen per outcome. From it
 * come the outcome names the flow checker knows (flow.c) and enum flow_outcome, which the
 * actions finish with: run_finish(r, CHECK_CLEAN). A misspelt outcome does not compile. */
#ifndef CEIRGW_FLOW_OUTCOMES_H
#define CEIRGW_FLOW_OUTCOMES_H

#include "flow/flow.h"

/* X(action, name): the action is FA_<action>, its outcomes <action>_OUTCOMES. */
#define FLOW_ACTIONS(X) \
	X(CHECK, "check") \
	X(HANDSETS, "handsets") \
	X(PICK_HANDSET, "pick_handset") \
	X(OWNER_CALLER, "owner_is_caller") \
	X(LINK, "link") \
	X(KYC, "kyc") \
	X(REPORT, "report") \
	X(STATUS, "status") \
	X(UNBLOCK, "unblock") \
	X(LANGUAGES, "languages") \
	X(LANGUAGE, "language") \
	X(IMEI_WHY, "imei_why") \
	X(MY_REPORTS, "my_reports") \
	X(NEW_PIN, "new_pin") \
	X(VERIFY_MODE, "verify_mode") \
	X(OTP_SEND, "otp_send") \
	X(OTP_CHECK, "otp_check") \
	X(POLICE_GIVEN, "police_given")

/* X(action, outcome, name): the outcome is <action>_<outcome>, "name" in the flows. */
#define CHECK_OUTCOMES(X) \
	X(CHECK, CLEAN, "clean") \
	X(CHECK, STOLEN, "stolen") \
	X(CHECK, LOST, "lost") \
	X(CHECK, BLOCKED, "blocked") \
	/* Blocked by a neighbour (issue 19): a country whose CEIR feed ceirgw follows blocks it \
	 * as stolen or lost, and no national report does ({country} and {date}: the newest \
	 * such decision). A national report, open or blocked, is told instead. */ \
	X(CHECK, FOREIGN_STOLEN, "foreign_stolen") \
	X(CHECK, FOREIGN_LOST, "foreign_lost") \
	X(CHECK, DUPLICATED, "duplicated") \
	X(CHECK, UNKNOWN, "unknown") \
	X(CHECK, INVALID_LENGTH, "invalid_length") \
	X(CHECK, INVALID_DIGITS, "invalid_digits") \
	X(CHECK, INVALID_CHECK, "invalid_check") \
	X(CHECK, INVALID_RESERVED, "invalid_reserved") \
	X(CHECK, LIMITED, "limited") \
	X(CHECK, UNAVAILABLE, "unavailable")

#define HANDSETS_OUTCOMES(X) \
	X(HANDSETS, SOME, "some") \
	X(HANDSETS, NONE, "none") \
	X(HANDSETS, UNAVAILABLE, "unavailable")

#define PICK_HANDSET_OUTCOMES(X) \
	X(PICK_HANDSET, DONE, "done") \
	X(PICK_HANDSET, INVALID, "invalid")

#define OWNER_CALLER_OUTCOMES(X) \
	X(OWNER_CALLER, DONE, "done")

/* The link's finding waits for the ID digits (issue 15: nothing before proof): the kyc
 * action tells it, once they match. It counts nothing: a report is counted when it is
 * submitted (REPORT limited, issue 18). */
#define LINK_OUTCOMES(X) \
	X(LINK, LINKED, "linked") \
	X(LINK, INVALID, "invalid") \
	X(LINK, UNAVAILABLE, "unavailable")

#define KYC_OUTCOMES(X) \
	X(KYC, MATCH, "match") \
	X(KYC, MISMATCH, "mismatch") \
	X(KYC, LOCKED, "locked") \
	X(KYC, NO_RECORD, "no_record") \
	X(KYC, NOT_LINKED, "not_linked") \
	X(KYC, REPORTED, "reported") \
	X(KYC, REPORTED_OTHER, "reported_other") \
	X(KYC, LIMITED, "limited") \
	X(KYC, UNAVAILABLE, "unavailable")

#define REPORT_OUTCOMES(X) \
	X(REPORT, ACCEPTED, "accepted") \
	/* The receipt went to the owner's line, proven by a one-time code (issue 18): the \
	 * reporter is told where ({line}). */ \
	X(REPORT, ACCEPTED_OWNER, "accepted_owner") \
	/* No SMS path is configured (no sendsms-url, no bearerbox): no receipt and no PIN can \
	 * reach anyone, and the reporter is told so, with the reference to keep (issue 18: \
	 * never promise an SMS that cannot leave). */ \
	X(REPORT, ACCEPTED_NO_SMS, "accepted_no_sms") \
	X(REPORT, REPORTED, "reported") \
	X(REPORT, REPORTED_OTHER, "reported_other") \
	X(REPORT, NOT_VERIFIED, "not_verified") \
	X(REPORT, LIMITED, "limited") \
	X(REPORT, UNAVAILABLE, "unavailable")

#define STATUS_OUTCOMES(X) \
	X(STATUS, RECEIVED, "received") \
	X(STATUS, VERIFIED, "verified") \
	X(STATUS, SENT, "sent") \
	X(STATUS, BLOCKED, "blocked") \
	X(STATUS, SIGHTED, "sighted")	/* open, seen on a new line, asked by its owner */ \
	X(STATUS, UNBLOCK_SENT, "unblock_sent") \
	X(STATUS, UNBLOCKED, "unblocked") \
	X(STATUS, REJECTED, "rejected") \
	X(STATUS, UNKNOWN, "unknown") \
	X(STATUS, LIMITED, "limited") \
	X(STATUS, UNAVAILABLE, "unavailable")

#define UNBLOCK_OUTCOMES(X) \
	X(UNBLOCK, ACCEPTED, "accepted") \
	X(UNBLOCK, ALREADY, "already") \
	X(UNBLOCK, WRONG_PIN, "wrong_pin") \
	X(UNBLOCK, LOCKED, "locked") \
	X(UNBLOCK, UNKNOWN, "unknown") \
	X(UNBLOCK, NOT_BLOCKED, "not_blocked") \
	X(UNBLOCK, LIMITED, "limited") \
	X(UNBLOCK, UNAVAILABLE, "unavailable")

#define LANGUAGES_OUTCOMES(X) \
	X(LANGUAGES, DONE, "done")

#define LANGUAGE_OUTCOMES(X) \
	X(LANGUAGE, DONE, "done") \
	X(LANGUAGE, INVALID, "invalid")

/* Why an IMEI input was refused, for the screen that asks again and says why; valid when it
 * is an IMEI after all. The same reasons as the check's invalid_* outcomes. */
#define IMEI_WHY_OUTCOMES(X) \
	X(IMEI_WHY, VALID, "valid") \
	X(IMEI_WHY, INVALID_LENGTH, "invalid_length") \
	X(IMEI_WHY, INVALID_DIGITS, "invalid_digits") \
	X(IMEI_WHY, INVALID_CHECK, "invalid_check") \
	X(IMEI_WHY, INVALID_RESERVED, "invalid_reserved")

/* The reports of the caller's own phones (the IMEIs the operators' data pairs with the
 * caller's number, whose report names the caller as the owner), only once the ID digits of
 * the caller's line matched in this session (not_verified otherwise: a flow that skips the
 * kyc step tells nothing). Nothing is counted: the ID digits were. */
#define MY_REPORTS_OUTCOMES(X) \
	X(MY_REPORTS, SOME, "some") \
	X(MY_REPORTS, NONE, "none") \
	X(MY_REPORTS, NOT_VERIFIED, "not_verified") \
	X(MY_REPORTS, UNAVAILABLE, "unavailable")

/* A new PIN for one of them (a line of the list, or by SMS its reference), sent with the
 * receipt to the caller's line; the old PIN stops working. invalid: a pick no line has;
 * unknown: no report of the caller's has that reference; not_blocked: the report is in no
 * state where a PIN unblocks (closed, unblock requested, not yet with the CEIR); limited:
 * rate-resend-msisdn. */
#define NEW_PIN_OUTCOMES(X) \
	X(NEW_PIN, SENT, "sent") \
	X(NEW_PIN, INVALID, "invalid") \
	X(NEW_PIN, UNKNOWN, "unknown") \
	X(NEW_PIN, NOT_BLOCKED, "not_blocked") \
	X(NEW_PIN, NOT_VERIFIED, "not_verified") \
	X(NEW_PIN, LIMITED, "limited") \
	X(NEW_PIN, UNAVAILABLE, "unavailable")

/* What proves a report's owner, as verify-report says (issue 18): the flow branches on it,
 * before the ID digits (which proof first) and after them (whether a code follows). */
#define VERIFY_MODE_OUTCOMES(X) \
	X(VERIFY_MODE, ID, "id") \
	X(VERIFY_MODE, OTP, "otp") \
	X(VERIFY_MODE, ID_OTP, "id_otp")

/* A one-time code to the owner's line (issue 18): sent, or refused with why and how long. */
#define OTP_SEND_OUTCOMES(X) \
	X(OTP_SEND, SENT, "sent") \
	X(OTP_SEND, LIMITED, "limited")		/* the caller's code requests */ \
	X(OTP_SEND, LINE_LIMITED, "line_limited")	/* codes sent to the line */ \
	X(OTP_SEND, LOCKED, "locked") \
	X(OTP_SEND, UNAVAILABLE, "unavailable")

/* The code typed, compared with its try counted in the same step; a match tells what the
 * link found, as the ID digits' match does (nothing before proof). */
#define OTP_CHECK_OUTCOMES(X) \
	X(OTP_CHECK, MATCH, "match") \
	X(OTP_CHECK, WRONG, "wrong") \
	X(OTP_CHECK, EXPIRED, "expired") \
	X(OTP_CHECK, LOCKED, "locked") \
	X(OTP_CHECK, NOT_LINKED, "not_linked") \
	X(OTP_CHECK, REPORTED, "reported") \
	X(OTP_CHECK, REPORTED_OTHER, "reported_other") \
	X(OTP_CHECK, UNAVAILABLE, "unavailable")

/* Whether the report carries a police report number: the confirmation shows it (issue 18:
 * the confirm screen shows what will be sent). Nothing looked up. */
#define POLICE_GIVEN_OUTCOMES(X) \
	X(POLICE_GIVEN, GIVEN, "given") \
	X(POLICE_GIVEN, NONE, "none")

/* An outcome's value holds its action and its index in the action's outcomes. */
#define FLOW_OUTCOME(a, i) ((int)(a) * 256 + (i))

#define FLOW_OUTCOME_ENUM_(a, o, name) a##_##o,
#define FLOW_ACTION_ENUM_(a, name) \
	a##_OUTCOMES_BEGIN_ = FLOW_OUTCOME(FA_##a, 0) - 1, a##_OUTCOMES(FLOW_OUTCOME_ENUM_)
enum flow_outcome {
	FLOW_ACTIONS(FLOW_ACTION_ENUM_)
};
#undef FLOW_ACTION_ENUM_
#undef FLOW_OUTCOME_ENUM_

static inline enum flow_action flow_outcome_action(enum flow_outcome o)
{
	return (enum flow_action)((int)o / 256);
}

static inline int flow_outcome_index(enum flow_outcome o)
{
	return (int)o % 256;
}

#endif
