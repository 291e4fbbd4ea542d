// The Node peer of ceirgw's HTTP benchmark: the USSD check journey as an implementer would
// otherwise write it, with ussd-menu-builder, a Redis session store through the redis client,
// and node's http, in the aggregator form of POST /ussd (sessionId, serviceCode, phoneNumber,
// text, networkCode). Three screens, the same as ceirgw's: the menu ("1 Check a phone"), the
// IMEI prompt, and the result (TAC looked up in data/tacdb.csv, Luhn digit checked, the report
// hash of the IMEI read from Redis). ussd-menu-builder keeps the request's state on the menu
// object, so every request builds its own.
//   node server.js PORT REDIS_URL TACDB_CSV
'use strict';
const fs = require('fs');
const http = require('http');
const querystring = require('querystring');
const redis = require('redis');
const UssdMenu = require('ussd-menu-builder');

const [port, redisUrl, tacdb] = process.argv.slice(2);
if (!port || !redisUrl || !tacdb) {
	console.error('usage: node server.js PORT REDIS_URL TACDB_CSV');
	process.exit(2);
}

// One CSV line into fields (quotes, doubled quotes inside them).
function csvFields(line) {
	const out = [];
	let field = '', quoted = false;
	for (let i = 0; i < line.length; i++) {
		const ch = line[i];
		if (quoted) {
			if (ch === '"' && line[i + 1] === '"') { field += '"'; i++; }
			else if (ch === '"') quoted = false;
			else field += ch;
		} else if (ch === '"') quoted = true;
		else if (ch === ',') { out.push(field); field = ''; }
		else field += ch;
	}
	out.push(field);
	return out;
}

// TAC -> "Brand Model", from the Osmocom tacdb CSV (tac,name,name,...).
const tacs = new Map();
for (const line of fs.readFileSync(tacdb, 'utf8').split('\n')) {
	if (!/^\d{8},/.test(line)) continue;
	const f = csvFields(line);
	tacs.set(f[0], `${f[1]} ${f[2]}`.trim());
}

function luhnValid(imei) {
	let sum = 0;
	for (let i = 0; i < 15; i++) {
		let d = imei.charCodeAt(i) - 48;
		if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
		sum += d;
	}
	return sum % 10 === 0;
}

const client = redis.createClient({ url: redisUrl });
client.on('error', (err) => console.error('redis:', err.message));

const SESSION_TTL = 180;
const key = (sessionId) => `ussd:session:${sessionId}`;
const sessionStore = {
	start: (sessionId) => client.expire(key(sessionId), SESSION_TTL),
	get: (sessionId, field) => client.hGet(key(sessionId), field),
	set: (sessionId, field, value) =>
		client.multi().hSet(key(sessionId), field, value).expire(key(sessionId), SESSION_TTL).exec(),
	end: (sessionId) => client.del(key(sessionId)),
};

function buildMenu() {
	const menu = new UssdMenu();
	menu.sessionConfig(sessionStore);
	menu.startState({
		run: () => {
			menu.session.set('screen', 'menu').then(() =>
				menu.con('CEIR stolen phones\n1 Check a phone\n2 Report stolen/lost\n' +
					'3 Got it back: unblock\n4 Report status\n5 Language'));
		},
		next: { '1': 'check' },
	});
	menu.state('check', {
		run: () => {
			menu.session.set('screen', 'check_ask').then(() =>
				menu.con("Enter the phone's IMEI (dial *#06# on it to see it):"));
		},
		next: { '*^\\d{15}$': 'check.result' },
		defaultNext: 'check.invalid',
	});
	menu.state('check.result', {
		run: async () => {
			const imei = menu.val;
			await menu.session.get('screen');
			if (!luhnValid(imei)) return menu.end('That IMEI is not valid: check its 15 digits.');
			const model = tacs.get(imei.slice(0, 8)) || 'Unknown model';
			const report = await client.hGetAll(`rep:${imei}`);
			if (report && report.status)
				return menu.end(`${model}: reported ${report.status}. Do not buy it.`);
			return menu.end(`${model}: not reported stolen or lost. Ask the seller for a receipt.`);
		},
	});
	menu.state('check.invalid', {
		run: () => menu.end('That IMEI is not valid: check its 15 digits.'),
	});
	return menu;
}

const server = http.createServer((req, res) => {
	if (req.method !== 'POST' || req.url !== '/ussd') {
		res.writeHead(404).end();
		return;
	}
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const args = querystring.parse(Buffer.concat(chunks).toString());
		const menu = buildMenu();
		menu.on('error', (err) => {
			if (!res.headersSent) res.writeHead(500).end('END Service unavailable');
			console.error('menu:', err.message);
		});
		menu.run({
			sessionId: args.sessionId || '',
			serviceCode: args.serviceCode || '',
			phoneNumber: args.phoneNumber || '',
			text: args.text || '',
		}).then((reply) => {
			res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
			res.end(reply);
		});
	});
});
server.on('connection', (socket) => socket.setNoDelay(true));

client.connect().then(() => {
	server.listen(Number(port), '127.0.0.1', () => console.error(`node-peer on ${port}`));
});
process.on('SIGTERM', () => process.exit(0));
