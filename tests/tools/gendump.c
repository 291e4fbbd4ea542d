/* gendump: synthetic operator dumps for the tests and benchmarks of the bulk import. Pairings
 * (IMEI per 3GPP TS 23.003 seen with an E.164 MSISDN and an IMSI, cloned IMEIs as ITU-T Q.5052
 * describes them) or the KYC rows of the same subscribers, deterministic per seed. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include <unistd.h>
#include <zlib.h>

#include "domain/imei.h"
#include "domain/msisdn.h"
#include "domain/tac.h"


#define DAYS		1096	/* three years of seen dates, ending at --until */
#define UNTIL_DEFAULT	"2026-06-30"	/* fixed, so that a seed gives the same file every day */
#define SERIALS		1000000u	/* 6-digit serial numbers per TAC */
#define BLOCK		10000u	/* numbers per block: the last four digits are drawn freely */
#define BLOCK_VARIANTS	1000u	/* the three digits after an operator's fixed prefix */
#define NSN_MAX		15
#define FIELD_MAX	72
#define LINE_MAX_LEN	1024
#define OUT_BUF		(1u << 20)
#define SHUFFLE_SLOTS	8192	/* rows leave in a locally shuffled order, as dumps do */
#define RESALE_SLOTS	4096	/* handsets put aside for a second owner */
#define PENDING_SLOTS	65536	/* cloned IMEIs waiting for their other users */
#define MAX_OPS		5

/* Shares of the model; the garbage and clone shares come from the command line. */
#define SHARE_START_AT_T0	0.30	/* subscribers already active when the window opens */
#define SHARE_STILL_ACTIVE	0.80	/* subscribers still seen on the last day */
#define SHARE_RESALE		0.05	/* handset slots that try to take a second-hand IMEI */
#define SHARE_DUP		0.02	/* pairings listed twice (another extract, a subwindow) */
#define SHARE_IMEISV		0.025
#define SHARE_IMEI_DASHES	0.015
#define SHARE_QUOTED		0.01	/* valid rows with a quoted field */

/* ---- regions ------------------------------------------------------------------------- */

struct operator_def {
	const char *name;
	const char *mccmnc;	/* the IMSI prefix, 3GPP TS 23.003 section 2.2 */
	const char *example;	/* a valid mobile national number: its head minus the last
				 * 7 digits is the operator's range */
	unsigned weight;	/* market share, percent */
};

struct region_def {
	const char *code;
	const char *cc;		/* E.164 country code */
	const char *trunk;	/* national prefix */
	struct operator_def ops[MAX_OPS];
	const char *const *first;
	const char *const *last;
};

static const char *const ke_first[] = { "Grace", "John", "Mary", "Peter", "Faith", "Brian",
	"Mercy", "Kevin", "Esther", "Dennis", "Wanjiru", "Achieng", NULL };
static const char *const ke_last[] = { "Kamau", "Otieno", "Wanjiku", "Kiprono", "Mutua",
	"Onyango", "Njoroge", "Chebet", "Wafula", "Maina", "Ochieng", "Kariuki", NULL };
static const char *const ng_first[] = { "Chinedu", "Aisha", "Emeka", "Ngozi", "Tunde", "Fatima",
	"Oluwaseun", "Amaka", "Ibrahim", "Blessing", "Yusuf", "Chioma", NULL };
static const char *const ng_last[] = { "Okafor", "Bello", "Adeyemi", "Eze", "Abubakar",
	"Okonkwo", "Ibrahim", "Nwosu", "Balogun", "Musa", "Obi", "Adebayo", NULL };
static const char *const pk_first[] = { "Muhammad", "Ayesha", "Ali", "Fatima", "Hassan", "Sana",
	"Usman", "Hira", "Bilal", "Zainab", "Imran", "Maryam", NULL };
static const char *const pk_last[] = { "Khan", "Ahmed", "Malik", "Hussain", "Qureshi", "Butt",
	"Chaudhry", "Sheikh", "Raza", "Siddiqui", "Iqbal", "Shah", NULL };
static const char *const in_first[] = { "Rahul", "Priya", "Amit", "Sneha", "Vikram", "Anjali",
	"Suresh", "Pooja", "Arjun", "Kavya", "Rajesh", "Deepa", NULL };
static const char *const in_last[] = { "Sharma", "Patel", "Singh", "Kumar", "Reddy", "Iyer",
	"Gupta", "Nair", "Das", "Mehta", "Joshi", "Rao", NULL };
/* UTF-8 on purpose: names are the one free-text field of a KYC dump. */
static const char *const tr_first[] = { "Mehmet", "Ayşe", "Mustafa", "Fatma", "Ahmet", "Emine",
	"Ali", "Zeynep", "Hüseyin", "Elif", "Murat", "Hatice", NULL };
static const char *const tr_last[] = { "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız",
	"Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan", NULL };
static const char *const fr_first[] = { "Jean", "Marie", "Pierre", "Camille", "Nicolas", "Léa",
	"Thomas", "Chloé", "Julien", "Manon", "Antoine", "Sophie", NULL };
static const char *const fr_last[] = { "Martin", "Bernard", "Dubois", "Thomas", "Robert",
	"Richard", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre", "Girard", NULL };
static const char *const br_first[] = { "João", "Maria", "José", "Ana", "Lucas", "Juliana",
	"Pedro", "Fernanda", "Gabriel", "Camila", "Rafael", "Larissa", NULL };
static const char *const br_last[] = { "Silva", "Santos", "Oliveira", "Souza", "Rodrigues",
	"Ferreira", "Alves", "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", NULL };

/* Operator ranges must not share a head within a region: numbers are unique per operator. */
static const struct region_def regions[] = {
	{ "KE", "254", "0", {
		{ "Safaricom", "63902", "712345678", 65 },
		{ "Airtel", "63903", "733123456", 28 },
		{ "Telkom", "63907", "770123456", 7 } }, ke_first, ke_last },
	{ "NG", "234", "0", {
		{ "MTN", "62130", "8031234567", 50 },
		{ "Airtel", "62120", "8021234567", 25 },
		{ "Glo", "62150", "8051234567", 20 },
		{ "9mobile", "62160", "8091234567", 5 } }, ng_first, ng_last },
	{ "PK", "92", "0", {
		{ "Jazz", "41001", "3001234567", 38 },
		{ "Zong", "41004", "3101234567", 26 },
		{ "Telenor", "41006", "3451234567", 25 },
		{ "Ufone", "41003", "3331234567", 11 } }, pk_first, pk_last },
	{ "IN", "91", "0", {
		{ "Jio", "405857", "7012345678", 40 },
		{ "Airtel", "40410", "9812345678", 35 },
		{ "Vi", "40420", "9820123456", 20 },
		{ "BSNL", "40434", "9434123456", 5 } }, in_first, in_last },
	{ "TR", "90", "0", {
		{ "Turkcell", "28601", "5321234567", 42 },
		{ "Vodafone", "28602", "5421234567", 30 },
		{ "TurkTelekom", "28603", "5051234567", 28 } }, tr_first, tr_last },
	{ "FR", "33", "0", {
		{ "Orange", "20801", "612345678", 40 },
		{ "SFR", "20810", "620123456", 25 },
		{ "Bouygues", "20820", "660123456", 20 },
		{ "Free", "20815", "651234567", 15 } }, fr_first, fr_last },
	{ "BR", "55", "0", {
		{ "Vivo", "72406", "11961234567", 38 },
		{ "Claro", "72405", "21981234567", 30 },
		{ "TIM", "72404", "11981234567", 32 } }, br_first, br_last },
};

/* ---- garbage kinds ------------------------------------------------------------------- */

enum gkind {
	GK_IMEI_CHECK_DIGIT,
	GK_IMEI_TOO_SHORT,
	GK_IMEI_NOT_DIGITS,
	GK_MSISDN_TOO_SHORT,
	GK_MSISDN_UNKNOWN_RANGE,
	GK_BAD_DATE,
	GK_LAST_BEFORE_FIRST,
	GK_MISSING_FIELD,
	GK_EXTRA_FIELD,
	GK_EMPTY_FIELD,
	GK_STRAY_QUOTE,
	GK_UNTERMINATED_QUOTE,
	GK_EMPTY_NATIONAL_ID,
	GK_COUNT
};

static const char *const gkind_names[GK_COUNT] = {
	[GK_IMEI_CHECK_DIGIT] = "imei_bad_check_digit",
	[GK_IMEI_TOO_SHORT] = "imei_too_short",
	[GK_IMEI_NOT_DIGITS] = "imei_not_digits",
	[GK_MSISDN_TOO_SHORT] = "msisdn_too_short",
	[GK_MSISDN_UNKNOWN_RANGE] = "msisdn_unknown_range",
	[GK_BAD_DATE] = "bad_date",
	[GK_LAST_BEFORE_FIRST] = "last_before_first",
	[GK_MISSING_FIELD] = "missing_field",
	[GK_EXTRA_FIELD] = "extra_field",
	[GK_EMPTY_FIELD] = "empty_field",
	[GK_STRAY_QUOTE] = "stray_quote",
	[GK_UNTERMINATED_QUOTE] = "unterminated_quote",
	[GK_EMPTY_NATIONAL_ID] = "empty_national_id",
};

/* Dealt out evenly. The unterminated quote is not among them: it only ever ends the file
 * (see run()). */
static const enum gkind pairings_kinds[] = {
	GK_IMEI_CHECK_DIGIT, GK_IMEI_TOO_SHORT, GK_IMEI_NOT_DIGITS, GK_MSISDN_TOO_SHORT,
	GK_MSISDN_UNKNOWN_RANGE, GK_BAD_DATE, GK_LAST_BEFORE_FIRST, GK_MISSING_FIELD,
	GK_EXTRA_FIELD, GK_EMPTY_FIELD, GK_STRAY_QUOTE,
};
static const enum gkind kyc_kinds[] = {
	GK_MSISDN_TOO_SHORT, GK_MSISDN_UNKNOWN_RANGE, GK_EMPTY_NATIONAL_ID, GK_BAD_DATE,
	GK_MISSING_FIELD, GK_EXTRA_FIELD, GK_STRAY_QUOTE,
};

/* ---- columns ------------------------------------------------------------------------- */

enum pcol { P_IMEI, P_MSISDN, P_IMSI, P_FIRST, P_LAST, P_OPERATOR, P_RAT, P_CELL, P_NCOLS };
static const char *const pcol_names[P_NCOLS] = {
	"imei", "msisdn", "imsi", "first_seen", "last_seen", "operator", "rat",
	"cell_id",	/* unknown to the import: it must be skipped */
};
enum kcol { K_MSISDN, K_NATID, K_REGISTERED, K_NAME, K_AGENT, K_NCOLS };
static const char *const kcol_names[K_NCOLS] = {
	"msisdn", "national_id", "registered_at", "name",
	"agent_id",	/* unknown to the import */
};
#define NCOLS_MAX P_NCOLS

enum form { FORM_BARE = 1, FORM_PLUS = 2, FORM_NATIONAL = 4 };

/* ---- random numbers ------------------------------------------------------------------- */

/* xorshift64 (Marsaglia's 13, 7, 17) with a multiplied output (xorshift64*): no libc rand(),
 * so a seed gives the same file with every libc. */
struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* One independent stream per purpose, so that the model's draws do not depend on how rows
 * are printed: a KYC run replays the pairings' model exactly. */
enum stream { ST_SIM = 1, ST_FMT, ST_GARBAGE, ST_SHUFFLE, ST_HEADER, ST_TAC, ST_KEYS, ST_KYC };

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	r->s = mix64(seed * 0x9e3779b97f4a7c15ULL + stream * 0xd1b54a32d192ed03ULL + 1);
	if (r->s == 0)
		r->s = 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t x = r->s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n), n >= 1; the modulo bias is below n / 2^64. */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

/* A keyed permutation of [0, n): a 4-round Feistel network over the smallest even power of
 * two >= n, walked until it lands below n. It hands out serial numbers, phone numbers and IDs
 * that look random yet never repeat, without remembering which were used. */
struct perm {
	uint64_t n, mask, key[4];
	unsigned half;
};

static void perm_init(struct perm *p, uint64_t n, uint64_t key)
{
	unsigned bits = 2, i;

	while (bits < 62 && (1ULL << bits) < n)
		bits++;
	bits += bits & 1;
	p->n = n;
	p->half = bits / 2;
	p->mask = (1ULL << p->half) - 1;
	for (i = 0; i < 4; i++)
		p->key[i] = mix64(key + 0x632be59bd9b4e019ULL * (i + 1));
}

static uint64_t perm_apply(const struct perm *p, uint64_t x)
{
	uint64_t l, r, t;
	unsigned i;

	do {
		l = x >> p->half;
		r = x & p->mask;
		for (i = 0; i < 4; i++) {
			t = l ^ (mix64(r ^ p->key[i]) & p->mask);
			l = r;
			r = t;
		}
		x = (l << p->half) | r;
	} while (x >= p->n);
	return x;
}

/* ---- dates (proleptic Gregorian, days since 1970-01-01; H. Hinnant's algorithms) ------- */

static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era;
	int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, yy;
	int doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (int)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static void put_digits(char *p, uint64_t v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Writes "YYYY-MM-DD", 10 bytes, no NUL. */
static void format_date(int64_t day, char *out)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	put_digits(out, (uint64_t)y, 4);
	out[4] = '-';
	put_digits(out + 5, (uint64_t)m, 2);
	out[7] = '-';
	put_digits(out + 8, (uint64_t)d, 2);
}

/* Strict "YYYY-MM-DD". Returns 0 or -EINVAL. */
static int parse_date(const char *s, int64_t *day)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	}
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2014 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*day = days_from_civil(y, m, d);
	return 0;
}

/* ---- output -------------------------------------------------------------------------- */

struct out {
	FILE *f;
	gzFile gz;
	char *buf;
	size_t len;
	bool failed;
};

static void out_flush(struct out *o)
{
	if (o->len == 0 || o->failed)
		return;
	if (o->gz) {
		if (gzwrite(o->gz, o->buf, (unsigned)o->len) != (int)o->len)
			o->failed = true;
	} else if (fwrite(o->buf, 1, o->len, o->f) != o->len) {
		o->failed = true;
	}
	o->len = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > OUT_BUF)
		out_flush(o);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* ---- the generator's state ----------------------------------------------------------- */

struct tac_pick {
	uint32_t tac;
	uint32_t used;		/* serials handed out, in perm order */
	struct perm serials;
};

struct op_rt {
	const struct operator_def *def;
	char fixed[NSN_MAX + 1];
	size_t fixed_len, nsn_len, msin_len;
	uint16_t *blocks;	/* the three digits after fixed of each all-mobile block */
	uint8_t *forms;		/* per block: the written forms that read back as the number */
	size_t nblocks;
	uint64_t cap, used, spare_used;	/* spares, from the top, feed KYC garbage rows */
	struct perm numbers, msins;
};

struct sub {
	uint32_t id;
	uint8_t op, forms, nsn_len;
	char nsn[NSN_MAX];
	char imsi[15];
	int32_t start, end;	/* days since t0 */
};

struct row {
	char imei[15];
	char imsi[15];
	char nsn[NSN_MAX];
	uint8_t nsn_len, op, forms;
	int32_t first, last;	/* days since t0 */
	uint32_t imei_id, sub_id, pair_id;
};

struct kyc_rec {
	char nsn[NSN_MAX];
	uint8_t nsn_len, forms;
	uint32_t sub_id;
	int32_t start;
};

struct resale {
	char imei[15];
	bool taken;
	uint32_t imei_id;
	int32_t release;	/* the first owner's last day */
};

struct pending {
	char imei[15];
	uint32_t imei_id;
	int32_t day;		/* a day every user of the clone is seen on */
};

struct shuffle {
	char *slots;
	size_t elem, n, cap;
	struct rng r;
};

struct stats {
	uint64_t rows, valid, garbage, by_kind[GK_COUNT];
	uint64_t pairings, imeis, msisdns, cloned, resold, clone_users[5], subscribers;
};

enum mode { MODE_PAIRINGS, MODE_KYC };

struct gen {
	void *ctx;
	enum mode mode;
	uint64_t rows, seed;
	const struct region_def *region;
	double clones, garbage;		/* fractions */
	int64_t t0;			/* first day of the window, days since 1970 */

	struct tac_pick *tacs;		/* in popularity order */
	double *cum;			/* Zipf weights, cumulated */
	size_t ntacs;

	struct op_rt ops[MAX_OPS];
	size_t nops;
	unsigned op_total;
	struct perm natids;
	uint64_t natid_spares;

	struct rng sim, fmt, garb;
	uint64_t made;
	uint32_t next_sub, next_imei, next_pair;
	struct resale *resale;
	uint64_t resale_n;
	struct pending *pending;
	size_t pend_head, pend_n;

	uint8_t *imei_users, *imei_clone;	/* per IMEI id: users with a valid row; cloned */
	size_t imei_cap, imei_clone_cap;
	uint8_t *pair_seen, *sub_seen;		/* bitmaps */
	size_t pair_cap, sub_cap;		/* in bytes */

	const enum gkind *kinds;
	size_t nkinds;
	enum gkind deck[GK_COUNT];
	size_t deck_pos;
	uint64_t garbage_left;
	bool end_quote;			/* the last pairings row is the unterminated quote */

	uint8_t order[NCOLS_MAX];
	size_t ncols;
	struct shuffle shuf;
	struct out out;
	struct stats st;
};

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "gendump: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

/* Grows a zeroed array to hold at least need elements. */
static void *grow(void *ctx, void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 4096;
	char *q;

	if (need <= *cap)
		return p;
	while (ncap < need)
		ncap *= 2;
	q = talloc_realloc_size(ctx, p, ncap * elem);
	if (!q)
		die("out of memory", NULL);
	memset(q + *cap * elem, 0, (ncap - *cap) * elem);
	*cap = ncap;
	return q;
}

/* Sets a bit; returns whether it was already set. */
static bool bit_test_set(uint8_t *map, uint32_t i)
{
	uint8_t m = (uint8_t)(1u << (i & 7));
	bool was = map[i >> 3] & m;

	map[i >> 3] |= m;
	return was;
}

/* ---- the TAC table --------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The table has no iterator: the file's first column lists the candidates and tac_lookup
 * keeps those the table really holds. Reserved TACs (imei.h) are left out, so every IMEI
 * built on the rest is valid. */
static void tacs_load(struct gen *g, const char *path)
{
	struct tac_load_stats ls;
	struct tac_table *t;
	struct tac_entry e;
	struct rng r;
	char err[256], *buf, *p, *end, *nl;
	uint32_t *list = NULL, v, tmp;
	size_t n = 0, cap = 0, i, j, len;
	bool header = false;
	double sum = 0;
	FILE *f;
	long sz;

	t = tac_table_load(g->ctx, path, &ls, err, sizeof(err));
	if (!t)
		die(err, NULL);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot read the TAC file", path);
	buf = talloc_size(g->ctx, (size_t)sz + 1);
	if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz)
		die("cannot read the TAC file", path);
	fclose(f);
	buf[sz] = '\0';
	for (p = buf, end = buf + sz; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		len = strcspn(p, ",\r\n");
		if (!header) {
			header = len == 3 && strncmp(p, "tac", 3) == 0;
			continue;
		}
		if (len != 8 || strspn(p, "0123456789") < 8 || tac_lookup(t, p, &e) != 0)
			continue;
		if (p[0] == '0' && p[1] == '0')
			continue;	/* GSMA TS.06 test range */
		for (v = 0, i = 0; i < 8; i++)
			v = v * 10 + (uint32_t)(p[i] - '0');
		if (v % 11111111 == 0)
			continue;	/* one digit repeated */
		list = grow(g->ctx, list, &cap, n + 1, sizeof(*list));
		list[n++] = v;
	}
	if (n == 0)
		die("no usable TAC in the TAC file", path);
	qsort(list, n, sizeof(*list), cmp_u32);
	for (i = j = 0; i < n; i++) {
		if (j == 0 || list[j - 1] != list[i])
			list[j++] = list[i];
	}
	n = j;
	/* Popularity: a seeded shuffle gives the ranks, Zipf (1/rank) the weights, so that a few
	 * models account for a large share of the handsets, as in any network. */
	rng_seed(&r, g->seed, ST_TAC);
	for (i = n - 1; i > 0; i--) {
		j = (size_t)rng_below(&r, i + 1);
		tmp = list[i];
		list[i] = list[j];
		list[j] = tmp;
	}
	g->tacs = talloc_zero_array(g->ctx, struct tac_pick, n);
	g->cum = talloc_array(g->ctx, double, n);
	if (!g->tacs || !g->cum)
		die("out of memory", NULL);
	for (i = 0; i < n; i++) {
		v = list[i];
		g->tacs[i].tac = v;
		perm_init(&g->tacs[i].serials, SERIALS, mix64(g->seed ^ ST_KEYS) ^ v);
		sum += 1.0 / (double)(i + 1);
		g->cum[i] = sum;
	}
	g->ntacs = n;
	talloc_free(list);
	talloc_free(buf);
	tac_table_free(t);
}

static size_t tac_draw(struct gen *g)
{
	double u = rng_unit(&g->sim) * g->cum[g->ntacs - 1];
	size_t lo = 0, hi = g->ntacs - 1, mid, i;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (g->cum[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* A TAC out of serials passes its draws on to the next in rank. */
	for (i = 0; i < g->ntacs; i++, lo = (lo + 1) % g->ntacs) {
		if (g->tacs[lo].used < SERIALS)
			return lo;
	}
	die("every TAC is out of serial numbers", NULL);
	return 0;
}

/* ---- phone numbers ----------------------------------------------------------------- */

static size_t nsn_write(const struct gen *g, const char *nsn, size_t len, enum form f, char *out)
{
	size_t n = 0, cl;

	if (f == FORM_NATIONAL) {
		cl = strlen(g->region->trunk);
		memcpy(out, g->region->trunk, cl);
		n = cl;
	} else {
		if (f == FORM_PLUS)
			out[n++] = '+';
		cl = strlen(g->region->cc);
		memcpy(out + n, g->region->cc, cl);
		n += cl;
	}
	memcpy(out + n, nsn, len);
	return n + len;
}

/* True when in reads, from the region, as the mobile number e164. */
static bool reads_as(const struct gen *g, const char *in, size_t len, const char *e164)
{
	struct msisdn m;

	msisdn_parse(in, len, g->region->code, &m);
	return m.valid && strcmp(m.e164, e164) == 0 && strcmp(m.region, g->region->code) == 0 &&
	       (m.type == MSISDN_TYPE_MOBILE || m.type == MSISDN_TYPE_FIXED_LINE_OR_MOBILE);
}

/* libphonenumber costs about 13 us a number: it is asked once per block of 10,000 numbers
 * (three samples of the +international form, one of each other form), never per row.
 * Numbering plans allocate whole blocks, so the last four digits are free. */
static void ops_init(struct gen *g)
{
	static const char *const samples[] = { "0000", "3817", "9999" };
	char nsn[NSN_MAX + 1], in[32], e164[32];
	struct op_rt *o;
	size_t i, k, s, n, el;
	uint8_t forms;
	bool ok;

	for (i = 0; i < MAX_OPS && g->region->ops[i].name; i++) {
		o = &g->ops[i];
		o->def = &g->region->ops[i];
		o->nsn_len = strlen(o->def->example);
		if (o->nsn_len < 8 || o->nsn_len > NSN_MAX - strlen(g->region->cc))
			die("bad example number", o->def->example);
		o->fixed_len = o->nsn_len - 7;
		memcpy(o->fixed, o->def->example, o->fixed_len);
		o->msin_len = 15 - strlen(o->def->mccmnc);
		o->blocks = talloc_array(g->ctx, uint16_t, BLOCK_VARIANTS);
		o->forms = talloc_array(g->ctx, uint8_t, BLOCK_VARIANTS);
		if (!o->blocks || !o->forms)
			die("out of memory", NULL);
		for (k = 0; k < BLOCK_VARIANTS; k++) {
			memcpy(nsn, o->fixed, o->fixed_len);
			put_digits(nsn + o->fixed_len, k, 3);
			ok = true;
			for (s = 0; s < 3 && ok; s++) {
				memcpy(nsn + o->nsn_len - 4, samples[s], 4);
				el = nsn_write(g, nsn, o->nsn_len, FORM_PLUS, e164);
				e164[el] = '\0';
				ok = reads_as(g, e164, el, e164);
			}
			if (!ok)
				continue;
			forms = FORM_PLUS;
			n = nsn_write(g, nsn, o->nsn_len, FORM_BARE, in);
			if (reads_as(g, in, n, e164))
				forms |= FORM_BARE;
			n = nsn_write(g, nsn, o->nsn_len, FORM_NATIONAL, in);
			if (reads_as(g, in, n, e164))
				forms |= FORM_NATIONAL;
			o->blocks[o->nblocks] = (uint16_t)k;
			o->forms[o->nblocks++] = forms;
		}
		if (o->nblocks == 0)
			die("no valid mobile block for operator", o->def->name);
		o->cap = (uint64_t)o->nblocks * BLOCK;
		perm_init(&o->numbers, o->cap, mix64(g->seed ^ ST_KEYS) + 1000 + i);
		n = 1;
		for (k = 0; k < o->msin_len; k++)
			n *= 10;
		perm_init(&o->msins, n, mix64(g->seed ^ ST_KEYS) + 2000 + i);
		g->op_total += o->def->weight;
	}
	g->nops = i;
	for (i = 0; i < g->nops; i++) {
		for (k = 0; k < g->nops; k++) {
			if (i != k && g->ops[i].fixed_len <= g->ops[k].fixed_len &&
			    memcmp(g->ops[i].fixed, g->ops[k].fixed, g->ops[i].fixed_len) == 0)
				die("operator ranges overlap", g->ops[k].def->example);
		}
	}
	/* 8-digit national IDs (the Kenyan style): 10000000..99999999. */
	perm_init(&g->natids, 90000000, mix64(g->seed ^ ST_KEYS) + 3000);
}

/* The number of index idx (a permutation of the operator's capacity). */
static void op_number(const struct op_rt *o, uint64_t idx, char *nsn, uint8_t *forms)
{
	uint64_t p = perm_apply(&o->numbers, idx);
	size_t b = (size_t)(p / BLOCK);

	memcpy(nsn, o->fixed, o->fixed_len);
	put_digits(nsn + o->fixed_len, o->blocks[b], 3);
	put_digits(nsn + o->fixed_len + 3, p % BLOCK, 4);
	*forms = o->forms[b];
}

static size_t op_draw(struct gen *g, struct rng *r)
{
	unsigned w = (unsigned)rng_below(r, g->op_total);
	size_t i;

	for (i = 0; i + 1 < g->nops && w >= g->ops[i].def->weight; i++)
		w -= g->ops[i].def->weight;
	return i;
}

/* ---- the model ------------------------------------------------------------------------- */

static void emit_row(struct gen *g, const struct row *row);
static void emit_sub(struct gen *g, const struct sub *s);

static void imei_fresh(struct gen *g, char imei[15], uint32_t *id)
{
	struct tac_pick *t;
	struct imei chk;

	do {
		t = &g->tacs[tac_draw(g)];
		put_digits(imei, t->tac, 8);
		put_digits(imei + 8, perm_apply(&t->serials, t->used++), 6);
		imei[14] = imei_check_digit(imei);
		/* The two example IMEIs of imei.c are reserved whatever their TAC. */
	} while (imei_parse(imei, 15, &chk) != IMEI_OK);
	*id = g->next_imei++;
	g->imei_users = grow(g->ctx, g->imei_users, &g->imei_cap, g->next_imei, 1);
	g->imei_clone = grow(g->ctx, g->imei_clone, &g->imei_clone_cap, g->next_imei, 1);
}

static void sub_new(struct gen *g, struct sub *s)
{
	struct op_rt *o;
	uint64_t k;

	memset(s, 0, sizeof(*s));
	s->id = g->next_sub++;
	if (g->next_sub + g->natid_spares > 90000000)
		die("too many subscribers for 8-digit national IDs", NULL);
	g->sub_seen = grow(g->ctx, g->sub_seen, &g->sub_cap, s->id / 8 + 1, 1);
	s->op = (uint8_t)op_draw(g, &g->sim);
	o = &g->ops[s->op];
	k = o->used++;
	if (o->used + o->spare_used > o->cap)
		die("too many subscribers for the operator's ranges", o->def->name);
	op_number(o, k, s->nsn, &s->forms);
	s->nsn_len = (uint8_t)o->nsn_len;
	memcpy(s->imsi, o->def->mccmnc, 15 - o->msin_len);
	put_digits(s->imsi + 15 - o->msin_len, perm_apply(&o->msins, s->id), (int)o->msin_len);
}

static void row_from_sub(struct row *row, const struct sub *s)
{
	memcpy(row->imsi, s->imsi, 15);
	memcpy(row->nsn, s->nsn, NSN_MAX);
	row->nsn_len = s->nsn_len;
	row->op = s->op;
	row->forms = s->forms;
	row->sub_id = s->id;
}

static void emit(struct gen *g, const struct row *row)
{
	g->made++;
	emit_row(g, row);
}

/* One handset slot [a, b] of subscriber s: a cloned IMEI handed over (pe), a second-hand one,
 * or a new one. Returns whether the handset may later be sold on (rel filled). */
static bool sim_slot(struct gen *g, const struct sub *s, int32_t a, int32_t b,
		     const struct pending *pe, struct resale *rel)
{
	struct rng *r = &g->sim;
	struct row row;
	struct resale *e;
	struct pending *q;
	bool clone = false, second_hand = false;
	int32_t fa, fb, day;
	unsigned users, u, tries;

	row_from_sub(&row, s);
	if (pe) {
		memcpy(row.imei, pe->imei, 15);
		row.imei_id = pe->imei_id;
		clone = true;
	} else {
		if (g->resale_n && rng_chance(r, SHARE_RESALE)) {
			for (tries = 0; tries < 4 && !second_hand; tries++) {
				e = &g->resale[rng_below(r, g->resale_n < RESALE_SLOTS ?
							    g->resale_n : RESALE_SLOTS)];
				if (e->taken || e->release >= a)
					continue;
				e->taken = true;
				memcpy(row.imei, e->imei, 15);
				row.imei_id = e->imei_id;
				second_hand = true;
			}
		}
		if (!second_hand) {
			imei_fresh(g, row.imei, &row.imei_id);
			if (g->clones > 0 && rng_chance(r, g->clones) &&
			    g->pend_n + 3 <= PENDING_SLOTS) {
				/* Cloned: 1 to 3 more users, all seen on one common day. */
				clone = true;
				g->imei_clone[row.imei_id] = 1;
				users = 2 + (unsigned)rng_below(r, 3);
				day = a + (int32_t)rng_below(r, (uint64_t)(b - a + 1));
				for (u = 1; u < users; u++) {
					q = &g->pending[(g->pend_head + g->pend_n++) % PENDING_SLOTS];
					memcpy(q->imei, row.imei, 15);
					q->imei_id = row.imei_id;
					q->day = day;
				}
			}
		}
	}
	g->pair_seen = grow(g->ctx, g->pair_seen, &g->pair_cap, g->next_pair / 8 + 1, 1);
	row.pair_id = g->next_pair++;
	row.first = a;
	row.last = b;
	emit(g, &row);
	/* The same pairing again within its window (another extract): not for clones, whose
	 * rows must all contain the common day. */
	if (!clone && g->made < g->rows && rng_chance(r, SHARE_DUP)) {
		fa = a + (int32_t)rng_below(r, (uint64_t)(b - a + 1));
		fb = fa + (int32_t)rng_below(r, (uint64_t)(b - fa + 1));
		row.first = fa;
		row.last = fb;
		emit(g, &row);
	}
	if (clone || second_hand)
		return false;
	memcpy(rel->imei, row.imei, 15);
	rel->imei_id = row.imei_id;
	rel->release = b;
	rel->taken = false;
	return true;
}

/* One subscriber: 1 to 3 handsets one after the other over its active period. */
static void sim_subscriber(struct gen *g)
{
	struct rng *r = &g->sim;
	struct resale rel[3];
	struct pending pe;
	struct sub s;
	int32_t cut[3], a[3], b[3], c, span;
	unsigned h, j, k, nrel = 0, clone_slot = 3;
	bool has_pe = false, dup;

	sub_new(g, &s);
	s.start = rng_chance(r, SHARE_START_AT_T0) ? 0 : (int32_t)rng_below(r, DAYS);
	s.end = rng_chance(r, SHARE_STILL_ACTIVE) ? DAYS - 1 :
		s.start + (int32_t)rng_below(r, (uint64_t)(DAYS - s.start));
	k = (unsigned)rng_below(r, 10);
	h = k < 6 ? 1 : k < 9 ? 2 : 3;
	if (g->pend_n) {
		pe = g->pending[g->pend_head];
		g->pend_head = (g->pend_head + 1) % PENDING_SLOTS;
		g->pend_n--;
		has_pe = true;
		if (pe.day < s.start)
			s.start = pe.day;
		if (pe.day > s.end)
			s.end = pe.day;
	}
	span = s.end - s.start;
	if ((int32_t)h > span + 1)
		h = (unsigned)span + 1;
	/* h - 1 distinct change days; a handset's last day is the eve of the next one's first. */
	for (j = 0; j + 1 < h; j++) {
		c = s.start + (int32_t)rng_below(r, (uint64_t)span);
		dup = false;
		for (k = 0; k < j; k++)
			dup |= cut[k] == c;
		if (dup) {
			h = j + 1;
			break;
		}
		for (k = j; k > 0 && cut[k - 1] > c; k--)
			cut[k] = cut[k - 1];
		cut[k] = c;
	}
	for (j = 0; j < h; j++) {
		a[j] = j == 0 ? s.start : cut[j - 1] + 1;
		b[j] = j + 1 == h ? s.end : cut[j];
		if (has_pe && a[j] <= pe.day && pe.day <= b[j])
			clone_slot = j;
	}
	g->st.subscribers++;
	emit_sub(g, &s);
	for (j = 0; j < h && g->made < g->rows; j++) {
		if (sim_slot(g, &s, a[j], b[j], j == clone_slot ? &pe : NULL, &rel[nrel]) &&
		    (j + 1 < h || s.end < DAYS - 60))
			nrel++;
	}
	/* Only now, so that nobody buys back their own handset. */
	for (j = 0; j < nrel; j++)
		g->resale[g->resale_n++ % RESALE_SLOTS] = rel[j];
}

/* ---- shuffling ------------------------------------------------------------------------- */

static void shuffle_init(struct gen *g, size_t elem)
{
	g->shuf.elem = elem;
	g->shuf.cap = SHUFFLE_SLOTS;
	g->shuf.slots = talloc_size(g->ctx, elem * SHUFFLE_SLOTS);
	if (!g->shuf.slots)
		die("out of memory", NULL);
	rng_seed(&g->shuf.r, g->seed, ST_SHUFFLE);
}

/* Stores rec; returns true with a record to write in evicted once the buffer is full. */
static bool shuffle_push(struct shuffle *s, const void *rec, void *evicted)
{
	char *slot;

	if (s->n < s->cap) {
		memcpy(s->slots + s->n++ * s->elem, rec, s->elem);
		return false;
	}
	slot = s->slots + rng_below(&s->r, s->cap) * s->elem;
	memcpy(evicted, slot, s->elem);
	memcpy(slot, rec, s->elem);
	return true;
}

static bool shuffle_pop(struct shuffle *s, void *out)
{
	size_t j;

	if (s->n == 0)
		return false;
	j = (size_t)rng_below(&s->r, s->n);
	memcpy(out, s->slots + j * s->elem, s->elem);
	memcpy(s->slots + j * s->elem, s->slots + --s->n * s->elem, s->elem);
	return true;
}

/* ---- lines ------------------------------------------------------------------------------- */

struct fields {
	char v[NCOLS_MAX][FIELD_MAX];
	size_t len[NCOLS_MAX];
};

/* How a garbage row departs from the header: a column left out, one added, a quote opened
 * and never closed (columns by position; -1 for none). */
struct line_edit {
	int drop, extra_after, quote_at;
	const char *extra;
	size_t extra_len;
};

static const struct line_edit no_edit = { -1, -1, -1, NULL, 0 };

static void put_line(struct gen *g, const struct fields *f, const struct line_edit *e)
{
	char line[LINE_MAX_LEN];
	size_t n = 0, c, col;
	bool first = true;

	for (c = 0; c < g->ncols; c++) {
		col = g->order[c];
		if ((int)c != e->drop) {
			if (!first)
				line[n++] = ',';
			first = false;
			if ((int)c == e->quote_at)
				line[n++] = '"';
			memcpy(line + n, f->v[col], f->len[col]);
			n += f->len[col];
		}
		if ((int)c == e->extra_after) {
			line[n++] = ',';
			memcpy(line + n, e->extra, e->extra_len);
			n += e->extra_len;
		}
	}
	line[n++] = '\n';
	out_put(&g->out, line, n);
}

static void set_field(struct fields *f, int col, const char *s, size_t len)
{
	memcpy(f->v[col], s, len);
	f->len[col] = len;
}

static enum form form_draw(struct rng *r, uint8_t allowed)
{
	unsigned k = (unsigned)rng_below(r, 100);
	enum form f = k < 85 ? FORM_BARE : k < 95 ? FORM_PLUS : FORM_NATIONAL;

	return (allowed & f) ? f : FORM_PLUS;
}

static enum gkind kind_draw(struct gen *g)
{
	size_t i, j;
	enum gkind t;

	/* A shuffled deck of the kinds, dealt out and reshuffled: counts differ by one at most. */
	if (g->deck_pos == 0) {
		memcpy(g->deck, g->kinds, g->nkinds * sizeof(*g->kinds));
		for (i = g->nkinds - 1; i > 0; i--) {
			j = (size_t)rng_below(&g->garb, i + 1);
			t = g->deck[i];
			g->deck[i] = g->deck[j];
			g->deck[j] = t;
		}
	}
	t = g->deck[g->deck_pos];
	g->deck_pos = (g->deck_pos + 1) % g->nkinds;
	return t;
}

/* An MSISDN that no longer reads as a valid number, checked against libphonenumber itself
 * (only garbage rows pay for that). */
static size_t msisdn_break(struct gen *g, enum gkind kind, const char *nsn, size_t len,
			   char *out)
{
	static const enum form forms[] = { FORM_BARE, FORM_PLUS, FORM_NATIONAL };
	struct rng *r = &g->garb;
	struct msisdn m;
	char bad[NSN_MAX];
	size_t n, cut, tries;

	for (tries = 0; tries < 64; tries++) {
		memcpy(bad, nsn, len);
		if (kind == GK_MSISDN_TOO_SHORT) {
			cut = 2 + (size_t)rng_below(r, 3);
			n = len - cut;
		} else {
			/* Another leading digit, same length: a range nobody allocated. */
			bad[0] = (char)('0' + (bad[0] - '0' + 1 + (int)rng_below(r, 9)) % 10);
			n = len;
		}
		n = nsn_write(g, bad, n, forms[rng_below(r, 3)], out);
		if (msisdn_parse(out, n, g->region->code, &m) != MSISDN_OK)
			return n;
	}
	memcpy(out, "12", 2);
	return 2;
}

/* A date no ISO 8601 reader takes, in the shapes real exports produce. */
static size_t date_break(struct rng *r, int64_t day, char *out)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	switch (rng_below(r, 10)) {
	case 0: return (size_t)snprintf(out, FIELD_MAX, "%04d-02-30", y);
	case 1: return (size_t)snprintf(out, FIELD_MAX, "%04d-04-31", y);
	case 2: return (size_t)snprintf(out, FIELD_MAX, "%04d-13-%02d", y, d);
	case 3: return (size_t)snprintf(out, FIELD_MAX, "%04d-00-%02d", y, d);
	case 4: return (size_t)snprintf(out, FIELD_MAX, "%04d-%02d-32", y, m);
	case 5: return (size_t)snprintf(out, FIELD_MAX, "%04d-%02d-00", y, m);
	case 6: return (size_t)snprintf(out, FIELD_MAX, "2023-02-29");	/* not a leap year */
	case 7: return (size_t)snprintf(out, FIELD_MAX, "N/A");
	case 8: return (size_t)snprintf(out, FIELD_MAX, "#VALUE!");
	default: return (size_t)snprintf(out, FIELD_MAX, "unknown");
	}
}

static bool next_is_garbage(struct gen *g, uint64_t total, uint64_t done)
{
	/* Selection sampling (Knuth's algorithm S): exactly garbage_left of what is left. */
	if (g->garbage_left == 0 || rng_below(&g->garb, total - done) >= g->garbage_left)
		return false;
	g->garbage_left--;
	return true;
}

/* A quote in the middle of an IMEI or MSISDN, as a hand-edited sheet leaves it. Not at the
 * start, where it would open a quoted field: RFC 4180 readers keep it as text, so the row is
 * one bad value whatever the reader, and the rows after it are untouched. */
static void quote_inside(struct rng *r, struct fields *f, int col)
{
	size_t pos = 1 + (size_t)rng_below(r, f->len[col] - 1);

	memmove(f->v[col] + pos + 1, f->v[col] + pos, f->len[col] - pos);
	f->v[col][pos] = '"';
	f->len[col]++;
}

/* ---- pairings rows ---------------------------------------------------------------------- */

static void write_pairing(struct gen *g, const struct row *row)
{
	static const char *const rats[] = { "2G", "3G", "4G", "5G" };
	static const char letters[] = "OIlSBZAX";	/* what OCR and hands put for digits */
	struct rng *r = &g->fmt, *gr = &g->garb;
	struct line_edit e = no_edit;
	struct fields f;
	const struct op_rt *o = &g->ops[row->op];
	enum gkind kind = GK_COUNT;
	struct imei chk;
	struct msisdn m;
	char *v;
	size_t n;
	unsigned k;
	int32_t t;

	if (g->end_quote && g->st.rows + 1 == g->rows)
		kind = GK_UNTERMINATED_QUOTE;
	else if (next_is_garbage(g, g->rows - g->end_quote, g->st.rows))
		kind = kind_draw(g);
	g->st.rows++;

	v = f.v[P_IMEI];
	k = (unsigned)rng_below(r, 1000);
	if (kind != GK_COUNT || k >= (SHARE_IMEISV + SHARE_IMEI_DASHES) * 1000) {
		memcpy(v, row->imei, 15);
		n = 15;
	} else if (k < SHARE_IMEISV * 1000) {
		memcpy(v, row->imei, 14);
		put_digits(v + 14, 1 + rng_below(r, 98), 2);	/* SVN 99 is reserved */
		n = 16;
	} else {
		memcpy(v, row->imei, 2);
		v[2] = '-';
		memcpy(v + 3, row->imei + 2, 6);
		v[9] = '-';
		memcpy(v + 10, row->imei + 8, 6);
		v[16] = '-';
		v[17] = row->imei[14];
		n = 18;
	}
	f.len[P_IMEI] = n;
	f.len[P_MSISDN] = nsn_write(g, row->nsn, row->nsn_len, form_draw(r, row->forms),
				    f.v[P_MSISDN]);
	set_field(&f, P_IMSI, row->imsi, 15);
	format_date(g->t0 + row->first, f.v[P_FIRST]);
	f.len[P_FIRST] = 10;
	format_date(g->t0 + row->last, f.v[P_LAST]);
	f.len[P_LAST] = 10;
	n = strlen(o->def->name);
	if (kind == GK_COUNT && rng_chance(r, SHARE_QUOTED)) {
		f.v[P_OPERATOR][0] = '"';
		memcpy(f.v[P_OPERATOR] + 1, o->def->name, n);
		f.v[P_OPERATOR][n + 1] = '"';
		f.len[P_OPERATOR] = n + 2;
	} else {
		set_field(&f, P_OPERATOR, o->def->name, n);
	}
	k = (unsigned)rng_below(r, 100);
	set_field(&f, P_RAT, rats[k < 12 ? 0 : k < 32 ? 1 : k < 90 ? 2 : 3], 2);
	v = f.v[P_CELL];
	put_digits(v, 1 + rng_below(r, 65534), 5);
	v[5] = '-';
	put_digits(v + 6, 1 + rng_below(r, 65534), 5);
	f.len[P_CELL] = 11;

	switch (kind) {
	case GK_COUNT:
		break;
	case GK_IMEI_CHECK_DIGIT:
		v = f.v[P_IMEI];
		v[14] = (char)('0' + (v[14] - '0' + 1 + (int)rng_below(gr, 9)) % 10);
		break;
	case GK_IMEI_TOO_SHORT:
		f.len[P_IMEI] = 8 + (size_t)rng_below(gr, 6);	/* 14 digits would be valid */
		break;
	case GK_IMEI_NOT_DIGITS:
		f.v[P_IMEI][rng_below(gr, 15)] = letters[rng_below(gr, sizeof(letters) - 1)];
		break;
	case GK_MSISDN_TOO_SHORT:
	case GK_MSISDN_UNKNOWN_RANGE:
		f.len[P_MSISDN] = msisdn_break(g, kind, row->nsn, row->nsn_len, f.v[P_MSISDN]);
		break;
	case GK_BAD_DATE:
		k = (unsigned)rng_below(gr, 2);
		f.len[k ? P_LAST : P_FIRST] = date_break(gr, g->t0 + (k ? row->last : row->first),
							 f.v[k ? P_LAST : P_FIRST]);
		break;
	case GK_LAST_BEFORE_FIRST:
		t = row->first < row->last ? row->first : row->last - 1 - (int32_t)rng_below(gr, 30);
		format_date(g->t0 + row->last, f.v[P_FIRST]);
		format_date(g->t0 + t, f.v[P_LAST]);
		break;
	case GK_MISSING_FIELD:
		e.drop = (int)rng_below(gr, g->ncols);
		break;
	case GK_EXTRA_FIELD:
		e.extra_after = (int)rng_below(gr, g->ncols);
		k = (unsigned)rng_below(gr, g->ncols);
		e.extra = f.v[k];
		e.extra_len = f.len[k];
		break;
	case GK_EMPTY_FIELD:
		f.len[rng_below(gr, 2) ? P_MSISDN : P_IMEI] = 0;
		break;
	case GK_STRAY_QUOTE:
		quote_inside(gr, &f, rng_below(gr, 2) ? P_MSISDN : P_IMEI);
		break;
	case GK_UNTERMINATED_QUOTE:
		e.quote_at = (int)rng_below(gr, g->ncols);
		break;
	case GK_EMPTY_NATIONAL_ID:
		break;
	}
	if ((kind == GK_IMEI_CHECK_DIGIT || kind == GK_IMEI_TOO_SHORT ||
	     kind == GK_IMEI_NOT_DIGITS || kind == GK_STRAY_QUOTE) &&
	    imei_parse(f.v[P_IMEI], f.len[P_IMEI], &chk) == IMEI_OK &&
	    (kind != GK_STRAY_QUOTE || memchr(f.v[P_IMEI], '"', f.len[P_IMEI])))
		die("internal error: a broken IMEI reads as valid", NULL);
	if (kind == GK_STRAY_QUOTE && memchr(f.v[P_MSISDN], '"', f.len[P_MSISDN]) &&
	    msisdn_parse(f.v[P_MSISDN], f.len[P_MSISDN], g->region->code, &m) == MSISDN_OK)
		die("internal error: a broken MSISDN reads as valid", NULL);
	put_line(g, &f, &e);

	if (kind != GK_COUNT) {
		g->st.garbage++;
		g->st.by_kind[kind]++;
		return;
	}
	g->st.valid++;
	if (!bit_test_set(g->pair_seen, row->pair_id)) {
		g->st.pairings++;
		if (g->imei_users[row->imei_id]++ == 0)
			g->st.imeis++;
	}
	if (!bit_test_set(g->sub_seen, row->sub_id))
		g->st.msisdns++;
}

/* ---- KYC rows ------------------------------------------------------------------------- */

static void kyc_fill(struct gen *g, struct fields *f, const char *nsn, size_t nsn_len,
		     uint8_t forms, uint64_t natid, int64_t registered, struct rng *pr, bool quote)
{
	const char *const *fl = g->region->first, *const *ll = g->region->last;
	size_t nf = 0, nl = 0, a, b;
	const char *fn, *ln;
	char *v;

	while (fl[nf])
		nf++;
	while (ll[nl])
		nl++;
	f->len[K_MSISDN] = nsn_write(g, nsn, nsn_len, form_draw(&g->fmt, forms), f->v[K_MSISDN]);
	put_digits(f->v[K_NATID], natid, 8);
	f->len[K_NATID] = 8;
	format_date(registered, f->v[K_REGISTERED]);
	f->len[K_REGISTERED] = 10;
	fn = fl[rng_below(pr, nf)];
	ln = ll[rng_below(pr, nl)];
	a = strlen(fn);
	b = strlen(ln);
	v = f->v[K_NAME];
	if (rng_chance(&g->fmt, 2 * SHARE_QUOTED) && quote) {
		/* "Last, First": a comma inside a quoted field, as registration systems export. */
		v[0] = '"';
		memcpy(v + 1, ln, b);
		memcpy(v + 1 + b, ", ", 2);
		memcpy(v + 3 + b, fn, a);
		v[3 + a + b] = '"';
		f->len[K_NAME] = a + b + 4;
	} else {
		memcpy(v, fn, a);
		v[a] = ' ';
		memcpy(v + a + 1, ln, b);
		f->len[K_NAME] = a + b + 1;
	}
	memcpy(f->v[K_AGENT], "AG", 2);
	put_digits(f->v[K_AGENT] + 2, rng_below(&g->fmt, 100000), 5);
	f->len[K_AGENT] = 7;
}

/* A broken KYC row about someone outside the pairings: the subscribers of the pairings file
 * all keep their valid row. Its number comes from the top of an operator's range, its ID
 * from the top of the ID space, so neither can meet a real subscriber's. */
static void write_kyc_garbage(struct gen *g, enum gkind kind)
{
	struct msisdn m;
	struct rng *gr = &g->garb;
	struct line_edit e = no_edit;
	struct fields f;
	struct op_rt *o = &g->ops[op_draw(g, gr)];
	char nsn[NSN_MAX];
	uint8_t forms;
	size_t k;

	if (o->used + ++o->spare_used > o->cap)
		die("too many subscribers for the operator's ranges", o->def->name);
	if (g->next_sub + ++g->natid_spares > 90000000)
		die("too many subscribers for 8-digit national IDs", NULL);
	op_number(o, o->cap - o->spare_used, nsn, &forms);
	kyc_fill(g, &f, nsn, o->nsn_len, forms,
		 10000000 + perm_apply(&g->natids, 90000000 - g->natid_spares),
		 g->t0 - (int64_t)rng_below(gr, 3650), gr, false);
	switch (kind) {
	case GK_MSISDN_TOO_SHORT:
	case GK_MSISDN_UNKNOWN_RANGE:
		f.len[K_MSISDN] = msisdn_break(g, kind, nsn, o->nsn_len, f.v[K_MSISDN]);
		break;
	case GK_EMPTY_NATIONAL_ID:
		f.len[K_NATID] = 0;
		break;
	case GK_BAD_DATE:
		f.len[K_REGISTERED] = date_break(gr, g->t0, f.v[K_REGISTERED]);
		break;
	case GK_MISSING_FIELD:
		e.drop = (int)rng_below(gr, g->ncols);
		break;
	case GK_EXTRA_FIELD:
		e.extra_after = (int)rng_below(gr, g->ncols);
		k = (size_t)rng_below(gr, g->ncols);
		e.extra = f.v[k];
		e.extra_len = f.len[k];
		break;
	case GK_STRAY_QUOTE:
		quote_inside(gr, &f, K_MSISDN);
		if (msisdn_parse(f.v[K_MSISDN], f.len[K_MSISDN], g->region->code, &m) == MSISDN_OK)
			die("internal error: a broken MSISDN reads as valid", NULL);
		break;
	case GK_UNTERMINATED_QUOTE:
		e.quote_at = (int)rng_below(gr, g->ncols);
		break;
	default:
		break;
	}
	put_line(g, &f, &e);
	g->st.rows++;
	g->st.garbage++;
	g->st.by_kind[kind]++;
}

static void write_kyc(struct gen *g, const struct kyc_rec *k)
{
	struct fields f;
	struct rng pr;

	/* Name and registration date from the subscriber's own stream, so that they do not
	 * depend on what else was drawn before. */
	rng_seed(&pr, g->seed ^ ((uint64_t)k->sub_id << 20), ST_KYC);
	kyc_fill(g, &f, k->nsn, k->nsn_len, k->forms,
		 10000000 + perm_apply(&g->natids, k->sub_id),
		 g->t0 + k->start - 1 - (int64_t)rng_below(&pr, 3650), &pr, true);
	put_line(g, &f, &no_edit);
	g->st.rows++;
	g->st.valid++;
	g->st.msisdns++;
	/* Garbage in share p of the rows: after each valid row, another with chance p. */
	while (g->garbage > 0 && rng_chance(&g->garb, g->garbage))
		write_kyc_garbage(g, kind_draw(g));
}

/* ---- wiring ----------------------------------------------------------------------------- */

static void emit_row(struct gen *g, const struct row *row)
{
	struct row ev;

	if (g->mode == MODE_PAIRINGS && shuffle_push(&g->shuf, row, &ev))
		write_pairing(g, &ev);
}

static void emit_sub(struct gen *g, const struct sub *s)
{
	struct kyc_rec k, ev;

	if (g->mode != MODE_KYC)
		return;
	memcpy(k.nsn, s->nsn, NSN_MAX);
	k.nsn_len = s->nsn_len;
	k.forms = s->forms;
	k.sub_id = s->id;
	k.start = s->start;
	if (shuffle_push(&g->shuf, &k, &ev))
		write_kyc(g, &ev);
}

static void write_header(struct gen *g, const char *const *names)
{
	struct rng r;
	size_t i, j;
	uint8_t t;

	rng_seed(&r, g->seed, ST_HEADER);
	for (i = 0; i < g->ncols; i++)
		g->order[i] = (uint8_t)i;
	for (i = g->ncols - 1; i > 0; i--) {
		j = (size_t)rng_below(&r, i + 1);
		t = g->order[i];
		g->order[i] = g->order[j];
		g->order[j] = t;
	}
	for (i = 0; i < g->ncols; i++) {
		if (i)
			out_put(&g->out, ",", 1);
		out_put(&g->out, names[g->order[i]], strlen(names[g->order[i]]));
	}
	out_put(&g->out, "\n", 1);
}

static void run(struct gen *g)
{
	struct row row;
	struct kyc_rec k;
	size_t i;

	rng_seed(&g->sim, g->seed, ST_SIM);
	rng_seed(&g->fmt, g->seed, ST_FMT);
	rng_seed(&g->garb, g->seed, ST_GARBAGE);
	g->resale = talloc_zero_array(g->ctx, struct resale, RESALE_SLOTS);
	g->pending = talloc_zero_array(g->ctx, struct pending, PENDING_SLOTS);
	if (!g->resale || !g->pending)
		die("out of memory", NULL);
	if (g->mode == MODE_PAIRINGS) {
		g->kinds = pairings_kinds;
		g->nkinds = sizeof(pairings_kinds) / sizeof(pairings_kinds[0]);
		g->ncols = P_NCOLS;
		g->garbage_left = (uint64_t)((double)g->rows * g->garbage + 0.5);
		/* A quote left open mid-file runs, in RFC 4180, to the next quote, lines later,
		 * and takes an unknown number of rows with it: only the last row has one. */
		if (g->garbage_left > 0) {
			g->garbage_left--;
			g->end_quote = true;
		}
		shuffle_init(g, sizeof(struct row));
		write_header(g, pcol_names);
	} else {
		g->kinds = kyc_kinds;
		g->nkinds = sizeof(kyc_kinds) / sizeof(kyc_kinds[0]);
		g->ncols = K_NCOLS;
		shuffle_init(g, sizeof(struct kyc_rec));
		write_header(g, kcol_names);
	}
	while (g->made < g->rows)
		sim_subscriber(g);
	if (g->mode == MODE_PAIRINGS) {
		while (shuffle_pop(&g->shuf, &row))
			write_pairing(g, &row);
		for (i = 0; i < g->next_imei; i++) {
			if (g->imei_users[i] < 2)
				continue;
			if (g->imei_clone[i]) {
				g->st.cloned++;
				g->st.clone_users[g->imei_users[i]]++;
			} else {
				g->st.resold++;
			}
		}
	} else {
		while (shuffle_pop(&g->shuf, &k))
			write_kyc(g, &k);
		if (g->garbage > 0)
			write_kyc_garbage(g, GK_UNTERMINATED_QUOTE);
	}
	out_flush(&g->out);
}

/* ---- statistics ------------------------------------------------------------------------ */

static void stats_print(const struct gen *g, FILE *f, bool json)
{
	const struct stats *s = &g->st;
	enum gkind k;
	size_t i;

	if (json)
		fprintf(f, "{\"mode\":\"%s\",\"rows\":%llu,\"valid\":%llu,\"garbage\":%llu,"
			"\"garbage_by_kind\":{", g->mode == MODE_PAIRINGS ? "pairings" : "kyc",
			(unsigned long long)s->rows, (unsigned long long)s->valid,
			(unsigned long long)s->garbage);
	else
		fprintf(f, "gendump: %s rows=%llu valid=%llu garbage=%llu (",
			g->mode == MODE_PAIRINGS ? "pairings" : "kyc", (unsigned long long)s->rows,
			(unsigned long long)s->valid, (unsigned long long)s->garbage);
	for (i = 0; i <= g->nkinds; i++) {
		k = i < g->nkinds ? g->kinds[i] : GK_UNTERMINATED_QUOTE;
		fprintf(f, json ? "%s\"%s\":%llu" : "%s%s=%llu", i ? (json ? "," : " ") : "",
			gkind_names[k], (unsigned long long)s->by_kind[k]);
	}
	if (g->mode == MODE_KYC) {
		fprintf(f, json ? "},\"distinct_msisdns\":%llu,\"distinct_national_ids\":%llu}\n" :
			") distinct_msisdns=%llu distinct_national_ids=%llu\n",
			(unsigned long long)s->msisdns, (unsigned long long)s->msisdns);
		return;
	}
	fprintf(f, json ? "},\"cloned_imeis\":%llu,\"distinct_imeis\":%llu,"
			  "\"distinct_msisdns\":%llu,\"pairings\":%llu,\"resold_imeis\":%llu,"
			  "\"clone_users\":{\"2\":%llu,\"3\":%llu,\"4\":%llu},"
			  "\"subscribers\":%llu}\n" :
			") cloned_imeis=%llu distinct_imeis=%llu distinct_msisdns=%llu pairings=%llu "
			"resold_imeis=%llu clone_users=%llu/%llu/%llu subscribers=%llu\n",
		(unsigned long long)s->cloned, (unsigned long long)s->imeis,
		(unsigned long long)s->msisdns, (unsigned long long)s->pairings,
		(unsigned long long)s->resold, (unsigned long long)s->clone_users[2],
		(unsigned long long)s->clone_users[3], (unsigned long long)s->clone_users[4],
		(unsigned long long)s->subscribers);
}

/* ---- command line --------------------------------------------------------------------- */

/* data/tacdb.csv of the source tree: the build says where it is (CEIRGW_SRCDIR); a direct
 * compile finds it from this file's own path, two levels below the top. */
static const char *tac_default_path(char *buf, size_t sz)
{
#ifdef CEIRGW_SRCDIR
	snprintf(buf, sz, "%s/data/tacdb.csv", CEIRGW_SRCDIR);
#else
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 1;

	snprintf(buf, sz, "%.*s/../../data/tacdb.csv", dir, slash ? __FILE__ : ".");
#endif
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: gendump pairings|kyc [OPTION]...\n"
"Writes a synthetic operator dump (CSV) and, on standard error, what is in it.\n\n"
"  --rows N        pairings rows to write (default 1000); for kyc, the subscribers\n"
"                  of a pairings file of N rows, one row each\n"
"  --region CC     KE (default), NG, PK, IN, TR, FR or BR\n"
"  --seed S        the same seed and options give the same file (default 1)\n"
"  --tac FILE      TAC table to draw handsets from (default: data/tacdb.csv)\n"
"  --clones PCT    share of IMEIs used by 2-4 subscribers at once (default 0)\n"
"  --garbage PCT   share of broken rows (default 0)\n"
"  --until DATE    last seen date, YYYY-MM-DD (default " UNTIL_DEFAULT ")\n"
"  --gzip          write gzip\n"
"  --out FILE      write to FILE (default: standard output)\n"
"  --stats FILE    also write the counts as JSON to FILE\n"
"  -h, --help      show this help\n");
}

static double parse_pct(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 100)) {
		fprintf(stderr, "gendump: %s takes a percentage (0-100): %s\n", opt, s);
		exit(2);
	}
	return v / 100;
}

static uint64_t parse_u64(const char *s, const char *opt)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "gendump: %s takes a number: %s\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rows", required_argument, NULL, 'n' },
		{ "region", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "tac", required_argument, NULL, 't' },
		{ "clones", required_argument, NULL, 'c' },
		{ "garbage", required_argument, NULL, 'g' },
		{ "until", required_argument, NULL, 'u' },
		{ "gzip", no_argument, NULL, 'z' },
		{ "out", required_argument, NULL, 'o' },
		{ "stats", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tac = NULL, *out = NULL, *stats = NULL, *region = "KE", *until = UNTIL_DEFAULT;
	char tac_default[4096];
	struct gen *g;
	bool gz = false;
	int64_t last;
	size_t i;
	FILE *sf;
	int c, fd;

	g = talloc_zero(NULL, struct gen);
	if (!g)
		die("out of memory", NULL);
	g->ctx = g;
	g->rows = 1000;
	g->seed = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': g->rows = parse_u64(optarg, "--rows"); break;
		case 'r': region = optarg; break;
		case 's': g->seed = parse_u64(optarg, "--seed"); break;
		case 't': tac = optarg; break;
		case 'c': g->clones = parse_pct(optarg, "--clones"); break;
		case 'g': g->garbage = parse_pct(optarg, "--garbage"); break;
		case 'u': until = optarg; break;
		case 'z': gz = true; break;
		case 'o': out = optarg; break;
		case 'S': stats = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "pairings") != 0 &&
				   strcmp(argv[optind], "kyc") != 0)) {
		usage(stderr);
		return 2;
	}
	g->mode = strcmp(argv[optind], "kyc") == 0 ? MODE_KYC : MODE_PAIRINGS;
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		if (strlen(region) == 2 && (region[0] & ~0x20) == regions[i].code[0] &&
		    (region[1] & ~0x20) == regions[i].code[1])
			g->region = &regions[i];
	}
	if (!g->region) {
		fprintf(stderr, "gendump: unknown region %s (KE, NG, PK, IN, TR, FR, BR)\n", region);
		return 2;
	}
	if (parse_date(until, &last) != 0) {
		fprintf(stderr, "gendump: --until takes a date YYYY-MM-DD from 2014: %s\n", until);
		return 2;
	}
	if (g->mode == MODE_KYC && g->garbage >= 1) {
		fprintf(stderr, "gendump: kyc needs --garbage below 100\n");
		return 2;
	}
	g->t0 = last - (DAYS - 1);
	if (!tac)
		tac = tac_default_path(tac_default, sizeof(tac_default));

	tacs_load(g, tac);
	ops_init(g);

	g->out.buf = talloc_size(g, OUT_BUF);
	if (!g->out.buf)
		die("out of memory", NULL);
	if (gz) {
		fd = out ? -1 : dup(STDOUT_FILENO);
		g->out.gz = out ? gzopen(out, "wb1") : fd >= 0 ? gzdopen(fd, "wb1") : NULL;
		if (!g->out.gz)
			die("cannot open the output", out ? out : "stdout");
		gzbuffer(g->out.gz, 1u << 18);
	} else {
		g->out.f = out ? fopen(out, "wb") : stdout;
		if (!g->out.f)
			die("cannot open the output", out);
	}

	run(g);

	if (g->out.gz) {
		if (gzclose(g->out.gz) != Z_OK)
			g->out.failed = true;
	} else if (fflush(g->out.f) != 0 || (out && fclose(g->out.f) != 0)) {
		g->out.failed = true;
	}
	if (g->out.failed)
		die("write error", out ? out : "stdout");
	stats_print(g, stderr, false);
	if (stats) {
		sf = fopen(stats, "w");
		if (!sf)
			die("cannot write the statistics", stats);
		stats_print(g, sf, true);
		if (fclose(sf) != 0)
			die("cannot write the statistics", stats);
	}
	talloc_free(g);
	return 0;
}
