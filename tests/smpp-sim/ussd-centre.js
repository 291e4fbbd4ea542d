#!/usr/bin/env node
/*
 * ussd-centre.js - a USSD centre (SMSC side of SMPP 3.4) for ceirgw's end-to-end tests.
 *
 * Kannel's bearerbox connects to it as an ESME (`group = smsc`, `smsc = smpp`,
 * `transceiver-mode = true`) and the tests drive it over a small HTTP control API:
 *
 *   tests --HTTP--> ussd-centre --deliver_sm--> bearerbox -> smsbox -> ceirgw
 *   tests <--JSON-- ussd-centre <--submit_sm--- bearerbox <- smsbox <- ceirgw
 *
 * SMPP side: answers bind_transceiver / bind_transmitter / bind_receiver (system_id and
 * password checked when --system-id is given), enquire_link, unbind and submit_sm (with a
 * message_id); everything else gets generic_nack. Mobile-originated traffic goes out as
 * deliver_sm on the most recent bind that can receive (transceiver or receiver).
 * USSD is carried as in SMPP 3.4: the optional parameter ussd_service_op (tag 0x0501,
 * 1 octet: 1 = PSSR indication (the user dialled), 18 = USSR confirm (the user answered),
 * 32 = release; the gateway answers with 2 = USSR request (a menu that expects an answer)
 * or 17 = PSSR response (final)) and its_session_info (tag 0x1383, 2 octets, taken here as one
 * big-endian 16-bit session number). Tags and op values are settable: operators differ.
 *
 * Control side (HTTP, JSON bodies; see README.md):
 *   POST /dial {msisdn, session, code}   deliver_sm op=begin, waits for the reply submit_sm
 *   POST /answer {msisdn, session, text}  deliver_sm op=continue, waits
 *   POST /release {msisdn, session, op, wait}  deliver_sm op=release, waits only if asked
 *   POST /sms {msisdn, text}               plain deliver_sm (SMS MO), waits
 *   GET /submits, GET /status, POST /disconnect (drops the SMPP connections)
 *   POST /load {sessions, concurrency, msisdn, code, answers, last}  the benchmark's load
 *     (contrib/bench/run-ussd.sh): sessions of a dial and its answers, concurrency of them
 *     at a time, each on a number of its own while it runs; answers once all have ended
 *   GET /load                              the last load's figures, late replies included
 * A wait ends with the first submit_sm to that msisdn whose its_session_info equals the
 * session (absent for /sms), or with 504 after --reply-timeout-ms.
 *
 * Prints "ready smpp=<port> control=<port>" on stdout once listening; logs one line per
 * PDU on stderr (not while a load runs: its PDUs are counted, neither logged nor kept for
 * GET /submits).
 */
'use strict';

const http = require('http');
const smpp = require('smpp');

// ---- command line -------------------------------------------------------------------
const opts = {
	'listen': '127.0.0.1', 'smpp-port': 2775, 'control-port': 8775,
	'system-id': null, 'password': null, 'service-type': 'USSD', 'short-code': '384',
	'reply-timeout-ms': 5000, 'op-tag': 0x0501, 'session-tag': 0x1383,
	'op-begin': 1, 'op-continue': 18, 'op-release': 32,
};
for (let i = 2; i < process.argv.length; i += 2) {
	const key = process.argv[i].replace(/^--/, '');
	const val = process.argv[i + 1];
	if (!(key in opts) || val === undefined || (typeof opts[key] === 'number' && Number.isNaN(Number(val)))) {
		console.error(`usage: node ussd-centre.js --smpp-port N --control-port M ` +
			`[--${Object.keys(opts).filter((k) => !/port$/.test(k)).join(' X] [--')} X]`);
		process.exit(2);
	}
	opts[key] = typeof opts[key] === 'number' ? Number(val) : val;	// Number() takes 0x..
}

const log = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

// ---- the smpp package's tables ------------------------------------------------------
// Its TLV table already has ussd_service_op (0x0501, int8) and its_session_info (0x1383,
// raw buffer). Re-register both under those names with the configured tags, so that a
// PDU carries them as pdu.ussd_service_op / pdu.its_session_info whatever the tags are.
function defineTlv(name, id, type) {
	const old = smpp.tlvs[name];
	if (old && smpp.tlvsById[old.id] === old) delete smpp.tlvsById[old.id];
	smpp.addTLV(name, { id, type });
}
defineTlv('ussd_service_op', opts['op-tag'], smpp.types.tlv.int8);
defineTlv('its_session_info', opts['session-tag'], smpp.types.tlv.buffer);
// Handle message text ourselves (raw bytes in, raw bytes out): the package's filter
// guesses encodings and would hide what bearerbox actually sent.
for (const cmd of ['submit_sm', 'deliver_sm']) delete smpp.commands[cmd].params.short_message.filter;
delete smpp.tlvs.message_payload.filter;

// data_coding + bytes -> string: 0 GSM 03.38 (Kannel's default for 0), 1 IA5/ASCII,
// 3 Latin-1, 8 UCS-2 big-endian; anything else is shown as Latin-1.
function decodeText(buf, dc) {
	if (!buf || !buf.length) return '';
	if (dc === 0 || (dc & 0xf4) === 0xf0) return smpp.gsmCoder.decode(buf, 0);
	if (dc === 8) return Buffer.from(buf).swap16().toString('utf16le');
	return buf.toString(dc === 1 ? 'ascii' : 'latin1');
}
// string -> {data_coding, bytes}: GSM 03.38 when every character has a GSM code, else UCS-2.
function encodeText(text) {
	if (smpp.gsmCoder.GSM.charRegex.test(text)) return { dc: 0, buf: smpp.gsmCoder.encode(text, 0) };
	return { dc: 8, buf: Buffer.from(text, 'utf16le').swap16() };
}

// Session number <-> its_session_info octets.
const sessionOf = (buf) => (Buffer.isBuffer(buf) && buf.length === 2 ? buf.readUInt16BE(0) : null);
function sessionTlv(n) {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(n);
	return b;
}

// Every optional parameter of a decoded PDU; unknown tags come out under their number.
function tlvsOf(pdu) {
	const out = {};
	for (const key of Object.keys(pdu)) {
		if (!(key in smpp.tlvs) && !/^\d+$/.test(key)) continue;
		const name = /^\d+$/.test(key) ? `0x${Number(key).toString(16).padStart(4, '0')}` : key;
		out[name] = Buffer.isBuffer(pdu[key]) ? pdu[key].toString('hex') : pdu[key];
	}
	return out;
}

const pduFields = ['system_id', 'service_type', 'source_addr', 'destination_addr', 'data_coding',
	'esm_class', 'message_id'];
function logPdu(dir, pdu) {
	let line = `${dir} ${pdu.command} seq=${pdu.sequence_number}`;
	if (pdu.command_status) line += ` status=0x${pdu.command_status.toString(16)}`;
	for (const f of pduFields) if (pdu[f] !== undefined && pdu[f] !== '') line += ` ${f}=${pdu[f]}`;
	const tlvs = tlvsOf(pdu);
	if (Object.keys(tlvs).length) line += ` tlvs=${JSON.stringify(tlvs)}`;
	if (pdu.short_message !== undefined) {
		line += ` short_message=${JSON.stringify(decodeText(pdu.short_message, pdu.data_coding))}`;
	}
	log(line);
}

// ---- SMPP server ----------------------------------------------------------------------
const state = { binds: 0, bound: [], submits: [], waiters: [], nextId: 1, load: null };

function onBind(session, pdu) {
	const mode = pdu.command.replace('bind_', '');
	let status = 0;
	if (opts['system-id'] !== null && pdu.system_id !== opts['system-id']) status = smpp.ESME_RINVSYSID;
	else if (opts['password'] !== null && pdu.password !== opts['password']) status = smpp.ESME_RINVPASWD;
	else if (session.mode) status = smpp.ESME_RALYBND;
	session.send(pdu.response({ command_status: status, system_id: 'ussd-centre' }));
	if (status) return;
	session.mode = mode;
	state.binds++;
	state.bound.push(session);
	log(`bound ${mode} system_id=${pdu.system_id} system_type=${pdu.system_type}`);
}

function onSubmit(session, pdu) {
	const id = (state.nextId++).toString(16).padStart(8, '0');
	session.send(pdu.response({ message_id: id }));
	const payload = pdu.short_message && pdu.short_message.length ? pdu.short_message : pdu.message_payload;
	const rec = {
		message_id: id,
		source: pdu.source_addr,
		destination: pdu.destination_addr,
		service_type: pdu.service_type,
		op: pdu.ussd_service_op === undefined ? null : pdu.ussd_service_op,
		session: sessionOf(pdu.its_session_info),
		text: decodeText(payload, pdu.data_coding),
		data_coding: pdu.data_coding,
		tlvs: tlvsOf(pdu),
	};
	const dest = String(rec.destination).replace(/^\+/, '');
	const load = state.load && state.load.msisdns.has(dest) ? state.load : null;
	if (load) load.submits++;
	else state.submits.push(rec);
	// A USSD step waits for the reply of its own session; an SMS for a reply without one.
	// (An SMS the gateway pushes to the same number, such as a receipt, is not the reply.)
	const fits = (w) => w.msisdn === dest && w.session === rec.session;
	const w = state.waiters.find(fits);
	if (w) w.done(200, rec);
	else if (load) load.unmatched++;
}

const server = smpp.createServer((session) => {
	session.on('pdu', (pdu) => { if (!loading()) logPdu('<-', pdu); });
	session.on('send', (pdu) => { if (!loading()) logPdu('->', pdu); });
	session.on('error', (e) => log(`socket error: ${e.message}`));
	session.on('close', () => {
		const i = state.bound.indexOf(session);
		if (i >= 0) state.bound.splice(i, 1);
		log(`connection closed (${session.mode || 'not bound'})`);
	});
	for (const cmd of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
		session.on(cmd, (pdu) => onBind(session, pdu));
	}
	session.on('enquire_link', (pdu) => session.send(pdu.response()));
	session.on('unbind', (pdu) => session.send(pdu.response(), () => session.close()));
	session.on('submit_sm', (pdu) => {
		if (!session.mode || session.mode === 'receiver') {
			session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
		} else {
			onSubmit(session, pdu);
		}
	});
	for (const cmd of ['unknown', 'data_sm', 'submit_multi', 'query_sm', 'cancel_sm', 'replace_sm']) {
		session.on(cmd, (pdu) => session.send(new smpp.PDU('generic_nack', {
			sequence_number: pdu.sequence_number, command_status: smpp.ESME_RINVCMDID })));
	}
});

// ---- control API ----------------------------------------------------------------------
class HttpError extends Error {
	constructor(code, message) { super(message); this.code = code; }
}

// Sends deliver_sm to the bound bearerbox; resolves once deliver_sm_resp is OK.
function deliver(msisdn, text, op, sessionNo, serviceType) {
	const rx = state.bound.filter((s) => s.mode !== 'transmitter').pop();
	if (!rx) return Promise.reject(new HttpError(503, 'no ESME bound to receive'));
	const { dc, buf } = encodeText(text || '');
	const pdu = {
		service_type: serviceType, source_addr_ton: 1, source_addr_npi: 1, source_addr: msisdn,
		destination_addr: opts['short-code'], data_coding: dc, short_message: buf,
	};
	if (op !== null) pdu.ussd_service_op = op;
	if (sessionNo !== null) pdu.its_session_info = sessionTlv(sessionNo);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new HttpError(504, 'no deliver_sm_resp')), opts['reply-timeout-ms']);
		rx.deliver_sm(pdu, (resp) => {
			clearTimeout(timer);
			if (resp.command_status) reject(new HttpError(502, `deliver_sm_resp status 0x${resp.command_status.toString(16)}`));
			else resolve();
		});
	});
}

// Registers a waiter for the reply submit_sm *before* the deliver_sm goes out.
function deliverAndWait(msisdn, text, op, sessionNo, serviceType) {
	let waiter;
	const reply = new Promise((resolve, reject) => {
		waiter = { msisdn, session: sessionNo };
		const timer = setTimeout(() => waiter.done(504), opts['reply-timeout-ms']);
		waiter.done = (code, rec) => {
			clearTimeout(timer);
			state.waiters.splice(state.waiters.indexOf(waiter), 1);
			if (code === 200) resolve(rec);
			else reject(new HttpError(code, `no submit_sm to ${msisdn} within ${opts['reply-timeout-ms']} ms`));
		};
		state.waiters.push(waiter);
	});
	return deliver(msisdn, text, op, sessionNo, serviceType)
		.catch((e) => { waiter.done(e.code); reply.catch(() => {}); throw e; })
		.then(() => reply);
}

// ---- load (the benchmark) --------------------------------------------------------------
// state.load while and after a load runs: its numbers (msisdns), and its counts. A session is
// completed once its last screen came: the reply to the last answer, which must end it (op
// PSSR response, 17) with a text matching `last`; every screen before must go on (op 2).
// submits counts every submit_sm to the load's numbers, so that a reply sent twice shows, as
// does one that came with no step waiting for it (unmatched) after the load's end.
const loading = () => state.load !== null && state.load.running;

async function runLoad(body) {
	if (loading()) throw new HttpError(409, 'a load is running');
	const sessions = Number(body.sessions);
	const concurrency = Number(body.concurrency || 50);
	const base = String(body.msisdn || '254700000000');
	const answers = Array.isArray(body.answers) ? body.answers.map(String) : [];
	if (!(Number.isInteger(sessions) && sessions > 0) || !(Number.isInteger(concurrency) &&
	    concurrency > 0 && concurrency <= 10000) || !/^\d{6,15}$/.test(base)) {
		throw new HttpError(400, 'sessions, concurrency (1..10000), msisdn (digits) expected');
	}
	let last;
	try { last = new RegExp(String(body.last ?? '')); } catch (e) { throw new HttpError(400, 'last: a regular expression'); }
	const slots = Math.min(concurrency, sessions);
	const msisdns = [];
	for (let i = 0; i < slots; i++) msisdns.push((BigInt(base) + BigInt(i)).toString());
	const load = {
		running: true, sessions, concurrency: slots, started: 0, completed: 0, failed: 0,
		wrong: 0, submits: 0, unmatched: 0, seconds: 0, msisdns: new Set(msisdns), errors: {},
	};
	state.load = load;
	const svc = opts['service-type'];
	const code = String(body.code || `*${opts['short-code']}#`);
	const t0 = process.hrtime.bigint();
	// One session: every screen but the last goes on (op 2), the last ends (17) and matches last.
	async function session(msisdn, no) {
		const steps = [[code, opts['op-begin']], ...answers.map((a) => [a, opts['op-continue']])];
		for (let i = 0; i < steps.length; i++) {
			const rec = await deliverAndWait(msisdn, steps[i][0], steps[i][1], no, svc);
			const end = i === steps.length - 1;
			if (rec.op !== (end ? 17 : 2) || (end && !last.test(rec.text))) {
				load.wrong++;
				return;
			}
		}
		load.completed++;
	}
	async function slot(k) {
		while (load.started < sessions) {
			const no = (load.started++ % 0xffff) + 1;
			try {
				await session(msisdns[k], no);
			} catch (e) {
				load.failed++;
				load.errors[e.message] = (load.errors[e.message] || 0) + 1;
			}
		}
	}
	await Promise.all(msisdns.map((_, k) => slot(k)));
	load.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
	load.running = false;
	return loadFigures();
}

function loadFigures() {
	const l = state.load;
	if (!l) throw new HttpError(404, 'no load has run');
	const { msisdns, ...out } = l;
	out.per_second = l.seconds > 0 ? l.completed / l.seconds : 0;
	return out;
}

async function route(req, body) {
	const key = `${req.method} ${req.url.split('?')[0]}`;
	if (key === 'GET /status') return { bound: state.bound.some((s) => s.mode !== 'transmitter'), binds: state.binds };
	if (key === 'GET /submits') return state.submits;
	if (key === 'POST /disconnect') {	// drop every SMPP connection, as a link failure would
		const n = server.sessions.length;
		server.sessions.slice().forEach((s) => s.destroy());
		return { closed: n };
	}
	if (key === 'POST /load') return runLoad(body);
	if (key === 'GET /load') return loadFigures();
	if (req.method !== 'POST' || !['/dial', '/answer', '/release', '/sms'].includes(req.url)) {
		throw new HttpError(404, `no route ${key}`);
	}
	const msisdn = String(body.msisdn || '').replace(/^\+/, '');
	if (!/^\d+$/.test(msisdn)) throw new HttpError(400, 'msisdn: digits expected');
	const sessionNo = body.session === undefined || body.session === null ? null : Number(body.session);
	if (sessionNo !== null && !(Number.isInteger(sessionNo) && sessionNo >= 0 && sessionNo <= 0xffff)) {
		throw new HttpError(400, 'session: integer 0..65535 expected');
	}
	const svc = opts['service-type'];
	switch (req.url) {
	case '/dial':
		return deliverAndWait(msisdn, body.code || `*${opts['short-code']}#`, opts['op-begin'], sessionNo, svc);
	case '/answer':
		return deliverAndWait(msisdn, String(body.text ?? ''), opts['op-continue'], sessionNo, svc);
	case '/release': {
		const op = body.op === undefined ? opts['op-release'] : Number(body.op);
		if (body.wait) return deliverAndWait(msisdn, '', op, sessionNo, svc);
		return deliver(msisdn, '', op, sessionNo, svc).then(() => ({ sent: true }));
	}
	default:	// /sms: an ordinary SMS MO, no USSD parameters
		return deliverAndWait(msisdn, String(body.text ?? ''), null, null, '');
	}
}

const control = http.createServer((req, res) => {
	let raw = '';
	req.setEncoding('utf8');
	req.on('data', (d) => { raw += d; });
	req.on('end', async () => {
		let code = 200;
		let out;
		try {
			let body = {};
			try { body = raw ? JSON.parse(raw) : {}; } catch (e) { throw new HttpError(400, 'body is not JSON'); }
			out = await route(req, body);
		} catch (e) {
			code = e.code || 500;
			out = { error: e.message };
		}
		if (!loading()) log(`http ${req.method} ${req.url} ${raw} -> ${code}`);
		res.writeHead(code, { 'Content-Type': 'application/json' });
		res.end(`${JSON.stringify(out)}\n`);
	});
});

// ---- start ----------------------------------------------------------------------------
for (const srv of [server, control]) {
	srv.on('error', (e) => { log(`cannot listen: ${e.message}`); process.exit(1); });
}
server.listen(opts['smpp-port'], opts.listen, () => {
	control.listen(opts['control-port'], opts.listen, () => {
		process.stdout.write(`ready smpp=${server.address().port} control=${control.address().port}\n`);
	});
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
