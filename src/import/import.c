/* Reading operator dumps: header mapping, one check per column, rejects with reasons, and a
 * progress line on a terminal. One loop for every kind of dump; a kind is its columns and
 * its row check. Dates are ISO 8601 (YYYY-MM-DD); IMSIs ITU-T E.212. */
#include "import/import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "domain/digits.h"
#include "domain/imei.h"
#include "domain/kyc.h"
#include "domain/msisdn_memo.h"
#include "import/csv.h"
#include "import/metrics.h"
#include "import/rejects.h"
#include "store/bulk.h"
#include "store/pairs.h"
#include "store/sight.h"

enum { COL_IMEI, COL_MSISDN, COL_IMSI, COL_FIRST, COL_LAST, COL_OPERATOR, COL_N };
enum { KCOL_MSISDN, KCOL_ID, KCOL_REGISTERED, KCOL_N };

#define COLS_MAX 6

struct kind {
	const char *name;
	const char *const columns[COLS_MAX];
	size_t ncolumns, nrequired;	/* the first nrequired columns must be there */
	/* Checks and hands over one row. Returns NULL, or the reject reason; *rc < 0 when the
	 * store failed. */
	const char *(*row)(const struct import_opts *o, const struct csv_row *row,
			   const int *idx, uint16_t day, char *why, size_t whysz, int *rc);
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Today as days since 2000-01-01: the seen date of rows that carry none. */
static uint16_t today(void)
{
	time_t t = time(NULL);
	long d = (long)(t / 86400) - 10957;	/* 1970-01-01 to 2000-01-01 */

	return d < 0 ? 0 : d > 65535 ? 65535 : (uint16_t)d;
}

/* The MSISDN of a row as a number, or the reject reason. */
static const char *row_msisdn(const struct import_opts *o, const struct csv_field *f,
			      uint64_t *v, char *why, size_t whysz)
{
	struct msisdn m;

	if (f->len == 0)
		return "missing_msisdn";
	if (msisdn_memo_parse(o->memo, f->p, f->len, &m) != MSISDN_OK) {
		snprintf(why, whysz, "msisdn_%s", msisdn_reason_name(m.reason));
		return why;
	}
	*v = digits_value(m.e164 + 1, strlen(m.e164) - 1);
	return NULL;
}

static const char *pairing_row(const struct import_opts *o, const struct csv_row *row,
			       const int *idx, uint16_t day, char *why, size_t whysz, int *rc)
{
	struct pair_rec recbuf, *rec = &recbuf;
	const struct csv_field *f;
	const char *reason;
	uint64_t body, imsi = 0;
	struct imei im;
	size_t k;

	memset(rec, 0, sizeof(*rec));
	f = &row->fields[idx[COL_IMEI]];
	if (f->len == 0)
		return "missing_imei";
	if (imei_parse(f->p, f->len, &im) != IMEI_OK) {
		snprintf(why, whysz, "imei_%s", imei_reason_name(im.reason));
		return why;
	}
	body = digits_value(im.imei, 14);
	if ((reason = row_msisdn(o, &row->fields[idx[COL_MSISDN]], &rec->msisdn, why, whysz)))
		return reason;
	if (idx[COL_IMSI] >= 0 && (f = &row->fields[idx[COL_IMSI]])->len > 0) {
		if (f->len < 6 || f->len > 15)
			return "bad_imsi";
		for (k = 0; k < f->len; k++) {
			if (f->p[k] < '0' || f->p[k] > '9')
				return "bad_imsi";
		}
		imsi = digits_value(f->p, f->len);
		rec->imsi_tag = pairs_imsi_tag(imsi);
	}
	rec->first_seen = rec->last_seen = day;
	if (idx[COL_FIRST] >= 0 && (f = &row->fields[idx[COL_FIRST]])->len > 0 &&
	    pairs_parse_date(f->p, f->len, &rec->first_seen) < 0)
		return "bad_first_seen";
	if (idx[COL_LAST] >= 0 && (f = &row->fields[idx[COL_LAST]])->len > 0) {
		if (pairs_parse_date(f->p, f->len, &rec->last_seen) < 0)
			return "bad_last_seen";
		if (idx[COL_FIRST] < 0 || row->fields[idx[COL_FIRST]].len == 0)
			rec->first_seen = rec->last_seen;
	} else if (idx[COL_FIRST] >= 0 && row->fields[idx[COL_FIRST]].len > 0) {
		rec->last_seen = rec->first_seen;
	}
	if (rec->last_seen < rec->first_seen)
		return "last_seen_before_first_seen";
	*rc = bulk_add_pairing(o->bulk, body, rec);
	/* A reported IMEI (issue 22): one memory lookup a row; only its rows go on. */
	if (*rc == 0 && sight_watched(o->sight, body)) {
		f = idx[COL_OPERATOR] >= 0 ? &row->fields[idx[COL_OPERATOR]] : NULL;
		*rc = sight_add(o->sight, body, rec, imsi, f ? f->p : "", f ? f->len : 0);
	}
	return NULL;
}

/* National IDs are digested here and never kept in clear, not even in memory past the row. */
static const char *kyc_row(const struct import_opts *o, const struct csv_row *row,
			   const int *idx, uint16_t day, char *why, size_t whysz, int *rc)
{
	const struct csv_field *f;
	char id[KYC_ID_MAX + 1];
	struct kyc_digest d;
	struct kyc_rec rec;
	const char *reason;
	uint64_t msisdn;
	int n;

	(void)day;
	memset(&rec, 0, sizeof(rec));
	if ((reason = row_msisdn(o, &row->fields[idx[KCOL_MSISDN]], &msisdn, why, whysz)))
		return reason;
	f = &row->fields[idx[KCOL_ID]];
	if (f->len == 0)
		return "missing_national_id";
	n = kyc_normalise(f->p, f->len, id);
	if (n < 0)
		return "bad_national_id";
	if (idx[KCOL_REGISTERED] >= 0 && (f = &row->fields[idx[KCOL_REGISTERED]])->len > 0 &&
	    pairs_parse_date(f->p, f->len, &rec.registered) < 0)
		return "bad_registered_at";
	kyc_digest(o->kyc_key, o->kyc_keylen, id, (size_t)n, &d);
	memset(id, 0, sizeof(id));
	memcpy(rec.full, d.full, sizeof(rec.full));
	memcpy(rec.tail, d.tail, sizeof(rec.tail));
	*rc = bulk_add_kyc(o->bulk, msisdn, &rec);
	return NULL;
}

static const struct kind kinds[] = {
	[IMPORT_PAIRINGS] = { "pairings", { "imei", "msisdn", "imsi", "first_seen", "last_seen",
					"operator" },
			      COL_N, 2, pairing_row },
	[IMPORT_KYC] = { "kyc", { "msisdn", "national_id", "registered_at" }, KCOL_N, 2,
			 kyc_row },
};

static void show_progress(const char *path, const struct import_counts *c, off_t size,
			  double t0, bool last)
{
	double dt = now() - t0, rate = dt > 0 ? (double)c->rows / dt : 0;

	fprintf(stderr, "\r%s: %zu rows, %.0f rows/s", path, c->rows, rate);
	if (size > 0 && c->bytes > 0 && c->bytes <= (size_t)size && rate > 0) {
		double left = (double)((size_t)size - c->bytes) / ((double)c->bytes / dt);

		fprintf(stderr, ", %3.0f%%, ETA %d:%02d", 100.0 * (double)c->bytes / (double)size,
			(int)left / 60, (int)left % 60);
	}
	fprintf(stderr, "\033[K%s", last ? "\n" : "");
}

bool import_ratio_exceeded(size_t rejected, size_t rows, double ratio)
{
	return ratio < 1 && rows > 0 && (double)rejected > ratio * (double)rows;
}

/* What the batch gate and the metrics see of a file being read. */
struct reading {
	const struct import_opts *o;
	const struct import_counts *c;
	const char *path;
	size_t line;
};

static size_t total_rows(const struct reading *rd)
{
	return rd->c->rows + (rd->o->before ? rd->o->before->rows : 0);
}

static size_t total_rejected(const struct reading *rd)
{
	return rd->c->rejected + (rd->o->before ? rd->o->before->rejected : 0);
}

static void metrics_update(const struct reading *rd)
{
	const struct import_opts *o = rd->o;

	if (o->metrics == NULL)
		return;
	import_metrics_set(o->metrics, bulk_stats(o->bulk)->rows_written, total_rejected(rd),
			   (uint64_t)rd->c->bytes + (o->before ? o->before->bytes : 0));
	import_metrics_tick(o->metrics);
}

/* Says why the import stops over the reject ratio: at a batch (its rows), or at the end of
 * a file (batch 0). */
static void ratio_error(const struct reading *rd, size_t batch, char *err, size_t errsz)
{
	size_t rows = total_rows(rd), rejected = total_rejected(rd);
	char tail[96] = "";

	if (batch > 0)
		snprintf(tail, sizeof(tail), "; its batch of %zu rows was not written", batch);
	snprintf(err, errsz, "%s: line %zu: %zu of %zu rows read so far rejected (%.1f%%), more "
		 "than --max-reject-ratio %g: import stopped%s", rd->path, rd->line, rejected,
		 rows, 100.0 * (double)rejected / (double)rows, rd->o->max_reject_ratio, tail);
}

/* The bulk gate: each batch is checked before a byte of it is written. */
static int gate(void *arg, size_t rows, char *err, size_t errsz)
{
	const struct reading *rd = arg;

	metrics_update(rd);
	if (!import_ratio_exceeded(total_rejected(rd), total_rows(rd), rd->o->max_reject_ratio))
		return 0;
	ratio_error(rd, rows, err, errsz);
	return -ECANCELED;
}

int import_file(enum import_kind which, const char *path, const struct import_opts *o,
		struct import_counts *c, char *err, size_t errsz)
{
	const struct kind *k = &kinds[which];
	struct csv_reader *r;
	struct csv_row row;
	int idx[COLS_MAX], rc, store_rc = 0;
	size_t ncols, i;
	const char *reason;
	char why[64], need[128];
	uint16_t day = today();
	struct stat sb;
	off_t size = 0;
	double t0 = now(), shown = t0;
	bool gz = false, ok;
	struct reading rd = { o, c, path, 0 };

	err[0] = '\0';
	r = csv_open(NULL, path, err, errsz);
	if (r == NULL)
		return -errno;
	if (strcmp(path, "-") != 0 && stat(path, &sb) == 0) {
		size = sb.st_size;
		gz = strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0;
	}
	rc = csv_next(r, &row);
	if (rc <= 0) {
		if (rc == 0)
			snprintf(err, errsz, "%s: empty file, no header row", path);
		else
			snprintf(err, errsz, "%s", csv_error(r));
		csv_close(r);
		return rc == 0 ? -EINVAL : rc;
	}
	ok = !row.error && csv_map_header(&row, k->columns, k->ncolumns, idx) == 0;
	for (i = 0; ok && i < k->nrequired; i++)
		ok = idx[i] >= 0;
	if (!ok) {
		snprintf(need, sizeof(need), "%s and %s", k->columns[0], k->columns[1]);
		snprintf(err, errsz, "%s: line %zu: the header of a %s file must name the columns "
			 "%s (once each); see doc/import.md for the optional ones", path, row.line,
			 k->name, need);
		csv_close(r);
		return -EINVAL;
	}
	ncols = row.nfields;
	bulk_set_gate(o->bulk, gate, &rd);
	while ((rc = csv_next(r, &row)) > 0) {
		c->rows++;
		c->bytes += row.raw_len + 1;
		rd.line = row.line;
		if (row.error)
			reason = csv_error_name(row.error);
		else if (row.nfields != ncols)
			reason = "column_count";
		else
			reason = k->row(o, &row, idx, day, why, sizeof(why), &store_rc);
		if (store_rc < 0) {
			if (store_rc == -ECANCELED)
				snprintf(err, errsz, "%s", bulk_error(o->bulk));
			else
				snprintf(err, errsz, "%s: line %zu: %s", path, row.line,
					 bulk_error(o->bulk));
			rc = store_rc;
			break;
		}
		if (reason == NULL) {
			c->imported++;
		} else {
			c->rejected++;
			if (rejects_add(o->rejects, path, row.line, reason, row.raw,
					row.raw_len) < 0) {
				snprintf(err, errsz, "rejects file %s: cannot write",
					 rejects_path(o->rejects));
				rc = -EIO;
				break;
			}
		}
		if ((c->rows & 0xFFF) == 0)
			metrics_update(&rd);
		if (o->progress && (c->rows & 0xFFFF) == 0 && now() - shown > 0.25) {
			shown = now();
			show_progress(path, c, gz ? 0 : size, t0, false);
		}
	}
	if (rc < 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", csv_error(r));
	if (rc == 0 && (rc = bulk_flush(o->bulk)) < 0)
		snprintf(err, errsz, "%s%s%s", rc == -ECANCELED ? "" : path,
			 rc == -ECANCELED ? "" : ": ", bulk_error(o->bulk));
	/* The sightings after the pairings: a file whose batches were written. */
	if (rc == 0 && o->sight && (rc = sight_flush(o->sight)) < 0)
		snprintf(err, errsz, "%s: sightings: %s", path, bulk_error(o->bulk));
	/* Every row since the last batch rejected: no batch was left for the gate to refuse,
	 * and the ratio still stops the command. */
	if (rc == 0 && import_ratio_exceeded(total_rejected(&rd), total_rows(&rd),
					     o->max_reject_ratio)) {
		ratio_error(&rd, 0, err, errsz);
		rc = -ECANCELED;
	}
	bulk_set_gate(o->bulk, NULL, NULL);
	metrics_update(&rd);
	if (o->progress)
		show_progress(path, c, gz ? 0 : size, t0, true);
	csv_close(r);
	return rc;
}
