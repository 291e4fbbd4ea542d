/* Reading pairings dumps: header mapping, one check per column, rejects with reasons, and a
 * progress line on a terminal. Dates are ISO 8601 (YYYY-MM-DD); IMSIs ITU-T E.212. */
#include "import/import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "domain/imei.h"
#include "domain/msisdn_memo.h"
#include "import/csv.h"
#include "import/rejects.h"
#include "store/bulk.h"
#include "store/pairs.h"

enum { COL_IMEI, COL_MSISDN, COL_IMSI, COL_FIRST, COL_LAST, COL_N };

static const char *const columns[COL_N] = { "imei", "msisdn", "imsi", "first_seen",
					    "last_seen" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t digits_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

/* Today as days since 2000-01-01: the seen date of rows that carry none. */
static uint16_t today(void)
{
	time_t t = time(NULL);
	long d = (long)(t / 86400) - 10957;	/* 1970-01-01 to 2000-01-01 */

	return d < 0 ? 0 : d > 65535 ? 65535 : (uint16_t)d;
}

/* Checks one row. Returns NULL and fills body and rec, or the reject reason. */
static const char *check_row(const struct csv_row *row, const int *idx, size_t ncols,
			     struct msisdn_memo *memo, uint16_t day, uint64_t *body,
			     struct pair_rec *rec, char *why, size_t whysz)
{
	const struct csv_field *f;
	struct msisdn m;
	struct imei im;
	size_t k;

	if (row->error)
		return csv_error_name(row->error);
	if (row->nfields != ncols)
		return "column_count";
	memset(rec, 0, sizeof(*rec));
	f = &row->fields[idx[COL_IMEI]];
	if (f->len == 0)
		return "missing_imei";
	if (imei_parse(f->p, f->len, &im) != IMEI_OK) {
		snprintf(why, whysz, "imei_%s", imei_reason_name(im.reason));
		return why;
	}
	*body = digits_value(im.imei, 14);
	f = &row->fields[idx[COL_MSISDN]];
	if (f->len == 0)
		return "missing_msisdn";
	if (msisdn_memo_parse(memo, f->p, f->len, &m) != MSISDN_OK) {
		snprintf(why, whysz, "msisdn_%s", msisdn_reason_name(m.reason));
		return why;
	}
	rec->msisdn = digits_value(m.e164 + 1, strlen(m.e164) - 1);
	if (idx[COL_IMSI] >= 0 && (f = &row->fields[idx[COL_IMSI]])->len > 0) {
		if (f->len < 6 || f->len > 15)
			return "bad_imsi";
		for (k = 0; k < f->len; k++) {
			if (f->p[k] < '0' || f->p[k] > '9')
				return "bad_imsi";
		}
		rec->imsi_tag = pairs_imsi_tag(digits_value(f->p, f->len));
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
	return NULL;
}

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

int import_pairings(const char *path, struct bulk *b, struct msisdn_memo *memo,
		    struct rejects *rj, bool progress, struct import_counts *c,
		    char *err, size_t errsz)
{
	struct csv_reader *r;
	struct csv_row row;
	int idx[COL_N], rc;
	size_t ncols;
	const char *reason;
	char why[64];
	struct pair_rec rec;
	uint64_t body = 0;
	uint16_t day = today();
	struct stat sb;
	off_t size = 0;
	double t0 = now(), shown = t0;
	bool gz = false;

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
	if (row.error || csv_map_header(&row, columns, COL_N, idx) < 0 ||
	    idx[COL_IMEI] < 0 || idx[COL_MSISDN] < 0) {
		snprintf(err, errsz, "%s: line %zu: the header must name the columns imei and "
			 "msisdn (once each); imsi, first_seen, last_seen, operator and rat are "
			 "optional, others ignored", path, row.line);
		csv_close(r);
		return -EINVAL;
	}
	ncols = row.nfields;
	while ((rc = csv_next(r, &row)) > 0) {
		c->rows++;
		c->bytes += row.raw_len + 1;
		reason = check_row(&row, idx, ncols, memo, day, &body, &rec, why, sizeof(why));
		if (reason) {
			c->rejected++;
			if (rejects_add(rj, path, row.line, reason, row.raw, row.raw_len) < 0) {
				snprintf(err, errsz, "rejects file: cannot write");
				rc = -EIO;
				break;
			}
		} else {
			c->imported++;
			if ((rc = bulk_add_pairing(b, body, &rec)) < 0) {
				snprintf(err, errsz, "%s: line %zu: %s", path, row.line, bulk_error(b));
				break;
			}
		}
		if (progress && (c->rows & 0xFFFF) == 0 && now() - shown > 0.25) {
			shown = now();
			show_progress(path, c, gz ? 0 : size, t0, false);
		}
	}
	if (rc < 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", csv_error(r));
	if (rc == 0 && (rc = bulk_flush(b)) < 0)
		snprintf(err, errsz, "%s: %s", path, bulk_error(b));
	if (progress)
		show_progress(path, c, gz ? 0 : size, t0, true);
	csv_close(r);
	return rc;
}
