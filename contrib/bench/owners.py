#!/usr/bin/python3
"""The owners a report benchmark can report with, from a gendump KE dump (contrib/bench:
report.sh, cluster-journeys.sh): one a line, "MSISDN K DDDD IMEI" (the caller's E.164
digits, the place of the phone in the list ceirgw shows, the last four digits of the national
ID on record, the phone's IMEI); prints how many.
    owners.py PAIRINGS.csv KYC.csv OUT WINDOW_DAYS
The rows are read as the import reads them (see report.sh)."""
import csv, datetime, re, sys, time
pfile, kfile, out, window = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
EPOCH = datetime.date(2000, 1, 1)
low = int(time.time() // 86400) - (EPOCH - datetime.date(1970, 1, 1)).days - window

def luhn(body):
    s = 0
    for i, ch in enumerate(body):
        d = (ord(ch) - 48) * (2 if i % 2 else 1)
        s += d - 9 if d > 9 else d
    return str((10 - s % 10) % 10)

def imei_of(v):
    v = v.replace('-', '').replace(' ', '')
    if not v.isdigit():
        return None
    if len(v) == 16:
        return v[:14] + luhn(v[:14])
    return v if len(v) == 15 and luhn(v[:14]) == v[14] else None

ke = re.compile(r'^(?:\+?254|0)(7\d{8})$')	# gendump's KE numbers: 71x, 73x, 77x
def msisdn_of(v):
    m = ke.match(v.strip())
    return '+254' + m.group(1) if m else None

def day(v):
    try:
        return (datetime.date.fromisoformat(v) - EPOCH).days if len(v) == 10 else None
    except ValueError:
        return None

def rows(path, cols):
    with open(path, newline='', encoding='utf-8') as f:
        r = csv.reader(f)
        head = next(r)
        ix = [head.index(c) for c in cols]
        try:
            for row in r:
                yield (len(row) == len(head), row, [row[i] if i < len(row) else '' for i in ix])
        except csv.Error:	# the unterminated quote of the last row
            pass

users, lists, seen, bad = {}, {}, {}, set()
for ok, row, (i, m, f, l) in rows(pfile, ('imei', 'msisdn', 'first_seen', 'last_seen')):
    im, ms, fs, ls = imei_of(i), msisdn_of(m), day(f), day(l)
    if not ok or None in (im, ms, fs, ls) or fs > ls:
        bad.update(x for v in row for x in (imei_of(v), msisdn_of(v)))
        continue
    users.setdefault(im, set()).add(ms)
    lst = lists.setdefault(ms, [])
    if im not in lst:
        lst.append(im)
    if seen.get((im, ms), -1) < ls:
        seen[(im, ms)] = ls
kyc = {}
for ok, row, (m, nid) in rows(kfile, ('msisdn', 'national_id')):
    ms = msisdn_of(m)
    if ok and ms and re.fullmatch(r'\d{8}', nid):
        kyc[ms] = nid
n = 0
with open(out, 'w') as f:
    for ms, lst in lists.items():
        last8 = lst[-8:]
        # a phone near the window's edge might cross it before the run: not this owner
        if ms in bad or ms not in kyc or any(abs(seen[(im, ms)] - low) <= 2 for im in last8):
            continue
        shown = [im for im in reversed(last8) if seen[(im, ms)] >= low][:5]
        for k, im in enumerate(shown, 1):
            if len(users[im]) == 1 and im not in bad:
                f.write('%s %d %s %s\n' % (ms[1:], k, kyc[ms][-4:], im))
                n += 1
                break
print(n)
